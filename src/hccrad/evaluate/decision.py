"""Decision curve analysis (Vickers & Elkin, Med Decis Making 2006), as R `dcurves::dca` 0.5.1.

At threshold probability p_t, with N patients, a patient is test-positive when risk >= p_t:

    net benefit       NB(p_t)  = TP/N − FP/N · p_t / (1 − p_t)
    treat all         NB_all   = π − (1 − π) · p_t / (1 − p_t)      (π = prevalence)
    treat none        NB_none  = 0
    net interventions avoided per `nper` patients = (NB − NB_all) / (p_t / (1 − p_t)) · nper
                                                      (dcurves `net_intervention_avoided`)

Case-control data (dcurves `prevalence=`): the sample's case share is not the population's, so with the
given population prevalence π, sensitivity Se(p_t) and specificity Sp(p_t) over the cases and controls,

    tp_rate = Se · π,   fp_rate = (1 − Sp) · (1 − π),   NB = tp_rate − fp_rate · p_t / (1 − p_t)

(reproduced to 1e-9 against Python dcurves 1.1.7 on df_case_control, tests/reference/test_dcurves_surv_case_control.py).

As dcurves, a risk of exactly 0 is never test-positive and a risk of exactly 1 always is (dcurves maps
them to 0 − ε and 1 + ε), so a binary marker at p_t = 0 is not the same as treating all.
Reproduced to 1e-6 on dcurves' `df_binary` (tests/reference/test_dcurves.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm

from hccrad.core.errors import DataError
from hccrad.evaluate import _checks

__all__ = ["decision_curve", "marker_to_probability"]


def marker_to_probability(y: Sequence | np.ndarray, marker: Sequence | np.ndarray) -> np.ndarray:
    """Fitted probability of a univariable logistic regression of `y` on `marker` (dcurves
    `as_probability`). Fit it on training data and apply the coefficients elsewhere to avoid leakage;
    this helper is for within-cohort DCA as dcurves does."""
    yy = _checks.binary_outcome(y)
    mm = _checks.scores(marker, yy.size, field="marker")
    fit = sm.GLM(yy, sm.add_constant(mm, has_constant="add"), family=sm.families.Binomial()).fit()
    return np.asarray(fit.predict(sm.add_constant(mm, has_constant="add")))


def _given_prevalence(prevalence: float) -> float:
    value = float(prevalence)
    if not 0.0 < value < 1.0:
        raise DataError(f"prevalence must lie in (0, 1), got {prevalence}", field="prevalence",
                        hint="give the population prevalence of the outcome, e.g. 0.2, for case-control data")
    return value


def decision_curve(y: Sequence | np.ndarray, probs: Mapping[str, Sequence | np.ndarray],
                   thresholds: Sequence[float] | np.ndarray | None = None, *, nper: int = 100,
                   prevalence: float | None = None) -> pd.DataFrame:
    """Net benefit of each model and of treat-all / treat-none over `thresholds`.

    Returns a long DataFrame with columns: model ("all", "none", then each name), threshold, n,
    prevalence, tp_rate, fp_rate, net_benefit, net_interventions_avoided (per `nper` patients; NaN at
    p_t = 0 where it is undefined), standardized_net_benefit (NB / π).
    Default thresholds: 0, 0.01, …, 0.99 (dcurves' default).
    `prevalence`: the population prevalence for case-control data (then the `prevalence` column holds it);
    None uses the sample's case share.
    """
    yy = _checks.binary_outcome(y)
    if not probs:
        raise DataError("no models given", field="probs", hint="pass {name: predicted probabilities}")
    reserved = {"all", "none"} & set(probs)
    if reserved:
        raise DataError(f"model name(s) {sorted(reserved)} are reserved for the reference strategies",
                        field="probs", hint="rename the model")
    thr = np.round(np.arange(0, 1, 0.01), 2) if thresholds is None else np.asarray(thresholds, dtype=float)
    if thr.ndim != 1 or thr.size == 0 or (thr < 0).any() or (thr >= 1).any():
        raise DataError("thresholds must be a non-empty 1-D sequence in [0, 1)", field="thresholds",
                        hint="e.g. numpy.arange(0, 0.5, 0.01)")
    n = yy.size
    prev = yy.mean() if prevalence is None else _given_prevalence(prevalence)
    w = thr / (1.0 - thr)
    frames = []
    risks = {"all": np.ones(n), "none": np.zeros(n)}
    risks.update({k: _checks.probabilities(v, n, field=k) for k, v in probs.items()})
    case = yy == 1
    nb_all = None
    for name, r in risks.items():
        # test-positive: r >= p_t, with r == 0 never positive and r == 1 always positive (dcurves ±ε)
        pos = (r[None, :] >= thr[:, None]) & (r[None, :] > 0) | (r[None, :] >= 1)
        if prevalence is None:
            tp = (pos & case).sum(axis=1) / n
            fp = (pos & ~case).sum(axis=1) / n
        else:
            tp = (pos & case).sum(axis=1) / case.sum() * prev
            fp = (pos & ~case).sum(axis=1) / (~case).sum() * (1.0 - prev)
        nb = tp - fp * w
        if name == "all":
            nb_all = nb
        with np.errstate(divide="ignore", invalid="ignore"):
            nia = np.where(thr > 0, (nb - nb_all) / np.where(thr > 0, w, 1.0) * nper, np.nan)
        frames.append(pd.DataFrame({"model": name, "threshold": thr, "n": n, "prevalence": prev,
                                    "tp_rate": tp, "fp_rate": fp, "net_benefit": nb,
                                    "net_interventions_avoided": nia, "standardized_net_benefit": nb / prev}))
    return pd.concat(frames, ignore_index=True)
