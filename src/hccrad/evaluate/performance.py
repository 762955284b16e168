"""Per-cohort performance table (seed 002 table 3, seed 003 table 3 layout).

For every cohort and model: AUC with DeLong CI, and accuracy, sensitivity, specificity, PPV, NPV with
Clopper–Pearson (or Wald) CIs and [k/n] counts at the model's cut-off, plus the paired DeLong p-value
against a reference model within the same cohort. Cut-offs are passed in — fitted once on the training
cohort (e.g. `youden_threshold`) and applied unchanged to every cohort, so no test-cohort number can
depend on the test cohort's own outcome through the cut-off.
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

__all__ = ["PerformanceResult", "performance_table"]

METRICS = ("accuracy", "sensitivity", "specificity", "ppv", "npv")


@dataclass(frozen=True)
class PerformanceResult(_checks.ResultDisplay):
    """`table`: one row per (cohort, model) with estimates, CIs, displays and the DeLong p."""

    table: pd.DataFrame
    reference: str | None
    ci_method: str
    level: float = 0.95

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def wide(self) -> pd.DataFrame:
        """Display strings with rows (model, metric) and one column per cohort, side by side."""
        cols = ["auc_display", *(f"{m}_display" for m in METRICS)]
        if self.reference is not None:
            cols.append("p_vs_reference_display")
        long = self.table.melt(id_vars=["cohort", "model"], value_vars=cols, var_name="metric")
        long["metric"] = long["metric"].str.replace("_display", "", regex=False)
        cohorts = list(dict.fromkeys(self.table["cohort"]))
        models = list(dict.fromkeys(self.table["model"]))
        order = ["auc", *METRICS] + (["p_vs_reference"] if self.reference is not None else [])
        wide = long.pivot(index=["model", "metric"], columns="cohort", values="value")
        idx = pd.MultiIndex.from_product([models, order], names=["model", "metric"])
        return wide.reindex(index=idx, columns=cohorts)


def performance_table(cohorts: Mapping[str, tuple[Sequence | np.ndarray, Mapping[str, Sequence | np.ndarray]]],
                      thresholds: Mapping[str, float], *, reference: str | None = None,
                      ci: str = "clopper-pearson", level: float = 0.95) -> PerformanceResult:
    """Performance of every model in every cohort.

    `cohorts`: {cohort name: (y, {model name: score})}, e.g. {"training": (y_tr, {...}),
    "external_test": (y_ext, {...})}; `thresholds`: {model: cut-off from the training cohort};
    `reference`: model that the others are DeLong-tested against (None: no test).
    """
    lv = _checks.level(level)
    if not cohorts:
        raise DataError("no cohorts given", field="cohorts", hint="pass {cohort: (y, {model: score})}")
    rows = []
    for cname, (y, scores) in cohorts.items():
        yy = _checks.binary_outcome(y, field=f"{cname}.y")
        if reference is not None and reference not in scores:
            raise DataError(f"reference model {reference!r} missing in cohort {cname!r}", field="reference",
                            hint=f"models in this cohort: {sorted(scores)}")
        for mname, s in scores.items():
            if mname not in thresholds:
                raise DataError(f"model {mname!r} has no cut-off", field="thresholds",
                                hint="fit it on the training cohort with youden_threshold and pass it here")
            ss = _checks.scores(s, yy.size, field=f"{cname}.{mname}")
            auc = auc_ci(yy, ss, "delong", level=lv)
            cm = classification_metrics(yy, ss, float(thresholds[mname]), ci=ci, level=lv).summary()
            row = {"cohort": cname, "model": mname, "n": int(yy.size), "n_pos": auc.n_pos,
                   "threshold": float(thresholds[mname]), "auc": auc.auc, "auc_lower": auc.lower,
                   "auc_upper": auc.upper, "auc_display": f"{auc.auc:.3f} ({auc.lower:.3f}–{auc.upper:.3f})"}
            for _, r in cm.iterrows():
                m = r["metric"]
                row.update({m: r["estimate"], f"{m}_lower": r["lower"], f"{m}_upper": r["upper"],
                            f"{m}_display": r["display"]})
            if reference is not None:
                if mname == reference:
                    p = np.nan
                else:
                    p = delong_test(yy, ss, _checks.scores(scores[reference], yy.size, field=reference),
                                    names=(mname, reference), level=lv).p
                row["p_vs_reference"] = p
                row["p_vs_reference_display"] = ("ref." if mname == reference
                                                 else ("<0.001" if p < 0.001 else f"{p:.3f}"))
            rows.append(row)
    return PerformanceResult(pd.DataFrame(rows), reference, cm["method"].iloc[0], lv)
