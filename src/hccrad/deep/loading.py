"""Data loading for training on a CPU or a GPU: DataLoader workers, per-epoch seeded sampling, mixed precision.

Workers only index the in-memory patches and collate them; everything random happens in the main process
from (seed, epoch): the order of the items (`EpochSampler`: a permutation, or the class-balanced draw of
`balanced_sampler`, from a generator seeded by the epoch seed) and the augmentation (drawn per item after the
batch reaches the device, `PatchDataset.augment_batch`). The loader's own generator (seeded from the training
seed) only seeds the workers (`seed_worker` seeds numpy and `random` from it), so the same seed gives
bit-identical batches, and so identical weights, with 0 or N workers.

Workers: `num_workers=None` means 0 on the CPU (the patches are already in memory and the augmentation runs
in the main process, so worker processes only add start-up time there) and min(4, CPUs − 1) with CUDA, where
loading overlaps the GPU's work; with CUDA the batches are pinned (`pin_memory`) and the workers kept across
epochs (`persistent_workers`).

Mixed precision (`amp`): "auto" = bfloat16 autocast on a CUDA card that supports it, else float16 with a
GradScaler (loss scaling, Micikevicius et al. 2018); "bf16"/"fp16" ask for one; "off" = float32. On the CPU
every mode is float32 (a no-op; asking for bf16/fp16 there is logged).
"""

from __future__ import annotations

import logging
import os
import random
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from hccrad.core.errors import ModelError
from hccrad.deep.data import PatchDataset, balanced_sampler

log = logging.getLogger(__name__)

__all__ = ["EpochSampler", "amp_dtype", "eval_loader", "loading_note", "resolve_num_workers", "seed_worker",
           "train_loader"]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def resolve_num_workers(num_workers: int | None, device: torch.device) -> int:
    """`num_workers`, or the default: 0 on the CPU, min(4, CPUs − 1) with CUDA (module docstring)."""
    if num_workers is not None:
        return int(num_workers)
    return min(4, max(0, _cpu_count() - 1)) if device.type == "cuda" else 0


def amp_dtype(amp: str, device: torch.device, *, warn: bool = True) -> torch.dtype | None:
    """The autocast dtype of `amp` on `device`, or None for float32 (always on the CPU; `warn`: log when
    bf16/fp16 was asked for there)."""
    if device.type != "cuda" or amp == "off":
        if warn and amp in ("bf16", "fp16"):
            log.warning("amp %r needs CUDA; training on %s in float32", amp, device.type)
        return None
    if amp == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if amp == "bf16" else torch.float16


def loading_note(amp: str, num_workers: int | None, device: torch.device) -> str:
    """E.g. "cpu, float32, 0 loader workers" (what training will use; for logs and reports)."""
    dtype = amp_dtype(amp, device, warn=False)
    prec = "float32" if dtype is None else str(dtype).split(".")[-1]
    return f"{device.type}, {prec}, {resolve_num_workers(num_workers, device)} loader workers"


def seed_worker(worker_id: int) -> None:
    """DataLoader worker_init_fn: numpy and `random` seeded from the worker's torch seed (base seed + id)."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


class EpochSampler(Sampler[int]):
    """Item order of one epoch from `epoch_seed(epoch)`: a permutation, or with `labels` the class-balanced
    draw (`balanced_sampler`). `set_epoch` before iterating; it runs in the main process, so persistent
    workers see each epoch's order."""

    def __init__(self, n: int, epoch_seed, labels: np.ndarray | None = None) -> None:
        self.n = int(n)
        self.epoch_seed = epoch_seed
        self.labels = labels
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        s = self.epoch_seed(self.epoch)
        if self.labels is not None:
            yield from balanced_sampler(self.labels, s)
            return
        g = torch.Generator().manual_seed(s)
        torch.empty((), dtype=torch.int64).random_(generator=g)  # the draw DataLoader(shuffle, generator=g) made
        yield from torch.randperm(self.n, generator=g).tolist()


def _loader_kwargs(num_workers: int, device: torch.device, seed: int, persistent: bool) -> dict:
    cuda = device.type == "cuda"
    return dict(num_workers=num_workers, pin_memory=cuda, persistent_workers=bool(cuda and persistent and num_workers),
                worker_init_fn=seed_worker if num_workers else None,
                generator=torch.Generator().manual_seed(int(seed)))


def train_loader(ds: PatchDataset, *, batch_size: int, seed: int, epoch_seed, balance_task: str | None,
                 num_workers: int, device: torch.device) -> tuple[DataLoader, EpochSampler]:
    """Loader of (index, stored x, labels) batches over `ds` and its sampler (call `set_epoch` each epoch)."""
    labels = None
    if balance_task is not None:
        if balance_task not in ds.targets:
            raise ModelError(f"balance_task {balance_task!r} is not a target", field="balance_task",
                             hint=f"use one of {sorted(ds.targets)}")
        labels = ds.targets[balance_task]
    sampler = EpochSampler(len(ds), epoch_seed, labels)
    loader = DataLoader(ds.indexed(), batch_size=batch_size, sampler=sampler,
                        **_loader_kwargs(num_workers, device, seed, persistent=True))
    return loader, sampler


def eval_loader(ds: PatchDataset, *, batch_size: int, num_workers: int, device: torch.device,
                persistent: bool = False) -> DataLoader:
    """Loader of (x, labels) batches in item order (no augmentation: `ds` in eval mode)."""
    return DataLoader(ds, batch_size=batch_size, shuffle=False, **_loader_kwargs(num_workers, device, 0, persistent))
