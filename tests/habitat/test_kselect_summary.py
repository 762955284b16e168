"""choose_k curves and the per-habitat summary table."""

from __future__ import annotations

import numpy as np
import pytest

from hccrad.core.errors import FeatureError
from hccrad.habitat import KSelection, choose_k, habitat_summary
from hccrad.testing import assert_close


def _blobs(n_per=400, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 6.0]])
    return np.concatenate([c + rng.normal(size=(n_per, 2)) for c in centres])


def test_choose_k_finds_three_blobs_and_reports_curves():
    ks = choose_k(_blobs(), k_range=(2, 8), silhouette_sample=600)
    assert ks.k == 3 and ks.elbow_k == 3 and ks.silhouette_k == 3
    s = ks.summary()
    assert list(s.columns) == ["k", "inertia", "silhouette", "calinski_harabasz", "davies_bouldin",
                               "is_elbow", "is_chosen"]
    assert s["k"].tolist() == list(range(2, 9))
    assert np.all(np.diff(s["inertia"]) < 0)
    assert s.loc[s["is_elbow"], "k"].tolist() == [3]
    assert ks.silhouette_sample == 600 and ks.n_samples == 1200
    assert KSelection.from_dict(ks.to_dict()) == ks
    assert "k = 3" in str(ks)


def test_choose_k_is_seeded():
    a = choose_k(_blobs(seed=1), (2, 5), random_state=3, silhouette_sample=300)
    b = choose_k(_blobs(seed=1), (2, 5), random_state=3, silhouette_sample=300)
    assert a == b


def test_choose_k_errors():
    with pytest.raises(FeatureError, match="k_range"):
        choose_k(_blobs(), k_range=(1, 4))
    with pytest.raises(FeatureError, match="cannot be split"):
        choose_k(_blobs()[:5], k_range=(2, 10))


def test_habitat_summary_hand_values():
    X1 = np.array([[1.0, 10.0], [3.0, 12.0], [10.0, 20.0]])
    X2 = np.array([[2.0, 11.0], [12.0, 24.0]])
    t = habitat_summary([X1, X2], [np.array([1, 1, 2]), np.array([1, 2])], ["AE", "VE"], [2.0, 0.5])
    assert t["habitat"].tolist() == [1, 2]
    assert t["n_voxels"].tolist() == [3, 2]
    assert_close(t["volume_mm3"], [2 * 2 + 0.5, 2 + 0.5], rtol=0, atol=1e-12, what="volume")
    assert_close(t["proportion"], [0.6, 0.4], rtol=0, atol=1e-12, what="proportion")
    assert_close(t["AE_mean"], [2.0, 11.0], rtol=0, atol=1e-12, what="AE mean")
    assert_close(t["AE_sd"], [1.0, np.sqrt(2.0)], rtol=0, atol=1e-12, what="AE SD")
    assert_close(t["VE_mean"], [11.0, 22.0], rtol=0, atol=1e-12, what="VE mean")
    with pytest.raises(FeatureError):
        habitat_summary([X1], [np.array([1, 2])], ["AE", "VE"], [1.0])
