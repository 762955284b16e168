"""Network inputs from multi-phase volumes: tumour/liver-centred 3-D patches and 2-D largest-area slices.

Phases (sequences) become channels, as in seed 003 ("different sequences were input into different
channels") and seed 002 (arterial + venous CECT). Each case gives

* ``mode="3d"``: one (C, z, y, x) patch centred on the centre of the mask's bounding box, or
* ``mode="2d"``: the ``k`` axial slices with the largest mask area, each a (C, y, x) patch centred on the
  mask's in-plane bounding box in that slice.

``fit="crop"`` cuts a fixed-size window (padding outside the volume with each channel's minimum);
``fit="resize"`` cuts the mask's bounding box (plus ``margin`` voxels) and resamples it to the fixed size
(linear interpolation, scipy.ndimage.zoom) — the way a whole-liver region (seed 002) fits a small network.
Every item records its source box (start, stop) in voxels so that a Grad-CAM map can be put back on the
input grid (`hccrad.deep.gradcam.cam_to_image`).

Intensities are windowed per phase, x' = (clip(x, lo, hi) − lo) / (hi − lo), or z-scored per crop,
x' = (x − mean) / sd; both use the case's own voxels only, so nothing is learned across patients.

Augmentation (seed 003: "shifting, rotation, flipping, and enlarging"; intensity scaling/offset only when
asked for) is applied by `PatchDataset` only in training mode, with a random stream derived from (seed,
epoch, item), so the same seed gives the same augmented samples in any process and after a resume; it runs
on batches of tensors on their device (`hccrad.deep.augment`: torch affine_grid/grid_sample).
Intensity augmentation is off by default: on HU-windowed CT the signal is often a between-case difference
of a few HU in mean enhancement (issue 27: the old ±0.1 window units = ±40 HU offset moved a case's mean
arterial HU by SD 24.6 HU, three times the between-case SD of 8.1 HU that carried the outcome signal).
`intensity_augmentation` gives the explicit small option (default ±5 HU, ±2 % scale).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from scipy import ndimage
from torch.utils.data import Dataset, WeightedRandomSampler

from hccrad.core.errors import DataError, GeometryError, InputError
from hccrad.deep.augment import Augmentation

log = logging.getLogger(__name__)

__all__ = [
    "Augmentation", "IndexedItems", "PatchDataset", "PatchSet", "balanced_sampler", "build_patches", "crop_2d",
    "crop_3d",
    "OFFLINE_AUGMENTATION", "intensity_augmentation", "item_targets", "largest_slices", "normalise_intensity",
    "survival_interval_classes",
    "with_augmented_copies",
]

MISSING = -1  # integer label meaning "not known for this patient" (masked in the loss)


@dataclass(frozen=True, eq=False)
class PatchSet:
    """Network inputs cut from a cohort: ``x`` (N, C, *spatial) float32, one row per item.

    A 3-D patch set has one item per case; a 2-D set has ``k`` items (slices) per case. ``boxes`` (N, 2, 3)
    holds each item's source box [start, stop) in (z, y, x) voxels of the case's grid (a 2-D item spans one
    slice). ``patient_ids`` group items for cross-validation so no patient is split across folds.
    """

    x: np.ndarray
    case_ids: tuple[str, ...]
    patient_ids: tuple[str, ...]
    phases: tuple[str, ...]
    mode: str
    boxes: np.ndarray

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def spatial_dims(self) -> int:
        return self.x.ndim - 2

    def subset(self, index: Sequence[int] | np.ndarray) -> "PatchSet":
        idx = np.asarray(index, dtype=int)
        return PatchSet(self.x[idx], tuple(self.case_ids[i] for i in idx),
                        tuple(self.patient_ids[i] for i in idx), self.phases, self.mode, self.boxes[idx])

    def summary(self) -> pd.DataFrame:
        """One row per item: case_id, patient_id, start/stop z, y, x of its source box."""
        b = self.boxes
        return pd.DataFrame({"case_id": self.case_ids, "patient_id": self.patient_ids,
                             "start_z": b[:, 0, 0], "start_y": b[:, 0, 1], "start_x": b[:, 0, 2],
                             "stop_z": b[:, 1, 0], "stop_y": b[:, 1, 1], "stop_x": b[:, 1, 2]})


def normalise_intensity(array: np.ndarray, *, window: tuple[float, float] | None = None,
                        method: str = "window") -> np.ndarray:
    """Window to [0, 1]: (clip(x, lo, hi) − lo)/(hi − lo); or z-score: (x − mean)/sd over the array."""
    a = np.asarray(array, dtype=np.float32)
    if not np.isfinite(a).all():
        raise DataError("image has non-finite voxels", field="array", hint="fill NaN/inf before cropping")
    if method == "window":
        if window is None:
            raise DataError("windowing needs (lo, hi)", field="window",
                            hint='pass windows={"arterial": (-100, 300), ...} or normalise="zscore"')
        lo, hi = float(window[0]), float(window[1])
        if not hi > lo:
            raise DataError(f"window {window} has hi <= lo", field="window", hint="use (lo, hi) with hi > lo")
        return (np.clip(a, lo, hi) - lo) / np.float32(hi - lo)
    if method == "zscore":
        sd = float(a.std())
        if sd == 0.0:
            raise DataError("constant crop cannot be z-scored (sd = 0)", field="array",
                            hint='use normalise="window" or check the crop lies inside the image')
        return (a - np.float32(a.mean())) / np.float32(sd)
    raise DataError(f"unknown normalisation {method!r}", field="normalise", hint='use "window" or "zscore"')


def _case_volume(case, phases: Sequence[str], mask_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Stack the phases as channels (C, z, y, x) and return them with the boolean mask."""
    if not phases:
        raise InputError("no phases given", case=case.case_id, field="phases", hint='e.g. ["arterial", "portal"]')
    mask = case.mask(mask_name)
    if not mask.any():
        raise GeometryError(f"mask {mask_name!r} is empty", case=case.case_id, field=f"mask_{mask_name}",
                            hint="check the segmentation or drop the case")
    arrays = []
    for p in phases:
        img = case.image(p)
        if img.shape != mask.shape:
            raise GeometryError(f"phase {p!r} has shape {img.shape}, mask {mask_name!r} {mask.shape}",
                                case=case.case_id, field=f"image_{p}",
                                hint="resample all phases and masks onto one grid (hccrad.preprocess)")
        arrays.append(np.asarray(img.array, dtype=np.float32))
    return np.stack(arrays), mask


