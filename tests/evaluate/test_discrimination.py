"""Fast DeLong against the textbook O(n²) definition, bootstrap reproducibility, unpaired test, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from hccrad.core.errors import DataError
from hccrad.evaluate.discrimination import (
    auc_ci,
    bootstrap_auc,
    delong_test_unpaired,
    fast_delong,
    roc_curve_points,
)
from hccrad.testing import assert_close


def naive_delong(y, scores):
    """DeLong et al. 1988 structural components with the explicit ψ kernel (O(m·n))."""
    y = np.asarray(y)
    comps10, comps01, aucs = [], [], []
    for s in scores:
        x, z = s[y == 1], s[y == 0]
        psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
        aucs.append(psi.mean())
        comps10.append(psi.mean(axis=1))
        comps01.append(psi.mean(axis=0))
    m, n = len(comps10[0]), len(comps01[0])
    return np.array(aucs), np.cov(np.vstack(comps10)) / m + np.cov(np.vstack(comps01)) / n


@pytest.fixture
def tied_data(rng):
    n = 150
    y = rng.integers(0, 2, n)
    a = np.round(y + rng.normal(size=n), 1)  # rounding makes ties
    b = rng.integers(0, 4, n) + y  # heavy ties
    return y, np.vstack([a, b.astype(float)])


def test_fast_delong_matches_naive_with_ties(tied_data):
    y, s = tied_data
    aucs, cov = fast_delong(y, s)
    ref_aucs, ref_cov = naive_delong(y, s)
    assert_close(aucs, ref_aucs, rtol=0.0, atol=1e-12, what="AUCs")
    assert_close(cov, ref_cov, rtol=0.0, atol=1e-12, what="DeLong covariance")
    assert_close(aucs, [roc_auc_score(y, row) for row in s], rtol=0.0, atol=1e-12, what="AUC vs sklearn")


def test_bootstrap_ci_reproducible(tied_data):
    y, s = tied_data
    r1 = auc_ci(y, s[0], "bootstrap", n_boot=300, seed=11)
    r2 = auc_ci(y, s[0], "bootstrap", n_boot=300, seed=11)
    r3 = auc_ci(y, s[0], "bootstrap", n_boot=300, seed=12)
    assert (r1.lower, r1.upper) == (r2.lower, r2.upper)
    assert (r1.lower, r1.upper) != (r3.lower, r3.upper)
    assert r1.lower < r1.auc < r1.upper
    assert "bootstrap" in r1.method and "seed=11" in r1.method
    # the bootstrap and DeLong CIs agree roughly on 150 patients
    d = auc_ci(y, s[0])
    assert abs(d.lower - r1.lower) < 0.03 and abs(d.upper - r1.upper) < 0.03


def test_bootstrap_stratified_keeps_class_sizes(tied_data):
    y, s = tied_data
    boots = bootstrap_auc(y, s[0], n_boot=50, seed=0)
    assert boots.shape == (50,) and np.all((boots >= 0) & (boots <= 1))


def test_unpaired_delong_is_sum_of_variances(rng):
    ya, yb = rng.integers(0, 2, 80), rng.integers(0, 2, 90)
    sa, sb = ya + rng.normal(size=80), 0.5 * yb + rng.normal(size=90)
    res = delong_test_unpaired(ya, sa, yb, sb, names=("cohort A", "cohort B"))
    va, vb = auc_ci(ya, sa).variance, auc_ci(yb, sb).variance
    expected_z = (roc_auc_score(ya, sa) - roc_auc_score(yb, sb)) / np.sqrt(va + vb)
    assert_close(res.z, expected_z, rtol=1e-12, atol=0.0, what="unpaired Z")
    assert not res.paired and "unpaired" in res.method
    assert list(res.summary().columns[:2]) == ["model_a", "model_b"]


def test_roc_points_and_result_immutable(tied_data):
    y, s = tied_data
    pts = roc_curve_points(y, s[0])
    assert pts.fpr[0] == 0 and pts.tpr[-1] == 1
    with pytest.raises(ValueError):
        pts.fpr[0] = 0.5
    res = auc_ci(y, s[0])
    with pytest.raises(AttributeError):
        res.auc = 0.5  # type: ignore[misc]
    assert set(res.summary().columns) >= {"auc", "lower", "upper", "method"}


@pytest.mark.parametrize("y, score, field", [
    ([1, 1, 1, 1], [0.1, 0.2, 0.3, 0.4], "y"),
    ([0, 1, 0, 1], [0.1, np.nan, 0.3, 0.4], "score"),
    ([0, 1, 2, 1], [0.1, 0.2, 0.3, 0.4], "y"),
    ([0, 1, 0, 1], [0.1, 0.2, 0.3], "score"),
])
def test_bad_input_raises(y, score, field):
    with pytest.raises(DataError) as err:
        auc_ci(y, score)
    assert err.value.field == field and err.value.hint


def test_delong_speed_scales():
    """10^5 patients in well under a second (Sun & Xu); here a loose 3 s bound for shared CI machines."""
    import time
    r = np.random.default_rng(0)
    y = r.integers(0, 2, 100_000)
    s = y + r.normal(size=100_000)
    t = time.perf_counter()
    auc_ci(y, s)
    assert time.perf_counter() - t < 3.0
