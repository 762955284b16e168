"""Hand-written pieces replaced by kept-library calls (issue 25, item 6) give the same numbers as before,
and the data/model/feature errors honour scikit-learn's ``ValueError`` contract (item 5)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression
from statsmodels.stats.outliers_influence import variance_inflation_factor

from hccrad.core.errors import (
    DataError,
    FeatureError,
    GeometryError,
    HccradError,
    InputError,
    ModelError,
    SpecError,
)
from hccrad.models.bundle import _expit as bundle_expit
from hccrad.selection import vif
from hccrad.serve.predict import _expit as serve_expit
from hccrad.synth.model import sigmoid as synth_sigmoid
from hccrad.testing import assert_close


@pytest.mark.parametrize("cls", [DataError, ModelError, FeatureError])
def test_data_model_feature_errors_are_value_errors(cls):
    err = cls("bad values", case="c1", field="x", hint="fix it")
    assert isinstance(err, ValueError) and isinstance(err, HccradError)
    assert str(err) == "case 'c1', field 'x': bad values\n  how to fix: fix it"
    with pytest.raises(ValueError, match="bad values"):
        raise err


def test_other_errors_keep_their_bases_only():
    for cls in (InputError, GeometryError):
        assert not issubclass(cls, ValueError)
    assert not isinstance(SpecError(["p"]), ValueError)
    assert issubclass(GeometryError, InputError)


def _vif_by_formula(X: np.ndarray) -> np.ndarray:
    """The previous implementation's definition: 1 / (1 - R^2), R^2 of the column on the others with an
    intercept (sklearn's centred R^2)."""
    out = []
    for j in range(X.shape[1]):
        others = np.delete(X, j, axis=1)
        r2 = LinearRegression().fit(others, X[:, j]).score(others, X[:, j])
        out.append(1.0 / (1.0 - r2))
    return np.array(out)


@pytest.fixture(scope="module")
def vif_design():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(80, 5)) + 3.0  # a non-zero mean: an uncentred R^2 would differ
    X[:, 4] = X[:, 0] - 0.5 * X[:, 1] + rng.normal(scale=0.3, size=80)
    return X


def test_vif_equals_one_over_one_minus_r2_and_statsmodels(vif_design):
    got = vif(vif_design)
    assert_close(got, _vif_by_formula(vif_design), rtol=1e-12, atol=0, what="VIF vs 1/(1-R^2)")
    exog = np.column_stack([np.ones(len(vif_design)), vif_design])
    ref = [variance_inflation_factor(exog, j) for j in range(1, exog.shape[1])]
    assert_close(got, ref, rtol=1e-12, atol=0, what="VIF vs statsmodels")
    assert got[4] > 5  # the collinear column is found


def test_vif_constant_or_collinear_column_is_inf(vif_design):
    X = vif_design.copy()
    X[:, 2] = 1.5  # constant
    X[:, 3] = 2 * X[:, 0] - X[:, 1]  # exactly collinear
    got = vif(X)
    assert np.isinf(got[2]) and np.isinf(got[3])
    assert np.isinf(got[0]) and np.isinf(got[1])  # the partners of the exact combination
    assert np.isfinite(got[4])


@pytest.mark.parametrize("fn", [bundle_expit, synth_sigmoid, np.vectorize(serve_expit)])
def test_expit_equals_the_inline_sigmoid(fn):
    x = np.linspace(-700, 700, 20001)
    old = 1.0 / (1.0 + np.exp(-x))
    got = np.asarray(fn(x), dtype=float)
    assert np.max(np.abs(got - old)) <= 1e-15
    assert np.max(np.abs(got - old) / old) <= 1e-15


def test_serve_expit_does_not_overflow():
    assert serve_expit(-1000.0) == 0.0 and serve_expit(1000.0) == 1.0
