"""Calibration of predicted probabilities: curves, intercept and slope, Brier, Hosmer–Lemeshow, and the
bootstrap optimism-corrected calibration curve for internal validation.

- Binned curve: observed event rate (Clopper–Pearson CI) against mean predicted probability per bin
  (quantile bins by default, as the "deciles of risk").
- Smoothed curve: LOWESS of the outcome on the prediction (statsmodels `lowess`, it=0, as Harrell's
  `rms::val.prob` / `calibrate`; Austin & Steyerberg, Stat Med 2014).
- Calibration-in-the-large: α in logit P(y=1) = α + offset(logit p), slope fixed at 1; ideal 0.
  Calibration slope: β in logit P(y=1) = a + β logit p; ideal 1 (Cox, Biometrika 1958; Van Calster et al.,
  J Clin Epidemiol 2016). Both fitted by statsmodels GLM (binomial), Wald CIs.
- Brier score: mean (p − y)² (Brier 1950; sklearn `brier_score_loss`).
- Hosmer–Lemeshow: g groups at the quantiles of p (R `ResourceSelection::hoslem.test` grouping),
  Ĉ = Σ_groups [(O₁ − E₁)²/E₁ + (O₀ − E₀)²/E₀], χ² with g − 2 df (Hosmer & Lemeshow, 1980/2013).
- Optimism correction (Harrell, Lee & Mark, Stat Med 1996; `rms::calibrate`): for B bootstrap resamples
  refit the whole pipeline, optimism(p) = curve_boot→boot(p) − curve_boot→original(p); corrected curve =
  apparent curve − mean optimism, on a fixed grid of predicted probabilities.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import brier_score_loss, roc_auc_score
from statsmodels.nonparametric.smoothers_lowess import lowess

from hccrad.core.errors import DataError, ModelError
from hccrad.evaluate import _checks
from hccrad.evaluate.classification import proportion_ci

log = logging.getLogger(__name__)

__all__ = ["HosmerLemeshowResult", "CalibrationResult", "OptimismCalibration", "calibration_curve_binned",
           "calibration_curve_smoothed", "hosmer_lemeshow", "calibration", "bootstrap_calibration_curve",
           "ValProbResult", "val_prob", "VAL_PROB_STATISTICS"]

_EPS = 1e-10


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, _EPS, 1 - _EPS)
    if (clipped != p).any():
        log.warning("%d probabilities of exactly 0 or 1 clipped to [1e-10, 1 − 1e-10] for the logit",
                    int((clipped != p).sum()))
    return np.log(clipped / (1 - clipped))


def calibration_curve_binned(y: Sequence | np.ndarray, prob: Sequence | np.ndarray, n_bins: int = 10,
                             strategy: str = "quantile", level: float = 0.95) -> pd.DataFrame:
    """Observed vs mean predicted per bin. Columns: bin, n, events, mean_predicted, observed, lower, upper."""
    yy = _checks.binary_outcome(y, need_both=False)
    pp = _checks.probabilities(prob, yy.size)
    if n_bins < 2:
        raise DataError(f"n_bins must be ≥ 2, got {n_bins}", field="n_bins", hint="use e.g. 10")
    if strategy == "quantile":
        edges = np.unique(np.quantile(pp, np.linspace(0, 1, n_bins + 1)))
    elif strategy == "uniform":
        edges = np.linspace(0, 1, n_bins + 1)
    else:
        raise DataError(f"unknown binning {strategy!r}", field="strategy", hint='use "quantile" or "uniform"')
    if edges.size < 2:  # every prediction identical: one bin holding all patients
        edges = np.array([edges[0] - 1e-12, edges[0] + 1e-12])
    bins = pd.cut(pp, edges, include_lowest=True, duplicates="drop")
    rows = []
    for i, (iv, idx) in enumerate(pd.Series(np.arange(pp.size)).groupby(bins, observed=True)):
        k, n = int(yy[idx].sum()), int(idx.size)
        lo, hi = proportion_ci(k, n, "clopper-pearson", level)
        rows.append({"bin": str(iv), "n": n, "events": k, "mean_predicted": float(pp[idx].mean()),
                     "observed": k / n, "lower": lo, "upper": hi})
    return pd.DataFrame(rows)


def calibration_curve_smoothed(y: Sequence | np.ndarray, prob: Sequence | np.ndarray, frac: float = 2 / 3,
                               grid: Sequence[float] | np.ndarray | None = None) -> pd.DataFrame:
    """LOWESS calibration curve (columns predicted, observed), at the sorted predictions or on `grid`
    (linear interpolation inside the data range, constant outside)."""
    yy = _checks.binary_outcome(y, need_both=False)
    pp = _checks.probabilities(prob, yy.size)
    if not 0 < frac <= 1:
        raise DataError(f"lowess span must lie in (0, 1], got {frac}", field="frac", hint="use 2/3")
    fit = lowess(yy.astype(float), pp, frac=frac, it=0, return_sorted=True)
    xs, ys = fit[:, 0], np.clip(fit[:, 1], 0.0, 1.0)
    if grid is None:
        return pd.DataFrame({"predicted": xs, "observed": ys})
    g = np.asarray(grid, dtype=float)
    xu, iu = np.unique(xs, return_index=True)
    return pd.DataFrame({"predicted": g, "observed": np.interp(g, xu, ys[iu])})


@dataclass(frozen=True)
class HosmerLemeshowResult(_checks.ResultDisplay):
    """Hosmer–Lemeshow Ĉ statistic, df = groups − 2, p-value and the observed/expected table."""

    statistic: float
    df: int
    p: float
    table: pd.DataFrame

    method: str = "Hosmer–Lemeshow Ĉ (groups at quantiles of predicted risk)"

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"statistic": self.statistic, "df": self.df, "p": self.p, "method": self.method}])


def hosmer_lemeshow(y: Sequence | np.ndarray, prob: Sequence | np.ndarray, g: int = 10) -> HosmerLemeshowResult:
    """Hosmer–Lemeshow goodness-of-fit test with `g` risk groups (see module docstring)."""
    yy = _checks.binary_outcome(y, need_both=False)
    pp = _checks.probabilities(prob, yy.size)
    if g < 3:
        raise DataError(f"Hosmer–Lemeshow needs ≥ 3 groups, got {g}", field="g", hint="use g=10")
    edges = np.unique(np.quantile(pp, np.linspace(0, 1, g + 1)))
    groups = pd.cut(pp, edges, include_lowest=True, duplicates="drop")
    df = pd.DataFrame({"y": yy, "p": pp, "group": groups})
    tab = df.groupby("group", observed=True).agg(n=("y", "size"), observed_1=("y", "sum"), expected_1=("p", "sum"))
    tab["observed_0"] = tab["n"] - tab["observed_1"]
    tab["expected_0"] = tab["n"] - tab["expected_1"]
    if (tab[["expected_1", "expected_0"]] <= 0).to_numpy().any():
        raise DataError("a Hosmer–Lemeshow group has zero expected events or non-events", field="prob",
                        hint="use fewer groups (g) or check that probabilities are not all 0 or 1")
    stat = float((((tab["observed_1"] - tab["expected_1"]) ** 2) / tab["expected_1"]
                  + ((tab["observed_0"] - tab["expected_0"]) ** 2) / tab["expected_0"]).sum())
    dof = len(tab) - 2
    if len(tab) < g:
        log.warning("Hosmer–Lemeshow: only %d distinct risk groups (asked for %d) because of tied predictions",
                    len(tab), g)
    return HosmerLemeshowResult(stat, dof, float(stats.chi2.sf(stat, dof)), tab.reset_index())


@dataclass(frozen=True)
class CalibrationResult(_checks.ResultDisplay):
    """Calibration-in-the-large, slope, Brier and Hosmer–Lemeshow with CIs; binned and smoothed curves."""

    citl: float
    citl_lower: float
    citl_upper: float
    slope: float
    slope_lower: float
    slope_upper: float
    brier: float
    hosmer_lemeshow: HosmerLemeshowResult
    binned: pd.DataFrame
    smoothed: pd.DataFrame
    n: int
    level: float = 0.95

    def summary(self) -> pd.DataFrame:
        hl = self.hosmer_lemeshow
        return pd.DataFrame([
            {"statistic": "calibration-in-the-large", "estimate": self.citl, "lower": self.citl_lower,
             "upper": self.citl_upper, "p": np.nan,
             "method": "logistic intercept with logit(p) as offset (slope fixed at 1), Wald CI"},
            {"statistic": "calibration slope", "estimate": self.slope, "lower": self.slope_lower,
             "upper": self.slope_upper, "p": np.nan, "method": "logistic regression of y on logit(p), Wald CI"},
            {"statistic": "Brier score", "estimate": self.brier, "lower": np.nan, "upper": np.nan, "p": np.nan,
             "method": "mean squared error of p"},
            _hosmer_lemeshow_row(hl),
        ])


HL_NOT_COMPUTABLE = "not computable (too few distinct predicted risks)"


def _hosmer_lemeshow_row(hl: HosmerLemeshowResult) -> dict:
    """The summary row of the HL test; with df ≤ 0 (≤ 2 distinct risk groups, e.g. one binary predictor)
    the test has no chi-squared reference, so the row says so instead of showing a statistic."""
    if hl.df <= 0:
        return {"statistic": f"Hosmer–Lemeshow χ²: {HL_NOT_COMPUTABLE}", "estimate": np.nan, "lower": np.nan,
                "upper": np.nan, "p": np.nan, "method": f"{hl.method}; {hl.df + 2} risk group(s)"}
    return {"statistic": f"Hosmer–Lemeshow χ² ({hl.df} df)", "estimate": hl.statistic, "lower": np.nan,
            "upper": np.nan, "p": hl.p, "method": hl.method}


def calibration(y: Sequence | np.ndarray, prob: Sequence | np.ndarray, *, n_bins: int = 10, g: int = 10,
                frac: float = 2 / 3, level: float = 0.95) -> CalibrationResult:
    """All calibration measures of predicted probabilities `prob` for outcome `y`."""
    lv = _checks.level(level)
    yy = _checks.binary_outcome(y)
    pp = _checks.probabilities(prob, yy.size)
    lp = _logit(pp)
    alpha = 1.0 - lv
    try:
        itl = sm.GLM(yy, np.ones((yy.size, 1)), family=sm.families.Binomial(), offset=lp).fit()
        slp = sm.GLM(yy, sm.add_constant(lp, has_constant="add"), family=sm.families.Binomial()).fit()
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise DataError(f"calibration regression failed: {exc}", field="prob",
                        hint="check that predictions vary and both outcome classes are present") from exc
    ci_i = np.asarray(itl.conf_int(alpha))[0]
    ci_s = np.asarray(slp.conf_int(alpha))[1]
    return CalibrationResult(
        citl=float(itl.params[0]), citl_lower=float(ci_i[0]), citl_upper=float(ci_i[1]),
        slope=float(slp.params[1]), slope_lower=float(ci_s[0]), slope_upper=float(ci_s[1]),
        brier=float(brier_score_loss(yy, pp)), hosmer_lemeshow=hosmer_lemeshow(yy, pp, g),
        binned=calibration_curve_binned(yy, pp, n_bins, level=lv),
        smoothed=calibration_curve_smoothed(yy, pp, frac), n=int(yy.size), level=lv)


@dataclass(frozen=True)
class OptimismCalibration(_checks.ResultDisplay):
    """Apparent and bootstrap optimism-corrected smoothed calibration curves on a grid."""

    curve: pd.DataFrame
    n_boot: int
    seed: int
    frac: float

    method: str = "bootstrap optimism correction (Harrell et al. 1996; rms::calibrate)"

    def summary(self) -> pd.DataFrame:
        """Columns: predicted, apparent, optimism, corrected."""
        return self.curve.copy()


def _predict_proba(model, X) -> np.ndarray:
    if not hasattr(model, "predict_proba"):
        raise ModelError(f"{type(model).__name__} has no predict_proba", field="estimator",
                         hint="use a probabilistic classifier (e.g. LogisticRegression) as the final step")
    return np.asarray(model.predict_proba(X))[:, 1]


def bootstrap_calibration_curve(estimator: BaseEstimator | Callable[[], BaseEstimator], X, y, *,
                                n_boot: int = 200, seed: int = 0, frac: float = 2 / 3,
                                grid: Sequence[float] | np.ndarray | None = None) -> OptimismCalibration:
    """Optimism-corrected calibration curve for internal validation.

    `estimator` is an unfitted sklearn estimator/pipeline (cloned for every resample) or a factory
    returning a fresh one; the whole pipeline (selection, scaling, model) is refitted on each bootstrap
    resample, so nothing is learned from the patients it is evaluated on.
    """
    yy = _checks.binary_outcome(y)
    if n_boot < 1:
        raise DataError(f"n_boot must be ≥ 1, got {n_boot}", field="n_boot", hint="use e.g. 200")

    def fresh():
        return clone(estimator) if isinstance(estimator, BaseEstimator) else estimator()

    def take(idx):
        return X.iloc[idx] if hasattr(X, "iloc") else np.asarray(X)[idx]

    full = fresh().fit(X, yy)
    p_app = _checks.probabilities(_predict_proba(full, X), yy.size, field="predict_proba")
    g = (np.linspace(np.quantile(p_app, 0.01), np.quantile(p_app, 0.99), 50) if grid is None
         else np.asarray(grid, dtype=float))
    apparent = calibration_curve_smoothed(yy, p_app, frac, g)["observed"].to_numpy()
    rng = np.random.default_rng(seed)
    opt = np.zeros_like(g)
    used = 0
    for _ in range(n_boot):
        idx = rng.integers(0, yy.size, yy.size)
        if yy[idx].min() == yy[idx].max():
            continue
        m = fresh().fit(take(idx), yy[idx])
        on_boot = calibration_curve_smoothed(yy[idx], _predict_proba(m, take(idx)), frac, g)["observed"]
        on_orig = calibration_curve_smoothed(yy, _predict_proba(m, X), frac, g)["observed"]
        opt += on_boot.to_numpy() - on_orig.to_numpy()
        used += 1
    opt /= max(used, 1)
    curve = pd.DataFrame({"predicted": g, "apparent": apparent, "optimism": opt,
                          "corrected": np.clip(apparent - opt, 0.0, 1.0)})
    return OptimismCalibration(curve, used, seed, frac)


# --- rms::val.prob ----------------------------------------------------------------------------------------
# Harrell, Regression Modeling Strategies (2015) §10.9 and rms::val.prob; Spiegelhalter (Stat Med 1986).
# With L = logit p, n patients, n1 events, deviances dev(.) = -2 log-likelihood:
#   C = AUC (Mann–Whitney, ties 1/2) of p truncated to 4 decimals, floor(10^4 p) (rms lrm.fit's Fortran
#       bins the probabilities so; the exact AUC differs by < 1e-4: hccrad.evaluate.discrimination), Dxy = 2C - 1;
#   LR = dev(intercept only) - dev(L with intercept 0, slope 1);  D = (LR - 1) / n (discrimination index);
#   R2 = (1 - exp(-LR / n)) / (1 - exp(-dev(intercept only) / n))   (Nagelkerke, as rms lrm);
#   U = (dev(L, 0, 1) - dev(recalibrated a + b L) - 2) / n (unreliability, chi-square on 2 df), Q = D - U;
#   Intercept, Slope = (a, b) of the logistic recalibration y ~ a + b L (maximum likelihood);
#   Brier = mean (p - y)^2;  Emax, E90, Eavg = max, 90th percentile (R quantile type 7) and mean of
#   |p - c(p)|, c = lowess(p, y, iter = 0) (R defaults: span 2/3, delta = range(p) / 100), values at tied
#   p averaged (approx(..., ties = mean));
#   Spiegelhalter z = sum (y - p)(1 - 2p) / sqrt(sum (1 - 2p)^2 p (1 - p)), two-sided normal p.
# rms 6.5 reports "D:p" as NA; hccrad gives P(chi2_1 > LR). Reference: tests/reference/test_r_val_prob.py.

VAL_PROB_STATISTICS = ("Dxy", "C (ROC)", "R2", "D", "D:Chi-sq", "D:p", "U", "U:Chi-sq", "U:p", "Q", "Brier",
                       "Intercept", "Slope", "Emax", "E90", "Eavg", "S:z", "S:p")


@dataclass(frozen=True)
class ValProbResult(_checks.ResultDisplay):
    """rms::val.prob's statistics (names as rms) for predicted probabilities against binary outcomes."""

    values: dict
    n: int

    method: str = "rms::val.prob (Harrell): logistic recalibration, lowess errors, Spiegelhalter z"

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"statistic": list(self.values), "value": list(self.values.values())})