def _normalise_channels(vol: np.ndarray, phases: Sequence[str], windows: Mapping[str, tuple] | None,
                        method: str) -> np.ndarray:
    out = np.empty_like(vol, dtype=np.float32)
    for c, p in enumerate(phases):
        if method == "window" and (windows is None or p not in windows):
            raise DataError(f"no intensity window for phase {p!r}", field="windows",
                            hint=f'add windows["{p}"] = (lo, hi) or use normalise="zscore"')
        out[c] = normalise_intensity(vol[c], window=None if windows is None else windows.get(p), method=method)
    return out


def _window_box(centre: np.ndarray, size: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    size_a = np.asarray(size, dtype=int)
    start = np.floor(centre - (size_a - 1) / 2.0 + 1e-9).astype(int)
    return start, start + size_a


def _cut(vol: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """vol[:, start:stop] with padding outside the array by each channel's minimum."""
    shape = np.asarray(vol.shape[1:])
    lo = np.maximum(start, 0)
    hi = np.minimum(stop, shape)
    out = np.empty((vol.shape[0], *(stop - start)), dtype=np.float32)
    out[:] = vol.reshape(vol.shape[0], -1).min(axis=1).reshape(-1, *([1] * len(shape)))
    src = (slice(None),) + tuple(slice(a, b) for a, b in zip(lo, hi))
    dst = (slice(None),) + tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start))
    out[dst] = vol[src]
    return out


