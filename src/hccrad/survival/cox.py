"""Univariable and multivariable Cox proportional-hazards regression (Efron or Breslow ties).

`ties="efron"` (the default, as R `coxph`): `lifelines.CoxPHFitter` maximises the Efron partial likelihood;
`ties="breslow"`: statsmodels `PHReg(ties="breslow")` maximises the Breslow partial likelihood
    l(beta) = sum_events [beta'x_i - log sum_{j: T_j >= T_i} exp(beta'x_j)]
(Newton–Raphson with step halving), so coefficients, SEs and log-likelihoods match R survival
`coxph(..., ties = ...)` (tests/reference/test_r_survival.py, tests/reference/test_r_cox_ties.py, 1e-6).
The score (log-rank) test of the model, R `summary(coxph)$sctest`, is U(0)' I(0)^-1 U(0) on p df, with
U and I the score and information of the chosen partial likelihood at beta = 0.
Hazard ratio HR = exp(beta), Wald CI exp(beta +- z * se), Wald p-value; likelihood-ratio test
2 (l(beta) - l(0)) and Wald test beta' V^-1 beta on p df. Proportional hazards are checked with the
score test of R survival >= 3.0 `cox.zph` (hccrad.survival.zph: time transform "km", cox.zph's default;
one row per covariate, a categorical covariate's dummies tested jointly on their df, then the GLOBAL
test), which reproduces cox.zph to 1e-6 (tests/reference/test_r_cox_zph.py). Stepwise selection (`"forward"` /
`"backward"`) minimises the partial-likelihood AIC = -2 l(beta) + 2 p, as R `step()`. A categorical
covariate (dummies against its reference) is also tested as a whole (`CoxResult.joint_tests`): univariable
likelihood-ratio test (R `summary(coxph)$logtest`) and multivariable Wald test b' V^-1 b of its dummies.

Rows with a missing value in the duration, event or any covariate are dropped from the multivariable
fit (complete-case, counted and logged); each univariable fit uses the rows complete for its covariate.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from lifelines import CoxPHFitter
from lifelines.exceptions import ConvergenceError, ConvergenceWarning
from lifelines.utils import concordance_index
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg

from hccrad.core.errors import DataError, ModelError
from hccrad.survival._data import complete_cases, level_label, survival_arrays
from hccrad.survival.zph import cox_zph

logger = logging.getLogger(__name__)

STEPWISE = (None, "forward", "backward")
TIES = ("efron", "breslow")
# Newton–Raphson to convergence: lifelines' default stop (step norm 1e-7) leaves coefficients ~1e-5 from
# R coxph; these bounds bring them to ~1e-9 (tests/survival/test_asaur_example.py, issue 22).
_NEWTON = {"precision": 1e-11, "r_precision": 1e-15}
_COLS = ["covariate", "coef", "se", "hr", "hr_lower", "hr_upper", "z", "p", "n", "events"]
_JOINT = ["covariate", "df", "lr_uv", "p_uv", "wald_mv", "p_mv"]


def _design(
    df: pd.DataFrame, covariates: Sequence[str], categorical: Mapping[str, object]
) -> tuple[pd.DataFrame, dict]:
    """Numeric design matrix; categorical columns become 0/1 dummies `col=level` against the reference."""
    parts, groups = [], {}
    for col in covariates:
        if col in categorical:
            ref = categorical[col]
            values = df[col]
            levels = sorted(values.dropna().unique().tolist(), key=lambda v: (str(type(v)), v))
            if ref not in levels:
                raise DataError(f"reference level {ref!r} not found in column {col!r}", field=col,
                                hint=f"levels present: {levels}")
            names = []
            for lev in levels:
                if lev == ref:
                    continue
                name = f"{col}={level_label(lev)}"
                parts.append(pd.Series(np.where(values.isna(), np.nan, (values == lev).astype(float)),
                                       index=df.index, name=name))
                names.append(name)
            groups[col] = names
        else:
            numeric = pd.to_numeric(df[col], errors="coerce")
            if (numeric.isna() & df[col].notna()).any():
                raise DataError(f"non-numeric values in covariate {col!r}", field=col,
                                hint=f"declare it categorical, e.g. categorical={{{col!r}: <reference level>}}")
            parts.append(numeric.rename(col))
            groups[col] = [col]
    return pd.concat(parts, axis=1), groups


_HINT = "check for a covariate that separates events perfectly (complete separation) or has no variance"


@dataclass(frozen=True)
class _Fit:
    """One fitted partial likelihood (either ties method)."""

    params: pd.Series
    variance: pd.DataFrame
    log_likelihood: float
    log_likelihood_null: float
    means: pd.Series  # covariates centred at their means (lifelines' convention, kept for Breslow)
    baseline_survival: pd.Series  # S0(t) at the means, the ties method's estimator (index: every distinct time)
    concordance: float

    @property
    def aic(self) -> float:
        """Partial-likelihood AIC = -2 l(beta) + 2 p (R `AIC(coxph)`, lifelines `AIC_partial_`)."""
        return -2.0 * self.log_likelihood + 2.0 * len(self.params)


def _fit(data: pd.DataFrame, duration: str, event: str, columns: list[str], ties: str = "efron") -> _Fit:
    if ties == "breslow":
        return _fit_breslow(data, duration, event, columns)
    cph = _fit_lifelines(data, duration, event, columns)
    means = cph._norm_mean.copy()
    lp = (data[columns].to_numpy(dtype=float) - means[columns].to_numpy()) @ cph.params_[columns].to_numpy()
    return _Fit(params=cph.params_.copy(), variance=cph.variance_matrix_.copy(),
                log_likelihood=float(cph.log_likelihood_), log_likelihood_null=_ll_null(cph), means=means,
                baseline_survival=_baseline_survival(data[duration].to_numpy(dtype=float),
                                                     data[event].to_numpy(dtype=float), np.exp(lp), "efron"),
                concordance=float(cph.concordance_index_))


def _phreg(data: pd.DataFrame, duration: str, event: str, columns: list[str], ties: str) -> PHReg:
    return PHReg(data[duration].to_numpy(dtype=float), data[columns].to_numpy(dtype=float),
                 status=data[event].to_numpy(dtype=float), ties=ties)


def _fit_breslow(data: pd.DataFrame, duration: str, event: str, columns: list[str]) -> _Fit:
    """Newton–Raphson with step halving on the Breslow partial likelihood (statsmodels PHReg)."""
    means = data[columns].astype(float).mean()
    centred = data.assign(**{c: data[c].astype(float) - means[c] for c in columns})
    model = _phreg(centred, duration, event, columns, "breslow")
    beta = np.zeros(len(columns))
    ll = ll_null = float(model.loglike(beta))
    for _ in range(100):
        step = np.linalg.solve(-model.hessian(beta), model.score(beta))
        halvings = 0
        while not float(model.loglike(beta + step)) >= ll - 1e-12 and halvings < 30:
            step, halvings = step / 2.0, halvings + 1
        beta = beta + step
        ll = float(model.loglike(beta))
        if np.max(np.abs(step)) < 1e-11:
            break
    else:
        raise ModelError(f"Cox model with {columns} (Breslow ties) did not converge in 100 Newton steps",
                         field=columns[0], hint=_HINT)
    info = -model.hessian(beta)
    if not np.all(np.isfinite(beta)) or np.linalg.cond(info) > 1e12:
        raise ModelError(f"Cox model with {columns} (Breslow ties) did not converge: singular information",
                         field=columns[0], hint=_HINT)
    x = centred[columns].to_numpy(dtype=float)
    t = data[duration].to_numpy(dtype=float)
    e = data[event].to_numpy(dtype=float)
    lp = x @ beta
    return _Fit(params=pd.Series(beta, index=columns), variance=pd.DataFrame(np.linalg.inv(info), columns, columns),
                log_likelihood=ll, log_likelihood_null=ll_null, means=means,
                baseline_survival=_baseline_survival(t, e, np.exp(lp), "breslow"),
                concordance=float(concordance_index(t, -lp, e)))


def _baseline_survival(time: np.ndarray, event: np.ndarray, risk: np.ndarray, ties: str) -> pd.Series:
    """S0(t) at every distinct time, with the hazard estimator of the ties method, as R survival's
    `survfit.coxph`/`basehaz` (ctype 1 for Breslow, 2 for Efron):

        Breslow: S0(t) = exp(-sum_{t_k <= t} d_k / R_k)
        Efron:   S0(t) = exp(-sum_{t_k <= t} sum_{l=0}^{d_k - 1} 1 / (R_k - (l / d_k) D_k)),

    with d_k the deaths at t_k, R_k = sum_{T_j >= t_k} r_j the risk set and D_k = sum_{deaths at t_k} r_j
    (Therneau & Grambsch 2000, sec. 3.2.3; in Efron's the tied deaths leave the risk set 1/d_k at a time, as in
    the Efron partial likelihood). Without ties the two are equal."""
    u, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event, minlength=u.size)
    risk_sum = np.cumsum(np.bincount(inverse, weights=risk, minlength=u.size)[::-1])[::-1]
    if ties == "breslow":
        increment = deaths / risk_sum
    else:
        death_risk = np.bincount(inverse, weights=risk * (event > 0), minlength=u.size)
        increment = np.zeros(u.size)
        for k in np.flatnonzero(deaths > 0):
            d = int(round(deaths[k]))
            increment[k] = np.sum(1.0 / (risk_sum[k] - np.arange(d) / d * death_risk[k]))
    return pd.Series(np.exp(-np.cumsum(increment)), index=pd.Index(u, name="timeline"), name="baseline survival")


def score_test(data: pd.DataFrame, duration: str, event: str, columns: list[str],
               ties: str = "efron") -> tuple[float, int, float]:
    """Score (log-rank) test of beta = 0, R `summary(coxph(..., ties = ties))$sctest`: (chi2, df, p)."""
    model = _phreg(data, duration, event, columns, ties)
    beta0 = np.zeros(len(columns))
    u = model.score(beta0)
    chisq = float(u @ np.linalg.solve(-model.hessian(beta0), u))
    return chisq, len(columns), float(stats.chi2.sf(chisq, len(columns)))


def _fit_lifelines(data: pd.DataFrame, duration: str, event: str, columns: list[str]) -> CoxPHFitter:
    cph = CoxPHFitter()
    hint = _HINT
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            cph.fit(data[[duration, event, *columns]], duration_col=duration, event_col=event,
                    fit_options=_NEWTON)
    except ConvergenceError as exc:
        raise ModelError(f"Cox model with {columns} did not converge: {exc}".split("\n")[0], field=columns[0],
                         hint=hint) from exc
    for w in caught:
        text = str(w.message)
        if isinstance(w.message, ConvergenceWarning) and ("norm(delta)" in text or "failed to converge" in text):
            raise ModelError(f"Cox model with {columns} did not converge: {text.splitlines()[0]}",
                             field=columns[0], hint=hint)
        if isinstance(w.message, ConvergenceWarning):
            logger.warning("Cox model with %s: %s", columns, text.splitlines()[0])
    return cph


def _table(fit: _Fit, z: float, n: int, events: int) -> pd.DataFrame:
    coef, se = fit.params.to_numpy(), np.sqrt(np.diag(fit.variance.to_numpy()))
    out = pd.DataFrame({"covariate": fit.params.index.astype(str), "coef": coef, "se": se, "hr": np.exp(coef),
                        "hr_lower": np.exp(coef - z * se), "hr_upper": np.exp(coef + z * se),
                        "z": coef / se, "p": 2 * stats.norm.sf(np.abs(coef / se)), "n": n, "events": events})
    return out.reset_index(drop=True)


def _ll_null(cph: CoxPHFitter) -> float:
    """Partial log-likelihood at beta = 0: l(beta) - LR / 2."""
    return float(cph.log_likelihood_ - cph.log_likelihood_ratio_test().test_statistic / 2.0)


def _aic(fit: _Fit | None, ll_null: float) -> float:
    return -2.0 * ll_null if fit is None else fit.aic


@dataclass(frozen=True)
class CoxResult:
    """Fitted Cox model: multivariable table (`summary()`), univariable table, fit statistics, PH test."""

    duration: str
    event: str
    covariates: tuple[str, ...]  # design-matrix columns of the final model
    coefficients: pd.Series
    means: pd.Series  # lifelines centres covariates at their training means
    baseline_survival: pd.Series  # S0(t) at the means (index: time)
    multivariable: pd.DataFrame
    univariable: pd.DataFrame
    n: int
    n_events: int
    n_dropped: int
    log_likelihood: float
    log_likelihood_null: float
    lr_test: tuple[float, int, float]
    wald_test: tuple[float, int, float]
    concordance: float
    ph_test: pd.DataFrame  # covariate (term, then "GLOBAL"), chisq, df, p: R cox.zph(fit)$table
    score_test: tuple[float, int, float]  # R summary(fit)$sctest: (chi2, df, p)
    steps: tuple[str, ...]
    conf_level: float
    time_unit: str
    categorical: Mapping[str, object] = field(default_factory=dict)
    source_covariates: tuple[str, ...] = ()
    ties: str = "efron"
    joint_tests: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=_JOINT))

    def summary(self) -> pd.DataFrame:
        out = self.multivariable.copy()
        out.attrs.update(n=self.n, events=self.n_events, concordance=self.concordance,
                         lr_test=self.lr_test, wald_test=self.wald_test, score_test=self.score_test, ties=self.ties)
        return out

    def linear_predictor(self, df: pd.DataFrame) -> np.ndarray:
        """beta'(x - mean) for new rows (the training means, as lifelines); missing values are an error."""
        x = self._matrix(df)
        return (x - self.means.to_numpy()) @ self.coefficients.to_numpy()

    def predict_survival(self, df: pd.DataFrame, times: Sequence[float]) -> pd.DataFrame:
        """S(t | x) = S0(t) ** exp(beta'(x - mean)) at `times` (rows: subjects, columns: times)."""
        lp = self.linear_predictor(df)
        s0 = np.array([self.baseline_at(t) for t in times])
        return pd.DataFrame(s0[None, :] ** np.exp(lp)[:, None], index=df.index, columns=[float(t) for t in times])

    def baseline_at(self, t: float) -> float:
        idx = self.baseline_survival.index.to_numpy(dtype=float)
        k = np.searchsorted(idx, t, side="right") - 1
        return 1.0 if k < 0 else float(self.baseline_survival.iloc[k])

    def _matrix(self, df: pd.DataFrame) -> np.ndarray:
        src = self.source_covariates or self.covariates
        missing = [c for c in src if c not in df.columns]
        if missing:
            raise ModelError(f"columns {missing} needed by the Cox model are missing", field=missing[0])
        design, _ = _design(df, list(src), dict(self.categorical))
        unseen = [c for c in design.columns if c not in self.covariates]
        if unseen:  # a level the model was not fitted with: never an all-zero (reference) row
            hit = design[unseen].fillna(0).to_numpy().any(axis=1)
            case, column = design.index[hit][0], unseen[0].split("=")[0]
            raise DataError(f"value {df.loc[case, column]!r} of categorical {column!r} is not a level the Cox "
                            f"model was fitted with ({int(hit.sum())} row(s))", case=str(case), field=column,
                            hint="declare the level in data.categorical with training cases, or recode it")
        design = design.reindex(columns=list(self.covariates), fill_value=0.0)
        if design.isna().any().any():
            bad = design.columns[design.isna().any()].tolist()
            raise DataError(f"missing values in {bad} for prediction", field=bad[0],
                            hint="impute or drop these rows before predicting")
        return design.to_numpy(dtype=float)

    def __str__(self) -> str:
        lr, _, lrp = self.lr_test
        return (f"Cox PH ({self.ties.capitalize()} ties), n={self.n}, events={self.n_events}, "
                f"C={self.concordance:.3f}, LR={lr:.2f} (p={lrp:.3g})\n" + self.multivariable.to_string(index=False))


