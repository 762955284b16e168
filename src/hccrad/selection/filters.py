"""Filter-type feature selection steps as scikit-learn transformers.

Every step follows the scikit-learn contract (``fit`` learns on the training rows only and sets attributes
ending in ``_``; ``transform`` keeps the selected columns; ``get_feature_names_out`` names them), so inside a
``Pipeline`` cross-validation and the bootstrap refit them and selection cannot leak. Pandas in/out works with
``set_output(transform="pandas")`` (``build_model_pipeline`` switches it on).

Steps (seed 000, Wu et al. 2025, Methods "Feature selection"; seed 001 §2.7–2.8):

* :class:`StabilityFilter` -- keep features whose ICC (and optionally CV) from the radiomics stability stage
  pass thresholds (ICC > 0.8 in both seeds; Koo & Li 2016 call ICC >= 0.75 "good").
* :class:`UnivariateFilter` -- t-test or Mann-Whitney U between outcome classes, chosen per feature by a
  Shapiro-Wilk normality test in both classes (seed 000: "t-tests/Mann-Whitney U tests ... p < 0.05").
* :class:`CorrelationPruner` -- from every pair with |rho| above the threshold keep the feature with the
  smaller univariate p (seed 000: Spearman, 0.95; seed 001: |r| > 0.9).
* :class:`VIFPruner` -- drop the feature with the largest variance inflation factor until all are <= max_vif
  (seed 001: VIF > 10 = multicollinearity). VIF_j = 1 / (1 - R_j^2), R_j^2 from regressing feature j on the
  others with an intercept (Kutner et al., Applied Linear Statistical Models, §10.5).

When no feature passes, each step keeps the single best one (smallest p / largest ICC / smallest VIF) and
logs a warning instead of returning an empty table, because an empty selection breaks every later step.
"""

from __future__ import annotations

import logging
import warnings

from numbers import Real

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from statsmodels.stats.outliers_influence import variance_inflation_factor

from hccrad.core.errors import DataError, ModelError
from hccrad.selection.contract import binary_target_tags, not_binary, validate_params

logger = logging.getLogger(__name__)

TESTS = ("auto", "ttest", "mannwhitney")


def _names(est: BaseEstimator, n: int) -> list[str]:
    names = getattr(est, "feature_names_in_", None)
    return [str(c) for c in names] if names is not None else [f"x{i}" for i in range(n)]


