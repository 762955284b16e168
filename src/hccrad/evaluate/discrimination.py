"""Discrimination: ROC curves, AUC with DeLong or bootstrap CIs, and DeLong tests between models.

AUC (Mann–Whitney form): AUC = P(score_case > score_control) + ½ P(tie).

DeLong variance (DeLong, DeLong & Clarke-Pearson, Biometrics 1988) computed with the fast midrank
algorithm of Sun & Xu (IEEE Signal Process Lett 2014, "Fast implementation of DeLong's algorithm"):
with m cases, n controls, midranks T_z of each score among all, T_x among cases, T_y among controls,

    AUC      = (Σ_i T_z(x_i) / m − (m + 1) / 2) / n
    V10(x_i) = (T_z(x_i) − T_x(x_i)) / n          (case structural components)
    V01(y_j) = 1 − (T_z(y_j) − T_y(y_j)) / m      (control structural components)
    S        = S10 / m + S01 / n                  (S10, S01 sample covariances, denominator − 1)

which is O(k · N log N) for k scores and N patients (scipy.stats.rankdata). This is the variance pROC
uses (`var(roc, method="delong")`, `cov()`, `ci.auc()`, `roc.test(method="delong")`), reproduced here
to 1e-9 on pROC's aSAH data (tests/reference/test_proc_asah.py). The paired test refers Z to the
standard normal; the unpaired test, as pROC, refers D = Δ / √(V_a + V_b) to a t distribution with
Welch–Satterthwaite degrees of freedom (tests/reference/test_r_delong_unpaired.py).

Convention: a higher score means a case is more likely (pROC `direction = "<"`). Unlike pROC's default
`direction = "auto"`, the direction is never chosen from the data (that biases the AUC upwards); negate a
score whose low values mark the cases.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.metrics import roc_curve

from hccrad.core.errors import DataError
from hccrad.evaluate import _checks

log = logging.getLogger(__name__)

__all__ = [
    "ROCPoints", "AUCResult", "DeLongTestResult", "roc_curve_points", "fast_delong", "auc_ci",
    "delong_covariance", "delong_test", "delong_test_unpaired", "bootstrap_auc",
]


@dataclass(frozen=True)
class ROCPoints(_checks.ResultDisplay):
    """Empirical ROC curve: `fpr`, `tpr` at each `threshold` (rule: positive when score >= threshold)."""

    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    n_pos: int
    n_neg: int

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame({"threshold": self.thresholds, "fpr": self.fpr, "tpr": self.tpr,
                             "specificity": 1.0 - self.fpr, "sensitivity": self.tpr})


@dataclass(frozen=True)
class AUCResult(_checks.ResultDisplay):
    """AUC with its confidence interval and the method that produced it."""

    auc: float
    lower: float
    upper: float
    method: str
    n_pos: int
    n_neg: int
    level: float = 0.95
    variance: float | None = None

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"auc": self.auc, "lower": self.lower, "upper": self.upper,
                              "level": self.level, "method": self.method, "n_pos": self.n_pos,
                              "n_neg": self.n_neg, "variance": self.variance}])

    def __str__(self) -> str:
        return (f"AUC {self.auc:.3f} ({self.level:.0%} CI {self.lower:.3f}–{self.upper:.3f}, "
                f"{self.method}; {self.n_pos} cases, {self.n_neg} controls)")


@dataclass(frozen=True)
class DeLongTestResult(_checks.ResultDisplay):
    """DeLong test of AUC_a − AUC_b = 0: statistic, two-sided p and the CI of the difference.

    `z` is Z (paired; standard normal) or pROC's D (unpaired; t distribution on `df` degrees of freedom).
    """

    name_a: str
    name_b: str
    auc_a: float
    auc_b: float
    diff: float
    lower: float
    upper: float
    z: float
    p: float
    paired: bool
    level: float = 0.95
    df: float | None = None  # Welch–Satterthwaite df of the unpaired test; None: normal reference

    @property
    def method(self) -> str:
        return "DeLong paired (correlated ROC curves)" if self.paired else "DeLong unpaired (independent ROC curves)"

    def summary(self) -> pd.DataFrame:
        row = {"model_a": self.name_a, "model_b": self.name_b, "auc_a": self.auc_a, "auc_b": self.auc_b,
               "diff": self.diff, "lower": self.lower, "upper": self.upper, "z": self.z, "p": self.p,
               "level": self.level, "method": self.method}
        if self.df is not None:
            row["df"] = self.df
        return pd.DataFrame([row])

    def __str__(self) -> str:
        stat = "Z" if self.df is None else f"D = t({self.df:.1f})"
        return (f"{self.name_a} vs {self.name_b}: ΔAUC {self.diff:.3f} ({self.level:.0%} CI "
                f"{self.lower:.3f}–{self.upper:.3f}), {stat} = {self.z:.3f}, p = {self.p:.4g} ({self.method})")


def roc_curve_points(y: Sequence | np.ndarray, score: Sequence | np.ndarray) -> ROCPoints:
    """Every operating point of the empirical ROC curve (sklearn.metrics.roc_curve, no point dropped)."""
    yy = _checks.binary_outcome(y)
    ss = _checks.scores(score, yy.size)
    fpr, tpr, thr = roc_curve(yy, ss, drop_intermediate=False)
    return ROCPoints(_checks.frozen(fpr), _checks.frozen(tpr), _checks.frozen(thr),
                     int(yy.sum()), int((1 - yy).sum()))


def fast_delong(y: Sequence | np.ndarray, score_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUCs and their DeLong covariance matrix for k scores on the same patients (Sun & Xu 2014).

    `score_matrix` has shape (k, N). Returns (aucs of shape (k,), covariance of shape (k, k)).
    """
    yy = _checks.binary_outcome(y)
    s = np.atleast_2d(np.asarray(score_matrix, dtype=float))
    if s.shape[1] != yy.size:
        raise DataError(f"score matrix has {s.shape[1]} columns for {yy.size} patients", field="score",
                        hint="pass scores with shape (n_models, n_patients)")
    if not np.isfinite(s).all():
        raise DataError("non-finite score value(s)", field="score", hint="drop or impute missing predictions")
    pos = yy == 1
    x, z = s[:, pos], s[:, ~pos]
    m, n = x.shape[1], z.shape[1]
    if m < 2 or n < 2:
        raise DataError(f"DeLong variance needs ≥ 2 cases and ≥ 2 controls, got {m} and {n}", field="y",
                        hint="use a larger cohort or a bootstrap CI")
    tx = stats.rankdata(x, axis=1)
    ty = stats.rankdata(z, axis=1)
    tz = stats.rankdata(np.concatenate([x, z], axis=1), axis=1)
    aucs = (tz[:, :m].sum(axis=1) / m - (m + 1) / 2.0) / n
    v10 = (tz[:, :m] - tx) / n
    v01 = 1.0 - (tz[:, m:] - ty) / m
    s10 = np.atleast_2d(np.cov(v10))
    s01 = np.atleast_2d(np.cov(v01))
    return aucs, s10 / m + s01 / n