def cox_regression(
    df: pd.DataFrame,
    duration: str,
    event: str,
    covariates: Sequence[str],
    *,
    categorical: Mapping[str, object] | None = None,
    stepwise: str | None = None,
    conf_level: float = 0.95,
    time_unit: str = "days",
    ties: str = "efron",
) -> CoxResult:
    """Univariable and multivariable Cox regression with HRs, CIs, p-values, concordance and PH test.

    `categorical` maps a column to its reference level (dummy coding). `stepwise` is None, "forward" or
    "backward" (AIC); the univariable table always covers every covariate. `ties` is "efron" (default, as
    R coxph) or "breslow".
    """
    if ties not in TIES:
        raise DataError(f"unknown ties method {ties!r}", field="ties", hint=f"use one of {TIES}")
    if stepwise not in STEPWISE:
        raise DataError(f"unknown stepwise option {stepwise!r}", field="stepwise", hint=f"use one of {STEPWISE}")
    if not covariates:
        raise DataError("no covariates given", field="covariates")
    categorical = dict(categorical or {})
    absent = [c for c in [duration, event, *covariates] if c not in df.columns]
    if absent:
        raise DataError(f"Cox regression: column(s) {absent} not in the table", field=absent[0],
                        hint=f"available columns: {list(df.columns)[:30]}")
    z = float(stats.norm.ppf(0.5 + conf_level / 2))
    base, n_dropped_outcome = complete_cases(df, [duration, event], what="Cox regression outcome")
    survival_arrays(base[duration], base[event], what="Cox regression")  # codes, signs, events
    design, groups = _design(base, covariates, categorical)
    data = pd.concat([base[[duration, event]].astype(float), design], axis=1)

    uni, joint = [], []
    for col in covariates:
        sub, _ = complete_cases(data, [duration, event, *groups[col]], what=f"univariable Cox ({col})")
        if sub[event].sum() < 1:
            raise DataError(f"no events among the rows with {col!r} recorded", field=col,
                            hint="drop this covariate or check its missing values")
        fit_uv = _fit(sub, duration, event, groups[col], ties)
        uni.append(_table(fit_uv, z, len(sub), int(sub[event].sum())))
        if len(groups[col]) > 1:  # a categorical variable: its levels tested together (LR, as R's logtest)
            lr_uv = 2.0 * (fit_uv.log_likelihood - fit_uv.log_likelihood_null)
            joint.append({"covariate": col, "df": len(groups[col]), "lr_uv": float(lr_uv),
                          "p_uv": float(stats.chi2.sf(lr_uv, len(groups[col])))})
    univariable = pd.concat(uni, ignore_index=True)

    all_cols = [c for col in covariates for c in groups[col]]
    full, n_dropped = complete_cases(data, [duration, event, *all_cols], what="multivariable Cox")
    n_dropped += n_dropped_outcome
    n, n_events = len(full), int(full[event].sum())
    if n_events < 1:
        raise DataError("no events among complete cases", field=event)
    steps: list[str] = []
    chosen = list(covariates)
    if stepwise is not None:
        chosen, steps = _stepwise(full, duration, event, list(covariates), groups, stepwise, ties)
        if not chosen:
            raise ModelError("stepwise selection kept no covariate (the null model has the lowest AIC)",
                             field="covariates", hint="report the univariable table, or fit without stepwise")
    cols = [c for col in chosen for c in groups[col]]
    fit = _fit(full, duration, event, cols, ties)
    lr = 2.0 * (fit.log_likelihood - fit.log_likelihood_null)
    beta = fit.params.to_numpy()
    wald = float(beta @ np.linalg.solve(fit.variance.to_numpy(), beta))
    ph = cox_zph(full[duration], full[event], full[cols], fit.params.reindex(cols).to_numpy(),
                 {col: groups[col] for col in chosen}, ties=ties)
    return CoxResult(
        duration=duration, event=event, covariates=tuple(cols), coefficients=fit.params.copy(),
        means=fit.means.copy(), baseline_survival=fit.baseline_survival.copy(),
        multivariable=_table(fit, z, n, n_events), univariable=univariable, n=n, n_events=n_events,
        n_dropped=n_dropped, log_likelihood=fit.log_likelihood, log_likelihood_null=fit.log_likelihood_null,
        lr_test=(lr, len(beta), float(stats.chi2.sf(lr, len(beta)))),
        wald_test=(wald, len(beta), float(stats.chi2.sf(wald, len(beta)))),
        concordance=fit.concordance, ph_test=ph, score_test=score_test(full, duration, event, cols, ties),
        steps=tuple(steps), conf_level=conf_level, time_unit=time_unit, categorical=categorical,
        source_covariates=tuple(chosen), ties=ties, joint_tests=_joint_wald(joint, fit, groups, chosen))


