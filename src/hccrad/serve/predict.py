"""One patient's prediction from a model bundle, with everything the result page shows.

* **Score and probability**: ``hccrad.models.bundle.predict_bundle`` (linear predictor
  ``eta = b0 + sum_j c_j (x_j - m_j) / s_j`` and ``p = 1 / (1 + exp(-eta))`` for logit-link bundles).
* **Uncertainty**: when the bundle carries the covariance matrix ``V`` of its coefficients (key
  ``covariance``: ``{"terms": ["intercept", <variable names>], "matrix": [[...]]}``, on the bundle's own
  coefficient scale, i.e. for ``z_j = (x_j - m_j) / s_j``), the 95 % confidence interval of the probability is
  the Wald interval of the linear predictor mapped through the logistic function (delta method; Hosmer,
  Lemeshow & Sturdivant, Applied Logistic Regression, 3rd ed., section 1.4):
  ``se(eta) = sqrt(g' V g)``, ``g = (1, z_1, ..., z_p)``, ``CI = expit(eta +/- 1.959964 se)``. A derived
  score variable (a fused model) is treated as fixed. Without ``covariance`` no interval is computed and the
  page says so.
* **Position on the training cohort**: the bundle keeps five quantiles of the training scores
  (``training_summary.score``: min, p25, median, p75, max); the patient's percentile is interpolated linearly
  between them (an approximation, labelled as such).
* **Contributions**: coefficient x value on the variables' own units (``b_j = c_j / s_j``; the intercept
  absorbs the centring), summing to the score; nomogram points (0-100, the ``rms::nomogram`` construction of
  :func:`hccrad.survival.nomogram.nomogram_points`) when every variable has a training range.
* **Cox bundles** (``link = "cox"``, :mod:`hccrad.serve.cox`): S(t | x) = S0(t) ** exp(LP) at the bundle's
  horizons, with S0(t) ** exp(LP +/- 1.959964 se) when the covariance is stored.
* **Risk group**: the score compared with each threshold in ``thresholds``. hccrad's pipeline stores its
  Youden threshold on the probability scale, so a threshold is read as a probability when the bundle says
  ``threshold_scale: "probability"``, or when it does not say and the link is logit (or the model is a skops
  classifier) and the value lies in (0, 1); otherwise on the score scale.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import expit

from hccrad.core.errors import DataError, ModelError
from hccrad.models.bundle import ModelBundle, bundle_scores, expanded_variables, predict_bundle, with_dummies
from hccrad.models.published import load_published
from hccrad.serve.cox import survival_table
from hccrad.survival.nomogram import nomogram_points

logger = logging.getLogger(__name__)

Z975 = float(stats.norm.ppf(0.975))
_QUANTILES = (("min", 0.0), ("p25", 25.0), ("median", 50.0), ("p75", 75.0), ("max", 100.0))


@dataclass(frozen=True)
class RiskGroup:
    threshold_name: str
    threshold: float
    scale: str  # "probability" or "score"
    high: bool

    @property
    def label(self) -> str:
        return "high risk" if self.high else "low risk"


@dataclass(frozen=True)
class Prediction:
    """Everything the result page and the JSON API report for one patient."""

    model: str
    outcome: str | None
    inputs: dict[str, float]
    score: float
    probability: float | None
    ci: tuple[float, float] | None
    uncertainty: str
    percentile: float | None
    percentile_note: str
    training: dict[str, float] | None
    contributions: pd.DataFrame  # variable, value, unit, coefficient, contribution, points
    intercept: float | None
    total_points: float | None
    risk_groups: tuple[RiskGroup, ...]
    warnings: dict[str, str] = field(default_factory=dict)
    features: dict[str, float] = field(default_factory=dict)  # image-derived features (imaging bundles)
    survival: pd.DataFrame | None = None  # Cox bundles: time, survival, lower, upper at the horizons

    def summary(self) -> pd.DataFrame:
        """One row: model, score, probability, CI, percentile and the first risk group."""
        rg = self.risk_groups[0] if self.risk_groups else None
        return pd.DataFrame([{"model": self.model, "score": self.score, "probability": self.probability,
                              "ci_lower": self.ci[0] if self.ci else None, "ci_upper": self.ci[1] if self.ci else None,
                              "percentile": self.percentile, "risk_group": rg.label if rg else None,
                              "threshold": rg.threshold if rg else None}])


def _expit(x: float) -> float:
    return float(expit(x))  # no OverflowError for x < -709, unlike math.exp


def score_percentile(score: float, summary: dict | None) -> tuple[float | None, str]:
    """Approximate percentile of ``score`` among the training scores from the stored five quantiles."""
    if not summary or any(summary.get(k) is None for k, _ in _QUANTILES):
        return None, "the bundle stores no summary of the training scores"
    qs = np.array([float(summary[k]) for k, _ in _QUANTILES])
    ps = np.array([p for _, p in _QUANTILES])
    if score < qs[0]:
        return 0.0, "below every training patient's score"
    if score > qs[-1]:
        return 100.0, "above every training patient's score"
    # collapse tied quantiles (np.interp needs increasing x): take the middle of the tied percentiles
    uq, inv = np.unique(qs, return_inverse=True)
    up = np.array([ps[inv == i].mean() for i in range(len(uq))])
    pct = float(np.interp(score, uq, up)) if len(uq) > 1 else 50.0
    return pct, "approximate: interpolated between the stored quartiles of the training scores"


def _linear_parts(bundle: ModelBundle, df: pd.DataFrame) -> tuple[pd.DataFrame, float, np.ndarray]:
    """(contribution table on raw units, raw intercept, z vector) for a linear bundle and a one-row frame."""
    spec = bundle.spec
    row = df.copy()
    for dname, d in spec.get("derived", {}).items():
        if dname not in row.columns:
            inner = ModelBundle(d["spec"]) if "spec" in d else None
            if inner is None:
                inner = load_published(d["bundle"])
            row[dname] = bundle_scores(inner, row, id_col=None, check_ranges=False)
    row = with_dummies(bundle.name, spec["variables"], row, None)  # a categorical variable: its 0/1 dummies
    b0 = float(spec["intercept"])
    rows, z = [], []
    for v in expanded_variables(spec["variables"]):
        c, m, s = float(v["coefficient"]), float(v.get("center", 0.0)), float(v.get("scale", 1.0))
        x = float(row[v["name"]].iloc[0])
        b = c / s
        b0 -= c * m / s
        z.append((x - m) / s)
        rows.append({"variable": v["name"], "value": x, "unit": v.get("unit"), "coefficient": b,
                     "contribution": b * x})
    return pd.DataFrame(rows), b0, np.asarray(z)


def _points(bundle: ModelBundle, table: pd.DataFrame, b0: float) -> pd.Series | None:
    ranges = {v["name"]: v.get("range") for v in expanded_variables(bundle.spec["variables"])}
    if any(r is None or None in r or float(r[1]) <= float(r[0]) for r in ranges.values()):
        return None
    params = pd.Series({"const": b0, **dict(zip(table["variable"], table["coefficient"]))}, dtype=float)
    data = pd.DataFrame({k: [float(r[0]), float(r[1])] for k, r in ranges.items()})
    try:
        nom = nomogram_points(SimpleNamespace(params=params), data)
        pts = nom.points(pd.DataFrame([dict(zip(table["variable"], table["value"]))]))
    except (DataError, ModelError) as exc:
        logger.info("no nomogram points for bundle %s: %s", bundle.name, exc.message)
        return None
    return pts.iloc[0]


def _se(bundle: ModelBundle, z: np.ndarray) -> tuple[float | None, str]:
    """Standard error of the linear predictor from the bundle's ``covariance`` (None + why not)."""
    cov = bundle.spec.get("covariance")
    if bundle.kind != "linear":
        return None, ("point estimate only: this is a non-linear (skops) model, for which the bundle stores no "
                      "way to compute a confidence interval")
    if not cov:
        return None, ("point estimate only: the bundle does not store the covariance of its coefficients, so no "
                      "confidence interval can be computed")
    names = ["intercept"] + [v["name"] for v in expanded_variables(bundle.spec["variables"])]
    terms = list(cov.get("terms", []))
    V = np.asarray(cov.get("matrix"), dtype=float)
    if sorted(terms) != sorted(names) or V.shape != (len(terms), len(terms)):
        raise ModelError(f"bundle {bundle.name!r}: covariance terms {terms} do not match the variables {names}",
                         field="covariance", hint="store the matrix for 'intercept' and every variable")
    order = [terms.index(n) for n in names]
    V = V[np.ix_(order, order)]
    g = np.concatenate([[1.0], z])
    var = float(g @ V @ g)
    if not var >= 0:
        raise ModelError(f"bundle {bundle.name!r}: covariance matrix is not positive semi-definite",
                         field="covariance")
    return math.sqrt(var), ""


