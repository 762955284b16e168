"""Issue 27's training defaults: step budget and warm-up, no intensity augmentation by default, BatchNorm in
AlexNet, "learned" only clearly below chance, and an unlearned cnn_score kept out of the models."""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from torch import nn

from hccrad.config import parse_spec
from hccrad.core.errors import ModelError
from hccrad.deep.cv import learned_threshold, null_cross_entropy
from hccrad.deep.data import PatchDataset, PatchSet
from hccrad.deep.networks import Task, build_network
from hccrad.deep.spec import DeepSpec
from hccrad.deep.train import NetworkSpec, TrainConfig, epoch_plan, train_model
from hccrad.pipeline.deep_score import join_cnn_score, uses_of
from hccrad.testing import assert_close


def _toy(n=8, size=8):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (n, 1, size, size)).astype(np.float32)
    ids = tuple(f"t{i}" for i in range(n))
    return PatchSet(x, ids, ids, ("a",), "2d", np.zeros((n, 2, 3), int)), np.arange(n) % 2


def test_step_budget_raises_epochs_and_warmup_epochs_are_never_chosen():
    assert epoch_plan(8, TrainConfig(epochs=1, batch_size=4, min_steps=6, warmup_steps=4)) == (3, 2)
    assert epoch_plan(100, TrainConfig(epochs=5, batch_size=10, min_steps=20)) == (5, 0)  # epochs already enough
    ps, y = _toy()
    cfg = TrainConfig(epochs=1, batch_size=4, min_steps=6, warmup_steps=4, lr=0.01, device="cpu",
                      early_stopping_patience=1)
    res = train_model(NetworkSpec("resnet", 1, (Task("response"),), spatial_dims=2, width=2),
                      PatchDataset(ps, {"response": y}), PatchDataset(ps, {"response": y}), cfg)
    assert list(res.history["warmup"]) == [True, True, False]       # patience could not stop it in the warm-up
    assert res.best_epoch == 2 and (res.planned_epochs, res.warmup_epochs) == (3, 2)
    fixed = train_model(NetworkSpec("resnet", 1, (Task("response"),), spatial_dims=2, width=2),
                        PatchDataset(ps, {"response": y}), None,
                        cfg.model_copy(update={"restore_best": False, "early_stopping_patience": None}))
    assert len(fixed.history) == 3 and fixed.best_epoch == 2         # fixed epochs: the last epoch's weights


def test_intensity_augmentation_is_off_by_default_and_small_when_asked():
    aug = DeepSpec().augmentation()
    assert (aug.intensity_scale, aug.intensity_shift) == (0.0, 0.0) and aug.rotation_deg > 0  # geometry kept
    on = DeepSpec(intensity_augment=True, window=(-100, 300)).augmentation()
    assert_close([on.intensity_shift, on.intensity_scale], [5 / 400, 0.02], rtol=1e-12, atol=0,
                 what="5 HU in window units, 2 % scale")
    assert DeepSpec(intensity_augment=True, normalise="zscore").augmentation().intensity_shift == 0.05
    with pytest.raises(ValueError, match="intensity_augment"):
        DeepSpec(intensity_shift=10)
    with pytest.raises(ValueError, match="intensity_augment"):
        DeepSpec(intensity_scale=0.1)
    resolved = DeepSpec().model_dump(mode="json")  # run.json's resolved spec reads back (`hccrad report OUT`)
    assert DeepSpec.model_validate(resolved) == DeepSpec()


def test_alexnet_has_batch_norm_after_every_convolution():
    net = build_network("alexnet", 2, (Task("response"),), spatial_dims=3, width=4)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv3d)]
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm3d)]
    assert len(convs) == len(norms) == 5


def test_learned_only_clearly_below_the_prevalence_cross_entropy():
    # training prevalence 0.25; held-out labels 1, 0, 0, 0: CE0 = -(ln .25 + 3 ln .75) / 4
    ce0 = null_cross_entropy(np.array([1, 0, 0, 0, -1]), np.array([1, 0, 0, 0]))
    assert_close(ce0, -(math.log(0.25) + 3 * math.log(0.75)) / 4, rtol=1e-12, atol=0, what="null CE")
    assert_close(learned_threshold(ce0), ce0 - 0.02, rtol=1e-12, atol=0, what="threshold under ln 2")
    assert_close(learned_threshold(0.9), math.log(2) - 0.02, rtol=1e-12, atol=0, what="capped at ln 2")
    assert math.isnan(null_cross_entropy(np.array([0, 1]), np.array([-1, -1])))


def _spec(models):
    return parse_spec({"name": "s", "data": {"manifest": "m.csv"}, "cohorts": {"training": "training"},
                       "outcome": {"response": {"column": "response"}}, "deep": {"min_steps": 0},
                       "models": models})


def test_unlearned_cnn_score_is_left_out_with_a_warning_or_an_error_naming_the_model(caplog):
    data = pd.DataFrame({"age": [50.0, 60.0]}, index=pd.Index(["a", "b"], name="case_id"))
    deep = SimpleNamespace(learned=False, scores=pd.Series([0.4, 0.6], index=data.index, name="cnn_score"))
    users = _spec([{"name": "habitat_only"}, {"name": "dlr", "features": "none", "clinical": ["cnn_score", "age"]}])
    assert uses_of(users.model_dump(mode="json")) == ["models[1] 'dlr'.clinical[0]"]
    with pytest.raises(ModelError, match="dlr") as err:
        join_cnn_score(users, data, deep)
    assert "no architecture learned" in str(err.value)
    plain = _spec([{"name": "habitat_only"}])
    with caplog.at_level(logging.WARNING):
        out = join_cnn_score(plain, data, deep)
    assert "cnn_score" not in out and "left out" in caplog.text
    kept = users.model_copy(update={"deep": users.deep.model_copy(update={"keep_unlearned_score": True})})
    assert list(join_cnn_score(kept, data, deep)["cnn_score"]) == [0.4, 0.6]
    learned = SimpleNamespace(learned=True, scores=deep.scores)
    assert "cnn_score" in join_cnn_score(users, data, learned)
