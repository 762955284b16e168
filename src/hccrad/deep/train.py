"""Training loop: SGD/AdamW, learning-rate reduction on plateau, early stopping, resumable checkpoints.

Seed 003's recipe is the default: SGD (momentum 0.9), initial learning rate 0.01 divided by 10 when the
monitored validation loss has not improved for 10 epochs (torch ReduceLROnPlateau; seed 003 monitors
validation accuracy, we monitor the validation cross-entropy, the quantity it selects models by), dropout
0.2 before the output layers (`build_network`), cross-entropy loss (`multitask_loss`). Weight decay is
L2 (SGD) or decoupled (AdamW, Loshchilov & Hutter 2019). Early stopping keeps the weights of the epoch
with the lowest monitored loss.

Step budget and warm-up (issue 27: 36 optimiser steps did not even fit the training data): the run lasts
E = max(epochs, ⌈min_steps / S⌉) epochs, S = ⌈n_train_items / batch_size⌉ steps per epoch, so a tiny cohort
still gets `min_steps` updates. The first W = ⌈warmup_steps / S⌉ epochs are a warm-up: the monitored loss is
recorded but neither counts towards early-stopping patience, nor steps the plateau scheduler, nor can choose
the returned weights (a freshly initialised network predicting ≈ ½ has a low, uninformative cross-entropy).
If the run ends inside the warm-up, or with ``restore_best=False`` (fixed-epoch training without a
validation split), the last epoch's weights are returned.

Pretrained weights: `NetworkSpec.pretrained` (a user's checkpoint file, never downloaded) is loaded over the
seeded initialisation by `hccrad.deep.pretrained.load_pretrained` (weights_only=True, strict keys).

Determinism: the initial weights come from ``torch.manual_seed(seed)``; every epoch reseeds dropout, the
shuffling/balanced sampler and the augmentation from (seed, epoch), and deterministic algorithms are
switched on while training, so the same seed gives the same weights on CPU, and a run resumed from a
checkpoint continues exactly as if it had not stopped.

Data loading (`hccrad.deep.loading`): DataLoader workers (`num_workers`; default 0 on the CPU, min(4, CPUs − 1)
with CUDA, pinned memory and persistent workers) load the stored patches; each batch is augmented after the
transfer to the device (`PatchDataset.augment_batch`, torch grid_sample), with per-item draws, so the
weights do not depend on the number of workers. Mixed precision (`amp`: "auto" = bfloat16, or float16 with
a GradScaler where the card lacks bfloat16; "off") is used only on CUDA; on the CPU it is a no-op.

Checkpoints are ``torch.save`` dicts of state_dicts and plain numbers, read back with
``torch.load(..., weights_only=True)`` (no pickle code execution).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hccrad.core.errors import ModelError
from hccrad.deep.data import PatchDataset, PatchSet
from hccrad.deep.loading import amp_dtype, eval_loader, resolve_num_workers, train_loader
from hccrad.deep.networks import Network, Task, build_network, multitask_loss
from hccrad.deep.pretrained import load_pretrained
from hccrad.report.figures.deep import plot_loss_curves

log = logging.getLogger(__name__)

__all__ = ["NetworkSpec", "TrainConfig", "TrainResult", "epoch_plan", "evaluate_loss", "load_checkpoint", "predict",
           "resolve_device", "train_model"]

Progress = Callable[[str, int, int], None]


class TrainConfig(BaseModel):
    """Training settings (defaults: seed 003 — SGD, lr 0.01, ÷10 after 10 epochs without improvement)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    epochs: int = Field(50, ge=1)
    min_steps: int = Field(0, ge=0)
    warmup_steps: int = Field(0, ge=0)
    restore_best: bool = True
    batch_size: int = Field(8, ge=1)
    optimizer: Literal["sgd", "adamw"] = "sgd"
    lr: float = Field(0.01, gt=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(1e-4, ge=0)
    plateau_factor: float = Field(0.1, gt=0, lt=1)
    plateau_patience: int = Field(10, ge=0)
    early_stopping_patience: int | None = Field(20, ge=1)
    min_delta: float = Field(0.0, ge=0)
    task_weights: dict[str, float] | None = None
    balance_task: str | None = None
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"
    num_workers: int | None = Field(None, ge=0)
    deterministic: bool = True

    @field_validator("amp", mode="before")
    @classmethod
    def _amp_bool(cls, v):
        """amp=True/False (the earlier boolean) means "auto"/"off"."""
        return {True: "auto", False: "off"}.get(v, v) if isinstance(v, bool) else v


@dataclass(frozen=True)
class NetworkSpec:
    """What to build (see `build_network`); `build(seed)` gives identical initial weights for a seed."""

    arch: str
    in_channels: int
    tasks: tuple[Task, ...]
    spatial_dims: int = 3
    width: int = 16
    dropout: float = 0.2
    pretrained: Path | None = None
    key_map: tuple[tuple[str, str], ...] = ()

    def build(self, seed: int) -> Network:
        """Seeded initial weights, then the `pretrained` checkpoint's (after `key_map`) when one is given."""
        torch.manual_seed(int(seed))
        net = build_network(self.arch, self.in_channels, self.tasks, spatial_dims=self.spatial_dims,
                            width=self.width, dropout=self.dropout)
        if self.pretrained is not None:
            load_pretrained(net, self.pretrained, dict(self.key_map))
        return net


@dataclass(frozen=True, eq=False)
class TrainResult:
    """A trained network (weights of the best epoch) with its per-epoch history.

    history columns: epoch, train_loss, val_loss, lr, warmup, and val_loss_<task> per task.
    planned_epochs / warmup_epochs: E and W of the step budget (module docstring).
    """

    network: Network
    history: pd.DataFrame
    best_epoch: int
    best_loss: float
    stopped_early: bool
    device: str
    config: TrainConfig = field(repr=False)
    planned_epochs: int = 0
    warmup_epochs: int = 0
    precision: str = "fp32"

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"arch": self.network.arch, "epochs_run": len(self.history),
                              "planned_epochs": self.planned_epochs, "warmup_epochs": self.warmup_epochs,
                              "best_epoch": self.best_epoch, "best_loss": self.best_loss,
                              "stopped_early": self.stopped_early, "device": self.device,
                              "precision": self.precision,
                              "optimizer": self.config.optimizer, "seed": self.config.seed}])

    def save_loss_curves(self, path: str | Path, title: str | None = None) -> Path:
        """Write the train/validation loss curves (`plot_loss_curves`) to an image file."""
        fig = Figure(figsize=(5, 3.5))
        plot_loss_curves(fig.add_subplot(), self.history, best_epoch=self.best_epoch, title=title)
        fig.tight_layout()
        out = Path(path)
        fig.savefig(out, dpi=120)
        return out


