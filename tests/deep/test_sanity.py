"""Positive control (issue 27): a small 3-D network learns a planted bright ball in seconds on CPU (held-out
AUC >= 0.9, fixed seeds); a training that cannot learn fails the control, and `deep.sanity` then refuses to
report a study CNN."""

from __future__ import annotations

import numpy as np
import pytest

from hccrad.core.errors import ModelError
from hccrad.deep.data import build_patches
from hccrad.deep.networks import Task
from hccrad.deep.sanity import plant_signal, positive_control
from hccrad.deep.spec import DeepSpec
from hccrad.deep.train import NetworkSpec, TrainConfig

from .conftest import WINDOWS, make_case

SPEC = NetworkSpec("resnet", 2, (Task("response"), Task("os", 3)), spatial_dims=3, width=4)


@pytest.fixture(scope="module")
def patches():
    rng = np.random.default_rng(11)
    cases = [make_case(f"s{i:02d}", rng, blob=False)[0] for i in range(24)]  # no signal of their own
    return build_patches(cases, ["pre", "arterial"], mode="3d", size=(8, 16, 16), windows=WINDOWS)


def test_planted_ball_only_in_half_of_the_patients(patches):
    planted, y = plant_signal(patches, seed=0)
    assert y.sum() == len(y) // 2
    diff = planted.x - patches.x
    assert (diff[y == 0] == 0).all()
    centre = diff[y == 1][:, :, 4, 8, 8]
    assert (centre > 0).all()                              # every channel raised at the patch centre
    assert (diff[y == 1][:, :, 0, 0, 0] == 0).all()        # nothing at the corner
    assert np.array_equal(plant_signal(patches, seed=0)[1], y)          # seeded
    assert not np.array_equal(plant_signal(patches, seed=1)[1], y)


def test_positive_control_learns_the_planted_signal(patches):
    cfg = TrainConfig(epochs=16, batch_size=4, optimizer="sgd", lr=0.01, device="cpu", early_stopping_patience=None)
    res = positive_control(SPEC, patches, cfg, seed=0)
    assert res.passed and res.auc >= 0.9, res.note()
    assert res.n_cases == 24 and res.n_planted == 12 and "passed" in res.note() and len(res.fold_aucs) == 2


def test_a_training_that_cannot_learn_fails_the_control(patches):
    cfg = TrainConfig(epochs=1, batch_size=12, optimizer="sgd", lr=1e-9, momentum=0.0, device="cpu",
                      early_stopping_patience=None)
    res = positive_control(SPEC, patches, cfg, seed=0)
    assert not res.passed and "FAILED" in res.note()


def test_stage_refuses_a_study_cnn_when_the_control_fails(synth_cohort_root):
    from hccrad.cohort.study import Study
    from hccrad.config import parse_spec
    from hccrad.pipeline.deep_stage import run_deep_stage

    root = synth_cohort_root
    study = Study(parse_spec({
        "name": "deep", "seed": 0, "output_dir": str(root / "results"),
        "data": {"manifest": str(root / "cohort" / "manifest.csv"), "clinical": str(root / "cohort" / "clinical.csv")},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"}},
    }))
    spec = DeepSpec(mode="2d", size=[16, 16], epochs=1, n_splits=2, width=2, batch_size=16, optimizer="sgd",
                    lr=1e-9, min_steps=0, warmup_steps=0, gradcam_cases=0, device="cpu", sanity=True)
    with pytest.raises(ModelError, match="positive control FAILED") as err:
        run_deep_stage(study, spec, root / "sanity_fail")
    assert err.value.field == "deep.sanity" and "no study CNN" in str(err.value)
    assert not (root / "sanity_fail" / "deep" / "cnn_scores.csv").exists()
