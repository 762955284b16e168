"""Random geometric and intensity augmentation of network inputs, applied to batches of tensors on their device.

Every item i of epoch e gets its own draw from ``numpy.random.default_rng([seed, e, i])`` (`Augmentation.draw`):
an in-plane rotation θ ~ U(±rotation_deg), a zoom s ~ U(zoom), a shift t ~ U(±shift) · size per axis, a flip
of each in-plane axis with p = ½ (when `flip`), and per-channel intensity terms a ~ U(1 ± intensity_scale),
b ~ U(± intensity_shift). With R the in-plane rotation (acting on the last two axes), M = R / s and the
centre c = (n − 1) / 2, output voxel o samples the input at

    i = M (o − c) + c − t                               (linear interpolation, edge values outside),

then the drawn axes are flipped and the intensities become a·x + b per channel. This is the map of the
earlier per-item ``scipy.ndimage.affine_transform(order=1, mode="nearest")`` augmentation (kept as
`affine_scipy`, the reference the tests and the benchmark compare against), computed instead by
``torch.nn.functional.affine_grid`` + ``grid_sample`` (align_corners=True, padding "border") for a whole
batch at once, on the GPU when the batch is there. In grid_sample's normalised coordinates u = (i − c) / h,
h = (n − 1) / 2, the map is u_in = H⁻¹ M H F u_out − H⁻¹ t, with F = diag(±1) the flips (a flip after the
resampling is the same as negating the output coordinate), and the axes reversed into grid_sample's (x, y, z)
order. Parameters are drawn on the CPU per item, so a sample does not depend on the batch it is in, the
device, or the number of DataLoader workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage

__all__ = ["Augmentation", "Draw", "affine_scipy"]


@dataclass(frozen=True)
class Draw:
    """One item's random transform: matrix M (nd × nd), shift t (nd voxels), flipped axes (spatial axis
    numbers, 0-based), per-channel scale a and offset b."""

    matrix: np.ndarray
    shift: np.ndarray
    flips: tuple[int, ...]
    scale: np.ndarray
    offset: np.ndarray

    @property
    def moves(self) -> bool:
        """False when the geometric part is the identity (no resampling needed)."""
        return bool(self.flips) or not np.array_equal(self.matrix, np.eye(len(self.shift))) or bool(self.shift.any())

    @property
    def rescales(self) -> bool:
        return bool((self.scale != 1).any() or (self.offset != 0).any())


def _theta(d: Draw, shape: Sequence[int]) -> np.ndarray:
    """grid_sample's (nd, nd + 1) affine for draw `d` on a grid of `shape` (module docstring)."""
    nd = len(shape)
    half = np.array([(n - 1) / 2.0 if n > 1 else 1.0 for n in shape])
    flip = np.ones(nd)
    flip[list(d.flips)] = -1.0
    lin = (d.matrix * half[None, :] / half[:, None]) * flip[None, :]
    trans = -d.shift / half
    rev = slice(None, None, -1)
    return np.concatenate([lin[rev, rev], trans[rev, None]], axis=1)


