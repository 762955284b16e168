"""Two-step habitats over-segment each training case once (issue 24): `predict` on a training case reuses the
supervoxels of `fit`, with labels bit-identical to over-segmenting it again."""

from __future__ import annotations

import numpy as np
import pytest

from hccrad.habitat import TwoStepHabitats

CENTRES = np.array([[0.0, 0.0], [3.0, 0.0], [1.5, 3.0]])


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
    assert len(calls) == 4
