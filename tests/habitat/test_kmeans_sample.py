"""kmeans_sample (issue 24): each k-means is fitted on a seeded subsample (population: proportional per training
case; one-step and two-step supervoxels: per case) and every voxel is assigned to its nearest centre. The
subsample is stratified and seeded (byte-identical refits, whatever the case order), None keeps every row, bad
values are refused with the field named, and planted habitats are still recovered."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import ValidationError
from sklearn.metrics import adjusted_rand_score

from hccrad.config.spec import HabitatSpec
from hccrad.core.errors import FeatureError
from hccrad.habitat.estimators import IndividualHabitats, PopulationHabitats, TwoStepHabitats
from hccrad.habitat.strategies import (IndividualStrategy, PopulationStrategy, TwoStepStrategy,
                                       unfold_flat_parameters)

CENTRES = np.array([[0.0, 0.0], [6.0, 1.0], [3.0, 7.0]])
SIZES = (900, 2400, 1500)


def _cases(sizes=SIZES, seed=0):
    """Blobs around CENTRES (planted labels 1..3): one (n, 2) matrix and its labels per case."""
    rng = np.random.default_rng(seed)
    Xs, truths = [], []
    for n in sizes:
        t = rng.integers(0, 3, n)
        Xs.append(CENTRES[t] + rng.normal(0, 1.0, (n, 2)))
        truths.append(t + 1)
    return Xs, truths


@pytest.fixture(scope="module")
def cases():
    return _cases()


def _fitted_rows(monkeypatch, cls):
    """Record the rows every `_kmeans` call of ``cls`` is fitted on."""
    seen: list[np.ndarray] = []
    original = cls._kmeans
    monkeypatch.setattr(cls, "_kmeans", lambda self, S, k, n_init=None: seen.append(S.copy())
                        or original(self, S, k, n_init))
    return seen


def test_population_sample_is_proportional_per_case_and_every_voxel_is_labelled(monkeypatch, cases):
    Xs, _ = cases
    seen = _fitted_rows(monkeypatch, PopulationHabitats)
    model = PopulationHabitats(3, kmeans_sample=480, n_init=2).fit(Xs)
    (S,) = seen
    rows = model.scaler_.inverse_transform(S)
    total = sum(SIZES)
    for X, n in zip(Xs, SIZES):  # each case gives floor(480 n_i / total) of its own rows, no row twice
        own = {tuple(r) for r in np.round(X, 9)}
        drawn = [tuple(r) for r in np.round(rows, 9) if tuple(r) in own]
        assert len(drawn) == len(set(drawn)) == int(np.floor(480 * n / total))
    assert all(model.predict(X).shape == (X.shape[0],) for X in Xs)


def test_refits_are_byte_identical_and_do_not_depend_on_case_order(cases):
    Xs, _ = cases
    for cls in (PopulationHabitats, IndividualHabitats, TwoStepHabitats):
        kw = {"n_supervoxels": 8} if cls is TwoStepHabitats else {}
        a = cls(3, kmeans_sample=300, n_init=2, random_state=3, **kw).fit(Xs)
        b = cls(3, kmeans_sample=300, n_init=2, random_state=3, **kw).fit(Xs[::-1])
        assert a.to_json() == b.to_json(), cls.__name__
        new = _cases(sizes=(700,), seed=9)[0][0]  # an unseen case: its own sample, seeded by its content
        assert np.array_equal(a.predict(new), b.predict(new))
        assert a.predict(new).tobytes() == cls(3, kmeans_sample=300, n_init=2, random_state=3, **kw).fit(
            Xs).predict(new).tobytes()


def test_per_case_fits_see_at_most_kmeans_sample_rows_and_none_keeps_all(monkeypatch, cases):
    Xs, _ = cases
    seen = _fitted_rows(monkeypatch, IndividualHabitats)
    IndividualHabitats(3, kmeans_sample=1000, n_init=1).fit(Xs)
    assert sorted(S.shape[0] for S in seen) == [900, 1000, 1000]
    seen.clear()
    IndividualHabitats(3, kmeans_sample=None, n_init=1).fit(Xs)
    assert sorted(S.shape[0] for S in seen) == sorted(SIZES)
    seen_pop = _fitted_rows(monkeypatch, PopulationHabitats)
    PopulationHabitats(3, kmeans_sample=None, n_init=1).fit(Xs)
    assert seen_pop[0].shape[0] == sum(SIZES)


def test_planted_habitats_recovered_from_the_subsample(cases):
    Xs, truths = cases
    for cls in (PopulationHabitats, IndividualHabitats, TwoStepHabitats):
        kw = {"n_supervoxels": 12} if cls is TwoStepHabitats else {}
        sub = cls(3, kmeans_sample=200, n_init=2, **kw).fit(Xs)
        full = cls(3, kmeans_sample=None, n_init=2, **kw).fit(Xs)
        ari_sub = np.mean([adjusted_rand_score(t, sub.predict(X)) for X, t in zip(Xs, truths)])
        ari_full = np.mean([adjusted_rand_score(t, full.predict(X)) for X, t in zip(Xs, truths)])
        assert ari_sub > 0.85 and ari_sub >= ari_full - 0.02, (cls.__name__, ari_sub, ari_full)


@pytest.mark.parametrize("bad", [50, 0, -5, 250.5, True, "all"])
def test_estimator_refuses_a_bad_kmeans_sample(cases, bad):
    with pytest.raises(FeatureError, match="kmeans_sample must be an integer >= 100 or None") as err:
        IndividualHabitats(3, kmeans_sample=bad, n_init=1).fit(cases[0])
    assert err.value.field == "kmeans_sample"


def test_spec_refuses_bad_values_and_writes_only_a_changed_sample():
    for bad in (999, 0, "many", 1500.5):
        with pytest.raises(ValidationError, match="kmeans_sample"):
            HabitatSpec.model_validate({"strategy": {"kind": "population", "kmeans_sample": bad}})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        HabitatSpec.model_validate({"strategy": {"kind": "individual", "kmeans_samples": 5000}})
    with pytest.raises(ValidationError, match="kmeans_sample .* applies to supervoxels: descriptor only"):
        TwoStepStrategy(supervoxels="slic", kmeans_sample=5000)
    spec = HabitatSpec.model_validate({"strategy": {"kind": "individual", "kmeans_sample": None}})
    assert spec.strategy.build().kmeans_sample is None
    assert spec.model_dump(mode="json")["strategy"] == {"kind": "individual", "kmeans_sample": None}
    assert HabitatSpec().model_dump(mode="json")["strategy"] == "population"  # default spec: dump unchanged
    assert unfold_flat_parameters(TwoStepStrategy())[0] == "two_step"
    assert (PopulationStrategy().build().kmeans_sample, IndividualStrategy().build().kmeans_sample,
            TwoStepStrategy().build().kmeans_sample) == (20_000, 2_000, 2_000)


def test_a_model_saved_before_kmeans_sample_loads_as_fitted_on_every_row(cases):
    doc = json.loads(IndividualHabitats(3, n_init=1).fit(cases[0]).to_json())
    del doc["params"]["kmeans_sample"]
    assert IndividualHabitats.from_json(json.dumps(doc)).kmeans_sample is None
