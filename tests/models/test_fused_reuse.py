"""Issue 24: inside resampling the LASSO keeps no path, and a fused model reuses the score pipeline that the
score model's own validation fitted on the same resample -- with numbers identical to refitting it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.models import ScoreFusion, build_model_pipeline, fitmemo, optimism_bootstrap
from hccrad.models.factory import without_lasso_path


@pytest.fixture(scope="module")
def study(habitat_like_study) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    return habitat_like_study(seed=11, n=70, p=25)


def _habitat(feats):
    return build_model_pipeline(feats, steps=["scale", "lasso", "logistic"],
                                params={"lasso": {"cv": 5, "Cs": 8}}, random_state=0)


def test_without_lasso_path_reaches_nested_selectors(study):
    _, _, feats = study
    fused = ScoreFusion(_habitat(feats), feats, ["age"])
    assert fused.get_params()["score_pipeline__lasso__keep_path"] is True
    assert without_lasso_path(fused).get_params()["score_pipeline__lasso__keep_path"] is False


def test_fused_validation_reuses_the_score_fits_with_identical_numbers(study):
    X, y, feats = study
    habitat = _habitat(feats)
    fused = ScoreFusion(habitat, feats, ["age"], score_name="habitat_score")
    fitmemo.clear()
    optimism_bootstrap(habitat, X[feats], y, n_boot=4, seed=3, n_jobs=1)
    kept = list(fitmemo._MEMO.values())
    assert len(kept) == 4 and all(m.named_steps["lasso"].coef_path_ is None for m in kept), \
        "a resample refitted the LASSO path (keep_path stayed on)"
    reused = optimism_bootstrap(fused, X, y, n_boot=4, seed=3, n_jobs=1)
    assert fitmemo.stats()["hits"] == 4, fitmemo.stats()
    fitmemo.clear()  # nothing to reuse: the fused model refits its score pipeline in every resample
    refitted = optimism_bootstrap(fused, X, y, n_boot=4, seed=3, n_jobs=1)
    assert fitmemo.stats()["hits"] == 0
    for field in ("apparent_auc", "optimism", "boot_auc", "test_auc", "oob_auc", "boot_calibration",
                  "test_calibration"):
        assert np.array_equal(getattr(reused, field), getattr(refitted, field), equal_nan=True), field
    assert reused.selection_frequency.equals(refitted.selection_frequency)
    fitmemo.clear()


def test_no_reuse_across_different_rows_or_nondeterministic_fits(study):
    X, y, feats = study
    habitat = _habitat(feats)
    rows = X[feats].iloc[:50]
    assert fitmemo.fit_key(habitat, rows, y[:50]) != fitmemo.fit_key(habitat, X[feats].iloc[1:51], y[1:51])
    assert fitmemo.fit_key(habitat, rows, y[:50]) != fitmemo.fit_key(habitat, rows, 1 - y[:50])
    relabelled = rows.set_axis(np.arange(100, 150), axis=0)  # other patients, same values
    assert fitmemo.fit_key(habitat, rows, y[:50]) != fitmemo.fit_key(habitat, relabelled, y[:50])
    assert fitmemo.fit_key(habitat.set_params(lasso__random_state=None), rows, y[:50]) is None
