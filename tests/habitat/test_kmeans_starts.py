"""Cheaper k-means (issue 24): several starts compared on a seeded subsample and the best refined on all rows
(`fit_kmeans`); plain scikit-learn k-means (bit-identical) for one start or a small matrix; the same labels
and the same automatic k as plain k-means on planted clusters; two-step supervoxels of a training case
computed once."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from hccrad.habitat import TwoStepHabitats, kselect
from hccrad.habitat.kselect import choose_k, fit_kmeans, init_rows

CENTRES = np.array([[0.0, 0.0], [3.0, 0.0], [1.5, 3.0]])   # 3 SD apart: clusters overlap at their edges


def _planted(n_per: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.concatenate([c + rng.normal(size=(n_per + 300 * i, 2)) for i, c in enumerate(CENTRES)])


def _plain(X, k, n_init, random_state=0):
    return KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit(X)


def test_one_start_or_few_rows_is_plain_kmeans_bit_for_bit():
    small = _planted(300)                      # 1,800 rows <= init_rows(3) = 2,000
    assert small.shape[0] <= init_rows(3)
    np.testing.assert_array_equal(fit_kmeans(small, 3, 4, 5).cluster_centers_, _plain(small, 3, 4, 5).cluster_centers_)
    large = _planted(3000)
    np.testing.assert_array_equal(fit_kmeans(large, 8, 1, 5).cluster_centers_, _plain(large, 8, 1, 5).cluster_centers_)


def test_starts_compared_on_the_subsample_then_refined_on_all_rows(monkeypatch):
    fits = []

    class Recording(KMeans):
        def fit(self, X, y=None, sample_weight=None):
            fits.append((X.shape[0], self.n_init, isinstance(self.init, np.ndarray)))
            return super().fit(X, y, sample_weight)

    monkeypatch.setattr(kselect, "KMeans", Recording)
    X = _planted(3000)
    km = fit_kmeans(X, 3, 10, 0)
    assert fits == [(init_rows(3), 10, False), (X.shape[0], 1, True)]
    assert km.labels_.shape == (X.shape[0],)   # labels and inertia are those of all rows
    assert init_rows(20) == 4_000


def test_same_labels_and_same_k_as_plain_kmeans_and_seeded():
    X = _planted(3000)                          # 9,900 rows
    ours, plain = fit_kmeans(X, 3, 10, 0), _plain(X, 3, 10, 0)
    ari = adjusted_rand_score(plain.labels_, ours.labels_)
    assert ari >= 0.99, f"ARI against plain k-means {ari:.4f} < 0.99"
    assert abs(ours.inertia_ - plain.inertia_) <= 1e-3 * plain.inertia_
    np.testing.assert_array_equal(ours.cluster_centers_, fit_kmeans(X, 3, 10, 0).cluster_centers_)
    assert not np.array_equal(ours.cluster_centers_, fit_kmeans(X, 3, 10, 1).cluster_centers_)
    fast = choose_k(X, (2, 6), silhouette_sample=1_000, n_init=4)
    original = kselect.fit_kmeans
    try:
        kselect.fit_kmeans = _plain
        slow = choose_k(X, (2, 6), silhouette_sample=1_000, n_init=4)
    finally:
        kselect.fit_kmeans = original
    assert (fast.k, fast.elbow_k, fast.silhouette_k) == (slow.k, slow.elbow_k, slow.silhouette_k) == (3, 3, 3)


@pytest.fixture(scope="module")
def two_step_cases():
    rng = np.random.default_rng(4)
    return [np.concatenate([c * 20 + rng.normal(scale=5, size=(400 + 40 * i, 2)) for c in CENTRES])
            for i in range(4)]


def test_two_step_over_segments_each_training_case_once(two_step_cases, monkeypatch):
    """`predict` on a training case reuses the supervoxels of `fit` (no second k-means) and gives exactly
    the labels that over-segmenting it again gives (a model loaded from JSON); a new case is over-segmented."""
    cases = two_step_cases
    model = TwoStepHabitats(3, n_supervoxels=20, random_state=0).fit(cases[:3])
    calls = []
    original = TwoStepHabitats._supervoxels
    monkeypatch.setattr(TwoStepHabitats, "_supervoxels",
                        lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    reused = [model.predict(X) for X in cases[:3]]
    assert calls == []
    model.predict(cases[3])
    assert len(calls) == 1
    loaded = TwoStepHabitats.from_json(model.to_json())
    assert not getattr(loaded, "training_supervoxels_", {})
    for X, labels in zip(cases[:3], reused):
        np.testing.assert_array_equal(labels, loaded.predict(X))