def _joint_wald(rows: list[dict], fit: _Fit, groups: Mapping[str, list[str]],
                chosen: Sequence[str]) -> pd.DataFrame:
    """Per categorical variable: the univariable LR test (`rows`) and the multivariable Wald test
    W = b' V^-1 b of its dummies' coefficients b (covariance V) on len(b) df."""
    for row in rows:
        cols = groups[row["covariate"]]
        wald = np.nan
        if row["covariate"] in chosen:
            b = fit.params[cols].to_numpy()
            wald = float(b @ np.linalg.solve(fit.variance.loc[cols, cols].to_numpy(), b))
        row.update(wald_mv=wald, p_mv=float(stats.chi2.sf(wald, len(cols))) if np.isfinite(wald) else np.nan)
    return pd.DataFrame(rows, columns=_JOINT)


def _stepwise(data, duration, event, covariates, groups, direction, ties="efron"):
    """AIC stepwise over source covariates (a categorical variable enters or leaves as one block)."""
    ll_null = _fit(data, duration, event, groups[covariates[0]], ties).log_likelihood_null

    def aic(cols):
        fit = _fit(data, duration, event, [c for col in cols for c in groups[col]], ties) if cols else None
        return _aic(fit, ll_null)

    current = [] if direction == "forward" else list(covariates)
    best = aic(current)
    steps = [f"start: {current or 'null model'} AIC={best:.3f}"]
    while True:
        if direction == "forward":
            candidates = [(aic(current + [c]), "+", c) for c in covariates if c not in current]
        else:
            candidates = [(aic([x for x in current if x != c]), "-", c) for c in current]
        if not candidates:
            break
        value, sign, col = min(candidates)
        if value >= best - 1e-9:
            break
        best = value
        current = current + [col] if sign == "+" else [x for x in current if x != col]
        steps.append(f"{sign} {col}: AIC={value:.3f}")
        logger.info("stepwise %s: %s %s (AIC %.3f)", direction, sign, col, value)
    return current, steps
