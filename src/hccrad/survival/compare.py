"""Prognostic scores side by side: the model vs staging systems by C-index and time-dependent AUC.

The layout of seed 002 table 3 (and issue 14 item 5): one row per score (model, BCLC, CLIP, TNM, ...)
with Harrell's C (95% CI) and AUC(t) (95% CI) at each horizon, and for every score other than the
reference a paired test against the reference: C-index difference by the Kang et al. (2015) U-statistic
(or bootstrap) and AUC(t) difference by the paired bootstrap (see `concordance` and `time_auc`).
All scores are read as risks (higher = worse). The comparison uses the patients with every score recorded
(paired tests need the same patients; the number dropped is logged and kept). The censoring distribution
of AUC(t) comes from the training cohort (`train_time`, `train_event`), so an evaluation cohort is never
used to fit anything.

`risk_groups_by_cohort` does the stratification of seed 004 across cohorts: the cut-point is chosen on the
training cohort only and applied unchanged to every cohort, each with its KM curves and log-rank test.

`SurvivalOutcome` of the study spec (time column, event column, unit, horizons) maps directly onto the
arguments: ``compare_prognostic_scores(table, time=o.time, event=o.event, horizons=o.horizons, ...)``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hccrad.core.errors import DataError
from hccrad.survival._data import complete_cases
from hccrad.survival.concordance import compare_cindex, harrell_c
from hccrad.survival.cutpoint import CutpointResult, apply_cutpoint, maxstat_cutpoint
from hccrad.survival.kaplan_meier import KaplanMeierResult, kaplan_meier
from hccrad.survival.logrank import LogrankResult, logrank_test
from hccrad.survival.time_auc import compare_time_auc, time_dependent_auc

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoreComparison:
    """C-index and AUC(t) per score with paired tests against the reference score."""

    table: pd.DataFrame
    reference: str
    horizons: tuple[float, ...]
    time_unit: str
    n: int
    n_dropped: int
    cindex_method: str
    n_boot: int
    seed: int

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def __str__(self) -> str:
        return (f"prognostic scores vs {self.reference!r} (n={self.n}; horizons {list(self.horizons)} "
                f"{self.time_unit})\n" + self.table.to_string(index=False))


def compare_prognostic_scores(
    df: pd.DataFrame,
    *,
    time: str,
    event: str,
    scores: Sequence[str],
    reference: str,
    horizons: Sequence[float],
    train_time=None,
    train_event=None,
    time_unit: str = "months",
    cindex_method: str = "u-statistic",
    n_boot: int = 1000,
    seed: int = 0,
) -> ScoreComparison:
    """Seed 002 table 3: C-index and AUC(t) of each score, each compared with `reference` (paired)."""
    if reference not in scores:
        raise DataError(f"reference score {reference!r} is not among the scores {list(scores)}", field="reference")
    if len(set(scores)) != len(scores):
        raise DataError("duplicate score names", field="scores")
    cc, n_dropped = complete_cases(df, [time, event, *scores], what="score comparison")
    t, e = cc[time].to_numpy(float), cc[event].to_numpy()
    tr_t = t if train_time is None else train_time
    tr_e = e if train_event is None else train_event
    if train_time is None:
        logger.info("score comparison: censoring distribution estimated on the evaluation data (apparent)")
    rows = []
    for k, name in enumerate(scores):
        s = cc[name].to_numpy(float)
        c = harrell_c(t, e, s, method=cindex_method, n_boot=n_boot, seed=seed)
        row = {"score": name, "n": int(t.size), "events": int(e.sum()), "c_index": c.c_index,
               "c_lower": c.lower, "c_upper": c.upper, "c_diff_vs_reference": np.nan, "c_p_vs_reference": np.nan}
        auc = time_dependent_auc(tr_t, tr_e, t, e, s, horizons, n_boot=n_boot, seed=seed, time_unit=time_unit)
        for _, a in auc.table.iterrows():
            h = f"{a['time']:g}"
            row.update({f"auc_{h}": a["auc"], f"auc_{h}_lower": a["lower"], f"auc_{h}_upper": a["upper"],
                        f"auc_{h}_p_vs_reference": np.nan})
        if name != reference:
            ref = cc[reference].to_numpy(float)
            cmp_c = compare_cindex(t, e, s, ref, method=cindex_method, n_boot=n_boot, seed=seed)
            row.update(c_diff_vs_reference=cmp_c.difference, c_p_vs_reference=cmp_c.p_value)
            cmp_a = compare_time_auc(tr_t, tr_e, t, e, s, ref, horizons, n_boot=n_boot, seed=seed)
            for _, a in cmp_a.table.iterrows():
                row[f"auc_{a['time']:g}_p_vs_reference"] = a["p_value"]
        rows.append(row)
    return ScoreComparison(pd.DataFrame(rows), reference, tuple(float(h) for h in horizons), time_unit,
                           int(t.size), n_dropped, cindex_method, n_boot, seed)


@dataclass(frozen=True)
class RiskGroups:
    """A training-derived cut-point applied unchanged to every cohort: KM and log-rank per cohort."""

    cutpoint: CutpointResult
    km: dict[str, KaplanMeierResult]
    logrank: dict[str, LogrankResult]

    def summary(self) -> pd.DataFrame:
        """One row per cohort and risk group: n, events, median (CI), and the cohort's log-rank p."""
        rows = []
        for cohort, km in self.km.items():
            s = km.summary()
            s.insert(0, "cohort", cohort)
            s["logrank_p"] = self.logrank[cohort].p_value if cohort in self.logrank else np.nan
            rows.append(s)
        out = pd.concat(rows, ignore_index=True)
        out.attrs.update(cutpoint=self.cutpoint.cutpoint, maxstat_p=self.cutpoint.p_value)
        return out


def risk_groups_by_cohort(
    cohorts: dict[str, tuple[object, object, object]],
    *,
    training: str = "training",
    minprop: float = 0.1,
    conf_type: str = "log",
    time_unit: str = "months",
) -> RiskGroups:
    """Choose the maxstat cut-point on `cohorts[training]` = (time, event, score), apply it to all cohorts.

    Returns per-cohort Kaplan–Meier curves of the "low"/"high" groups and log-rank tests (a cohort whose
    patients all fall in one group gets curves but no test, with a logged warning).
    """
    if training not in cohorts:
        raise DataError(f"training cohort {training!r} not among {list(cohorts)}", field="training")
    t, e, s = cohorts[training]
    cut = maxstat_cutpoint(t, e, s, minprop=minprop)
    kms, tests = {}, {}
    for name, (time, event, score) in cohorts.items():
        groups = apply_cutpoint(score, cut.cutpoint)
        kms[name] = kaplan_meier(time, event, groups, conf_type=conf_type, time_unit=time_unit)
        present = {g for g in groups if g is not None}
        if len(present) == 2:
            tests[name] = logrank_test(time, event, groups)
        else:
            logger.warning("cohort %s: every patient is in risk group %s; no log-rank test", name, present)
    return RiskGroups(cut, kms, tests)
