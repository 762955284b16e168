"""Evaluation stage of a study run: every model in every cohort, side by side.

Per cohort and model: AUC with DeLong CI (and the optimism-corrected AUC on training), classification
metrics at the training-cohort Youden cut-off with Clopper–Pearson CIs, calibration (intercept, slope,
Brier, Hosmer–Lemeshow), decision curves; per cohort, paired DeLong tests between models. Nothing here is
fitted on a test cohort: thresholds come from training, scores from the frozen models.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from hccrad.cohort.study import order_cohorts
from hccrad.config.spec import StudySpec
from hccrad.core.errors import DataError
from hccrad.evaluate.calibration import CalibrationResult, calibration
from hccrad.evaluate.classification import classification_metrics
from hccrad.evaluate.decision import decision_curve
from hccrad.evaluate.discrimination import auc_ci, delong_test
from hccrad.pipeline.modelling import FittedModels

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass
class CohortData:
    name: str
    y: np.ndarray
    scores: dict[str, np.ndarray]


@dataclass
class Evaluation:
    metrics: pd.DataFrame                 # model, cohort, n, events, auc, lower, upper, method (+ corrected)
    classification: pd.DataFrame          # model, cohort, metric, estimate, lower, upper, k, n, display
    comparisons: pd.DataFrame             # cohort, model_a, model_b, diff, lower, upper, z, p
    calibration: dict[tuple[str, str], CalibrationResult]
    decision: dict[str, pd.DataFrame]     # cohort -> net-benefit table
    cohorts: list[CohortData] = field(default_factory=list)


def evaluate_models(spec: StudySpec, data: pd.DataFrame, fitted: FittedModels,
                    progress: Progress | None = None) -> Evaluation:
    level = spec.validation.level
    metrics, classif, comps = [], [], []
    calib: dict[tuple[str, str], CalibrationResult] = {}
    decision: dict[str, pd.DataFrame] = {}
    cohorts: list[CohortData] = []
    names = list(fitted.models)
    order = order_cohorts(fitted.cohort, spec.cohorts)
    for ci, cohort in enumerate(order):
        idx = fitted.cohort.index[(fitted.cohort == cohort) & fitted.y.notna()]  # the analysed cases only
        y = fitted.y.loc[idx].to_numpy(dtype=int)
        scores = {n: fitted.models[n].scores.loc[idx].to_numpy() for n in names}
        cohorts.append(CohortData(cohort, y, scores))
        if not names:  # a study without response models (e.g. survival-only): nothing to evaluate here
            continue
        if len(np.unique(y)) < 2:
            log.warning("cohort %s has one outcome class only; discrimination is not defined there", cohort)
            continue
        for name in names:
            m = fitted.models[name]
            row = {"model": name, "cohort": cohort, "n": int(y.size), "events": int(y.sum())}
            try:
                auc = auc_ci(y, scores[name], "delong", level=level)
                row.update(auc=auc.auc, lower=auc.lower, upper=auc.upper, method=auc.method)
            except DataError as exc:  # e.g. too few cases for the DeLong variance: say so, keep going
                log.warning("AUC of %s in %s has no DeLong CI: %s", name, cohort, exc)
                row.update(auc=float(roc_auc_score(y, scores[name])), lower=np.nan, upper=np.nan,
                           method=f"no CI: {exc.message}")
            if cohort == spec.cohorts.training and m.optimism is not None:
                lo, hi = m.optimism.ci
                corrected_b = m.optimism.apparent_auc - m.optimism.optimism
                row.update({"optimism": m.optimism.mean_optimism, "corrected_auc": m.optimism.corrected_auc,
                            "corrected_lower": lo, "corrected_upper": hi,
                            "corrected_sd": float(np.std(corrected_b, ddof=1)) if corrected_b.size > 1 else np.nan,
                            "n_boot": m.optimism.n_boot, "n_boot_used": m.optimism.n_used,
                            "resampling_warning": m.optimism.warning})
            if cohort == spec.cohorts.training and m.as_published is not None:
                a_lo, a_hi = m.as_published.ci
                row.update({"as_published_auc": m.as_published.corrected_auc,
                            "as_published_lower": a_lo, "as_published_upper": a_hi})
            metrics.append(row)
            cm = classification_metrics(y, scores[name], threshold=m.threshold, ci=spec.report.proportion_ci,
                                        level=level).summary()
            cm.insert(0, "cohort", cohort)
            cm.insert(0, "model", name)
            cm["threshold"] = m.threshold
            classif.append(cm)
            try:
                calib[(name, cohort)] = calibration(y, np.clip(scores[name], 1e-6, 1 - 1e-6), level=level)
            except DataError as exc:
                log.warning("calibration of %s in %s not computed: %s", name, cohort, exc)
        for a, b in itertools.combinations(names, 2):
            try:
                t = delong_test(y, scores[a], scores[b], names=(a, b), level=level)
            except DataError as exc:
                log.warning("DeLong %s vs %s in %s not computed: %s", a, b, cohort, exc)
                continue
            d = t.summary()
            d.insert(0, "cohort", cohort)
            comps.append(d)
        decision[cohort] = decision_curve(y, scores, thresholds=np.round(np.arange(0.01, 1.0, 0.01), 2))
        if progress:
            progress("evaluation (cohorts)", ci + 1, len(order))
    return Evaluation(
        metrics=pd.DataFrame(metrics),
        classification=pd.concat(classif, ignore_index=True) if classif else pd.DataFrame(),
        comparisons=pd.concat(comps, ignore_index=True) if comps else pd.DataFrame(),
        calibration=calib, decision=decision, cohorts=cohorts,
    )
