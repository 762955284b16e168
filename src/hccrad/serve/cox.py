"""Cox models as hccrad bundles (JSON), so ``hccrad serve`` can show a patient's survival curve.

A Cox bundle is an ordinary linear ``hccrad-model-bundle`` (``hccrad.models.bundle``; saved with
``ModelBundle.save``, loaded with ``load_bundle``, spec hash checked) with ``link = "cox"``:

* ``variables``: one per design column of the :class:`~hccrad.survival.cox.CoxResult` with
  ``coefficient`` = beta_j, ``center`` = the training mean m_j (lifelines centres at the means), ``scale`` = 1,
  unit, definition and training range; ``intercept`` = 0. So the bundle's score is the centred linear predictor
  ``LP = sum_j beta_j (x_j - m_j)`` and ``bundle_scores`` computes it;
* ``baseline_survival``: ``{"time": [...], "survival": [...]}``, S0(t) at the means (a step function);
  S(t | x) = S0(t) ** exp(LP) (Cox 1972; the same formula as ``CoxResult.predict_survival``);
* ``time_unit``, ``horizons`` (times at which the page reports S(t | x)), ``thresholds`` on the LP scale
  (``threshold_scale = "score"``; default: the training median LP, giving low/high-risk halves), the
  training LP summary, and optionally ``covariance`` (the coefficients' covariance, terms ``intercept`` (0) +
  variables) for a Wald interval of LP, shown as S0(t) ** exp(LP +/- 1.96 se) (baseline uncertainty ignored).

Categorical covariates (dummy-coded by ``cox_regression``) are not supported yet: fit the model on 0/1
columns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hccrad.core.errors import ModelError
from hccrad.models.bundle import FORMAT, FORMAT_VERSION, ModelBundle, _dist, _versions
from hccrad.survival.cox import CoxResult


def cox_bundle(result: CoxResult, data: pd.DataFrame, name: str, *, horizons: list[float],
               units: dict[str, str] | None = None, definitions: dict[str, str] | None = None,
               thresholds: dict[str, float] | None = None, covariance: pd.DataFrame | None = None,
               outcome: str | None = None, source: str = "fitted with hccrad", range_tolerance: float = 0.5,
               allowed_values: dict[str, list] | None = None) -> ModelBundle:
    """A Cox bundle from a fitted ``CoxResult`` and its training table ``data`` (ranges, LP summary)."""
    if result.categorical:
        raise ModelError("Cox bundles do not support categorical covariates yet", field="categorical",
                         hint="fit cox_regression on 0/1 indicator columns instead")
    if not horizons:
        raise ModelError("a Cox bundle needs at least one horizon", field="horizons",
                         hint=f"e.g. [12, 24] ({result.time_unit})")
    units, definitions = dict(units or {}), dict(definitions or {})
    names = list(result.covariates)
    missing = [c for c in names if c not in data.columns]
    if missing:
        raise ModelError(f"training table lacks {missing}", field=missing[0])
    lp = result.linear_predictor(data[names])
    variables = [{"name": n, "coefficient": float(result.coefficients[n]), "center": float(result.means[n]),
                  "scale": 1.0, "unit": units.get(n), "definition": definitions.get(n),
                  "range": [float(data[n].min()), float(data[n].max())]} for n in names]
    s0 = result.baseline_survival
    spec = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "name": name, "kind": "linear", "link": "cox",
        "score_name": "linear_predictor", "outcome": outcome or f"{result.event} over {result.duration} ({result.time_unit})",
        "source": source, "versions": _versions(), "intercept": 0.0, "variables": variables,
        "time_unit": result.time_unit, "horizons": [float(h) for h in horizons],
        "baseline_survival": {"time": [float(t) for t in s0.index], "survival": [float(v) for v in s0.to_numpy()]},
        "thresholds": dict(thresholds) if thresholds is not None else {"median": float(np.median(lp))},
        "threshold_scale": "score", "range_tolerance": range_tolerance,
        "training_summary": {"n": int(result.n), "n_positive": int(result.n_events), "score": _dist(lp)},
    }
    if allowed_values:
        spec["allowed_values"] = {k: list(v) for k, v in allowed_values.items()}
    if covariance is not None:
        cov = covariance.loc[names, names].to_numpy(float)
        full = np.zeros((len(names) + 1, len(names) + 1))
        full[1:, 1:] = cov
        spec["covariance"] = {"terms": ["intercept", *names], "matrix": full.tolist()}
    return ModelBundle(spec)


def baseline_at(spec: dict, t: float) -> float:
    """S0(t) of a Cox bundle (right-continuous step function; 1 before the first time)."""
    times = np.asarray(spec["baseline_survival"]["time"], float)
    surv = np.asarray(spec["baseline_survival"]["survival"], float)
    k = int(np.searchsorted(times, t, side="right")) - 1
    return 1.0 if k < 0 else float(surv[k])


def survival_table(spec: dict, lp: float, se: float | None, z: float) -> pd.DataFrame:
    """S(t | x) at the bundle's horizons, with the Wald band of LP when ``se`` is given."""
    rows = []
    for t in spec.get("horizons", []):
        s0 = baseline_at(spec, t)
        row = {"time": float(t), "survival": s0 ** np.exp(lp), "lower": np.nan, "upper": np.nan}
        if se is not None:
            row["lower"], row["upper"] = s0 ** np.exp(lp + z * se), s0 ** np.exp(lp - z * se)
        rows.append(row)
    return pd.DataFrame(rows, columns=["time", "survival", "lower", "upper"])