def _deviance(y: np.ndarray, lp: np.ndarray) -> float:
    """-2 log-likelihood of a logistic model with linear predictor `lp`."""
    return float(-2.0 * np.sum(y * lp - np.logaddexp(0.0, lp)))


def _lowess_errors(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """|p - c(p)| with c the R lowess(p, y, iter = 0) smooth, evaluated at p (tied p averaged)."""
    delta = 0.01 * float(p.max() - p.min())
    fit = lowess(y.astype(float), p, frac=2 / 3, it=0, delta=delta, return_sorted=True)
    xs, inverse = np.unique(fit[:, 0], return_inverse=True)
    smooth = np.bincount(inverse, weights=fit[:, 1]) / np.bincount(inverse)
    return np.abs(p - smooth[np.searchsorted(xs, p)])


def val_prob(y: Sequence | np.ndarray, prob: Sequence | np.ndarray) -> ValProbResult:
    """rms::val.prob(prob, y) without groups or weights: the statistics of `VAL_PROB_STATISTICS`.

    Probabilities of exactly 0 or 1 are refused (their logit is infinite; rms drops them from the
    logistic statistics but keeps them in the others).
    """
    yy = _checks.binary_outcome(y).astype(float)
    pp = _checks.probabilities(prob, yy.size, open_interval=True)
    n, n1 = yy.size, float(yy.sum())
    lp = np.log(pp / (1.0 - pp))
    dev_null = -2.0 * (n1 * np.log(n1 / n) + (n - n1) * np.log(1.0 - n1 / n))
    dev_fixed = _deviance(yy, lp)
    try:
        recal = sm.GLM(yy, sm.add_constant(lp, has_constant="add"), family=sm.families.Binomial()).fit(tol=1e-12)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise DataError(f"val.prob: logistic recalibration failed: {exc}", field="prob",
                        hint="check that predictions vary and both outcome classes are present") from exc
    lr = dev_null - dev_fixed
    u_chisq = dev_fixed - float(recal.deviance)
    d, u = (lr - 1.0) / n, (u_chisq - 2.0) / n
    c = float(roc_auc_score(yy, np.floor(pp * 1e4)))  # rms: C on probabilities binned at 1e-4
    err = _lowess_errors(yy, pp)
    w = 1.0 - 2.0 * pp
    s_z = float(np.sum((yy - pp) * w) / np.sqrt(np.sum(w * w * pp * (1.0 - pp))))
    values = [2.0 * c - 1.0, c, (1.0 - np.exp(-lr / n)) / (1.0 - np.exp(-dev_null / n)), d, lr,
              stats.chi2.sf(lr, 1), u, u_chisq, stats.chi2.sf(u_chisq, 2), d - u, np.mean((pp - yy) ** 2),
              recal.params[0], recal.params[1], err.max(), np.quantile(err, 0.9), err.mean(),
              s_z, 2.0 * stats.norm.sf(abs(s_z))]
    return ValProbResult(values={k: float(v) for k, v in zip(VAL_PROB_STATISTICS, values, strict=True)}, n=n)
