"""Add the coefficient covariance to a logistic bundle, so the page can show a confidence interval.

Bundles written by ``bundle_from_pipeline`` store the coefficients but not their covariance. The final step
of a linear bundle is an unpenalised maximum-likelihood logistic regression (``LogisticModel``, statsmodels
``Logit``), so refitting ``Logit`` on the training patients' bundle variables z_j = (x_j - m_j) / s_j (a
derived score variable computed by its embedded bundle, treated as fixed) reproduces the same estimates,
and its inverse observed information ``cov_params()`` is the covariance V the page needs (Hosmer, Lemeshow &
Sturdivant, Applied Logistic Regression, 3rd ed., section 1.3). The refit is checked against the stored
coefficients; a mismatch (other training data, a penalised model) is an error, never a silent interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm

from hccrad.core.errors import DataError, ModelError
from hccrad.models.bundle import ModelBundle, bundle_scores, expanded_variables, with_dummies


def add_covariance(bundle: ModelBundle, X_train: pd.DataFrame, y_train, *, atol: float = 1e-6) -> ModelBundle:
    """A copy of the logit-link linear ``bundle`` with ``covariance`` from its training data (save it again)."""
    spec = dict(bundle.spec)
    if bundle.kind != "linear" or spec.get("link") != "logit":
        raise ModelError(f"bundle {bundle.name!r} is not a logit-link linear bundle", field="link",
                         hint="only logistic bundles get a covariance this way")
    y = np.asarray(y_train).ravel()
    if len(y) != len(X_train):
        raise DataError(f"X_train has {len(X_train)} rows but y_train has {len(y)}", field="y_train")
    df = X_train.copy()
    for dname, d in spec.get("derived", {}).items():
        if dname not in df.columns:
            if "spec" not in d:
                raise ModelError(f"derived variable {dname!r} refers to another bundle", field=dname,
                                 hint="add the column to X_train")
            df[dname] = bundle_scores(ModelBundle(d["spec"]), df, id_col=None, check_ranges=False)
    df = with_dummies(bundle.name, spec["variables"], df, None)  # categorical: its dummies (0/1)
    variables = expanded_variables(spec["variables"])
    missing = [v["name"] for v in variables if v["name"] not in df.columns]
    if missing:
        raise DataError(f"X_train lacks the bundle variable(s) {missing}", field=missing[0])
    Z = np.column_stack([(df[v["name"]].to_numpy(float) - v.get("center", 0.0)) / v.get("scale", 1.0)
                         for v in variables])
    yb = (y == np.unique(y)[-1]).astype(float)
    res = sm.Logit(yb, np.column_stack([np.ones(len(yb)), Z])).fit(disp=0, method="newton")
    stored = np.array([spec["intercept"], *[v["coefficient"] for v in variables]], float)
    diff = float(np.max(np.abs(np.asarray(res.params) - stored)))
    if diff > atol * max(1.0, float(np.max(np.abs(stored)))):
        raise ModelError(f"refitting bundle {bundle.name!r} on X_train does not reproduce its coefficients "
                         f"(max difference {diff:.3g})", field="X_train",
                         hint="pass the exact training table the bundle was fitted on")
    spec["covariance"] = {"terms": ["intercept", *[v["name"] for v in variables]],
                          "matrix": np.asarray(res.cov_params(), float).tolist()}
    spec.pop("spec_hash", None)
    return ModelBundle(spec, bundle.path, bundle.model)
