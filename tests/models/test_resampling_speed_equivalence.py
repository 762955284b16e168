"""Issue 24 (modelling speed): each resample scores the union of its evaluation rows once, and a fused model is
validated in the same resample tasks as the model whose score it fuses -- with the numbers of the former
per-set scoring and separate bootstraps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.models import ScoreFusion, build_model_pipeline, fitmemo, optimism_bootstrap, optimism_bootstraps
from hccrad.models.factory import scores_of
from hccrad.models.validation import _auc, _eval_scores, _rows, bootstrap_indices, calibration_line

FIELDS = ("apparent_auc", "optimism", "boot_auc", "test_auc", "oob_auc", "boot_calibration", "test_calibration")


@pytest.fixture(scope="module")
def study(habitat_like_study) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    return habitat_like_study(seed=5, n=60, p=12)


def _habitat(feats):
    return build_model_pipeline(feats, steps=["scale", "lasso", "logistic"],
                                params={"lasso": {"cv": 4, "Cs": 6}}, random_state=0)


def test_scoring_the_union_once_equals_scoring_each_set(study):
    X, y, _ = study
    model = build_model_pipeline(["h00", "h01", "age"], steps=["logistic"]).fit(X, y)
    everyone = np.arange(len(y))
    for b in bootstrap_indices(y, 5, seed=2):
        sets = [b, everyone, np.setdiff1d(everyone, b)]
        fast = _eval_scores(model, X, sets)
        slow = [scores_of(model, _rows(X, idx)) for idx in sets]  # the former scoring, one call per set
        for f, s, idx in zip(fast, slow, sets):
            np.testing.assert_allclose(f, s, rtol=0, atol=1e-14,
                                       err_msg="scores of one eval set: union-once vs per-set (reference)")
            assert _auc(y[idx], f) == _auc(y[idx], s)  # AUCs from ranks: identical
            np.testing.assert_allclose(calibration_line(y[idx], f), calibration_line(y[idx], s), rtol=0,
                                       atol=1e-12, err_msg="calibration (a, b): union-once vs per-set")


def test_joint_bootstrap_equals_separate_bootstraps_and_reuses_every_score_fit(study):
    X, y, feats = study
    habitat = _habitat(feats)
    fused = ScoreFusion(habitat, feats, ["age"], score_name="habitat_score")
    fitmemo.clear()
    alone_habitat = optimism_bootstrap(habitat, X[feats], y, n_boot=4, seed=3)
    fitmemo.clear()  # the fused model alone refits its score pipeline in every resample
    alone_fused = optimism_bootstrap(fused, X, y, n_boot=4, seed=3)
    assert fitmemo.stats()["hits"] == 0
    fitmemo.clear()
    joint_habitat, joint_fused = optimism_bootstraps([(habitat, X[feats]), (fused, X)], y, n_boot=4, seed=3)
    assert fitmemo.stats()["hits"] == 4, fitmemo.stats()  # every fused resample took its task's score fit
    fitmemo.clear()
    for alone, joint in ((alone_habitat, joint_habitat), (alone_fused, joint_fused)):
        for field in FIELDS:
            assert np.array_equal(getattr(alone, field), getattr(joint, field), equal_nan=True), field
        assert alone.selection_frequency.equals(joint.selection_frequency)
        assert alone.apparent_selected == joint.apparent_selected and alone.record() == joint.record()
