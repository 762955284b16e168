"""Issue 27 item 4: batch augmentation on tensors, DataLoader workers, mixed precision (all checked on the CPU)."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from hccrad.deep.augment import Augmentation, affine_scipy, apply_draws
from hccrad.deep.data import PatchDataset, PatchSet, with_augmented_copies
from hccrad.deep.loading import EpochSampler, amp_dtype, resolve_num_workers, train_loader
from hccrad.deep.networks import Task
from hccrad.deep.spec import DeepSpec
from hccrad.deep.train import NetworkSpec, TrainConfig, train_model
from hccrad.testing import assert_close

SPEC = NetworkSpec("resnet", 2, (Task("response"),), spatial_dims=2, width=4)


def _toy(n=12, size=12, spatial=2):
    rng = np.random.default_rng(0)
    x = rng.normal(0, 1, (n, 2) + (size,) * spatial).astype(np.float32)
    y = np.arange(n) % 2
    x[y == 1, 0, ..., 3:7, 3:7] += 2.0
    ids = tuple(f"t{i}" for i in range(n))
    return PatchSet(x, ids, ids, ("a", "b"), f"{spatial}d", np.zeros((n, 2, 3), int)), y


def _weights(net):
    return [v.detach().clone() for v in net.state_dict().values()]


def _same(a, b):
    return len(a) == len(b) and all(torch.equal(u, v) for u, v in zip(a, b))


def _cube_item(shape=(9, 20, 20), lo=(3, 4, 11), side=(3, 5, 4)):
    """Channel 0: an image with a bright planted box on noise; channel 1: the box's mask."""
    rng = np.random.default_rng(1)
    img = rng.normal(0, 0.05, shape).astype(np.float32)
    mask = np.zeros(shape, np.float32)
    box = tuple(slice(a, a + s) for a, s in zip(lo, side))
    img[box] += 1.0
    mask[box] = 1.0
    return np.stack([img, mask])


def _centroid(v):
    w = np.clip(v, 0, None)
    return np.array([(np.indices(v.shape)[k] * w).sum() / w.sum() for k in range(v.ndim)])


def test_cube_and_its_mask_move_together_to_where_the_formula_puts_them():
    x = _cube_item()
    aug = Augmentation(shift=0.1, rotation_deg=20, flip=True, zoom=(0.9, 1.1))
    draws = aug.draws(seed=4, epoch=0, items=range(6), n_channels=2, shape=x.shape[1:])
    assert any(d.flips for d in draws) and all(d.moves for d in draws)
    out = apply_draws(torch.from_numpy(np.stack([x] * 6)), draws).numpy()
    shape = np.array(x.shape[1:], dtype=float)
    c = (shape - 1) / 2
    for d, o in zip(draws, out):
        img, mask = o
        inside = mask > 0.5
        assert inside.sum() > 20
        assert img[inside].mean() > 0.7 and img[mask < 0.05].mean() < 0.1    # image cube stays on its mask
        # the box's centre i moves to o = M⁻¹(i − c + t) + c, then the drawn axes flip: o ← n − 1 − o
        want = np.linalg.solve(d.matrix, _centroid(x[1]) - c + d.shift) + c
        for ax in d.flips:
            want[ax] = shape[ax] - 1 - want[ax]
        assert_close(_centroid(mask), want, rtol=0, atol=0.35, what="moved box centre (voxels)")
        assert_close(_centroid(np.where(img > 0.5, img, 0)), _centroid(mask), rtol=0, atol=0.35,
                     what="image cube vs mask centre")
        assert_close(o, affine_scipy(x, d), rtol=0, atol=1e-4, what="grid_sample vs the scipy path")


def test_disabled_augmentation_is_the_identity_and_draws_are_seeded():
    ps, y = _toy(n=4, spatial=3, size=8)
    x = torch.from_numpy(ps.x)
    assert DeepSpec(augment=False).augmentation() is None
    assert torch.equal(PatchDataset(ps, {"response": y}).augment_batch(x, range(4)), x)
    off = Augmentation(shift=0, rotation_deg=0, flip=False, zoom=(1, 1))
    assert torch.equal(off.apply_batch(x, off.draws(0, 0, range(4), 2, x.shape[2:])), x)
    aug = Augmentation(intensity_scale=0.02, intensity_shift=0.01)
    ds = PatchDataset(ps, {"response": y}, augmentation=aug, seed=7).train()
    a = ds.augment_batch(x, [0, 1, 2, 3])
    assert torch.equal(ds.augment_batch(x, [0, 1, 2, 3]), a)               # same seed, epoch, items
    assert torch.equal(ds.augment_batch(x[2:], [2, 3]), a[2:])              # a sample ignores its batch
    assert torch.equal(ds[1][0], a[1])                                      # ds[i] = the batched path
    ds.set_epoch(1)
    assert not torch.equal(ds.augment_batch(x, [0, 1, 2, 3]), a)
    ds2 = PatchDataset(ps, {"response": y}, augmentation=aug, seed=8)
    assert not torch.equal(ds2.augment_batch(x, [0, 1, 2, 3]), a)
    copies, _ = with_augmented_copies(ps, {"response": y}, 1, seed=3, augmentation=aug)
    ref = np.stack([aug.apply(ps.x[i], np.random.default_rng([3, 1, i])) for i in range(4)])
    assert_close(copies.x[4:], ref, rtol=0, atol=1e-6, what="offline copies (batched) vs per item")


