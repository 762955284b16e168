"""Training: seeded determinism, checkpoint resume, a learnable toy task, patient-grouped CV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pydantic
import pytest
import torch
from sklearn.metrics import roc_auc_score

from hccrad.core.errors import DataError, ModelError
from hccrad.deep.cv import cross_validate, patient_folds, select_architecture, train_test
from hccrad.deep.data import Augmentation, PatchDataset, PatchSet, build_patches
from hccrad.deep.networks import Task
from hccrad.deep.train import NetworkSpec, TrainConfig, load_checkpoint, resolve_device, train_model

from .conftest import WINDOWS, make_cohort

SPEC2D = NetworkSpec("resnet", 2, (Task("response"),), spatial_dims=2, width=4)


def _toy(n=16, seed=0, size=12):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, 2, size, size)).astype(np.float32)
    y = np.arange(n) % 2
    x[y == 1, 0, 3:7, 3:7] += 2.0
    ids = tuple(f"t{i}" for i in range(n))
    return PatchSet(x, ids, ids, ("a", "b"), "2d", np.zeros((n, 2, 3), int)), y


def _same(a, b):
    return all(torch.equal(u, v) for u, v in zip(a.state_dict().values(), b.state_dict().values()))


def test_same_seed_gives_same_weights_different_seed_differs():
    ps, y = _toy()
    cfg = TrainConfig(epochs=2, batch_size=4, lr=0.05, balance_task="response")
    ds = PatchDataset(ps, {"response": y}, augmentation=Augmentation(), seed=1)
    r1 = train_model(SPEC2D, ds, None, cfg)
    r2 = train_model(SPEC2D, ds, None, cfg)
    r3 = train_model(SPEC2D, ds, None, cfg.model_copy(update={"seed": 1}))
    assert _same(r1.network, r2.network)
    assert not _same(r1.network, r3.network)
    pd.testing.assert_frame_equal(r1.history, r2.history)


def test_checkpoint_resume_continues_identically(tmp_path):
    ps, y = _toy()
    tr = PatchDataset(ps.subset(range(12)), {"response": y[:12]}, augmentation=Augmentation(), seed=2)
    va = PatchDataset(ps.subset(range(12, 16)), {"response": y[12:]})
    cfg = TrainConfig(epochs=4, batch_size=4, lr=0.05, optimizer="adamw", plateau_patience=0,
                      early_stopping_patience=None)
    ck = tmp_path / "ck.pt"
    train_model(SPEC2D, tr, va, cfg.model_copy(update={"epochs": 2}), checkpoint=ck)
    state = load_checkpoint(ck)  # torch.load(weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    resumed = train_model(SPEC2D, tr, va, cfg, checkpoint=ck, resume=True)
    straight = train_model(SPEC2D, tr, va, cfg)
    assert _same(resumed.network, straight.network)
    pd.testing.assert_frame_equal(resumed.history, straight.history)
    assert "num_bad_epochs" in state["scheduler"] and "state" in state["optimizer"]
    with pytest.raises(ModelError, match="different config"):
        train_model(SPEC2D, tr, va, cfg.model_copy(update={"lr": 0.1}), checkpoint=ck, resume=True)


def test_learns_planted_enhancing_blob_on_held_out_cases(tmp_path):
    """Blob present or not inside the tumour (arterial phase): held-out AUC > 0.9, loss decreases."""
    train_cases, y_tr, _ = make_cohort(24, 11, "tr")
    test_cases, y_te, _ = make_cohort(16, 12, "te")
    kw = dict(mode="2d", size=(16, 16), k=2, windows=WINDOWS)
    p_tr = build_patches(train_cases, ["pre", "arterial"], **kw)
    p_te = build_patches(test_cases, ["pre", "arterial"], **kw)
    y_items = np.repeat(y_tr, 2)
    cfg = TrainConfig(epochs=8, batch_size=8, lr=0.01, early_stopping_patience=None)
    calls = []
    res = train_test(SPEC2D, p_tr, {"response": y_items}, p_te, cfg, val_fraction=0.25,
                     augmentation=Augmentation(rotation_deg=10, zoom=(0.95, 1.05)),
                     progress=lambda step, done, total: calls.append((step, done, total)))
    assert calls[-1] == ("train", 8, 8)
    h = res.train.history
    assert h["train_loss"].iloc[-1] < 0.7 * h["train_loss"].iloc[0]
    pred = res.test_predictions.set_index("case_id").loc[[c.case_id for c in test_cases]]
    assert roc_auc_score(y_te, pred["response_p1"]) > 0.9
    assert res.test_features.shape == (16, res.train.network.backbone.n_features)
    out = res.train.save_loss_curves(tmp_path / "loss.png")
    assert out.stat().st_size > 1000


def test_patient_folds_never_split_a_patient():
    n = 30
    ids = tuple(f"c{i}" for i in range(n))
    pids = tuple(f"p{i // 3}" for i in range(n))  # 3 lesions/slices per patient
    ps = PatchSet(np.zeros((n, 1, 4, 4), np.float32), ids, pids, ("a",), "2d", np.zeros((n, 2, 3), int))
    fold = patient_folds(ps, np.array([i // 3 % 2 for i in range(n)]), 5, seed=0)
    per_patient = pd.Series(fold).groupby(pd.Series(pids)).nunique()
    assert (per_patient == 1).all() and set(fold) == set(range(5))
    with pytest.raises(DataError, match="folds"):
        patient_folds(ps, None, 11, seed=0)


def test_cross_validation_and_architecture_choice_by_validation_ce():
    ps, y = _toy(n=12)
    cfg = TrainConfig(epochs=2, batch_size=4, lr=0.05)
    specs = {"resnet": SPEC2D, "alexnet": NetworkSpec("alexnet", 2, (Task("response"),), spatial_dims=2, width=4)}
    steps = []
    sel = select_architecture(specs, ps, {"response": y}, cfg, n_splits=3, val_fraction=None,
                              progress=lambda s, d, t: steps.append((s, d, t)))
    assert steps[-1] == ("architecture", 2, 2) and ("fold", 3, 3) in steps and ("train", 2, 2) in steps
    t = sel.summary()
    assert list(t["mean_val_ce"]) == sorted(t["mean_val_ce"])
    # chosen: the lowest CE among those that learned (CE < min(ln 2, prevalence CE) - 0.02), else the lowest
    assert sel.learned == bool(t["learned"].any()) and (t["mean_val_ce"] < t["learned_below"]).eq(t["learned"]).all()
    assert sel.chosen == t.loc[t["learned"], "model"].iloc[0] if sel.learned else sel.chosen == t["model"].iloc[0]
    cv = sel.results["resnet"]
    assert sorted(cv.predictions["case_id"]) == sorted(ps.case_ids)      # every case predicted once
    assert not any(c.startswith("deep_") for c in cv.predictions.columns)
    assert len(cv.folds) == 3 and cv.folds["n_test"].sum() == 12
    # identical folds for both candidates (same seed) -> a fair comparison
    f = {k: r.predictions.set_index("case_id")["fold"].sort_index() for k, r in sel.results.items()}
    pd.testing.assert_series_equal(f["resnet"], f["alexnet"])
    cv2 = cross_validate(SPEC2D, ps, {"response": y}, cfg, n_splits=3, val_fraction=0.5)
    assert (cv2.folds["n_val"] > 0).all()


def test_config_and_device_errors():
    with pytest.raises(pydantic.ValidationError):
        TrainConfig(epoch=3)
    if not torch.cuda.is_available():
        with pytest.raises(ModelError, match="CUDA"):
            resolve_device("cuda")
        assert resolve_device("auto").type == "cpu"
    ps, y = _toy(n=4)
    with pytest.raises(ModelError, match="no labels"):
        train_model(SPEC2D, PatchDataset(ps, {"other": y}), None, TrainConfig(epochs=1))
    with pytest.raises(ModelError, match="classes"):
        train_model(SPEC2D, PatchDataset(ps, {"response": y + 1}), None, TrainConfig(epochs=1))


def test_multitask_training_with_missing_labels():
    """Response for all, MTM for half the patients, survival-interval classes with early censoring unknown."""
    from hccrad.deep.data import survival_interval_classes
    from hccrad.deep.train import predict

    ps, y = _toy(n=16)
    os_cls = survival_interval_classes(np.linspace(3, 48, 16), np.tile([1, 0], 8))
    assert np.isnan(os_cls).any()
    targets = {"response": y, "mtm": np.where(np.arange(16) < 8, y, -1),
               "os": np.where(np.isnan(os_cls), -1, os_cls).astype(int)}
    spec = NetworkSpec("mobilenet", 2, (Task("response"), Task("mtm"), Task("os", 4)), spatial_dims=2, width=4)
    cfg = TrainConfig(epochs=2, batch_size=4, lr=0.01, balance_task="response", task_weights={"os": 0.5})
    res = train_model(spec, PatchDataset(ps, targets), PatchDataset(ps, targets), cfg)
    assert {"val_loss_response", "val_loss_mtm", "val_loss_os"} <= set(res.history.columns)
    h = res.history.iloc[-1]
    assert np.isclose(h["val_loss"], h["val_loss_response"] + h["val_loss_mtm"] + 0.5 * h["val_loss_os"])
    p = predict(res.network, ps)
    assert [c for c in p.columns if c.startswith("os_p")] == ["os_p0", "os_p1", "os_p2", "os_p3"]
    assert np.allclose(p[["os_p0", "os_p1", "os_p2", "os_p3"]].sum(axis=1), 1.0, atol=1e-5)
