"""Habitat estimators: planted-habitat recovery, label ordering, invariance, persistence, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from hccrad.core.errors import FeatureError, ModelError
from hccrad.habitat import (
    IndividualHabitats,
    PopulationHabitats,
    TwoStepHabitats,
    load_habitat_model,
)
from hccrad.testing import assert_close

NAMES = ["AE", "VE"]


def _make(cls, **kw):
    extra = {"n_supervoxels": 30} if cls is TwoStepHabitats else {}
    return cls(n_habitats=3, order_by="AE", descriptor_names=NAMES, random_state=0, **extra, **kw)


STRATEGIES = [PopulationHabitats, IndividualHabitats, TwoStepHabitats]


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.__name__)
def test_planted_habitats_recovered_on_held_out_cases(cls, cohort_X):
    Xs, ts = cohort_X
    model = _make(cls).fit(Xs[:4])
    for X, t in zip(Xs[4:], ts[4:]):
        pred = model.predict(X)
        assert set(np.unique(pred)) <= {1, 2, 3}
        ari = adjusted_rand_score(t, pred)
        assert ari >= 0.9, f"{cls.__name__}: ARI {ari:.3f} < 0.9"
        # labels are ordered by AE, so they equal the planted labels (1 = low ... 3 = high enhancement)
        assert np.mean(pred == t) >= 0.95


@pytest.mark.parametrize("cls", [PopulationHabitats, TwoStepHabitats], ids=lambda c: c.__name__)
def test_centres_sorted_by_order_by_descriptor(cls, cohort_X):
    Xs, _ = cohort_X
    model = _make(cls).fit(Xs)
    assert model.centres_.shape == (3, 2)
    assert np.all(np.diff(model.centres_[:, 0]) > 0)
    # planted AE centres 15 / 40 / 75 HU
    assert_close(model.centres_[:, 0], [15, 40, 75], rtol=0, atol=4, what="population AE centres")


def test_order_by_second_descriptor_and_by_index(cohort_X):
    Xs, _ = cohort_X
    # reverse the VE ordering by negating VE: habitat 1 is then the most enhancing voxels in AE
    flipped = [np.column_stack([X[:, 0], -X[:, 1]]) for X in Xs]
    by_name = PopulationHabitats(3, order_by="VE", descriptor_names=NAMES).fit(flipped)
    by_index = PopulationHabitats(3, order_by=1).fit(flipped)
    assert np.all(np.diff(by_name.centres_[:, 1]) > 0)
    assert np.all(np.diff(by_name.centres_[:, 0]) < 0)
    np.testing.assert_array_equal(by_name.predict(flipped[0]), by_index.predict(flipped[0]))


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.__name__)
def test_invariant_to_case_order(cls, cohort_X):
    Xs, _ = cohort_X
    a = _make(cls, max_voxels_fit=3000).fit(Xs[:5])  # subsampled branch too
    b = _make(cls, max_voxels_fit=3000).fit([Xs[i] for i in (3, 0, 4, 2, 1)])
    np.testing.assert_array_equal(a.centres_, b.centres_)
    np.testing.assert_array_equal(a.predict(Xs[5]), b.predict(Xs[5]))


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.__name__)
def test_seeded_determinism(cls, cohort_X):
    Xs, _ = cohort_X
    p1 = _make(cls).fit(Xs[:4]).predict(Xs[4])
    p2 = _make(cls).fit(Xs[:4]).predict(Xs[4])
    np.testing.assert_array_equal(p1, p2)


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.__name__)
def test_json_round_trip_gives_identical_predictions(cls, cohort_X, tmp_path):
    Xs, _ = cohort_X
    model = _make(cls).fit(Xs[:4])
    path = model.save(tmp_path / "habitat_model.json")
    again = load_habitat_model(path)
    assert type(again) is cls
    assert again.get_params() == model.get_params()
    np.testing.assert_array_equal(again.centres_, model.centres_)
    for X in Xs[4:]:
        np.testing.assert_array_equal(again.predict(X), model.predict(X))
    again2 = cls.from_json(model.to_json())
    np.testing.assert_array_equal(again2.predict(Xs[5]), model.predict(Xs[5]))


def test_from_json_wrong_class_is_an_error(cohort_X):
    Xs, _ = cohort_X
    text = _make(PopulationHabitats).fit(Xs[:2]).to_json()
    with pytest.raises(ModelError, match="PopulationHabitats"):
        IndividualHabitats.from_json(text)


def test_scaler_fitted_on_training_voxels_only(cohort_X):
    Xs, _ = cohort_X
    model = _make(PopulationHabitats).fit(Xs[:3])
    pooled = np.concatenate(Xs[:3])
    assert_close(model.scaler_.mean_, pooled.mean(axis=0), rtol=1e-10, atol=1e-10, what="scaler mean")
    assert_close(model.scaler_.scale_, pooled.std(axis=0), rtol=1e-10, atol=1e-10, what="scaler SD")
    before = model.scaler_.mean_.copy()
    model.predict(Xs[5] + 100.0)  # predicting must not refit anything
    np.testing.assert_array_equal(model.scaler_.mean_, before)


def test_auto_k_finds_the_planted_three(cohort_X):
    Xs, _ = cohort_X
    model = PopulationHabitats(
        "auto", k_range=(2, 7), descriptor_names=NAMES, order_by="AE", silhouette_sample=2000
    ).fit(Xs)
    assert model.k_selection_ is not None
    assert model.n_habitats_ == 3 == model.k_selection_.k
    assert len(model.k_selection_.summary()) == 6
    again = PopulationHabitats.from_json(model.to_json())
    assert again.k_selection_ == model.k_selection_


@pytest.mark.parametrize("cls", STRATEGIES, ids=lambda c: c.__name__)
def test_tumour_with_fewer_voxels_than_k_is_an_error(cls, cohort_X):
    Xs, _ = cohort_X
    model = _make(cls).fit(Xs[:3])
    with pytest.raises(FeatureError, match="fewer than the 3 habitats"):
        model.predict(Xs[4][:2])
    with pytest.raises(FeatureError, match="no voxels"):
        model.predict(np.empty((0, 2)))


def test_bad_inputs_are_errors(cohort_X):
    Xs, _ = cohort_X
    with pytest.raises(FeatureError):
        PopulationHabitats(3).fit([])
    with pytest.raises(FeatureError, match="NaN"):
        PopulationHabitats(3).fit([np.array([[np.nan, 1.0], [2.0, 3.0], [1.0, 1.0]])])
    with pytest.raises(FeatureError, match="order_by"):
        PopulationHabitats(3, order_by="PE", descriptor_names=NAMES).fit(Xs[:2])
    with pytest.raises(FeatureError, match="cannot make"):
        PopulationHabitats(3).fit([Xs[0][:2]])
    model = PopulationHabitats(3).fit(Xs[:2])
    with pytest.raises(FeatureError, match="descriptors"):
        model.predict(np.ones((10, 3)))


def test_predict_before_fit_is_an_error(cohort_X):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PopulationHabitats(3).predict(cohort_X[0][0])


# Seed 000 (Wu et al. 2025, section 3.2) published habitat means (AE, VE) in HU.
SEED000_MEANS = np.array([[21.786, 43.429], [22.269, 42.694], [54.206, 64.086]])


def test_seed000_published_habitats_are_ordered_by_ae_not_by_ae_plus_ve():
    rng = np.random.default_rng(0)
    shuffled = SEED000_MEANS[[2, 0, 1]]
    Xs = [np.concatenate([c + rng.normal(0, 0.02, size=(150, 2)) for c in shuffled]) for _ in range(3)]
    by_ae = PopulationHabitats(3, order_by="AE", descriptor_names=NAMES).fit(Xs)
    assert_close(by_ae.centres_, SEED000_MEANS, rtol=0, atol=0.01, what="centres ordered by AE")
    # a combined key (AE + VE) would swap habitats 1 and 2 (65.215 vs 64.963 HU)
    with_sum = [np.column_stack([X, X.sum(axis=1)]) for X in Xs]
    by_sum = PopulationHabitats(3, order_by="AE+VE", descriptor_names=NAMES + ["AE+VE"]).fit(with_sum)
    assert_close(by_sum.centres_[:, :2], SEED000_MEANS[[1, 0, 2]], rtol=0, atol=0.01, what="AE+VE order")


@pytest.mark.parametrize("bad", [0, "three", 2.5])
def test_invalid_n_habitats_is_an_error(bad, cohort_X):
    with pytest.raises(FeatureError, match="n_habitats"):
        PopulationHabitats(bad).fit(cohort_X[0][:2])


def test_individual_habitats_cluster_each_training_case_once(cohort_X, monkeypatch):
    """One-step habitats: `fit` clusters every training case; `predict` on a training case reuses those
    centres (no second k-means) and gives exactly the labels a fresh clustering gives; a new case is
    clustered on its own."""
    Xs, _ = cohort_X
    model = _make(IndividualHabitats).fit(Xs[:4])
    calls = []
    original = IndividualHabitats._kmeans
    monkeypatch.setattr(IndividualHabitats, "_kmeans", lambda self, *a, **k: calls.append(1) or original(self, *a, **k))
    reused = [model.predict(X) for X in Xs[:4]]
    assert calls == [], f"{len(calls)} k-means fits for 4 training cases already clustered in fit"
    model.predict(Xs[4])
    assert len(calls) == 1
    fresh = _make(IndividualHabitats).fit(Xs[:4])
    del fresh.training_case_centres_  # as a model loaded from JSON: clusters every case again
    for X, labels in zip(Xs[:4], reused):
        np.testing.assert_array_equal(labels, fresh.predict(X))
