"""Descriptive statistics: "Table 1" of baseline characteristics and the odds-ratio table.

Table 1 (seed 002 tables 1–2, seed 004 methods), per continuous variable:
  1. normality: Shapiro–Wilk in every group (overall when ungrouped); normal when all p > `alpha`;
  2. display: mean ± SD when normal, else median [Q1, Q3];
  3. two groups: normal → variance homogeneity by Levene (Brown–Forsythe median centring, scipy default)
     or Bartlett; equal → Student t-test, unequal → Welch t-test; not normal → Mann–Whitney U;
     three or more groups (e.g. cohorts): one-way ANOVA / Welch ANOVA / Kruskal–Wallis.
Per categorical variable: n (%) per level (of non-missing); Pearson χ² (Yates continuity correction on
2×2, as R `chisq.test`), or Fisher's exact test when an expected count is < 5 (2×2: exact; r×c: the
p-value over 100,000 Monte Carlo tables with the observed margins, scipy's `random_table`, seeded so the same
data always give the same p, as R `fisher.test(simulate.p.value = TRUE)` with `set.seed`).
The test used is named on every row; missing values are counted per variable and excluded. Levels are
shown in their declared order (`levels`) or as read (sorted), an integer-valued number as an integer ("1",
never "1.0"), and a level no patient has is not shown. p-values: "< 0.001", else 3 decimals.

Standardised mean difference (optional, `smd=True`; Yang & Dalton 2012, SAS Global Forum 335-2012, as R
`tableone::ExtractSmd`): continuous |m1 − m2| / sqrt((s1² + s2²) / 2); categorical with levels 2..k
(the first level dropped), proportions p1, p2 and covariances S_g = diag(p_g) − p_g p_gᵀ,
sqrt((p1 − p2)ᵀ [(S1 + S2) / 2]⁻¹ (p1 − p2)) (binary: |p1 − p2| / sqrt((p1(1−p1) + p2(1−p2)) / 2));
with more
than two groups the mean of the pairwise SMDs (as `tableone`).

Odds-ratio table (seed 000 table 2, seed 003 table 2): univariable logistic regression per variable and
one multivariable model; OR = exp(β), Wald CI exp(β ± z·SE), Wald p (statsmodels `Logit`).
Categorical variables are dummy-coded against their first level (pandas Categorical order, else sorted).
Per declared unit (`units={"afp": 100}`): a continuous variable's OR per u units is exp(u·β) = OR^u, its CI
exp(u·(β ± z·SE)) = bound^u (u > 0), p unchanged; the term reads "afp (per 100)". `units={"afp": "log10"}`
fits the variable as log10(x) (every value > 0), so its OR is per 10-fold increase: "afp (per 10-fold)".
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from hccrad.core.errors import DataError
from hccrad.evaluate import _checks

log = logging.getLogger(__name__)

__all__ = ["TableOneResult", "OddsRatioResult", "table_one", "odds_ratio_table"]


@dataclass(frozen=True)
class TableOneResult(_checks.ResultDisplay):
    """Baseline table. Columns: variable, level, Overall, one per group (named by the group's level), missing,
    p, test, summary (and SMD when asked for). `labels`: {column: the label shown in `variable`}."""

    table: pd.DataFrame
    group: str | None
    groups: tuple[str, ...]
    group_levels: tuple[str, ...] = ()  # the groups' levels as shown (a column is "cohort=test" on a name clash)

    def summary(self) -> pd.DataFrame:
        return self.table.copy()


def _fmt_p(p: float) -> str:
    return "" if not np.isfinite(p) else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def level_text(value: object) -> str:
    """A level as shown: an integer-valued number as an integer (1.0 -> "1"), anything else as its text."""
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return str(value)


def _ordered_levels(col: pd.Series, declared: Sequence[object] | None) -> list[object]:
    """The values present in `col`: declared ones first in their order, then the others as read (sorted)."""
    present = col.dropna().unique().tolist()
    if isinstance(col.dtype, pd.CategoricalDtype):
        order = [c for c in col.cat.categories if c in set(present)]
    else:
        order = sorted(present, key=lambda v: (not isinstance(v, (int, float, np.number)), v if isinstance(
            v, (int, float, np.number)) else str(v)))
    if declared:
        shown = {level_text(v) for v in declared}
        first = [v for d in declared for v in order if level_text(v) == level_text(d)]
        order = first + [v for v in order if level_text(v) not in shown]
    return order


def _smd_continuous(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 2 or b.size < 2:
        return float("nan")
    pooled = np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / 2)
    return float(abs(a.mean() - b.mean()) / pooled) if pooled > 0 else float("nan")


def _smd_categorical(a: np.ndarray, b: np.ndarray) -> float:
    """a, b: counts per level (same order) of the two groups."""
    if a.sum() == 0 or b.sum() == 0 or a.size < 2:
        return float("nan")
    p1, p2 = (a / a.sum())[1:], (b / b.sum())[1:]
    s = ((np.diag(p1) - np.outer(p1, p1)) + (np.diag(p2) - np.outer(p2, p2))) / 2
    d = p1 - p2
    if not d.any():
        return 0.0
    return float(np.sqrt(d @ np.linalg.pinv(s) @ d))


def _mean_pairwise(values: list[float]) -> float:
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite and len(finite) == len(values) else float("nan")


def _fmt_smd(v: float) -> str:
    return f"{v:.3f}" if np.isfinite(v) else ""


def _check_columns(df: pd.DataFrame, cols: Sequence[str], field: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DataError(f"column(s) {missing} not in the table (has {list(df.columns)[:12]}…)", field=field,
                        hint="check the spelling of the clinical variable names")


def _is_normal(samples: list[np.ndarray], alpha: float) -> bool:
    for s in samples:
        if s.size < 3 or np.ptp(s) == 0:
            return False
        if stats.shapiro(s).pvalue <= alpha:
            return False
    return True


def _continuous_test(samples: list[np.ndarray], normal: bool, alpha: float, variance_test: str
                     ) -> tuple[float, str]:
    if len(samples) < 2 or any(s.size < 2 for s in samples):
        return float("nan"), ""
    if normal:
        vt = stats.levene(*samples) if variance_test == "levene" else stats.bartlett(*samples)
        equal = bool(vt.pvalue > alpha)
        vname = "Levene" if variance_test == "levene" else "Bartlett"
        if len(samples) == 2:
            res = stats.ttest_ind(samples[0], samples[1], equal_var=equal)
            return float(res.pvalue), ("Student t-test" if equal else "Welch t-test") + f" ({vname} p={vt.pvalue:.3f})"
        res = stats.f_oneway(*samples, equal_var=equal)
        return float(res.pvalue), ("one-way ANOVA" if equal else "Welch ANOVA") + f" ({vname} p={vt.pvalue:.3f})"
    if len(samples) == 2:
        return float(stats.mannwhitneyu(samples[0], samples[1], alternative="two-sided").pvalue), "Mann–Whitney U"
    return float(stats.kruskal(*samples).pvalue), "Kruskal–Wallis"


FISHER_RXC_RESAMPLES = 100_000  # Monte Carlo SE of p ≤ 0.0016 (sqrt(0.25 / 1e5)); ≈ 0.0007 at p = 0.05
FISHER_RXC_SEED = 0


def _categorical_test(tab: np.ndarray) -> tuple[float, str]:
    tab = tab[tab.sum(axis=1) > 0][:, tab.sum(axis=0) > 0]
    if tab.shape[0] < 2 or tab.shape[1] < 2:
        return float("nan"), ""
    expected = stats.contingency.expected_freq(tab)
    if (expected < 5).any():
        if tab.shape == (2, 2):
            return float(stats.fisher_exact(tab).pvalue), "Fisher exact"
        if tab.sum() <= 300:  # r×c: scipy's p-value is Monte Carlo; seeded, so the same table gives the same p
            mc = stats.MonteCarloMethod(n_resamples=FISHER_RXC_RESAMPLES, rng=np.random.default_rng(FISHER_RXC_SEED))
            return (float(stats.fisher_exact(tab, method=mc).pvalue),
                    f"Fisher exact (Monte Carlo, {FISHER_RXC_RESAMPLES} tables, seed {FISHER_RXC_SEED})")
        log.warning("expected counts < 5 in a %s table of %d patients: χ² used", tab.shape, int(tab.sum()))
    yates = tab.shape == (2, 2)
    res = stats.chi2_contingency(tab, correction=yates)
    return float(res.pvalue), "Pearson χ²" + (" (Yates)" if yates else "")


def _level_counts(col: pd.Series, cats: list[object], group_index: np.ndarray, n_groups: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(patients per level, patients per level and group) in one pass: the same numbers as counting
    `(col == level) & in_group` level by level, in O(n) instead of O(n x levels x groups) (a column with
    2,000 distinct values took seconds per table)."""
    codes = pd.Categorical(col, categories=cats).codes.astype(np.int64)  # -1: missing
    known = codes >= 0
    overall = np.bincount(codes[known], minlength=len(cats))
    grouped = known & (group_index >= 0)
    counts = np.bincount(codes[grouped] * max(n_groups, 1) + group_index[grouped],
                         minlength=len(cats) * max(n_groups, 1)).reshape(len(cats), max(n_groups, 1))
    return overall, counts[:, :n_groups]


def _fmt_cont(x: np.ndarray, normal: bool, digits: int) -> str:
    if x.size == 0:
        return "–"
    if normal:
        return f"{x.mean():.{digits}f} ± {x.std(ddof=1) if x.size > 1 else 0.0:.{digits}f}"
    q1, med, q3 = np.percentile(x, [25, 50, 75])
    return f"{med:.{digits}f} [{q1:.{digits}f}, {q3:.{digits}f}]"


def table_one(df: pd.DataFrame, group: str | None = None, continuous: Sequence[str] = (),
              categorical: Sequence[str] = (), *, alpha: float = 0.05, variance_test: str = "levene",
              digits: int = 1, levels: Mapping[str, Sequence[object]] | None = None,
              labels: Mapping[str, str] | None = None, smd: bool = False,
              order: Sequence[str] | None = None) -> TableOneResult:
    """Baseline characteristics overall and by `group` (outcome or cohort), with per-row named tests.

    `levels`: {column: its levels in the order shown} (the group column's too); `labels`: {column: label};
    `smd`: add the standardised mean difference between the groups; `order`: the variables' order (default:
    the continuous ones, then the categorical ones)."""
    if variance_test not in ("levene", "bartlett"):
        raise DataError(f"unknown variance test {variance_test!r}", field="variance_test",
                        hint='use "levene" or "bartlett"')
    _check_columns(df, list(continuous) + list(categorical) + ([group] if group else []), "columns")
    levels, labels = dict(levels or {}), dict(labels or {})
    if group is not None:
        if df[group].isna().any():
            raise DataError(f"{int(df[group].isna().sum())} row(s) have no {group!r}", field=group,
                            hint="drop patients without a group before building Table 1")
        glevels = _ordered_levels(df[group], levels.get(group))
        if len(glevels) < 2:
            raise DataError(f"group column {group!r} has one level only", field=group,
                            hint="compare at least two groups, or use group=None")
    else:
        glevels = []
    gnames = [level_text(lv) for lv in glevels]
    if len(set(gnames)) != len(gnames) or {"variable", "level", "Overall", "missing", "p", "test", "summary",
                                              "SMD"} & set(gnames):
        gnames = [f"{group}={g}" for g in gnames]
    in_group = [(df[group] == lv).to_numpy() for lv in glevels]
    group_index = np.full(len(df), -1)
    for gi, m in enumerate(in_group):
        group_index[m] = gi
    extra = {"SMD": ""} if smd and glevels else {}
    rows = [{"variable": "n", "level": "", "Overall": str(len(df)),
             **{g: str(int(m.sum())) for g, m in zip(gnames, in_group)},
             "missing": 0, "p": "", "test": "", "summary": "count", **extra}]
    for var in continuous:
        col = pd.to_numeric(df[var], errors="coerce")
        if (col.isna() & df[var].notna()).any():
            raise DataError(f"continuous variable {var!r} has non-numeric values", field=var,
                            hint="list it under categorical, or clean the column")
        x = col.dropna().to_numpy(float)
        samples = [col[m].dropna().to_numpy(float) for m in in_group]
        normal = _is_normal(samples if glevels else [x], alpha)
        p, test = _continuous_test(samples, normal, alpha, variance_test) if glevels else (float("nan"), "")
        if extra:
            pairs = [(i, j) for i in range(len(samples)) for j in range(i + 1, len(samples))]
            extra = {"SMD": _fmt_smd(_mean_pairwise([_smd_continuous(samples[i], samples[j]) for i, j in pairs]))}
        rows.append({"_var": var, "variable": labels.get(var, var), "level": "",
                     "Overall": _fmt_cont(x, normal, digits),
                     **{g: _fmt_cont(s, normal, digits) for g, s in zip(gnames, samples)},
                     "missing": int(col.isna().sum()), "p": _fmt_p(p), "test": test,
                     "summary": "mean ± SD" if normal else "median [Q1, Q3]", **extra})
    for var in categorical:
        col = df[var]
        cats = _ordered_levels(col, levels.get(var))
        overall, counts = _level_counts(col, cats, group_index, len(glevels))
        p, test = _categorical_test(counts) if glevels and cats else (float("nan"), "")
        if extra:
            pairs = [(i, j) for i in range(len(glevels)) for j in range(i + 1, len(glevels))]
            extra = {"SMD": _fmt_smd(_mean_pairwise([_smd_categorical(counts[:, i], counts[:, j]) for i, j in pairs]))}
        rows.append({"_var": var, "variable": labels.get(var, var), "level": "", "Overall": "",
                     **{g: "" for g in gnames},
                     "missing": int(col.isna().sum()), "p": _fmt_p(p), "test": test, "summary": "n (%)", **extra})
        denom_all = int(col.notna().sum())
        denoms = [int(col[m].notna().sum()) for m in in_group]
        for i, c in enumerate(cats):
            k = int(overall[i])
            cells = {g: f"{kk} ({100 * kk / d:.{digits}f})" if d else "0 (–)"
                     for g, kk, d in zip(gnames, counts[i], denoms)}
            rows.append({"_var": var, "variable": labels.get(var, var), "level": level_text(c),
                         "Overall": f"{k} ({100 * k / denom_all:.{digits}f})" if denom_all else "0 (–)",
                         **cells, "missing": "", "p": "", "test": "", "summary": "n (%)",
                         **({"SMD": ""} if extra else {})})
    blocks: dict[str, list[dict]] = {}
    for r in rows[1:]:
        blocks.setdefault(r.pop("_var"), []).append(r)
    shown = [v for v in (order or []) if v in blocks] + [v for v in blocks if v not in set(order or [])]
    rows = rows[:1] + [r for v in shown for r in blocks[v]]
    return TableOneResult(pd.DataFrame(rows), group, tuple(gnames), tuple(level_text(lv) for lv in glevels))


@dataclass(frozen=True)
class OddsRatioResult(_checks.ResultDisplay):
    """Univariable and multivariable ORs. Columns: variable, term, n_uv, or_uv, lower_uv, upper_uv, p_uv,
    or_mv, lower_mv, upper_mv, p_mv (NaN for terms not in the multivariable model), note, and p_variable_uv /
    p_variable_mv: the Wald test of the variable as a whole (a categorical variable's levels jointly,
    b' V^-1 b on its number of dummies; the term's own p for a number)."""

    table: pd.DataFrame
    outcome: str
    multivariable: tuple[str, ...]
    n_multivariable: int
    level: float = 0.95
    method: str = "logistic regression (statsmodels Logit), Wald CI and p"

    def summary(self) -> pd.DataFrame:
        return self.table.copy()


def _design(df: pd.DataFrame, variables: Sequence[str]) -> pd.DataFrame:
    """Numbers as they are; a text or categorical column as dummies `v: level` against its first level (the
    categories' order of a pandas Categorical, else sorted)."""
    parts = []
    for v in variables:
        col = df[v]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            parts.append(col.astype(float).rename(v))
        else:
            cats = list(col.cat.categories) if isinstance(col.dtype, pd.CategoricalDtype) \
                else sorted(col.dropna().unique().tolist(), key=str)
            cat = pd.Categorical(col, categories=cats)
            d = pd.get_dummies(cat, prefix=v, prefix_sep=": ", drop_first=True, dtype=float)
            d.index = df.index
            d[col.isna().to_numpy()] = np.nan
            parts.append(d)
    return pd.concat(parts, axis=1)


def _variable_of(columns: Sequence[str], variables: Sequence[str]) -> dict[str, str]:
    """{design column: its variable} (a dummy `v: level` belongs to v)."""
    return {c: next(v for v in variables if c == v or str(c).startswith(f"{v}: ")) for c in columns}


def _joint_p(fit, terms: list[str]) -> float:
    """Wald test of the terms' coefficients together: b' V^-1 b on len(b) df (one term: its Wald p)."""
    if len(terms) == 1:
        return float(fit.pvalues[terms[0]])
    b = fit.params[terms].to_numpy()
    stat = float(b @ np.linalg.solve(fit.cov_params().loc[terms, terms].to_numpy(), b))
    return float(stats.chi2.sf(stat, len(terms)))


def _logit_fit(y: pd.Series, X: pd.DataFrame, alpha: float, what: str,
               variables: Sequence[str] = ()) -> pd.DataFrame:
    ok = X.notna().all(axis=1) & y.notna()
    yy, XX = y[ok].astype(float), sm.add_constant(X[ok], has_constant="add")
    if yy.nunique() < 2:
        raise DataError(f"{what}: the outcome has one class among complete cases", field=what,
                        hint="check missing values of this variable")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = sm.Logit(yy, XX).fit(disp=0, maxiter=200)
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise DataError(f"{what}: logistic regression failed ({exc})", field=what,
                            hint="check for collinear variables or perfect separation") from exc
    ci = fit.conf_int(alpha)
    out = pd.DataFrame({"or": np.exp(fit.params), "lower": np.exp(ci[0]), "upper": np.exp(ci[1]),
                        "p": fit.pvalues}).drop(index="const")
    owner = _variable_of(list(out.index), variables or list(out.index))
    out["p_variable"] = [_joint_p(fit, [c for c in out.index if owner[c] == owner[t]]) for t in out.index]
    if not np.isfinite(out.to_numpy()).all() or (fit.bse.drop("const") > 1e3).any():
        raise DataError(f"{what}: non-finite or huge odds ratio (perfect separation?)", field=what,
                        hint="merge sparse categories or drop the variable")
    out["n"] = int(ok.sum())
    return out


def _unit_label(variable: str, unit: float | str) -> str:
    if unit == "log10":
        return f"{variable} (per 10-fold)"
    return f"{variable} (per {float(unit):g})"


def _apply_log10(df: pd.DataFrame, units: Mapping[str, float | str]) -> pd.DataFrame:
    """A copy with each `log10` variable replaced by log10 of its values (all must be numbers > 0)."""
    df = df.copy()
    for v, u in units.items():
        if u != "log10":
            continue
        col = df[v]
        if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
            raise DataError(f"OR unit 'log10' needs a continuous variable; {v!r} is not numeric", field=v,
                            hint="declare log10 units only for continuous predictors")
        bad = col.dropna() <= 0
        if bad.any():
            raise DataError(f"OR unit 'log10' needs values > 0; {v!r} has {int(bad.sum())} value(s) <= 0 "
                            f"(case(s) {[str(i) for i in col.dropna().index[bad.to_numpy()]][:5]})", field=v,
                            hint="use a numeric unit (e.g. 100) for this variable")
        df[v] = np.log10(col.astype(float))
    return df


def scale_odds_ratios(table: pd.DataFrame, units: Mapping[str, float | str]) -> pd.DataFrame:
    """The OR table with each continuous variable's ORs and CI bounds per its declared unit u: bound^u
    (= exp(u·β), exp(u·(β ± z·SE))), p values as they are, the term labelled "v (per u)". A `log10` unit was
    applied before fitting (`_apply_log10`); here it only relabels the term."""
    out = table.copy()
    for v, u in units.items():
        rows = (out["variable"] == v) & (out["term"] == v)  # a categorical variable's terms are "v: level"
        if not rows.any():
            raise DataError(f"OR unit declared for {v!r}, which is not a continuous variable of the OR table "
                            f"(terms: {sorted(set(out.loc[out['variable'] == v, 'term']))})", field=v,
                            hint="declare units only for continuous predictors of the table")
        if u != "log10":
            for col in ("or_uv", "lower_uv", "upper_uv", "or_mv", "lower_mv", "upper_mv"):
                out.loc[rows, col] = out.loc[rows, col].astype(float) ** float(u)
        out.loc[rows, "term"] = _unit_label(v, u)
    return out


def _check_units(units: Mapping[str, float | str], variables: Sequence[str]) -> None:
    for v, u in units.items():
        if v not in variables:
            raise DataError(f"OR unit declared for {v!r}, not one of the variables {list(variables)}", field=v,
                            hint="declare units only for variables of the OR table")
        if u != "log10" and not (isinstance(u, (int, float)) and not isinstance(u, bool) and np.isfinite(u)
                                 and u > 0):
            raise DataError(f"OR unit of {v!r} must be a number > 0 or 'log10', got {u!r}", field=v,
                            hint="e.g. {afp: 100} for an OR per 100 ng/mL")


def odds_ratio_table(df: pd.DataFrame, outcome: str, variables: Sequence[str],
                     multivariable: Sequence[str] | float | None = None, *, level: float = 0.95,
                     units: Mapping[str, float | str] | None = None) -> OddsRatioResult:
    """Univariable ORs for each of `variables` and one multivariable model.

    `multivariable`: the variables of the multivariable model; or a number α, meaning every variable
    with a univariable p < α (seed 000 uses 0.05); or None for no multivariable model.
    `units`: {variable: u} reports a continuous variable's OR per u units, or per 10-fold with "log10".
    """
    lv = _checks.level(level)
    _check_columns(df, [outcome, *variables], "variables")
    units = dict(units or {})
    _check_units(units, variables)
    df = _apply_log10(df, units)
    y = pd.Series(_checks.binary_outcome(df[outcome], field=outcome), index=df.index)
    alpha = 1.0 - lv
    uv: dict[str, pd.DataFrame] = {}
    notes: dict[str, str] = {}
    for v in variables:  # a variable that separates the outcome is reported as not estimable, not dropped
        try:
            uv[v] = _logit_fit(y, _design(df, [v]), alpha, v, [v])
        except DataError as exc:
            notes[v] = f"univariable OR not estimable: {exc.message}"
            log.warning("odds_ratio_table: %s", notes[v])
    if isinstance(multivariable, (int, float)) and not isinstance(multivariable, bool):
        mv_vars = [v for v in variables if v in uv and (uv[v]["p"] < float(multivariable)).any()]
    else:
        mv_vars = list(multivariable or [])
        _check_columns(df, mv_vars, "multivariable")
    mv, mv_note = None, ""
    if mv_vars:
        try:
            mv = _logit_fit(y, _design(df, mv_vars), alpha, "multivariable model", mv_vars)
        except DataError as exc:  # report the univariable table with the reason, do not drop it
            mv_note = f"multivariable model not estimable: {exc.message}"
            log.warning("odds_ratio_table: %s", mv_note)
    rows = []
    for v in variables:
        if v not in uv:
            rows.append({"variable": v, "term": v, "n_uv": int(df[v].notna().sum()), "or_uv": np.nan,
                         "lower_uv": np.nan, "upper_uv": np.nan, "p_uv": np.nan, "or_mv": np.nan,
                         "lower_mv": np.nan, "upper_mv": np.nan, "p_mv": np.nan, "note": notes[v],
                         "p_variable_uv": np.nan, "p_variable_mv": np.nan})
            continue
        for term, r in uv[v].iterrows():
            row = {"variable": v, "term": term, "n_uv": int(r["n"]), "or_uv": r["or"], "lower_uv": r["lower"],
                   "upper_uv": r["upper"], "p_uv": r["p"], "note": mv_note if v in mv_vars else ""}
            if mv is not None and term in mv.index:
                m = mv.loc[term]
                row.update(or_mv=m["or"], lower_mv=m["lower"], upper_mv=m["upper"], p_mv=m["p"],
                           p_variable_mv=m["p_variable"])
            else:
                row.update(or_mv=np.nan, lower_mv=np.nan, upper_mv=np.nan, p_mv=np.nan, p_variable_mv=np.nan)
            row["p_variable_uv"] = r["p_variable"]
            rows.append(row)
    return OddsRatioResult(scale_odds_ratios(pd.DataFrame(rows), units), outcome, tuple(mv_vars),
                           int(mv["n"].iloc[0]) if mv is not None else 0, lv)