def resolve_device(device: str = "auto") -> torch.device:
    """CUDA when available (or asked for), else CPU; asking for CUDA without one is an error."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("CUDA was requested but is not available", field="device", hint='use device="auto" or "cpu"')
    if device in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


@contextmanager
def _deterministic(on: bool):
    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    prev_bench = torch.backends.cudnn.benchmark
    if on:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)
        torch.backends.cudnn.benchmark = prev_bench


def _epoch_seed(seed: int, epoch: int) -> int:
    return (int(seed) * 1_000_003 + int(epoch) * 7919 + 17) % (2**63 - 1)


def epoch_plan(n_items: int, cfg: TrainConfig) -> tuple[int, int]:
    """(E, W): planned epochs max(epochs, ⌈min_steps/S⌉), warm-up epochs ⌈warmup_steps/S⌉; S = steps per epoch."""
    steps = max(1, math.ceil(int(n_items) / cfg.batch_size))
    return max(cfg.epochs, math.ceil(cfg.min_steps / steps)), math.ceil(cfg.warmup_steps / steps)


def _make_optimizer(net: Network, cfg: TrainConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(net.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)


def evaluate_loss(net: Network, ds: PatchDataset, cfg: TrainConfig, device: torch.device, *,
                  loader=None) -> tuple[float, dict[str, float]]:
    """Item-weighted mean of the multitask loss and of each task's CE over labelled items (eval mode)."""
    net.eval()
    ds.eval()
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    if loader is None:
        loader = eval_loader(ds, batch_size=cfg.batch_size, num_workers=0, device=device)
    dtype = amp_dtype(cfg.amp, device, warn=False)
    with torch.no_grad():
        for x, y in loader:
            with torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None):
                out = net(x.to(device, non_blocking=True))
            for t, logits in out.items():
                yt = y[t].to(device)
                k = yt >= 0
                if k.any():
                    ce = torch.nn.functional.cross_entropy(logits[k].float(), yt[k], reduction="sum")
                    sums[t] = sums.get(t, 0.0) + float(ce)
                    counts[t] = counts.get(t, 0) + int(k.sum())
    per = {t: sums[t] / counts[t] for t in sums}
    w = cfg.task_weights or {}
    total = sum(w.get(t, 1.0) * v for t, v in per.items()) if per else float("nan")
    return total, per