def delong_covariance(y: Sequence | np.ndarray, scores: Mapping[str, Sequence | np.ndarray]
                      ) -> tuple[pd.Series, pd.DataFrame]:
    """AUC of each named score and the DeLong covariance matrix between them (pROC `var()` / `cov()`)."""
    yy = _checks.binary_outcome(y)
    names = list(scores)
    mat = np.vstack([_checks.scores(scores[k], yy.size, field=k) for k in names])
    aucs, cov = fast_delong(yy, mat)
    return pd.Series(aucs, index=names, name="auc"), pd.DataFrame(cov, index=names, columns=names)


def bootstrap_auc(y: Sequence | np.ndarray, score: Sequence | np.ndarray, *, n_boot: int = 2000,
                  seed: int = 0, stratified: bool = True) -> np.ndarray:
    """AUCs of `n_boot` bootstrap resamples (stratified: cases and controls resampled separately,
    as pROC's `ci.auc(method = "bootstrap")` default). Same seed → same values."""
    yy = _checks.binary_outcome(y)
    ss = _checks.scores(score, yy.size)
    if n_boot < 1:
        raise DataError(f"n_boot must be ≥ 1, got {n_boot}", field="n_boot", hint="use e.g. 2000")
    rng = np.random.default_rng(seed)
    xs, zs = ss[yy == 1], ss[yy == 0]
    m, n = xs.size, zs.size
    out = np.empty(n_boot)
    chunk = max(1, int(2e6 // (m + n)))
    for start in range(0, n_boot, chunk):
        b = min(chunk, n_boot - start)
        if stratified:
            bx = xs[rng.integers(0, m, size=(b, m))]
            bz = zs[rng.integers(0, n, size=(b, n))]
            out[start:start + b] = _auc_rows(bx, bz)
        else:
            idx = rng.integers(0, yy.size, size=(b, yy.size))
            for r in range(b):
                yb, sb = yy[idx[r]], ss[idx[r]]
                mb = int(yb.sum())
                out[start + r] = np.nan if mb in (0, yb.size) else _auc_rows(sb[yb == 1][None], sb[yb == 0][None])[0]
    if np.isnan(out).any():
        log.warning("%d bootstrap resamples had one class only and were dropped", int(np.isnan(out).sum()))
        out = out[~np.isnan(out)]
    return out


def _auc_rows(x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Mann–Whitney AUC row-wise for case scores x (b, m) and control scores z (b, n)."""
    m, n = x.shape[1], z.shape[1]
    r = stats.rankdata(np.concatenate([x, z], axis=1), axis=1)
    return (r[:, :m].sum(axis=1) - m * (m + 1) / 2.0) / (m * n)


def auc_ci(y: Sequence | np.ndarray, score: Sequence | np.ndarray, method: str = "delong", *,
           n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> AUCResult:
    """AUC with a `level` CI.

    method="delong": AUC ± z_{1−α/2} · √Var_DeLong, clipped to [0, 1] (pROC `ci.auc`, default).
    method="bootstrap": percentile interval of `n_boot` stratified bootstrap AUCs (pROC
    `ci.auc(method = "bootstrap")`; Carpenter & Bithell 2000), reproducible with `seed`.
    """
    lv = _checks.level(level)
    yy = _checks.binary_outcome(y)
    ss = _checks.scores(score, yy.size)
    aucs, cov = fast_delong(yy, ss[None, :])
    auc, var = float(aucs[0]), float(cov[0, 0])
    if method == "delong":
        half = stats.norm.ppf(0.5 + lv / 2.0) * np.sqrt(var)
        lo, hi = max(0.0, auc - half), min(1.0, auc + half)
        label = "DeLong"
    elif method == "bootstrap":
        boots = bootstrap_auc(yy, ss, n_boot=n_boot, seed=seed)
        lo, hi = (float(v) for v in np.quantile(boots, [(1 - lv) / 2.0, (1 + lv) / 2.0]))
        label = f"stratified bootstrap percentile (n_boot={n_boot}, seed={seed})"
    else:
        raise DataError(f"unknown AUC CI method {method!r}", field="method", hint='use "delong" or "bootstrap"')
    return AUCResult(auc, float(lo), float(hi), label, int(yy.sum()), int(yy.size - yy.sum()), lv, var)


def _test_result(name_a: str, name_b: str, auc_a: float, auc_b: float, var: float, paired: bool,
                 lv: float, df: float | None = None) -> DeLongTestResult:
    """Statistic Δ / SE with p and CI from the standard normal, or from t(df) when `df` is given."""
    diff = auc_a - auc_b
    if var <= 0:
        raise DataError(f"variance of the AUC difference between {name_a!r} and {name_b!r} is {var:.3g}; "
                        "the two scores rank the patients identically", field="score_b",
                        hint="compare two different models")
    se = np.sqrt(var)
    zval = diff / se
    ref = stats.norm if df is None else stats.t(df)
    half = ref.ppf(0.5 + lv / 2.0) * se
    p = 2.0 * ref.sf(abs(zval))
    return DeLongTestResult(name_a, name_b, auc_a, auc_b, diff, diff - half, diff + half, float(zval),
                            float(p), paired, lv, None if df is None else float(df))


def delong_test(y: Sequence | np.ndarray, score_a: Sequence | np.ndarray, score_b: Sequence | np.ndarray,
                *, names: tuple[str, str] = ("a", "b"), level: float = 0.95) -> DeLongTestResult:
    """Paired DeLong test of two scores on the same patients (pROC `roc.test(paired = TRUE)`).

    Z = (AUC_a − AUC_b) / √(V_a + V_b − 2 C_ab); p = 2 Φ(−|Z|); CI = Δ ± z_{1−α/2} √(V_a + V_b − 2 C_ab).
    """
    lv = _checks.level(level)
    yy = _checks.binary_outcome(y)
    a = _checks.scores(score_a, yy.size, field="score_a")
    b = _checks.scores(score_b, yy.size, field="score_b")
    aucs, cov = fast_delong(yy, np.vstack([a, b]))
    var = float(cov[0, 0] + cov[1, 1] - 2.0 * cov[0, 1])
    return _test_result(names[0], names[1], float(aucs[0]), float(aucs[1]), var, True, lv)


def delong_test_unpaired(y_a: Sequence | np.ndarray, score_a: Sequence | np.ndarray,
                         y_b: Sequence | np.ndarray, score_b: Sequence | np.ndarray, *,
                         names: tuple[str, str] = ("a", "b"), level: float = 0.95) -> DeLongTestResult:
    """Unpaired DeLong test for two independent cohorts (pROC `roc.test(paired = FALSE, method = "delong")`).

    D = (AUC_a − AUC_b) / √(V_a + V_b), the covariance being zero between independent samples, referred
    (as pROC does) to a t distribution with the Welch–Satterthwaite degrees of freedom
        df = (V_a + V_b)² / (V_a² / (N_a − 1) + V_b² / (N_b − 1)),   N = cases + controls of the cohort;
    p = 2 P(t_df > |D|). The CI Δ ± t_{df, 1−α/2} √(V_a + V_b) uses the same reference (pROC reports no CI
    for this test). Checked against pROC 1.18 (tests/reference/test_r_delong_unpaired.py).
    """
    lv = _checks.level(level)
    ya = _checks.binary_outcome(y_a, field="y_a")
    yb = _checks.binary_outcome(y_b, field="y_b")
    auc_a, var_a = fast_delong(ya, _checks.scores(score_a, ya.size, field="score_a")[None, :])
    auc_b, var_b = fast_delong(yb, _checks.scores(score_b, yb.size, field="score_b")[None, :])
    va, vb = float(var_a[0, 0]), float(var_b[0, 0])
    df = (va + vb) ** 2 / (va**2 / (ya.size - 1) + vb**2 / (yb.size - 1)) if va + vb > 0 else None
    return _test_result(names[0], names[1], float(auc_a[0]), float(auc_b[0]), va + vb, False, lv, df)
