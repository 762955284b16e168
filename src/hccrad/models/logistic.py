"""Unpenalised logistic regression with a paper-style summary, and univariable -> stepwise selection.

:class:`LogisticModel` is a scikit-learn classifier whose fit is statsmodels' ``Logit`` Newton-Raphson (maximum
likelihood; reproduced operation for operation by ``_newton_logit``, bit-identical, without statsmodels' model
objects: thousands of fits per validation), so coefficients, Wald standard errors, p-values and odds ratios with 95 % CIs
(OR = exp(beta), CI = exp(beta +/- 1.96 SE)) are the ones papers report (seed 000 Table 2; seed 001 Table 3).
``formula()`` prints the fitted linear predictor the way the seeds print their scores:
``score = 0.1689 + 0.0722·2b3r − 0.6679·habitat1.1``.

:func:`stepwise_logistic` reproduces seed 000's clinical model building: univariable logistic regression of
each candidate (keep p < ``screen_p``, 0.1 in seed 000), then multivariable stepwise selection -- forward,
backward or both, by Wald p-value (entry ``entry_p``, removal ``stay_p``) or by AIC (Hosmer, Lemeshow &
Sturdivant, Applied Logistic Regression, 3rd ed., §4.3).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from numbers import Integral

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit, ndtr
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d
from statsmodels.tools.tools import matrix_rank

from hccrad.core.errors import DataError, ModelError
from hccrad.selection.contract import binary_target_tags, not_binary, validate_params

logger = logging.getLogger(__name__)


def _frame(X, names: list[str] | None = None) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X, dtype=float)
    if arr.ndim != 2:
        raise DataError(f"expected a 2-D table of features, got shape {arr.shape}")
    return pd.DataFrame(arr, columns=names or [f"x{i}" for i in range(arr.shape[1])])


def _check_numeric(df: pd.DataFrame, what: str) -> np.ndarray:
    """The table as a float array; the first column (in order) that is not numeric or has a missing value
    is an error naming it."""
    missing = df.isna().to_numpy().any(axis=0)  # one pass over the table, not one per column
    for c, dtype, blank in zip(df.columns, df.dtypes, missing):
        if not pd.api.types.is_numeric_dtype(dtype):
            raise DataError(f"{what}: column is not numeric", field=str(c), hint="encode it as numbers (0/1)")
        if blank:
            raise DataError(f"{what}: column has missing values", field=str(c), hint="impute or drop them")
    values = df.to_numpy(float)
    _check_finite(values, [str(c) for c in df.columns], what)
    return values


def _check_finite(values: np.ndarray, names: list[str], what: str) -> None:
    bad = ~np.isfinite(values).all(axis=0)
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        raise DataError(f"{what}: column has missing or infinite values", field=names[j],
                        hint="impute or drop missing values; infinite values come from a division by zero "
                             "or a log of 0 upstream")


def _array(X, what: str) -> np.ndarray:
    """A 2-D float array of finite numbers from array-like ``X`` (scikit-learn's errors for sparse, complex,
    empty or 1-D input; missing/infinite values named by column)."""
    arr = check_array(X, dtype=float, ensure_all_finite=False)
    _check_finite(arr, [f"x{i}" for i in range(arr.shape[1])], what)
    return arr


NEWTON_TOL, NEWTON_RIDGE = 1e-8, 1e-10  # statsmodels' Newton defaults (tol, ridge_factor)


@dataclass(frozen=True)
class _LogitFit:
    """Result of :func:`_newton_logit` with the attribute names of a statsmodels ``Logit`` result."""

    params: np.ndarray
    normalized_cov_params: np.ndarray
    llf: float
    exog: np.ndarray = field(repr=False)
    nobs: int
    converged: bool
    separated: bool

    @cached_property
    def aic(self) -> float:
        """-2 (llf - rank of the design), the rank by statsmodels' ``matrix_rank(exog, method="qr")``
        (computed on demand: the stepwise selection reads few of them)."""
        return -2 * (self.llf - (float(matrix_rank(self.exog, method="qr") - 1) + 1 + 0))

    @cached_property
    def bse(self) -> np.ndarray:
        return np.sqrt(np.diag(self.normalized_cov_params))

    @cached_property
    def pvalues(self) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return ndtr(-np.abs(self.params / self.bse)) * 2  # = stats.norm.sf(|z|) * 2, its arithmetic

    def cov_params(self) -> np.ndarray:
        return self.normalized_cov_params


def _newton_logit(exog: np.ndarray, y: np.ndarray, maxiter: int) -> _LogitFit:
    """Maximum-likelihood logistic regression by Newton-Raphson, the arithmetic of statsmodels'
    ``Logit(y, exog).fit(method="newton", maxiter=maxiter)`` operation for operation (statsmodels 0.15:
    ``LikelihoodModel.fit`` -> ``optimizer._fit_newton`` with the mean log-likelihood's score and Hessian, a
    1e-10 ridge on the Hessian's diagonal, start at 0, stop when every |step| <= 1e-8 or after ``maxiter``
    steps; covariance = inverse of the unridged Hessian / n; Wald p = 2 sf(|b / se|); AIC = -2 (llf - rank);
    separation flagged as ``_check_perfect_pred`` flags it: every fitted P within ``np.allclose`` of y after a
    step), without its model and results objects -- the stepwise selection fits thousands of small models per
    validation (issue 24). Equal to statsmodels' result bit for bit (tests/models/test_logit_newton.py).
    """
    nobs = y.shape[0]

    def mean(params: np.ndarray) -> np.ndarray:
        return 1 / (1 + np.exp(-(np.dot(exog, params) + 0.0)))

    def hess(params: np.ndarray) -> np.ndarray:  # statsmodels: -hessian / nobs, hessian = -X' diag(L(1-L)) X
        L = mean(params)
        return -(-np.dot(L * (1 - L) * exog.T, exog)) / nobs

    separated = False
    iterations = 0
    oldparams = np.inf
    newparams = np.asarray([0.0] * exog.shape[1])
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # as statsmodels: exp(-eta) = inf, P = 0
        while iterations < maxiter and np.any(np.abs(newparams - oldparams) > NEWTON_TOL):
            H = np.asarray(hess(newparams))
            H[np.diag_indices(H.shape[0])] += NEWTON_RIDGE
            oldparams = newparams
            newparams = oldparams - np.linalg.solve(H, -np.dot(y - mean(oldparams), exog) / nobs)
            separated |= bool(np.all(np.abs(mean(newparams) - y) <= 1e-8))  # np.allclose(., 0), its atol
            iterations += 1
        cov = np.linalg.inv(hess(newparams)) / nobs
        llf = float(np.sum(np.log(1 / (1 + np.exp(-((2 * y - 1) * (np.dot(exog, newparams) + 0.0)))))))
    return _LogitFit(newparams, cov, llf, exog, nobs, iterations < maxiter, separated)


def _fit_logit(X: np.ndarray, y: np.ndarray, names: list[str], maxiter: int) -> _LogitFit:
    """Logistic regression with a constant (statsmodels ``Logit``'s Newton fit, :func:`_newton_logit`);
    ModelError on separation or non-convergence."""
    exog = np.column_stack([np.ones(len(y)), X])
    try:
        res = _newton_logit(exog, y, maxiter)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise ModelError(
            f"logistic fit failed ({exc}) for variables {names}",
            hint="remove collinear or constant variables (VIFPruner, CorrelationPruner)",
        ) from exc
    converged = res.converged and np.all(np.isfinite(res.params))
    separated = res.separated
    if not converged and np.all(np.isfinite(res.params)):
        fitted = expit(np.clip(exog @ res.params, -700, 700))
        separated |= bool(np.any((fitted < 1e-8) | (fitted > 1 - 1e-8)))  # fitted P of 0 or 1: (quasi-)separation
    if separated:
        raise ModelError(
            f"perfect or quasi-perfect separation with variables {names}: the MLE does not exist",
            hint="use fewer variables, LogisticModel(firth=True), or a penalised selection step ('lasso')",
        )
    if not converged:
        raise ModelError(
            f"logistic fit did not converge for variables {names}",
            hint="scale the variables, remove collinear ones, raise maxiter, or use LogisticModel(firth=True)",
        )
    return res


@dataclass(frozen=True)
class _FirthFit:
    """Result of :func:`_fit_firth` with the attribute names of a statsmodels result."""

    params: np.ndarray
    bse: np.ndarray
    pvalues: np.ndarray
    llf: float
    aic: float
    nobs: int
    iterations: int


def _fit_firth(X: np.ndarray, y: np.ndarray, names: list[str], maxiter: int = 100, tol: float = 1e-10,
               max_step: float = 5.0) -> _FirthFit:
    """Firth's bias-reduced logistic regression (Firth, Biometrika 1993; Heinze & Schemper, Stat Med 2002).

    Maximises l(beta) + 1/2 log|I(beta)| (Jeffreys prior) by Newton-Raphson on the modified score
    U*(beta) = X'(y - p + h (1/2 - p)), h = diag of W^1/2 X (X'WX)^-1 X' W^1/2, with step halving on the
    penalised log-likelihood and steps capped at ``max_step`` (R ``logistf`` defaults). Finite under
    separation. SEs from (X'WX)^-1 at the solution; Wald p-values (``logistf`` reports profile-likelihood
    p-values by default, so p can differ slightly). ``llf``/``aic`` use the unpenalised log-likelihood.
    """
    Xc = np.column_stack([np.ones(len(y)), X])
    beta = np.zeros(Xc.shape[1])

    def penalised(b: np.ndarray):
        eta = Xc @ b
        p = expit(eta)
        w = p * (1.0 - p)
        info = Xc.T @ (Xc * w[:, None])
        sign, logdet = np.linalg.slogdet(info)
        ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        return (ll + 0.5 * logdet if sign > 0 else -np.inf), ll, p, w, info

    cur, ll, p, w, info = penalised(beta)
    if not np.isfinite(cur):
        raise ModelError(f"Firth logistic: singular information matrix for variables {names}",
                         hint="remove constant or collinear variables")
    for it in range(1, maxiter + 1):
        inv = np.linalg.inv(info)
        h = w * np.einsum("ij,jk,ik->i", Xc, inv, Xc)
        step = inv @ (Xc.T @ (y - p + h * (0.5 - p)))
        big = np.max(np.abs(step))
        if big > max_step:
            step *= max_step / big
        t = 1.0
        while True:
            new = penalised(beta + t * step)
            if new[0] >= cur or t < 1e-8:
                break
            t /= 2.0
        beta = beta + t * step
        cur, ll, p, w, info = new
        if np.max(np.abs(t * step)) < tol:
            break
    else:
        raise ModelError(f"Firth logistic did not converge in {maxiter} iterations for variables {names}",
                         hint="raise maxiter or remove collinear variables")
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    pv = 2.0 * stats.norm.sf(np.abs(beta / se))
    return _FirthFit(beta, se, pv, ll, -2.0 * ll + 2.0 * Xc.shape[1], len(y), it)


def _format_number(v: float, digits: int) -> str:
    return f"{abs(v):.{digits}f}"


class LogisticModel(ClassifierMixin, BaseEstimator):
    """Unpenalised (maximum-likelihood) binary logistic regression fitted with statsmodels ``Logit``.

    logit P(y = 1 | x) = beta_0 + sum_j beta_j x_j. Fitted: ``coef_`` (1, p), ``intercept_`` (1,),
    ``params_``/``bse_``/``pvalues_`` (arrays: intercept then features, as in ``summary()``), ``classes_``,
    ``feature_names_in_``, ``method_`` ("mle" or "firth").

    ``firth``: ``False`` = maximum likelihood, separation or non-convergence raises :class:`ModelError`;
    ``True`` = always Firth's bias-reduced estimates (:func:`_fit_firth`); ``"auto"`` (default) = maximum
    likelihood, refitted with Firth (logged as a warning, ``method_ = "firth"``) when the MLE does not exist,
    which happens in small cohorts and bootstrap resamples.
    """

    _parameter_constraints = {
        "maxiter": [Interval(Integral, 1, None, closed="left")],
        "firth": ["boolean", StrOptions({"auto"})],
    }

    def __init__(self, maxiter: int = 100, firth: bool | str = "auto") -> None:
        self.maxiter = maxiter
        self.firth = firth

    def __sklearn_tags__(self):
        return binary_target_tags(super().__sklearn_tags__())

    def fit(self, X, y):
        validate_params(self)
        df = X if isinstance(X, pd.DataFrame) else _frame(_array(X, "LogisticModel"))
        Xv = _check_numeric(df, "LogisticModel")
        if y is None:
            raise DataError("LogisticModel requires y to be passed, but the target y is None",
                            hint="pass the outcome: fit(X, y)")
        yv = column_or_1d(y, warn=True)
        if yv.dtype.kind not in "iub" or yv.size == 0:  # integer labels are never continuous: no check needed
            check_classification_targets(yv)  # a continuous outcome: "Unknown label type"
        if len(yv) != len(df):
            raise DataError(f"LogisticModel: X has {len(df)} rows but y has {len(yv)}")
        classes = np.unique(yv)
        if classes.size != 2:
            raise not_binary("LogisticModel", classes.size)
        names = [str(c) for c in df.columns]
        yb = (yv == classes[1]).astype(float)
        if self.firth not in (True, False, "auto"):
            raise ModelError(f"firth={self.firth!r}", field="firth", hint="use True, False or 'auto'")
        method = "firth" if self.firth is True else "mle"
        if method == "mle":
            try:
                res = _fit_logit(Xv, yb, names, self.maxiter)
            except ModelError as exc:
                if self.firth is False:
                    raise
                logger.warning("LogisticModel: %s; refitting with Firth's penalised likelihood", exc.message)
                method = "firth"
        if method == "firth":
            res = _fit_firth(Xv, yb, names, max(self.maxiter, 100))
        self.method_ = method
        self.classes_ = classes
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        self.params_ = np.asarray(res.params, float)  # numpy, not pandas: bundles/skops store plain arrays
        self.bse_ = np.asarray(res.bse, float)
        self.pvalues_ = np.asarray(res.pvalues, float)
        self.aic_ = float(res.aic)
        self.llf_ = float(res.llf)
        self.nobs_ = int(res.nobs)
        self.coef_ = res.params[1:].reshape(1, -1).copy()
        self.intercept_ = res.params[:1].copy()
        return self

    def _x(self, X) -> np.ndarray:
        check_is_fitted(self, "coef_")
        names = list(self.feature_names_in_)
        if isinstance(X, pd.DataFrame):
            label = {str(c): c for c in X.columns}  # names are kept as text: integer column labels match too
            missing = [c for c in names if c not in label]
            if missing:
                raise ModelError(
                    f"LogisticModel: input lacks column(s) {missing[:5]}",
                    field=missing[0],
                    hint="pass a table with the same feature columns as at fit time",
                )
            same = len(X.columns) == len(names) and list(label) == names  # fitted columns, fitted order: as is
            return _check_numeric(X if same else X[[label[c] for c in names]], "LogisticModel")
        arr = _array(X, "LogisticModel")
        if arr.shape[1] != len(names):
            raise ModelError(f"X has {arr.shape[1]} features, but LogisticModel is expecting {len(names)} "
                             "features as input", hint="pass the same feature columns as at fit time")
        return arr

    def decision_function(self, X) -> np.ndarray:
        """Linear predictor (log-odds), the "score" of the seeds."""
        return self._x(X) @ self.coef_[0] + self.intercept_[0]

    def predict_proba(self, X) -> np.ndarray:
        p = expit(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        positive = self.decision_function(X) > 0  # first: NotFittedError before fit, not AttributeError
        return self.classes_[positive.astype(int)]

    def summary(self) -> pd.DataFrame:
        """Table indexed by term ("const" + features): coef, se, z, p, OR, OR_lower, OR_upper (95 % Wald)."""
        check_is_fitted(self, "coef_")
        z975 = stats.norm.ppf(0.975)
        b, se = self.params_, self.bse_
        return pd.DataFrame(
            index=pd.Index(["const", *self.feature_names_in_], name="term"),
            data={
                "coef": b,
                "se": se,
                "z": b / se,
                "p": self.pvalues_,
                "OR": np.exp(b),
                "OR_lower": np.exp(b - z975 * se),
                "OR_upper": np.exp(b + z975 * se),
            },
        )

    def formula(self, name: str = "score", digits: int = 4) -> str:
        """The fitted linear predictor as papers print it: ``score = 1.9806 − 1.5059·Comorbidities + …``."""
        check_is_fitted(self, "coef_")
        return format_formula(float(self.intercept_[0]), dict(zip(self.feature_names_in_, self.coef_[0])),
                              name=name, digits=digits)


def format_formula(intercept: float, coefs: dict[str, float], name: str = "score", digits: int = 4) -> str:
    """``name = b0 ± |b1|·x1 ± …`` with a true minus sign (U+2212) and a middle dot, as in the seeds."""
    text = f"{name} = {'−' if intercept < 0 else ''}{_format_number(intercept, digits)}"
    for var, b in coefs.items():
        text += f" {'−' if b < 0 else '+'} {_format_number(b, digits)}·{var}"
    return text


@dataclass(frozen=True)
class StepwiseResult:
    """Outcome of :func:`stepwise_logistic`: the univariable screen, the steps taken and the final model."""

    univariable: pd.DataFrame  # index variable; columns coef, OR, OR_lower, OR_upper, p
    screened: tuple[str, ...]
    selected: tuple[str, ...]
    steps: pd.DataFrame  # step, action, variable, p, aic
    model: LogisticModel | None
    method: str

    def summary(self) -> pd.DataFrame:
        """Seed-000 Table 2 layout: univariable OR (95 % CI), p and multivariable OR (95 % CI), p."""
        uni = self.univariable[["OR", "OR_lower", "OR_upper", "p"]].add_prefix("uni_")
        if self.model is None:
            return uni
        multi = self.model.summary().drop(index="const")[["OR", "OR_lower", "OR_upper", "p"]].add_prefix("multi_")
        return uni.join(multi, how="left")

    def formula(self, name: str = "score", digits: int = 4) -> str:
        if self.model is None:
            raise ModelError("stepwise selection kept no variable, so there is no formula")
        return self.model.formula(name=name, digits=digits)


def _joint_p(res, positions: list[int]) -> float:
    """Wald p of the coefficients at `positions` (of `res.params`), jointly: chi2 = b' V^-1 b on len(b) df
    (for one coefficient the usual two-sided Wald p)."""
    if len(positions) == 1:
        return float(res.pvalues[positions[0]])
    b = np.asarray(res.params, float)[positions]
    cov = np.asarray(res.cov_params(), float)[np.ix_(positions, positions)]
    return float(stats.chi2.sf(float(b @ np.linalg.solve(cov, b)), len(positions)))


class _Columns:
    """The candidate columns of a table as one float array, a subset of them taken by name (the stepwise
    selection fits many subsets; one conversion instead of a DataFrame selection per fit)."""

    def __init__(self, values: np.ndarray, names: list[str]) -> None:
        self.values = values
        self.position = {c: i for i, c in enumerate(names)}

    def __getitem__(self, cols: list[str]) -> np.ndarray:
        return self.values[:, [self.position[c] for c in cols]]


def _try_fit(table: _Columns, y: np.ndarray, cols: list[str]):
    X = table[cols]
    try:
        return _fit_logit(X, y, cols, 100)
    except ModelError as exc:
        logger.info("stepwise: skipping %s (%s)", cols, exc.message)
        return None


def stepwise_logistic(
    df: pd.DataFrame,
    outcome: str,
    candidates: list[str],
    entry_p: float = 0.1,
    direction: str = "forward",
    criterion: str = "p",
    screen_p: float | None = 0.1,
    stay_p: float = 0.1,
    groups: dict[str, list[str]] | None = None,
) -> StepwiseResult:
    """Univariable screen then multivariable stepwise logistic regression (seed 000, Methods 2.6).

    1. Univariable logistic regression of ``outcome`` on each candidate; keep p < ``screen_p``
       (``None`` keeps all).
    2. Stepwise on the screened set. ``direction="forward"``: start empty, add the variable with the smallest
       Wald p (``criterion="p"``, if p < ``entry_p``) or the largest AIC drop (``criterion="aic"``);
       ``"backward"``: start full, remove the largest p (if > ``stay_p``) or the variable whose removal lowers
       AIC most; ``"both"``: forward steps, each followed by backward removal checks.
    Variables must be numeric (encode categories as 0/1 dummies). ``groups`` maps a candidate to its columns
    (a categorical variable's dummies, `hccrad.models.dummies`): it enters and leaves as one block, tested by
    the joint Wald test of its coefficients; its univariable row has the joint p and no single OR.
    """
    if direction not in ("forward", "backward", "both"):
        raise ModelError(f"direction={direction!r}", field="direction", hint="use forward, backward or both")
    if criterion not in ("p", "aic"):
        raise ModelError(f"criterion={criterion!r}", field="criterion", hint="use 'p' or 'aic'")
    if stay_p < entry_p:
        raise ModelError(f"stay_p ({stay_p}) < entry_p ({entry_p}) can cycle", field="stay_p",
                         hint="set stay_p >= entry_p")
    block = {c: list((groups or {}).get(c, [c])) for c in candidates}

    def columns(variables) -> list[str]:
        return [col for v in variables for col in block[v]]

    def var_p(res, variables: list[str], v: str) -> float:
        cols = columns(variables)
        return _joint_p(res, [cols.index(c) + 1 for c in block[v]])

    missing = [c for c in [outcome, *columns(candidates)] if c not in df.columns]
    if missing:
        raise DataError(f"stepwise_logistic: column(s) {missing} not in the table", field=missing[0])
    table = _Columns(_check_numeric(df[columns(candidates)], "stepwise_logistic"), columns(candidates))
    yraw = df[outcome].to_numpy()
    classes = np.unique(yraw[~pd.isna(yraw)])
    if classes.size != 2 or pd.isna(yraw).any():
        raise DataError("stepwise_logistic: the outcome needs two classes and no missing values", field=outcome)
    y = (yraw == classes[1]).astype(float)

    rows = {}
    for c in candidates:
        r = _try_fit(table, y, block[c])
        if r is None:
            rows[c] = dict(coef=np.nan, OR=np.nan, OR_lower=np.nan, OR_upper=np.nan, p=1.0)
            continue
        if len(block[c]) > 1:  # a categorical variable: one OR per level, in the model summary
            rows[c] = dict(coef=np.nan, OR=np.nan, OR_lower=np.nan, OR_upper=np.nan, p=var_p(r, [c], c))
            continue
        b, se = r.params[1], r.bse[1]
        rows[c] = dict(coef=b, OR=np.exp(b), OR_lower=np.exp(b - 1.959964 * se),
                       OR_upper=np.exp(b + 1.959964 * se), p=r.pvalues[1])
    uni = pd.DataFrame.from_dict(rows, orient="index")
    uni.index.name = "variable"
    screened = [c for c in candidates if screen_p is None or uni.loc[c, "p"] < screen_p]

    steps: list[dict] = []
    current: list[str] = list(screened) if direction == "backward" else []

    def aic_of(cols: list[str]) -> float:
        if not cols:
            p1 = y.mean()
            return -2 * np.sum(y * np.log(p1) + (1 - y) * np.log(1 - p1)) + 2
        r = _try_fit(table, y, columns(cols))
        return np.inf if r is None else float(r.aic)

    def try_remove() -> bool:
        if not current:
            return False
        if criterion == "p":
            r = _try_fit(table, y, columns(current))
            if r is None:
                return False
            pv = pd.Series([var_p(r, current, v) for v in current], index=current)
            worst = pv.idxmax()
            if pv[worst] > stay_p:
                current.remove(worst)
                steps.append(dict(step=len(steps) + 1, action="remove", variable=worst, p=pv[worst], aic=r.aic))
                return True
            return False
        base = aic_of(current)
        trial = {c: aic_of([v for v in current if v != c]) for c in current}
        best = min(trial, key=trial.get)
        if trial[best] < base:
            current.remove(best)
            steps.append(dict(step=len(steps) + 1, action="remove", variable=best, p=np.nan, aic=trial[best]))
            return True
        return False

    def try_add() -> bool:
        pool = [c for c in screened if c not in current]
        if not pool:
            return False
        if criterion == "p":
            pv = {}
            for c in pool:
                r = _try_fit(table, y, columns([*current, c]))
                if r is not None:
                    pv[c] = (var_p(r, [*current, c], c), r)
            if not pv:
                return False
            best = min(pv, key=lambda c: pv[c][0])
            if pv[best][0] < entry_p:
                current.append(best)
                steps.append(dict(step=len(steps) + 1, action="add", variable=best, p=pv[best][0],
                                  aic=pv[best][1].aic))
                return True
            return False
        base = aic_of(current)
        trial = {c: aic_of([*current, c]) for c in pool}
        best = min(trial, key=trial.get)
        if trial[best] < base:
            current.append(best)
            steps.append(dict(step=len(steps) + 1, action="add", variable=best, p=np.nan, aic=trial[best]))
            return True
        return False

    limit = 4 * (len(screened) + 1) ** 2
    if direction == "backward":
        while try_remove() and len(steps) < limit:
            pass
    else:
        while try_add() and len(steps) < limit:
            if direction == "both":
                while try_remove() and len(steps) < limit:
                    pass
    model = None
    if current:
        model = LogisticModel().fit(df[columns(current)], y)
    method = (f"univariable screen p<{screen_p}; {direction} stepwise by "
              + (f"Wald p (entry {entry_p}, stay {stay_p})" if criterion == "p" else "AIC"))
    steps_df = pd.DataFrame(steps, columns=["step", "action", "variable", "p", "aic"])
    return StepwiseResult(uni, tuple(screened), tuple(current), steps_df, model, method)
