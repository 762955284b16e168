"""Nomogram points for linear logistic and Cox models (the construction of R `rms::nomogram`).

For each predictor k with coefficient b_k and range [lo_k, hi_k] (from the training data), let
x*_k be the end of the range with the lower linear predictor (lo_k if b_k > 0, else hi_k) and
R_k = |b_k| (hi_k - lo_k). With R_max = max_k R_k and P the top of the points scale (100):

    points_k(x) = P * b_k (x - x*_k) / R_max              (0 .. P for the widest predictor)
    total points T = sum_k points_k(x_k)
    linear predictor  LP(T) = LP_0 + T * R_max / P,       LP_0 = b_0 + sum_k b_k x*_k

Logistic: probability = 1 / (1 + exp(-LP)). Cox (lifelines centres covariates at their training means
m_k, S0 is the baseline survival at the means): S(t | x) = S0(t) ** exp(LP - sum_k b_k m_k), with b_0 = 0.
A 0/1 dummy (one level of a categorical variable) is an axis of its own with the two values 0 and 1, unless
`categorical` names the variable's dummies: then it is one axis with a tick per level, level l at
P * (b_l - min_j b_j) / R_max (b = 0 for the reference; the dummies' x* is the lowest level), its range
R_k = max_j b_j - min_j b_j (rms::nomogram's axis of a factor).
Because the mapping is exact, `predict(total_points(row))` equals the model's own prediction (tested).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from hccrad.core.errors import DataError, ModelError
from hccrad.survival.cox import CoxResult

logger = logging.getLogger(__name__)


def _linear_model(model) -> tuple[pd.Series, float, str]:
    """(coefficients by variable, intercept, kind) from a CoxResult, statsmodels or sklearn logistic model."""
    if isinstance(model, CoxResult):
        return model.coefficients.astype(float), 0.0, "cox"
    params = getattr(model, "params", None)
    if isinstance(params, pd.Series):  # statsmodels Logit/GLM binomial results
        params = params.astype(float)
        const = [c for c in params.index if str(c).lower() in ("const", "intercept")]
        intercept = float(params[const[0]]) if const else 0.0
        return params.drop(const), intercept, "logistic"
    coef = getattr(model, "coef_", None)
    if coef is not None:  # scikit-learn LogisticRegression fitted on a DataFrame
        names = getattr(model, "feature_names_in_", None)
        if names is None or np.asarray(coef).shape[0] != 1:
            raise ModelError("scikit-learn model must be a binary LogisticRegression fitted on a DataFrame",
                             field="model", hint="fit on a DataFrame so feature names are known")
        return pd.Series(np.asarray(coef)[0], index=list(names)), float(np.asarray(model.intercept_)[0]), "logistic"
    raise ModelError(f"cannot read coefficients from {type(model).__name__}", field="model",
                     hint="pass a CoxResult, a statsmodels Logit result or a scikit-learn LogisticRegression")


@dataclass(frozen=True)
class Nomogram:
    """Points scales of a nomogram and the exact map total points -> prediction."""

    kind: str  # "logistic" or "cox"
    scales: pd.DataFrame  # variable, value, points  (tick values on each variable's axis)
    coefficients: pd.Series
    reference: pd.Series  # x*_k
    lp_per_point: float
    lp_at_zero: float
    max_points: float
    horizon: float | None
    baseline_at_horizon: float | None
    lp_centre: float  # sum b_k m_k for Cox, 0 for logistic

    def summary(self) -> pd.DataFrame:
        return self.scales.copy()

    def points(self, df: pd.DataFrame) -> pd.DataFrame:
        """Points per variable for each row of `df` (columns = model variables)."""
        missing = [v for v in self.coefficients.index if v not in df.columns]
        if missing:
            raise DataError(f"columns {missing} needed by the nomogram are missing", field=missing[0])
        x = df[list(self.coefficients.index)].apply(pd.to_numeric, errors="coerce")
        if x.isna().any().any():
            raise DataError("missing values in nomogram inputs", field=str(x.columns[x.isna().any()][0]),
                            hint="complete or drop these rows first")
        return (x - self.reference) * self.coefficients / self.lp_per_point

    def total_points(self, df: pd.DataFrame) -> np.ndarray:
        return self.points(df).sum(axis=1).to_numpy()

    def predict(self, total_points) -> np.ndarray:
        """Probability (logistic) or survival at the horizon (Cox) for given total points."""
        lp = self.lp_at_zero + np.asarray(total_points, dtype=float) * self.lp_per_point
        if self.kind == "logistic":
            return expit(lp)
        return self.baseline_at_horizon ** np.exp(lp - self.lp_centre)


def _level_axes(coefs: pd.Series, categorical: Mapping[str, Mapping[str, str | None]]
                ) -> dict[str, list[tuple[str, str | None, float]]]:
    """{variable: [(level, its dummy column or None for the reference, coefficient)]} in level order, for the
    categorical variables whose dummies are all in the model."""
    out = {}
    for var, levels in categorical.items():
        dummies = [c for c in levels.values() if c is not None]
        if dummies and all(c in coefs.index for c in dummies):
            out[var] = [(str(lv), c, 0.0 if c is None else float(coefs[c])) for lv, c in levels.items()]
    return out


def nomogram_points(
    model,
    data: pd.DataFrame,
    *,
    horizon: float | None = None,
    max_points: float = 100.0,
    n_ticks: int = 6,
    variables: Sequence[str] | None = None,
    categorical: Mapping[str, Mapping[str, str | None]] | None = None,
) -> Nomogram:
    """Build nomogram scales for a linear logistic or Cox model; `data` (training) gives variable ranges.

    `categorical` ({variable: {level: its dummy column, None for the reference}}, in level order) draws a
    categorical variable as one
    axis with a tick per level (rms::nomogram): level l scores (b_l - min_j b_j) / lp_per_point, b_ref = 0;
    its range is max_j b_j - min_j b_j. Without it each dummy is a 0/1 axis of its own."""
    coefs, intercept, kind = _linear_model(model)
    if variables is not None:
        unknown = [v for v in variables if v not in coefs.index]
        if unknown:
            raise ModelError(f"variables {unknown} are not in the model", field="variables")
        if set(variables) != set(coefs.index):
            raise ModelError("a nomogram must include every model variable", field="variables",
                             hint=f"model variables: {list(coefs.index)}")
    if kind == "cox" and horizon is None:
        raise ModelError("a Cox nomogram needs a horizon (survival at t)", field="horizon",
                         hint="e.g. horizon=years_to(cohort time unit, [3])[0]")
    missing = [v for v in coefs.index if v not in data.columns]
    if missing:
        raise DataError(f"columns {missing} needed for the nomogram ranges are missing", field=missing[0])
    x = data[list(coefs.index)].apply(pd.to_numeric, errors="coerce")
    lo, hi = x.min(), x.max()
    if (hi - lo).le(0).any() or lo.isna().any():
        bad = list(x.columns[((hi - lo) <= 0) | lo.isna()])
        raise DataError(f"variables {bad} have no range in the data", field=bad[0])
    ref = pd.Series(np.where(coefs > 0, lo, hi), index=coefs.index)
    ranges = (coefs.abs() * (hi - lo)).astype(float)
    axes = _level_axes(coefs, categorical or {})
    in_axes = {col for levels in axes.values() for _, col, _ in levels if col is not None}
    for levels in axes.values():  # x* of the dummies: the level with the lowest linear predictor
        lowest = min(levels, key=lambda level: level[2])[1]
        cols = [col for _, col, _ in levels if col is not None]
        ref[cols] = [1.0 if col == lowest else 0.0 for col in cols]
        ranges[cols] = 0.0
        ranges[cols[0]] = max(b for *_, b in levels) - min(b for *_, b in levels)
    lp_per_point = float(ranges.max() / max_points)
    rows = []
    for var, levels in axes.items():
        low = min(b for *_, b in levels)
        for i, (level, _, b) in enumerate(levels):
            rows.append({"variable": var, "value": float(i), "label": level, "categorical": True,
                         "points": float((b - low) / lp_per_point) + 0.0})
    for v in coefs.index:
        if v in in_axes:
            continue
        uniq = np.unique(x[v].dropna())
        if uniq.size <= 10 and np.all(uniq == np.round(uniq)):
            ticks = uniq.astype(float)  # 0/1 dummies, grades, integer scores: one tick per level
        else:
            ticks = np.linspace(lo[v], hi[v], n_ticks)
        for value in ticks:
            rows.append({"variable": v, "value": float(value), "label": f"{float(value):g}", "categorical": False,
                         "points": float(coefs[v] * (value - ref[v]) / lp_per_point) + 0.0})
    position = {v: i for i, v in enumerate(coefs.index)}  # axes in the model's order
    position.update({var: min(position[c] for _, c, _ in levels if c is not None) for var, levels in axes.items()})
    rows.sort(key=lambda row: position[row["variable"]])
    lp_zero = intercept + float((coefs * ref).sum())
    baseline = None
    centre = 0.0
    if kind == "cox":
        baseline = model.baseline_at(horizon)
        centre = float((model.coefficients * model.means).sum())
    return Nomogram(kind, pd.DataFrame(rows), coefs, ref, lp_per_point, lp_zero, max_points,
                    None if horizon is None else float(horizon), baseline, centre)
