"""The per-patient table a paper's supplement needs (``patients.csv`` in the output folder).

One row per analysed case, sorted by case id (as text): ``cohort``; ``split`` ("training" for the training cohort,
"test" for every other cohort: the models are fitted on training only); the outcome as recorded
(``<column>``) and coded (``outcome_positive``, 1 = the declared positive level); and per model
``<model>_score`` (the linear predictor / decision function where the model has one, else logit P) and
``<model>_probability`` (predicted P(positive)), plus ``<model>_predicted`` at the training-cohort Youden
cut-off; with a survival outcome its time and event columns and, when the survival analysis names a model,
``<model>_risk_group`` at the training cut-point of the survival stage (blank for cases left out of the
survival analyses). Every number comes from the frozen models and the survival stage of the run; nothing is
refitted here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hccrad.config.spec import StudySpec
from hccrad.pipeline.modelling import FittedModels
from hccrad.pipeline.survival_stage import SurvivalResult


def _linear_score(est, X: pd.DataFrame, probability: np.ndarray) -> np.ndarray:
    if hasattr(est, "decision_function"):
        try:
            return np.asarray(est.decision_function(X), float)
        except AttributeError:  # a pipeline whose last step has none
            pass
    p = np.clip(probability, 1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def patient_table(spec: StudySpec, data: pd.DataFrame, fitted: FittedModels | None,
                  survival: SurvivalResult | None = None) -> pd.DataFrame:
    """Case, cohort, split, outcome, and every model's score, probability and predicted class (models and
    the binary outcome only where the study has them, e.g. not in a survival-only study)."""
    out = pd.DataFrame(index=pd.Index(data.index, name="case_id"))
    out["cohort"] = data["cohort"].astype(str)
    out["split"] = np.where(out["cohort"] == spec.cohorts.training, "training", "test")
    r = spec.outcome.response
    if r is not None and r.column in data.columns:
        out[r.column] = data[r.column]
        if fitted is not None:
            out["outcome_positive"] = fitted.y.loc[data.index].astype(int)
    sv = spec.outcome.survival
    if sv is not None:  # follow-up as recorded (the risk group comes from the survival stage, not here)
        for col in (sv.time, sv.event):
            if col in data.columns and col not in out.columns:
                out[col] = data[col]
    for name, m in (fitted.models.items() if fitted is not None else ()):
        prob = m.scores.loc[data.index].to_numpy(float)
        out[f"{name}_score"] = _linear_score(m.estimator, data.loc[:, m.columns], prob)
        out[f"{name}_probability"] = prob
        out[f"{name}_predicted"] = (prob >= m.threshold).astype(int)
    groups = survival.risk_groups() if survival is not None else None
    if groups is not None:
        out[groups.name] = groups.reindex(out.index)
    return out.sort_index(kind="stable")