def _check_xy(est: BaseEstimator, X, y, *, need_y: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Validate the parameters, X (finite numbers) and a binary y; return float X and y coded 0/1."""
    validate_params(est)
    if isinstance(X, pd.DataFrame):
        bad = [c for c, dt in X.dtypes.items() if not pd.api.types.is_numeric_dtype(dt)]
        if bad:
            raise DataError(
                f"{type(est).__name__}: non-numeric column(s) {bad[:5]}",
                field=str(bad[0]),
                hint="encode categorical variables as numbers (e.g. 0/1) before selection",
            )
        nan_cols = X.columns[X.isna().any()].tolist()
        if nan_cols:
            raise DataError(
                f"{type(est).__name__}: missing values in column(s) {nan_cols[:5]}",
                field=str(nan_cols[0]),
                hint="impute or drop missing values before fitting (fit an imputer inside the pipeline)",
            )
    else:  # sparse, complex, empty or non-2-D input: scikit-learn's errors; then NaN/inf named by column
        arr = validate_data(est, X, reset=True, dtype=float, ensure_all_finite=False)
        if not np.isfinite(arr).all():
            j = int(np.flatnonzero(~np.isfinite(arr).all(axis=0))[0])
            raise DataError(f"{type(est).__name__}: missing or infinite values in column {j}", field=f"x{j}",
                            hint="impute or drop missing values before fitting")
    Xv = validate_data(est, X, reset=True, dtype=float, ensure_all_finite=True)
    if not need_y:
        return Xv, None
    if y is None:
        raise DataError(f"{type(est).__name__} requires y to be passed, but the target y is None",
                        hint="pass the outcome: fit(X, y)")
    yv = np.asarray(y).ravel()
    if yv.shape[0] != Xv.shape[0]:
        raise DataError(f"{type(est).__name__}: X has {Xv.shape[0]} rows but y has {yv.shape[0]}")
    if pd.isna(yv).any():
        raise DataError(f"{type(est).__name__}: the outcome has missing values", hint="drop those rows")
    classes = np.unique(yv)
    if classes.size != 2:
        raise not_binary(type(est).__name__, classes.size)
    return Xv, (yv == classes[1]).astype(int)


def univariate_pvalues(
    X: np.ndarray, y: np.ndarray, test: str = "auto", normality_alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Two-sample p-value of every column of X between y == 0 and y == 1.

    ``test="auto"``: Shapiro-Wilk in each class; Welch's t-test if both have p > ``normality_alpha``
    (or a class has < 3 rows, where Shapiro-Wilk is undefined -> Mann-Whitney), Mann-Whitney U otherwise.
    Constant columns get p = 1. Returns (p-values, name of the test used per column).
    """
    if test not in TESTS:
        raise ModelError(f"unknown univariate test {test!r}", field="test", hint=f"use one of {TESTS}")
    a, b = X[y == 0], X[y == 1]
    p = np.ones(X.shape[1])
    const = (np.ptp(X, axis=0) == 0) | (np.ptp(a, axis=0) + np.ptp(b, axis=0) == 0)
    if test == "ttest":
        use_t = np.ones(X.shape[1], bool)
    elif test == "mannwhitney":
        use_t = np.zeros(X.shape[1], bool)
    else:
        use_t = np.zeros(X.shape[1], bool)
        if len(a) >= 3 and len(b) >= 3:
            ok = ~const
            with np.errstate(all="ignore"):
                pa = stats.shapiro(a[:, ok], axis=0).pvalue
                pb = stats.shapiro(b[:, ok], axis=0).pvalue
            use_t[ok] = (np.nan_to_num(pa, nan=0.0) > normality_alpha) & (
                np.nan_to_num(pb, nan=0.0) > normality_alpha
            )
    live = ~const
    with np.errstate(all="ignore"):
        ti = live & use_t
        if ti.any():
            p[ti] = stats.ttest_ind(a[:, ti], b[:, ti], axis=0, equal_var=False).pvalue
        mi = live & ~use_t
        if mi.any():
            p[mi] = stats.mannwhitneyu(a[:, mi], b[:, mi], axis=0, alternative="two-sided").pvalue
    p = np.where(np.isfinite(p), p, 1.0)
    return p, np.where(use_t, "ttest", "mannwhitney")


class _Selector(SelectorMixin, BaseEstimator):
    """Shared plumbing: a boolean ``support_`` mask and the selected names; a binary outcome is required
    (tags; :class:`StabilityFilter` and :class:`VIFPruner` do not use it)."""

    _needs_y = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        return binary_target_tags(tags) if self._needs_y else tags

    def _get_support_mask(self) -> np.ndarray:
        check_is_fitted(self, "support_")
        return self.support_

    @property
    def selected_features_(self) -> list[str]:
        check_is_fitted(self, "support_")
        return [n for n, s in zip(_names(self, self.n_features_in_), self.support_) if s]

    def _keep_best(self, mask: np.ndarray, order: np.ndarray, why: str) -> np.ndarray:
        if mask.any():
            return mask
        best = int(order[0])
        logger.warning(
            "%s: no feature passed (%s); keeping the best one, %r",
            type(self).__name__,
            why,
            _names(self, self.n_features_in_)[best],
        )
        mask = mask.copy()
        mask[best] = True
        return mask


class StabilityFilter(_Selector):
    """Keep features whose reproducibility passes: ICC >= ``icc_min`` and (optionally) CV <= ``cv_max``.

    ``table`` is the stability stage's output with columns ``feature``, ``icc`` and optionally ``cv`` (CV as
    a fraction, 0.15 = 15 %, seed 001). ``table=None`` keeps every feature (no stability data). Features
    absent from the table: ``missing="raise"`` (default), ``"drop"`` or ``"keep"``.
    """

    _needs_y = False
    _parameter_constraints = {
        "table": [pd.DataFrame, None],
        "icc_min": [Real],
        "cv_max": [Real, None],
        "missing": [StrOptions({"raise", "drop", "keep"})],
    }

    def __init__(
        self,
        table: pd.DataFrame | None = None,
        icc_min: float = 0.75,
        cv_max: float | None = None,
        missing: str = "raise",
    ) -> None:
        self.table = table
        self.icc_min = icc_min
        self.cv_max = cv_max
        self.missing = missing

    def fit(self, X, y=None):
        Xv, _ = _check_xy(self, X, y, need_y=False)
        names = _names(self, Xv.shape[1])
        if self.table is None:
            self.support_ = np.ones(Xv.shape[1], bool)
            self.icc_ = np.full(Xv.shape[1], np.nan)
            return self
        need = {"feature", "icc"} | ({"cv"} if self.cv_max is not None else set())
        lacking = need - set(self.table.columns)
        if lacking:
            raise ModelError(
                f"stability table lacks column(s) {sorted(lacking)}",
                field=sorted(lacking)[0],
                hint="pass the table from hccrad.features.stability (columns feature, icc, cv)",
            )
        tab = self.table.drop_duplicates("feature").set_index("feature")
        absent = [n for n in names if n not in tab.index]
        if absent and self.missing == "raise":
            raise ModelError(
                f"{len(absent)} feature(s) have no stability estimate, e.g. {absent[:3]}",
                field=absent[0],
                hint="compute their ICC, or set StabilityFilter(missing='drop' or 'keep')",
            )
        icc = tab["icc"].reindex(names).to_numpy(float)
        ok = icc >= self.icc_min
        if self.cv_max is not None:
            ok &= tab["cv"].reindex(names).to_numpy(float) <= self.cv_max
        known = ~np.isnan(icc)
        ok = np.where(known, ok, self.missing == "keep")
        self.icc_ = icc
        self.support_ = self._keep_best(ok, np.argsort(-np.nan_to_num(icc, nan=-np.inf)), "ICC/CV thresholds")
        return self


class UnivariateFilter(_Selector):
    """Keep features whose two-sample test between the outcome classes gives p < ``p_max``.

    ``test``: ``"auto"`` (Shapiro-Wilk normality in both classes -> Welch t-test, else Mann-Whitney U),
    ``"ttest"`` or ``"mannwhitney"``. Fitted attributes: ``pvalues_``, ``tests_``.
    """

    _parameter_constraints = {
        "p_max": [Interval(Real, 0, None, closed="left")],
        "test": [StrOptions(set(TESTS))],
        "normality_alpha": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, p_max: float = 0.05, test: str = "auto", normality_alpha: float = 0.05) -> None:
        self.p_max = p_max
        self.test = test
        self.normality_alpha = normality_alpha

    def fit(self, X, y=None):
        Xv, yv = _check_xy(self, X, y)
        self.pvalues_, self.tests_ = univariate_pvalues(Xv, yv, self.test, self.normality_alpha)
        self.support_ = self._keep_best(self.pvalues_ < self.p_max, np.argsort(self.pvalues_, kind="stable"),
                                        f"p < {self.p_max}")
        return self


def _corr(X: np.ndarray, method: str) -> np.ndarray:
    if method == "spearman":
        X = stats.rankdata(X, axis=0)
    elif method != "pearson":
        raise ModelError(f"unknown correlation {method!r}", field="method", hint="use 'spearman' or 'pearson'")
    with np.errstate(all="ignore"):
        r = np.corrcoef(X, rowvar=False)
    return np.nan_to_num(np.atleast_2d(r), nan=0.0)


class CorrelationPruner(_Selector):
    """Drop redundant features: of every pair with |r| > ``threshold``, keep the one with the smaller p.

    Greedy in order of increasing univariate p (``test`` as in :class:`UnivariateFilter`): a feature is kept
    if its |r| with every already-kept feature is <= threshold (seed 000: Spearman, keep "the feature with the
    most significant p-value"). Fitted: ``pvalues_``, ``correlation_`` (features x features).
    """

    _parameter_constraints = {
        "threshold": [Interval(Real, 0, None, closed="left")],
        "method": [StrOptions({"spearman", "pearson"})],
        "test": [StrOptions(set(TESTS))],
    }

    def __init__(self, threshold: float = 0.9, method: str = "spearman", test: str = "auto") -> None:
        self.threshold = threshold
        self.method = method
        self.test = test

    def fit(self, X, y=None):
        Xv, yv = _check_xy(self, X, y)
        r = np.abs(_corr(Xv, self.method))
        self.pvalues_, _ = univariate_pvalues(Xv, yv, self.test)
        keep = np.zeros(Xv.shape[1], bool)
        kept: list[int] = []
        for j in np.argsort(self.pvalues_, kind="stable"):
            if not kept or np.all(r[j, kept] <= self.threshold):
                kept.append(int(j))
                keep[j] = True
        self.correlation_ = r
        self.support_ = keep
        return self


def vif(X: np.ndarray) -> np.ndarray:
    """Variance inflation factor of each column: 1 / (1 - R^2) of the OLS of that column on the others
    plus an intercept, by statsmodels' ``variance_inflation_factor`` on the design with a constant column
    (without it statsmodels' R^2 is uncentred). inf if the column is constant or collinear (R^2 >= 1 - 1e-12)."""
    n, p = X.shape
    exog = np.column_stack([np.ones(n), X])
    out = np.empty(p)
    for j in range(p):
        if np.sum((X[:, j] - X[:, j].mean()) ** 2) <= 0:
            out[j] = np.inf
            continue
        with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # statsmodels' ill-conditioning warnings: such columns are inf below
            v = float(variance_inflation_factor(exog, j + 1))
        out[j] = np.inf if not np.isfinite(v) or v <= 0 or v >= 1e12 else v
    return out


class VIFPruner(_Selector):
    """Iteratively drop the feature with the largest VIF until every VIF <= ``max_vif`` (seed 001: 10).

    Fitted: ``vif_`` (VIF of every input feature in the final kept set; NaN for dropped ones).
    """

    _needs_y = False
    _parameter_constraints = {"max_vif": [Interval(Real, 0, None, closed="left")]}

    def __init__(self, max_vif: float = 10.0) -> None:
        self.max_vif = max_vif

    def fit(self, X, y=None):
        Xv, _ = _check_xy(self, X, y, need_y=False)
        idx = list(range(Xv.shape[1]))
        v = vif(Xv) if len(idx) > 1 else np.ones(1)
        while len(idx) > 1 and np.max(v) > self.max_vif:
            idx.pop(int(np.argmax(v)))
            v = vif(Xv[:, idx]) if len(idx) > 1 else np.ones(1)
        self.vif_ = np.full(Xv.shape[1], np.nan)
        self.vif_[idx] = v
        self.support_ = np.zeros(Xv.shape[1], bool)
        self.support_[idx] = True
        return self
