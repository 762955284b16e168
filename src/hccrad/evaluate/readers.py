"""Reader comparators (seed 003): radiologists' calls or ratings compared with the models.

For every rater (each reader and each model): AUC with DeLong CI (a binary call's AUC is
(sensitivity + specificity)/2), accuracy, sensitivity, specificity, PPV and NPV with Clopper–Pearson (or
Wald) CIs at the rater's cut-off, and a paired DeLong test of each reader against each model.

Reader calls are 0/1 (classified at ≥ 1) or ordinal ratings (e.g. 1–5; AUC from the full rating, and the
classification at `thresholds[reader]`). Model cut-offs must come from the training cohort.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hccrad.core.errors import DataError
from hccrad.evaluate import _checks
from hccrad.evaluate.classification import classification_metrics
from hccrad.evaluate.discrimination import auc_ci, delong_test

__all__ = ["ReaderComparisonResult", "reader_comparison"]


@dataclass(frozen=True)
class ReaderComparisonResult(_checks.ResultDisplay):
    """`metrics`: one row per rater; `tests`: one row per (reader, model) paired DeLong test."""

    metrics: pd.DataFrame
    tests: pd.DataFrame
    ci_method: str
    level: float = 0.95

    def summary(self) -> pd.DataFrame:
        """Wide table: rater, kind, AUC (CI), and each metric as 'est (lo–hi) [k/n]'."""
        return self.metrics.copy()


def reader_comparison(y: Sequence | np.ndarray, reader_calls: Mapping[str, Sequence | np.ndarray],
                      model_scores: Mapping[str, Sequence | np.ndarray], thresholds: Mapping[str, float], *,
                      ci: str = "clopper-pearson", level: float = 0.95) -> ReaderComparisonResult:
    """Compare readers with models on the same patients.

    `thresholds` holds one cut-off per model (positive when score >= cut-off; from the training data) and
    optionally per reader with ordinal ratings; binary reader calls need none.
    """
    lv = _checks.level(level)
    yy = _checks.binary_outcome(y)
    if not reader_calls or not model_scores:
        raise DataError("need at least one reader and one model", field="reader_calls",
                        hint="pass {reader name: calls} and {model name: scores}")
    clash = set(reader_calls) & set(model_scores)
    if clash:
        raise DataError(f"names used for both a reader and a model: {sorted(clash)}", field="reader_calls",
                        hint="give readers and models distinct names")
    raters: dict[str, tuple[str, np.ndarray, float]] = {}
    for name, calls in reader_calls.items():
        c = _checks.scores(calls, yy.size, field=name)
        binary = np.isin(c, (0.0, 1.0)).all()
        if name in thresholds:
            thr = float(thresholds[name])
        elif binary:
            thr = 1.0
        else:
            raise DataError(f"reader {name!r} gives ratings, not 0/1 calls, and has no cut-off",
                            field="thresholds", hint=f"add thresholds[{name!r}] (e.g. 3 for 'rating ≥ 3 is positive')")
        raters[name] = ("reader", c, thr)
    for name, s in model_scores.items():
        if name not in thresholds:
            raise DataError(f"model {name!r} has no cut-off", field="thresholds",
                            hint="pass the Youden cut-off fitted on the training cohort (youden_threshold)")
        raters[name] = ("model", _checks.scores(s, yy.size, field=name), float(thresholds[name]))
    rows = []
    for name, (kind, s, thr) in raters.items():
        auc = auc_ci(yy, s, "delong", level=lv)
        cm = classification_metrics(yy, s, thr, ci=ci, level=lv).summary().set_index("metric")
        row = {"rater": name, "kind": kind, "threshold": thr, "auc": auc.auc, "auc_lower": auc.lower,
               "auc_upper": auc.upper, "auc_display": f"{auc.auc:.3f} ({auc.lower:.3f}–{auc.upper:.3f})"}
        for metric in ("accuracy", "sensitivity", "specificity", "ppv", "npv"):
            r = cm.loc[metric]
            row.update({metric: r["estimate"], f"{metric}_lower": r["lower"], f"{metric}_upper": r["upper"],
                        f"{metric}_display": r["display"]})
        rows.append(row)
    tests = []
    for rname in reader_calls:
        for mname in model_scores:
            t = delong_test(yy, raters[rname][1], raters[mname][1], names=(rname, mname), level=lv)
            tests.append(t.summary().iloc[0].to_dict())
    return ReaderComparisonResult(pd.DataFrame(rows), pd.DataFrame(tests),
                                  "Clopper–Pearson exact" if ci == "clopper-pearson" else "Wald", lv)
