"""Habitat stability over bootstrap resamples of the training cases (hccrad.habitat.stability)."""

from __future__ import annotations

import numpy as np
import pytest

from hccrad.core.errors import FeatureError
from hccrad.habitat import PopulationHabitats
from hccrad.habitat.stability import habitat_stability, match_centres

SEPARATED = np.array([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]])


def _separated_cases(n_cases: int = 6, n_vox: int = 60, seed: int = 0) -> list[np.ndarray]:
    """Three clusters 100 units apart with SD 1: any sensible fit recovers the same partition."""
    rng = np.random.default_rng(seed)
    return [SEPARATED[rng.integers(0, 3, n_vox)] + rng.normal(0, 1.0, (n_vox, 2)) for _ in range(n_cases)]


@pytest.fixture(scope="module")
def separated_fit():
    Xs = _separated_cases()
    model = PopulationHabitats(3, descriptor_names=["AE", "VE"], random_state=0, n_init=2).fit(Xs)
    return model, Xs


def test_match_centres_recovers_a_permutation_and_its_distances():
    ref = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 20.0]])
    perm = [2, 0, 1]
    other = ref[perm] + np.array([[0.0, 1.0], [0.5, 0.0], [0.0, 0.0]])
    rows, cols, dist = match_centres(ref, other)
    # reference row i is matched to the row of `other` holding it: other[cols[i]] ≈ ref[i]
    assert rows.tolist() == [0, 1, 2]
    assert cols.tolist() == [1, 2, 0], f"matched {cols.tolist()}, expected [1, 2, 0]"
    np.testing.assert_allclose(dist, [0.5, 0.0, 1.0], atol=1e-12)


def test_match_centres_scales_each_descriptor_and_handles_fewer_centres():
    ref = np.array([[0.0, 0.0], [10.0, 100.0]])
    rows, cols, dist = match_centres(ref, np.array([[10.0, 90.0]]), scale=np.array([1.0, 10.0]))
    assert rows.tolist() == [1] and cols.tolist() == [0]
    np.testing.assert_allclose(dist, [1.0], atol=1e-12)
    with pytest.raises(FeatureError):
        match_centres(ref, np.zeros((2, 3)))


def test_perfectly_separated_clusters_are_stable(separated_fit):
    model, Xs = separated_fit
    res = habitat_stability(model, Xs, n_resamples=4, seed=3)
    np.testing.assert_allclose(res.ari, 1.0, atol=1e-12, err_msg="ARI of a refit on separated clusters")
    assert res.k_resamples == (3, 3, 3, 3)
    # centres move by at most a few SDs of noise (SD 1 in units of 100 apart)
    assert np.nanmax(res.centre_abs_diff) < 1.0, np.nanmax(res.centre_abs_diff)
    table = res.centre_table({"AE": "HU", "VE": "HU"})
    assert len(table) == 6 and set(table["unit"]) == {"HU"} and (table["matched_share"] == 1).all()
    freq = res.k_frequency()
    assert freq.to_dict(orient="list") == {"k": [3], "resamples": [4], "share": [1.0], "is_full_fit_k": [True]}


def test_same_seed_same_result_and_another_seed_differs():
    rng = np.random.default_rng(1)
    Xs = [rng.normal(0, 1, (80, 2)) for _ in range(6)]  # no structure: refits vary with the resample
    model = PopulationHabitats(3, random_state=0, n_init=1).fit(Xs)
    a = habitat_stability(model, Xs, n_resamples=3, seed=7)
    b = habitat_stability(model, Xs, n_resamples=3, seed=7)
    c = habitat_stability(model, Xs, n_resamples=3, seed=8)
    assert a.ari == b.ari and a.centre_distance == b.centre_distance
    assert a.ari != c.ari
    assert all(v < 0.999 for v in a.ari), a.ari


def test_auto_k_is_chosen_again_in_each_resample(separated_fit):
    _, Xs = separated_fit
    model = PopulationHabitats("auto", k_range=(2, 5), random_state=0, n_init=1).fit(Xs)
    res = habitat_stability(model, Xs, n_resamples=2, seed=0, refit_params={"silhouette_sample": 200})
    assert model.n_habitats_ == 3 and res.k_resamples == (3, 3)
    with pytest.raises(FeatureError):
        habitat_stability(model, Xs, n_resamples=0)