def _ci(bundle: ModelBundle, eta: float, se: float | None, why_not: str) -> tuple[tuple[float, float] | None, str]:
    if se is None:
        return None, why_not
    lo, hi = eta - Z975 * se, eta + Z975 * se
    derived = " (the embedded score is treated as fixed)" if bundle.spec.get("derived") else ""
    link = bundle.spec.get("link")
    if link == "logit":
        return (_expit(lo), _expit(hi)), ("95% confidence interval of the probability: Wald interval of the "
                                          "linear predictor from the coefficient covariance (delta method)" + derived)
    if link == "cox":
        return (lo, hi), ("95% confidence intervals of the survival probabilities: Wald interval of the linear "
                          "predictor from the coefficient covariance, baseline survival treated as known")
    return (lo, hi), "95% confidence interval of the score from the coefficient covariance" + derived


def _threshold_scale(bundle: ModelBundle, t: float) -> str:
    declared = bundle.spec.get("threshold_scale")
    if declared in ("probability", "score"):
        return declared
    prob_model = bundle.spec.get("link") == "logit" or bundle.kind != "linear"
    return "probability" if prob_model and 0.0 < t < 1.0 else "score"


def predict_one(bundle: ModelBundle, values: dict[str, float], *, warnings: dict[str, str] | None = None,
                features: dict[str, float] | None = None) -> Prediction:
    """Score one patient (``values``: input feature -> number, already validated) with ``bundle``."""
    df = pd.DataFrame([values])
    out = predict_bundle(bundle, df, id_col="__no_id__")
    score = float(out["score"].iloc[0])
    prob = float(out["probability"].iloc[0]) if "probability" in out.columns else None
    if bundle.kind == "linear":
        table, b0, z = _linear_parts(bundle, df)
        pts = _points(bundle, table, b0)
        table["points"] = table["variable"].map(pts) if pts is not None else np.nan
        total = float(pts.sum()) if pts is not None else None
        se, why_not = _se(bundle, z)
        ci, note = _ci(bundle, score, se, why_not)
    else:
        table = pd.DataFrame({"variable": list(values), "value": list(values.values()),
                              "unit": [(bundle.spec.get("units") or {}).get(k) for k in values],
                              "coefficient": np.nan, "contribution": np.nan, "points": np.nan})
        b0, total, se = None, None, None
        ci, note = _ci(bundle, score, *_se(bundle, np.array([])))
    training = (bundle.spec.get("training_summary") or {}).get("score")
    pct, pct_note = score_percentile(score, training)
    groups = []
    for name, t in (bundle.spec.get("thresholds") or {}).items():
        if t is None:
            continue
        t = float(t)
        scale = _threshold_scale(bundle, t)
        value = prob if scale == "probability" and prob is not None else score
        groups.append(RiskGroup(str(name), t, scale if value is prob else "score", bool(value >= t)))
    survival = None
    if bundle.spec.get("link") == "cox":
        survival = survival_table(bundle.spec, score, se, Z975)
    return Prediction(model=bundle.name, outcome=bundle.spec.get("outcome"), inputs=dict(values), score=score,
                      probability=prob, ci=ci, uncertainty=note, percentile=pct, percentile_note=pct_note,
                      training=training, contributions=table, intercept=b0, total_points=total,
                      risk_groups=tuple(groups), warnings=dict(warnings or {}), features=dict(features or {}),
                      survival=survival)