def _fit(vol: np.ndarray, bbox_lo: np.ndarray, bbox_hi: np.ndarray, size: Sequence[int], fit: str,
         margin: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if fit == "crop":
        start, stop = _window_box((bbox_lo + bbox_hi - 1) / 2.0, size)
        return _cut(vol, start, stop), start, stop
    if fit == "resize":
        start, stop = bbox_lo - margin, bbox_hi + margin
        patch = _cut(vol, start, stop)
        zoom = (1.0,) + tuple(s / float(n) for s, n in zip(size, patch.shape[1:]))
        out = ndimage.zoom(patch, zoom, order=1, mode="nearest", grid_mode=True)
        return out.astype(np.float32), start, stop
    raise DataError(f"unknown fit {fit!r}", field="fit", hint='use "crop" or "resize"')


def crop_3d(case, phases: Sequence[str], size: Sequence[int], *, mask_name: str = "tumor",
            windows: Mapping[str, tuple[float, float]] | None = None, normalise: str = "window",
            fit: str = "crop", margin: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """A (C, *size) patch centred on the mask's bounding box; returns (patch, box (2, 3))."""
    if len(size) != 3:
        raise DataError(f"3-D size needs 3 numbers, got {tuple(size)}", field="size", hint="e.g. (32, 64, 64)")
    vol, mask = _case_volume(case, phases, mask_name)
    vol = _normalise_channels(vol, phases, windows, normalise)
    nz = np.argwhere(mask)
    patch, start, stop = _fit(vol, nz.min(axis=0), nz.max(axis=0) + 1, size, fit, margin)
    return patch, np.stack([start, stop])


def largest_slices(mask: np.ndarray, k: int = 1) -> np.ndarray:
    """Indices of the ``k`` axial slices (axis 0) with the largest mask area, largest first (ties: lower z)."""
    m = np.asarray(mask) > 0
    area = m.reshape(m.shape[0], -1).sum(axis=1)
    n_nonempty = int((area > 0).sum())
    if n_nonempty == 0:
        raise GeometryError("mask is empty", field="mask", hint="check the segmentation or drop the case")
    if k < 1 or k > n_nonempty:
        raise DataError(f"asked for {k} slices but the mask covers {n_nonempty}", field="k",
                        hint=f"use 1 <= k <= {n_nonempty}")
    order = np.lexsort((np.arange(area.size), -area))
    return order[:k]


def crop_2d(case, phases: Sequence[str], size: Sequence[int], *, k: int = 1, mask_name: str = "tumor",
            windows: Mapping[str, tuple[float, float]] | None = None, normalise: str = "window",
            fit: str = "crop", margin: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` largest-area slices as (k, C, *size) patches centred in-plane; returns (patches, boxes (k, 2, 3))."""
    if len(size) != 2:
        raise DataError(f"2-D size needs 2 numbers, got {tuple(size)}", field="size", hint="e.g. (64, 64)")
    vol, mask = _case_volume(case, phases, mask_name)
    vol = _normalise_channels(vol, phases, windows, normalise)
    try:
        zs = largest_slices(mask, k)
    except DataError as exc:
        raise DataError(exc.message, case=case.case_id, field="k", hint=exc.hint) from exc
    patches, boxes = [], []
    for z in zs:
        nz = np.argwhere(mask[z])
        patch, start, stop = _fit(vol[:, z], nz.min(axis=0), nz.max(axis=0) + 1, size, fit, margin)
        patches.append(patch)
        boxes.append([[z, *start], [z + 1, *stop]])
    return np.stack(patches), np.asarray(boxes, dtype=int)


def build_patches(cases: Sequence, phases: Sequence[str], *, mode: str = "3d", size: Sequence[int],
                  k: int = 1, mask_name: str = "tumor", windows: Mapping[str, tuple[float, float]] | None = None,
                  normalise: str = "window", fit: str = "crop", margin: int = 2) -> PatchSet:
    """Cut every case (`hccrad.core.Case`) into a `PatchSet` (3-D: one item per case; 2-D: k per case)."""
    if not cases:
        raise InputError("no cases given", field="cases", hint="pass at least one Case")
    ids = [c.case_id for c in cases]
    if len(set(ids)) != len(ids):
        raise InputError("duplicate case ids", field="case_id", hint="give every case a unique case_id")
    xs, boxes, cids, pids = [], [], [], []
    for c in cases:
        pid = c.patient_id if c.patient_id is not None else c.case_id
        if mode == "3d":
            x, box = crop_3d(c, phases, size, mask_name=mask_name, windows=windows, normalise=normalise,
                             fit=fit, margin=margin)
            xs.append(x[None])
            boxes.append(box[None])
            n = 1
        elif mode == "2d":
            x, box = crop_2d(c, phases, size, k=k, mask_name=mask_name, windows=windows, normalise=normalise,
                             fit=fit, margin=margin)
            xs.append(x)
            boxes.append(box)
            n = x.shape[0]
        else:
            raise DataError(f"unknown mode {mode!r}", field="mode", hint='use "3d" or "2d"')
        cids += [c.case_id] * n
        pids += [pid] * n
    log.info("built %d %s items from %d cases (%s)", sum(len(x) for x in xs), mode, len(cases), ",".join(phases))
    return PatchSet(np.concatenate(xs).astype(np.float32), tuple(cids), tuple(pids), tuple(phases), mode,
                    np.concatenate(boxes))


def survival_interval_classes(time: Sequence[float], event: Sequence[int], cuts: Sequence[float] = (12, 24, 36)
                              ) -> np.ndarray:
    """Survival-interval classes (seed 002: death within year 1, 2, 3, or alive beyond year 3).

    Class j (0 <= j < len(cuts)) means death in (cuts[j−1], cuts[j]]; class len(cuts) means survival beyond
    cuts[-1]. Rule for censored patients: one censored at t >= cuts[-1] is known to be in the last class;
    one censored earlier has an unknown class and gets NaN (masked in the multitask loss, never guessed).
    """
    t = np.asarray(time, dtype=float)
    e = np.asarray(event)
    if t.shape != e.shape or t.ndim != 1:
        raise DataError("time and event must be 1-D of equal length", field="time", hint="one value per patient")
    if not np.isfinite(t).all() or (t < 0).any():
        raise DataError("survival times must be finite and >= 0", field="time", hint="drop or fix bad times")
    if not np.isin(e, (0, 1, True, False)).all():
        raise DataError("event must be 0/1", field="event", hint="code death as 1 and censoring as 0")
    c = np.asarray(cuts, dtype=float)
    if c.ndim != 1 or c.size == 0 or (np.diff(c) <= 0).any():
        raise DataError(f"cuts must increase, got {tuple(cuts)}", field="cuts", hint="e.g. (12, 24, 36) months")
    cls = np.searchsorted(c, t, side="left").astype(float)  # first cut >= t
    censored = e.astype(int) == 0
    cls[censored] = np.where(t[censored] >= c[-1], float(c.size), np.nan)
    return cls


def item_targets(patches: PatchSet, case_targets: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-item integer labels from a per-case table (index case_id, one column per task; NaN = missing → -1)."""
    missing = [cid for cid in dict.fromkeys(patches.case_ids) if cid not in case_targets.index]
    if missing:
        raise DataError(f"{len(missing)} case(s) have no target row, e.g. {missing[:3]}", field="case_targets",
                        hint="index the target table by case_id with a row for every case")
    out = {}
    for col in case_targets.columns:
        v = case_targets.loc[list(patches.case_ids), col].to_numpy(dtype=float)
        known = np.isfinite(v)
        if (known & ((v < 0) | (v != np.round(v)))).any():
            raise DataError(f"task {col!r} has non-integer or negative labels", field=str(col),
                            hint="code classes as 0, 1, ... and missing as NaN")
        out[str(col)] = np.where(known, v, MISSING).astype(np.int64)
    return out


#: Default magnitude of the optional intensity augmentation: ±5 HU offset (window normalisation) or ±0.05 SD
#: (z-score normalisation), and ±2 % scale.
INTENSITY_SHIFT_HU = 5.0
INTENSITY_SHIFT_SD = 0.05
INTENSITY_SCALE = 0.02


def intensity_augmentation(normalise: str, window: tuple[float, float] | None = None, *,
                           shift: float | None = None, scale: float = INTENSITY_SCALE) -> tuple[float, float]:
    """(intensity_scale, intensity_shift) for `Augmentation`, with the shift converted to input units.

    Window normalisation: `shift` is in HU (default 5 HU) and becomes shift / (hi − lo) window units;
    z-score: `shift` is in SD units of the crop (default 0.05).
    """
    if normalise == "window":
        if window is None:
            raise DataError("an HU shift needs the intensity window", field="window", hint="e.g. (-100, 300)")
        hu = INTENSITY_SHIFT_HU if shift is None else float(shift)
        return float(scale), hu / float(window[1] - window[0])
    return float(scale), INTENSITY_SHIFT_SD if shift is None else float(shift)


class PatchDataset(Dataset):
    """A torch Dataset over a `PatchSet` with per-task integer targets (−1 = missing).

    Items are (x float32 tensor, {task: int64 tensor}). Augmentation runs only after `train()` (never in
    `eval()` mode, the default), drawn from np.random.default_rng([seed, epoch, index]). Training does not
    augment item by item: it loads the stored patches (`indexed()`) and calls `augment_batch` on each batch
    after moving it to the device; `ds[i]` in training mode gives the same sample for item i.
    """

    def __init__(self, patches: PatchSet, targets: Mapping[str, np.ndarray] | None = None, *,
                 augmentation: Augmentation | None = None, seed: int = 0) -> None:
        self.patches = patches
        self.targets = {k: np.asarray(v, dtype=np.int64) for k, v in (targets or {}).items()}
        for k, v in self.targets.items():
            if v.shape != (len(patches),):
                raise DataError(f"target {k!r} has {v.shape} labels for {len(patches)} items", field=k,
                                hint="build targets with item_targets(patches, table)")
        self.augmentation = augmentation
        self.seed = int(seed)
        self.epoch = 0
        self.training = False

    def train(self) -> "PatchDataset":
        self.training = True
        return self

    def eval(self) -> "PatchDataset":
        self.training = False
        return self

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.patches)

    def _item(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x = torch.from_numpy(np.ascontiguousarray(self.patches.x[i], dtype=np.float32))
        return x, {k: torch.tensor(v[i]) for k, v in self.targets.items()}

    def __getitem__(self, i: int):
        x, y = self._item(i)
        if self.training and self.augmentation is not None:
            x = self.augment_batch(x[None], torch.tensor([int(i)]))[0]
        return x, y

    def augment_batch(self, x: torch.Tensor, items: torch.Tensor | Sequence[int]) -> torch.Tensor:
        """Augment a (B, C, *spatial) batch of stored items `items` on x's device (this epoch's draws);
        x unchanged when there is no augmentation."""
        if self.augmentation is None:
            return x
        idx = [int(i) for i in (items.tolist() if isinstance(items, torch.Tensor) else items)]
        draws = self.augmentation.draws(self.seed, self.epoch, idx, x.shape[1], tuple(x.shape[2:]))
        return self.augmentation.apply_batch(x, draws)

    def indexed(self) -> "IndexedItems":
        """The stored (never augmented) items with their indices, for a DataLoader whose batches are
        augmented after the transfer to the device."""
        return IndexedItems(self)


class IndexedItems(Dataset):
    """(index, stored x, {task: label}) of a `PatchDataset`: what the training DataLoader's workers load."""

    def __init__(self, dataset: PatchDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int):
        x, y = self.dataset._item(i)
        return int(i), x, y


def balanced_sampler(labels: Sequence[int] | np.ndarray, seed: int = 0) -> WeightedRandomSampler:
    """Sampler drawing each class equally often: weight 1/n_class per item (missing labels: the mean weight)."""
    y = np.asarray(labels, dtype=int)
    known = y >= 0
    if not known.any():
        raise DataError("no labelled items to balance", field="labels", hint="balance on a task with labels")
    classes, counts = np.unique(y[known], return_counts=True)
    w = np.empty(y.size, dtype=float)
    for cl, n in zip(classes, counts):
        w[y == cl] = 1.0 / n
    w[~known] = w[known].mean()
    gen = torch.Generator().manual_seed(int(seed))
    return WeightedRandomSampler(torch.as_tensor(w, dtype=torch.double), num_samples=int(y.size),
                                 replacement=True, generator=gen)


#: Seed 003's offline transforms ("shifting, rotation, flipping, and enlarging"), geometry only.
OFFLINE_AUGMENTATION = Augmentation(shift=0.1, rotation_deg=15.0, flip=True, zoom=(1.0, 1.2),
                                    intensity_scale=0.0, intensity_shift=0.0)


_COPY_CHUNK = 32  # items transformed per grid_sample call by `with_augmented_copies`


def with_augmented_copies(patches: PatchSet, targets: Mapping[str, np.ndarray], copies: int, *, seed: int = 0,
                          augmentation: Augmentation = OFFLINE_AUGMENTATION
                          ) -> tuple[PatchSet, dict[str, np.ndarray]]:
    """Offline augmentation (seed 003: ×10 = each image + 9 transformed copies): originals first, then
    ``copies`` randomly transformed copies of every item (copy j of item i from default_rng([seed, j, i])),
    with the item's case id, patient id, box and labels, so patient-grouped splits keep them together.

    Call it on the items of a training fold only — never on validation, early-stopping or test items.
    """
    if copies < 0:
        raise DataError(f"copies must be >= 0, got {copies}", field="augment_copies", hint="e.g. 9 for ×10")
    t = {k: np.asarray(v) for k, v in targets.items()}
    if copies == 0:
        return patches, t
    xs = [patches.x]
    x_all = torch.from_numpy(np.ascontiguousarray(patches.x, dtype=np.float32))
    for j in range(copies):
        parts = []
        for lo in range(0, len(patches), _COPY_CHUNK):
            items = range(lo, min(lo + _COPY_CHUNK, len(patches)))
            draws = augmentation.draws(seed, j + 1, items, patches.x.shape[1], patches.x.shape[2:])
            parts.append(augmentation.apply_batch(x_all[lo:lo + len(items)], draws).numpy())
        xs.append(np.concatenate(parts))
    n = copies + 1
    out = PatchSet(np.concatenate(xs).astype(np.float32), patches.case_ids * n, patches.patient_ids * n,
                   patches.phases, patches.mode, np.concatenate([patches.boxes] * n))
    return out, {k: np.concatenate([v] * n) for k, v in t.items()}