def _check_targets(net: Network, ds: PatchDataset, what: str) -> None:
    missing = [t.name for t in net.tasks if t.name not in ds.targets]
    if missing:
        raise ModelError(f"{what} dataset has no labels for task(s) {missing}", field="targets",
                         hint="build targets with item_targets(patches, table) including every task column")
    for t in net.tasks:
        y = ds.targets[t.name]
        if (y >= t.n_classes).any():
            raise ModelError(f"task {t.name!r} has label {int(y.max())} but {t.n_classes} classes", field=t.name,
                             hint="set Task(n_classes=...) to the number of classes")


def load_checkpoint(path: str | Path) -> dict:
    """Read a checkpoint written by `train_model` (torch.load with weights_only=True)."""
    p = Path(path)
    if not p.is_file():
        raise ModelError("checkpoint not found", file=p, hint="train with checkpoint=PATH first")
    return torch.load(p, map_location="cpu", weights_only=True)


def train_model(spec: NetworkSpec, train: PatchDataset, val: PatchDataset | None = None,
                config: TrainConfig | None = None, *, checkpoint: str | Path | None = None,
                resume: bool = False, progress: Progress | None = None) -> TrainResult:
    """Train `spec.build(config.seed)` on `train`; monitor `val` (or the training loss when None).

    The monitored loss drives ReduceLROnPlateau, early stopping and the choice of the returned weights.
    With `checkpoint`, the state is saved after every epoch; with `resume=True` training restarts from it
    (same config required, `epochs` may grow) and continues identically.
    """
    cfg = config or TrainConfig()
    device = resolve_device(cfg.device)
    dtype = amp_dtype(cfg.amp, device)
    use_scaler = dtype == torch.float16
    workers = resolve_num_workers(cfg.num_workers, device)
    n_epochs, warmup = epoch_plan(len(train), cfg)
    with _deterministic(cfg.deterministic):
        net = spec.build(cfg.seed).to(device)
        _check_targets(net, train, "training")
        if val is not None:
            _check_targets(net, val, "validation")
        opt = _make_optimizer(net, cfg)
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=cfg.plateau_factor,
                                                           patience=cfg.plateau_patience)
        scaler = torch.amp.GradScaler("cuda", enabled=use_scaler)
        loader, sampler = train_loader(train, batch_size=cfg.batch_size, seed=cfg.seed,
                                       epoch_seed=lambda e: _epoch_seed(cfg.seed, e), balance_task=cfg.balance_task,
                                       num_workers=workers, device=device)
        val_loader = None if val is None else eval_loader(val.eval(), batch_size=cfg.batch_size, num_workers=workers,
                                                          device=device, persistent=True)
        state = {"epoch": 0, "history": [], "best_loss": math.inf, "best_epoch": -1, "bad_epochs": 0,
                 "stopped_early": False}
        best_weights = copy.deepcopy(net.state_dict())
        ck_path = Path(checkpoint) if checkpoint is not None else None
        if resume:
            if ck_path is None:
                raise ModelError("resume=True needs a checkpoint path", field="checkpoint", hint="pass checkpoint=PATH")
            ck = load_checkpoint(ck_path)
            free = ("epochs", "num_workers")  # neither changes the weights of the epochs already run
            try:  # normalised (a checkpoint from before amp was "auto"/"off" stored True/False)
                saved_cfg = TrainConfig.model_validate(ck["config"]).model_dump()
            except ValidationError:
                saved_cfg = ck["config"]
            saved = {k: v for k, v in saved_cfg.items() if k not in free}
            now = {k: v for k, v in cfg.model_dump().items() if k not in free}
            if saved != now:
                raise ModelError("checkpoint was written with a different config", file=ck_path,
                                 hint="resume with the same TrainConfig (only epochs may change)")
            net.load_state_dict(ck["model"])
            opt.load_state_dict(ck["optimizer"])
            sched.load_state_dict(ck["scheduler"])
            if use_scaler and ck.get("scaler"):
                scaler.load_state_dict(ck["scaler"])
            best_weights = ck["best_model"]
            state = {k: ck[k] for k in state}
            log.info("resumed from %s at epoch %d", ck_path, state["epoch"])
        for epoch in range(int(state["epoch"]), n_epochs):
            if state["stopped_early"]:
                break
            torch.manual_seed(_epoch_seed(cfg.seed, epoch))
            train.set_epoch(epoch)
            sampler.set_epoch(epoch)
            net.train()
            run, n = 0.0, 0
            for idx, x, y in loader:
                x = train.augment_batch(x.to(device, non_blocking=True), idx)
                opt.zero_grad(set_to_none=True)
                with torch.autocast(device_type=device.type, dtype=dtype, enabled=dtype is not None):
                    out = net(x)
                    loss, _ = multitask_loss(out, y, cfg.task_weights)
                scaler.scale(loss).backward()
                scaler.step(opt)
                scaler.update()
                run += float(loss.detach()) * x.shape[0]
                n += x.shape[0]
            train_loss = run / max(n, 1)
            val_loss, per = (evaluate_loss(net, val, cfg, device, loader=val_loader) if val is not None
                             else (float("nan"), {}))
            monitor = val_loss if val is not None else train_loss
            if not math.isfinite(monitor):
                raise ModelError(f"loss is {monitor} at epoch {epoch}", field="lr",
                                 hint="lower the learning rate, or check the validation set has labels")
            in_warmup = epoch < warmup
            if not in_warmup:
                sched.step(monitor)
            row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                   "lr": float(opt.param_groups[0]["lr"]), "warmup": in_warmup}
            row.update({f"val_loss_{t}": v for t, v in per.items()})
            state["history"].append(row)
            if in_warmup:
                pass
            elif monitor < state["best_loss"] - cfg.min_delta:
                state.update(best_loss=float(monitor), best_epoch=epoch, bad_epochs=0)
                best_weights = copy.deepcopy(net.state_dict())
            else:
                state["bad_epochs"] += 1
            stop = cfg.early_stopping_patience is not None and state["bad_epochs"] >= cfg.early_stopping_patience
            state.update(epoch=epoch + 1, stopped_early=bool(stop))
            if ck_path is not None:
                torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                            "scaler": scaler.state_dict() if use_scaler else {}, "best_model": best_weights,
                            "config": cfg.model_dump(), "arch": spec.arch, **state}, ck_path)
            if progress is not None:
                progress("train", epoch + 1, n_epochs)
            log.debug("epoch %d train %.4f val %.4f lr %.3g", epoch, train_loss, val_loss, row["lr"])
        if cfg.restore_best and state["best_epoch"] >= 0:
            net.load_state_dict(best_weights)
        elif state["history"]:  # fixed epochs, or the run ended inside the warm-up: the last epoch's weights
            last = state["history"][-1]
            state.update(best_epoch=int(last["epoch"]),
                         best_loss=float(last["val_loss"] if val is not None else last["train_loss"]))
        net.eval()
    hist = pd.DataFrame(state["history"])
    return TrainResult(net, hist, int(state["best_epoch"]), float(state["best_loss"]), bool(state["stopped_early"]),
                       device.type, cfg, n_epochs, warmup, "fp32" if dtype is None else str(dtype).split(".")[-1])