@dataclass(frozen=True)
class Augmentation:
    """Random geometric and intensity augmentation of (C, *spatial) items (module docstring for the formula).

    shift: uniform ±fraction of the size per axis; rotation_deg: uniform ± in-plane (y, x) angle; flip:
    each in-plane axis flipped with p = 0.5; zoom: uniform scale range (same for all axes); intensity: x·a + b
    with a ~ U(1 ± intensity_scale), b ~ U(± intensity_shift) per channel, in the network input's units
    (window units for windowed CT; both 0 by default, see `hccrad.deep.data.intensity_augmentation`).
    """

    shift: float = 0.1
    rotation_deg: float = 15.0
    flip: bool = True
    zoom: tuple[float, float] = (0.9, 1.1)
    intensity_scale: float = 0.0
    intensity_shift: float = 0.0

    def draw(self, rng: np.random.Generator, n_channels: int, shape: Sequence[int]) -> Draw:
        """One item's transform; the draw order (θ, s, t, flips, a, b) is that of the earlier scipy path."""
        nd = len(shape)
        theta = np.deg2rad(rng.uniform(-self.rotation_deg, self.rotation_deg))
        scale = rng.uniform(*self.zoom)
        shift = rng.uniform(-self.shift, self.shift, size=nd) * np.asarray(shape, dtype=float)
        rot = np.eye(nd)
        c, s = np.cos(theta), np.sin(theta)
        rot[-2:, -2:] = [[c, -s], [s, c]]
        flips = tuple(ax for ax in (nd - 2, nd - 1) if self.flip and rng.random() < 0.5)
        a = rng.uniform(1 - self.intensity_scale, 1 + self.intensity_scale, size=n_channels)
        b = rng.uniform(-self.intensity_shift, self.intensity_shift, size=n_channels)
        return Draw(rot / scale, shift, flips, a, b)

    def draws(self, seed: int, epoch: int, items: Sequence[int], n_channels: int, shape: Sequence[int]
              ) -> list[Draw]:
        """The draws of `items` in `epoch`: item i from default_rng([seed, epoch, i])."""
        return [self.draw(np.random.default_rng([int(seed), int(epoch), int(i)]), n_channels, shape)
                for i in items]

    def apply_batch(self, x: torch.Tensor, draws: Sequence[Draw]) -> torch.Tensor:
        """Transform a (B, C, *spatial) float tensor on its own device, item b by ``draws[b]``."""
        return apply_draws(x, draws)

    def apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Transform one (C, *spatial) numpy item with a draw from `rng` (CPU)."""
        d = self.draw(rng, x.shape[0], x.shape[1:])
        out = apply_draws(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None], [d])[0]
        return np.ascontiguousarray(out.numpy(), dtype=np.float32)


def apply_draws(x: torch.Tensor, draws: Sequence[Draw]) -> torch.Tensor:
    """grid_sample resampling (skipped when no item moves) then the per-channel a·x + b (skipped when none)."""
    if x.shape[0] != len(draws):
        raise ValueError(f"{x.shape[0]} items but {len(draws)} draws")
    shape = tuple(x.shape[2:])
    out = x.float()
    if any(d.moves for d in draws):
        theta = torch.as_tensor(np.stack([_theta(d, shape) for d in draws]), dtype=torch.float32, device=x.device)
        grid = F.affine_grid(theta, list(out.shape), align_corners=True)
        out = F.grid_sample(out, grid, mode="bilinear", padding_mode="border", align_corners=True)
    if any(d.rescales for d in draws):
        view = (len(draws), x.shape[1]) + (1,) * len(shape)
        a = torch.as_tensor(np.stack([d.scale for d in draws]), dtype=torch.float32, device=x.device).view(view)
        b = torch.as_tensor(np.stack([d.offset for d in draws]), dtype=torch.float32, device=x.device).view(view)
        out = out * a + b
    return out


def affine_scipy(x: np.ndarray, d: Draw) -> np.ndarray:
    """The earlier per-item path (scipy.ndimage.affine_transform, order 1, mode "nearest"): the reference for
    the tests and the benchmark's "old" row."""
    shape = np.asarray(x.shape[1:], dtype=float)
    centre = (shape - 1) / 2.0
    offset = centre - d.matrix @ centre - d.shift
    out = np.stack([ndimage.affine_transform(ch, d.matrix, offset=offset, order=1, mode="nearest")
                    for ch in x]).astype(np.float32)
    for ax in d.flips:
        out = np.flip(out, axis=ax + 1)
    view = (-1,) + (1,) * (x.ndim - 1)
    out = out * d.scale.reshape(view).astype(np.float32) + d.offset.reshape(view).astype(np.float32)
    return np.ascontiguousarray(out, dtype=np.float32)