@pytest.mark.parametrize("balance", [None, "response"])
def test_weights_are_identical_with_zero_or_two_workers(balance):
    ps, y = _toy()
    tr = PatchDataset(ps.subset(range(8)), {"response": y[:8]}, augmentation=Augmentation(), seed=2)
    va = PatchDataset(ps.subset(range(8, 12)), {"response": y[8:]})
    cfg = TrainConfig(epochs=2, batch_size=4, lr=0.05, device="cpu", balance_task=balance, num_workers=0)
    r0 = train_model(SPEC, tr, va, cfg)
    r2 = train_model(SPEC, tr, va, cfg.model_copy(update={"num_workers": 2}))
    assert _same(_weights(r0.network), _weights(r2.network))
    assert r0.history["val_loss"].tolist() == r2.history["val_loss"].tolist()


def test_amp_auto_is_a_no_op_on_the_cpu(caplog):
    ps, y = _toy(n=8)
    ds = PatchDataset(ps, {"response": y}, augmentation=Augmentation(), seed=1)
    cfg = TrainConfig(epochs=1, batch_size=4, lr=0.05, device="cpu")
    auto = train_model(SPEC, ds, None, cfg)
    off = train_model(SPEC, ds, None, cfg.model_copy(update={"amp": "off"}))
    assert cfg.amp == "auto" and auto.summary()["precision"].iloc[0] == "fp32"
    assert _same(_weights(auto.network), _weights(off.network))
    assert TrainConfig(amp=False).amp == "off" and TrainConfig(amp=True).amp == "auto"  # the earlier bool
    with caplog.at_level(logging.WARNING):
        assert amp_dtype("bf16", torch.device("cpu")) is None
    assert "needs CUDA" in caplog.text


def test_cuda_settings_without_a_card(monkeypatch):
    """The CUDA branch of the loader and precision choices, exercised without a GPU (nothing is moved)."""
    cuda, cpu = torch.device("cuda"), torch.device("cpu")
    assert resolve_num_workers(None, cpu) == 0 and resolve_num_workers(3, cpu) == 3
    monkeypatch.setattr("hccrad.deep.loading._cpu_count", lambda: 16)
    assert resolve_num_workers(None, cuda) == 4
    monkeypatch.setattr("hccrad.deep.loading._cpu_count", lambda: 2)
    assert resolve_num_workers(None, cuda) == 1
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert amp_dtype("auto", cuda) == torch.bfloat16 and amp_dtype("fp16", cuda) == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert amp_dtype("auto", cuda) == torch.float16 and amp_dtype("off", cuda) is None
    ps, y = _toy(n=4)
    ds = PatchDataset(ps, {"response": y})
    loader, sampler = train_loader(ds, batch_size=2, seed=0, epoch_seed=lambda e: e, balance_task=None,
                                   num_workers=2, device=cuda)
    assert loader.pin_memory and loader.persistent_workers and loader.num_workers == 2
    cpu_loader, _ = train_loader(ds, batch_size=2, seed=0, epoch_seed=lambda e: e, balance_task=None,
                                 num_workers=0, device=cpu)
    assert not cpu_loader.pin_memory and not cpu_loader.persistent_workers
    # device placement: a batch is augmented on the device it was moved to, whatever that device is
    idx, xb, _ = next(iter(cpu_loader))
    aug = PatchDataset(ps, {"response": y}, augmentation=Augmentation(), seed=0)
    assert aug.augment_batch(xb.to(cpu), idx).device == cpu


def test_epoch_sampler_orders_by_epoch_and_matches_the_earlier_shuffle():
    s = EpochSampler(10, lambda e: 100 + e)
    first = list(s)
    s.set_epoch(1)
    assert sorted(list(s)) == list(range(10)) and list(s) != first
    g = torch.Generator().manual_seed(100)   # what DataLoader(shuffle=True, generator=g) gave before
    old = [int(i) for batch in torch.utils.data.DataLoader(range(10), batch_size=3, shuffle=True, generator=g)
           for i in batch]
    assert first == old


def test_resume_accepts_other_workers_and_a_checkpoint_with_the_earlier_boolean_amp(tmp_path):
    ps, y = _toy(n=8)
    ds = PatchDataset(ps, {"response": y}, augmentation=Augmentation(), seed=1)
    cfg = TrainConfig(epochs=2, batch_size=4, lr=0.05, device="cpu", early_stopping_patience=None)
    ck = tmp_path / "ck.pt"
    train_model(SPEC, ds, None, cfg.model_copy(update={"epochs": 1}), checkpoint=ck)
    state = torch.load(ck, weights_only=True)
    state["config"] = {k: v for k, v in state["config"].items() if k != "num_workers"} | {"amp": True}
    torch.save(state, ck)
    resumed = train_model(SPEC, ds, None, cfg.model_copy(update={"num_workers": 2}), checkpoint=ck, resume=True)
    assert _same(_weights(resumed.network), _weights(train_model(SPEC, ds, None, cfg).network))
