"""Liver segmentation for cases without a liver mask (seeds 000 and 002 used nnU-Net / ResU-Net): a small
3-D U-Net (MONAI) trained by hccrad on the study's cases that do have liver masks, checked by Dice on
held-out labelled cases, then applied to the cases that have none.

Volumes are windowed to [-100, 300] HU, scaled to [0, 1] and resampled (trilinear) to a fixed working
grid; predictions are resampled back to each case's grid. Training is seeded and deterministic on CPU.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from monai.losses import DiceCELoss
from monai.networks.nets import UNet
from scipy import ndimage

from hccrad.core.errors import DataError
from hccrad.deep.train import resolve_device

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice = 2|A ∩ B| / (|A| + |B|) of two boolean masks (1.0 when both are empty)."""
    a, b = np.asarray(a, bool), np.asarray(b, bool)
    if a.shape != b.shape:
        raise DataError(f"Dice of masks with shapes {a.shape} and {b.shape}", field="mask")
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else float(2.0 * np.logical_and(a, b).sum() / total)


def _prepare(volume: np.ndarray, grid: tuple[int, int, int], window: tuple[float, float]) -> torch.Tensor:
    v = np.clip((np.asarray(volume, np.float32) - window[0]) / (window[1] - window[0]), 0.0, 1.0)
    t = torch.from_numpy(v)[None, None]
    return F.interpolate(t, size=grid, mode="trilinear", align_corners=False)


@dataclass
class LiverSegmenter:
    """A trained liver U-Net with the working grid and intensity window it was trained with."""

    network: torch.nn.Module
    grid: tuple[int, int, int]
    window: tuple[float, float]
    device: torch.device
    history: list[float]

    def predict(self, volume: np.ndarray) -> np.ndarray:
        """Boolean liver mask on the volume's own grid (largest connected component kept)."""
        self.network.eval()
        with torch.no_grad():
            logits = self.network(_prepare(volume, self.grid, self.window).to(self.device))
            up = F.interpolate(logits.float().cpu(), size=tuple(np.asarray(volume).shape), mode="trilinear",
                               align_corners=False)
        mask = (up.argmax(1)[0].numpy() == 1)
        labels, n = ndimage.label(mask)
        if n > 1:
            sizes = ndimage.sum(mask, labels, range(1, n + 1))
            mask = labels == (1 + int(np.argmax(sizes)))
        return mask


def train_liver_unet(volumes: Sequence[np.ndarray], masks: Sequence[np.ndarray], *,
                     grid: tuple[int, int, int] = (32, 64, 64), window: tuple[float, float] = (-100.0, 300.0),
                     channels: tuple[int, ...] = (8, 16, 32), epochs: int = 40, lr: float = 3e-3,
                     batch_size: int = 2, seed: int = 0, device: str = "auto",
                     progress: Progress | None = None) -> LiverSegmenter:
    """Train a 3-D U-Net (MONAI `UNet`, Dice + cross-entropy loss, Adam) on (volume, liver mask) pairs."""
    if len(volumes) != len(masks) or len(volumes) < 2:
        raise DataError(f"need >= 2 labelled volumes with one mask each, got {len(volumes)} and {len(masks)}",
                        field="masks", hint="label the liver in at least two cases")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    dev = resolve_device(device)
    x = torch.cat([_prepare(v, grid, window) for v in volumes])
    y = torch.cat([F.interpolate(torch.from_numpy(np.asarray(m, np.float32))[None, None], size=grid,
                                 mode="nearest") for m in masks]).round().long()
    net = UNet(spatial_dims=3, in_channels=1, out_channels=2, channels=channels,
               strides=(2,) * (len(channels) - 1), num_res_units=1).to(dev)
    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    history = []
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(x))
        total = 0.0
        for start in range(0, len(order), batch_size):
            idx = torch.as_tensor(order[start:start + batch_size])
            xb, yb = x[idx].to(dev), y[idx].to(dev)
            if rng.random() < 0.5:  # left-right flip augmentation (training only)
                xb, yb = xb.flip(-1), yb.flip(-1)
            opt.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        history.append(total / len(x))
        if progress:
            progress("liver U-Net", epoch + 1, epochs)
    log.info("liver U-Net: final training loss %.4f after %d epochs", history[-1], epochs)
    return LiverSegmenter(net, grid, window, dev, history)


def fill_missing_liver_masks(volumes: dict[str, np.ndarray], masks: dict[str, np.ndarray | None], *,
                             holdout: int = 2, seed: int = 0, **train_kwargs) -> tuple[dict[str, np.ndarray], dict]:
    """Train on the labelled cases except `holdout` of them, report Dice there, retrain on all labelled
    cases and predict the cases whose mask is None. Returns ({case: predicted mask}, record)."""
    labelled = sorted(c for c, m in masks.items() if m is not None)
    missing = sorted(c for c, m in masks.items() if m is None)
    if len(labelled) < holdout + 2:
        raise DataError(f"{len(labelled)} labelled case(s); need at least {holdout + 2} to train and check",
                        field="mask_liver", hint="label more livers or lower holdout")
    rng = np.random.default_rng(seed)
    held = sorted(rng.choice(labelled, size=holdout, replace=False).tolist()) if holdout else []
    fit = [c for c in labelled if c not in held]
    record: dict = {"trained_on": len(fit), "held_out": held, "dice": {}}
    if held:
        model = train_liver_unet([volumes[c] for c in fit], [masks[c] for c in fit], seed=seed, **train_kwargs)
        record["dice"] = {c: dice(model.predict(volumes[c]), masks[c]) for c in held}
        record["mean_dice"] = float(np.mean(list(record["dice"].values())))
    final = train_liver_unet([volumes[c] for c in labelled], [masks[c] for c in labelled], seed=seed,
                             **train_kwargs)
    return {c: final.predict(volumes[c]) for c in missing}, record
