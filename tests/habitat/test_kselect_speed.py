"""Faster automatic k (issue 24): the one-pass silhouette equals scikit-learn's, k is chosen on a fixed,
seeded subsample of the pooled training rows, and a planted 3-cluster problem larger than that subsample
still gives k = 3."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from hccrad.core.errors import FeatureError
from hccrad.habitat import IndividualHabitats, PopulationHabitats
from hccrad.habitat.kselect import k_subsample, silhouettes_for_all_k
from hccrad.testing import assert_close

CENTRES = np.array([[0.0, 0.0], [6.0, 0.0], [3.0, 6.0]])


def _planted_cases(n_cases=6, n_per=700, seed=0) -> list[np.ndarray]:
    """Cases drawing voxels from three planted Gaussian clusters (unit SD, centres 6 SD apart)."""
    rng = np.random.default_rng(seed)
    return [np.concatenate([c + rng.normal(size=(n_per + 50 * i, 2)) for c in CENTRES]) for i in range(n_cases)]


def test_one_pass_silhouette_equals_scikit_learn():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(900, 3))
    labelings = [rng.integers(0, k, size=900) for k in (2, 3, 5)]
    labelings.append(np.r_[np.zeros(899, dtype=int), 1])  # a singleton cluster counts 0
    for sample in (None, 400):
        ours = silhouettes_for_all_k(X, labelings, sample_size=sample, random_state=7)
        ref = [silhouette_score(X, lab, sample_size=sample, random_state=7) for lab in labelings]
        assert_close(ours, ref, rtol=1e-10, atol=1e-12, what=f"silhouette (sample {sample})")
    with pytest.raises(FeatureError):
        silhouettes_for_all_k(X, [np.zeros(900, dtype=int)])


def test_k_subsample_is_fixed_by_the_seed():
    a, b = k_subsample(50_000, 2_000, random_state=5), k_subsample(50_000, 2_000, random_state=5)
    assert np.array_equal(a, b) and a.size == 2_000 and np.all(np.diff(a) > 0)
    assert not np.array_equal(a, k_subsample(50_000, 2_000, random_state=6))
    assert np.array_equal(k_subsample(1_500, 2_000), np.arange(1_500))  # a small pool is used whole
    with pytest.raises(FeatureError):
        k_subsample(10, 0)


def test_planted_three_clusters_chosen_on_the_subsample():
    cases = _planted_cases()
    pooled = sum(c.shape[0] for c in cases)
    model = PopulationHabitats("auto", k_range=(2, 8), max_voxels_k=2_000, silhouette_sample=800).fit(cases)
    ks = model.k_selection_
    assert model.n_habitats_ == 3 == ks.k and ks.n_samples == 2_000 < pooled
    again = PopulationHabitats("auto", k_range=(2, 8), max_voxels_k=2_000, silhouette_sample=800).fit(cases[::-1])
    assert again.k_selection_ == ks and np.array_equal(again.centres_, model.centres_)
    # the consensus rule (bootstrap over cases) works on the same subsample
    cons = IndividualHabitats("auto", k_range=(2, 6), max_voxels_k=2_000, silhouette_sample=800,
                              k_rule="consensus", n_bootstrap=4).fit(cases)
    assert cons.n_habitats_ == 3 and cons.k_selection_.rule == "consensus"
    assert cons.k_selection_.n_samples == 2_000


def test_silhouette_from_symmetric_blocks_equals_scikit_learn(monkeypatch):
    """The distance matrix in square blocks, each off-diagonal block used for both of its row ranges (issue 24):
    blocks of 100 rows over 950 rows (uneven last block) give scikit-learn's silhouettes."""
    from hccrad.habitat import kselect

    monkeypatch.setattr(kselect, "_CHUNK_BYTES", 8 * 100 * 100)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(950, 2))
    labelings = [rng.integers(0, k, size=950) for k in (2, 4, 7)]
    ours = silhouettes_for_all_k(X, labelings)
    ref = [silhouette_score(X, lab) for lab in labelings]
    assert_close(ours, ref, rtol=1e-10, atol=1e-12, what="silhouette from 100-row blocks")