def predict(network: Network, patches: PatchSet, *, batch_size: int = 16, embeddings: bool = False
            ) -> pd.DataFrame:
    """Softmax probabilities per item (eval mode, no augmentation).

    Columns: case_id, patient_id, then ``<task>_p<j>`` for each task and class; with `embeddings=True`,
    also the penultimate features ``deep_<i>``.
    """
    device = next(network.parameters()).device
    network.eval()
    probs: dict[str, list[np.ndarray]] = {}
    feats: list[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(patches), batch_size):
            x = torch.from_numpy(patches.x[start:start + batch_size]).to(device)
            f = network.embed(x)
            out = network.head(f)
            for t, z in out.items():
                probs.setdefault(t, []).append(torch.softmax(z.float(), dim=1).cpu().numpy())
            if embeddings:
                feats.append(f.float().cpu().numpy())
    df = pd.DataFrame({"case_id": patches.case_ids, "patient_id": patches.patient_ids})
    cols = {}
    for t, parts in probs.items():
        p = np.concatenate(parts)
        cols.update({f"{t}_p{j}": p[:, j] for j in range(p.shape[1])})
    if embeddings:
        f = np.concatenate(feats)
        cols.update({f"deep_{i}": f[:, i] for i in range(f.shape[1])})
    return pd.concat([df, pd.DataFrame(cols)], axis=1)
