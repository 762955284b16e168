"""Voxel descriptor maps: the per-voxel features that habitat clustering groups.

Seed 000 (Wu et al. 2025, section 2.7) encodes habitats with two subtraction maps,
``AE = CT_arterial - CT_pre`` and ``VE = CT_portal - CT_pre`` (HU); seed 001 clusters the raw multiphase
intensities of each tumour. A `Descriptor` names one map:

* ``difference``: ``image[phases[0]] - image[phases[1]]`` (minuend, subtrahend);
* ``intensity``: ``image[phases[0]]``;
* ``local_mean``: mean of ``image[phases[0]]`` in a ``window`` x ``window`` x ``window`` cube
  (scipy.ndimage.uniform_filter, edges reflected);
* ``local_entropy``: Shannon entropy ``-sum_b p_b log2 p_b`` of the intensities in the same cube, after
  discretising the tumour's intensity range [min, max] into ``bins`` equal bins (PyRadiomics binCount style;
  values outside the range are clipped to the end bins).

``normalise="zscore"`` rescales a map per case with the mean and SD of its tumour voxels (for raw MR
intensities without units). Local statistics are computed on the tumour bounding box dilated by
``window // 2`` and are 0 elsewhere (not computed there: habitat clustering only reads tumour voxels);
difference and intensity maps cover the whole volume.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence

import numpy as np
from scipy import ndimage

from hccrad.core.errors import FeatureError, GeometryError
from hccrad.core.image import Image

logger = logging.getLogger(__name__)


def descriptor_unit(kind: str, normalise: str = "none", intensity_unit: str = "HU") -> str:
    """The unit of a descriptor map: the images' unit (HU for CT) for difference / intensity / local_mean,
    bits for local_entropy, and SD of the tumour's voxels after ``normalise="zscore"``."""
    if normalise == "zscore":
        return "z, SD of tumour"
    return "bits" if kind == "local_entropy" else intensity_unit


DescriptorKind = Literal["difference", "intensity", "local_mean", "local_entropy"]


@dataclass(frozen=True)
class Descriptor:
    """One voxel descriptor. ``phases``: (minuend, subtrahend) for ``difference``, (phase,) otherwise."""

    name: str
    kind: DescriptorKind
    phases: tuple[str, ...]
    window: int = 3
    normalise: Literal["none", "zscore"] = "none"
    bins: int = 16
    smooth_mm: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "phases", tuple(self.phases))
        n_needed = 2 if self.kind == "difference" else 1
        if self.kind not in ("difference", "intensity", "local_mean", "local_entropy"):
            raise FeatureError(
                f"unknown descriptor kind {self.kind!r}",
                field=f"descriptor {self.name}",
                hint="use difference, intensity, local_mean or local_entropy",
            )
        if len(self.phases) != n_needed:
            raise FeatureError(
                f"descriptor kind {self.kind!r} needs {n_needed} phase(s), got {self.phases}",
                field=f"descriptor {self.name}",
                hint="difference: (minuend, subtrahend), e.g. ('arterial', 'pre'); others: (phase,)",
            )
        if self.window < 1 or self.window % 2 == 0:
            raise FeatureError(
                f"window must be an odd integer >= 1, got {self.window}", field=f"descriptor {self.name}"
            )
        if self.normalise not in ("none", "zscore"):
            raise FeatureError(f"unknown normalise {self.normalise!r}", field=f"descriptor {self.name}")
        if self.bins < 2:
            raise FeatureError(f"bins must be >= 2, got {self.bins}", field=f"descriptor {self.name}")
        if not self.smooth_mm >= 0:
            raise FeatureError(f"smooth_mm must be >= 0, got {self.smooth_mm}", field=f"descriptor {self.name}")


#: Seed 000's two descriptors (AE first, so habitats are ordered by arterial enhancement).
SEED000_DESCRIPTORS: tuple[Descriptor, ...] = (
    Descriptor("AE", "difference", ("arterial", "pre")),
    Descriptor("VE", "difference", ("portal", "pre")),
)


def _bbox(mask: np.ndarray, margin: int) -> tuple[slice, ...]:
    nz = np.nonzero(mask)
    return tuple(
        slice(max(int(a.min()) - margin, 0), min(int(a.max()) + margin + 1, n))
        for a, n in zip(nz, mask.shape)
    )


def _local_entropy(values: np.ndarray, inside: np.ndarray, window: int, bins: int) -> np.ndarray:
    lo, hi = float(values[inside].min()), float(values[inside].max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=float)
    q = np.clip(np.floor((values - lo) / (hi - lo) * bins), 0, bins - 1).astype(np.int32)
    ent = np.zeros(values.shape, dtype=float)
    for b in range(bins):
        p = ndimage.uniform_filter((q == b).astype(float), size=window, mode="reflect")
        p = np.clip(p, 0.0, 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ent -= np.where(p > 1e-12, p * np.log2(np.where(p > 1e-12, p, 1.0)), 0.0)
    return ent


def _image(images: Mapping[str, Image], phase: str, case_id: str | None) -> Image:
    if phase not in images:
        raise GeometryError(
            f"phase {phase!r} is missing (have {sorted(images)})",
            case=case_id,
            field=f"image_{phase}",
            hint=f"add the {phase!r} phase or remove descriptors that use it",
        )
    return images[phase]


def _masked_smooth(values: np.ndarray, mask: np.ndarray, sigma_mm: float,
                   spacing: tuple[float, float, float]) -> np.ndarray:
    """Gaussian smoothing inside the tumour only (normalised convolution):
    s = G_σ * (v·m) / G_σ * m on tumour voxels, so liver voxels never leak into border voxels.
    σ is given in mm and converted per axis with the (z, y, x) spacing."""
    sigma = tuple(sigma_mm / float(sp) for sp in spacing)
    margin = int(np.ceil(3 * max(sigma))) + 1
    sl = _bbox(mask, margin)
    m = mask[sl].astype(float)
    num = ndimage.gaussian_filter(values[sl] * m, sigma, mode="constant")
    den = ndimage.gaussian_filter(m, sigma, mode="constant")
    out = values.copy()
    inside = mask[sl]
    out[sl][inside] = num[inside] / den[inside]
    return out


def descriptor_maps(
    images: Mapping[str, Image],
    mask: np.ndarray,
    descriptors: Sequence[Descriptor],
    case_id: str | None = None,
) -> dict[str, np.ndarray]:
    """Full-volume float64 maps, one per descriptor name (see module docstring for each kind).

    images: phase -> Image on one grid; mask: boolean tumour mask (z, y, x) on that grid.
    Raises GeometryError for missing phases, grid mismatches or an empty mask.
    """
    mask = np.asarray(mask).astype(bool)
    if not mask.any():
        raise GeometryError(
            "tumour mask is empty", case=case_id, field="mask_tumor", hint="check the segmentation file"
        )
    if len({d.name for d in descriptors}) != len(descriptors):
        raise FeatureError("descriptor names must be unique", case=case_id, field="descriptors")
    ref: Image | None = None
    for d in descriptors:
        for ph in d.phases:
            img = _image(images, ph, case_id)
            if img.shape != mask.shape:
                raise GeometryError(
                    f"phase {ph!r} has shape {img.shape} but the mask has {mask.shape}",
                    case=case_id,
                    field=f"image_{ph}",
                    hint="resample the phases and the mask onto one grid first (hccrad.preprocess)",
                )
            if ref is None:
                ref = img
            elif not img.same_grid(ref):
                raise GeometryError(
                    f"phase {ph!r} is not on the grid of phase {ref.name!r}",
                    case=case_id,
                    field=f"image_{ph}",
                    hint="register/resample the phases onto one grid first",
                )
    maps: dict[str, np.ndarray] = {}
    for d in descriptors:
        a = _image(images, d.phases[0], case_id).array.astype(float)
        if d.kind == "difference":
            out = a - _image(images, d.phases[1], case_id).array.astype(float)
        elif d.kind == "intensity":
            out = a
        else:
            sl = _bbox(mask, d.window // 2)
            out = np.zeros(mask.shape)  # not computed far from the tumour (NaN would break NIfTI IO)
            sub = a[sl]
            if d.kind == "local_mean":
                out[sl] = ndimage.uniform_filter(sub, size=d.window, mode="reflect")
            else:
                out[sl] = _local_entropy(sub, mask[sl], d.window, d.bins)
        if d.smooth_mm > 0:
            out = _masked_smooth(out, mask, d.smooth_mm, ref.spacing)
        if not np.all(np.isfinite(out[mask])):
            raise FeatureError(
                f"descriptor {d.name!r} has non-finite values inside the tumour",
                case=case_id,
                field=f"descriptor {d.name}",
                hint="check the input phases for NaN/inf voxels",
            )
        if d.normalise == "zscore":
            vals = out[mask]
            sd = float(vals.std())
            if sd == 0:
                raise FeatureError(
                    f"descriptor {d.name!r} is constant in the tumour; z-score undefined",
                    case=case_id,
                    field=f"descriptor {d.name}",
                    hint="use normalise='none' or drop this descriptor",
                )
            out = (out - float(vals.mean())) / sd
        maps[d.name] = out
    return maps


def voxel_matrix(maps: dict[str, np.ndarray], mask: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """(n_voxels, d) float64 matrix of the named maps at the tumour voxels, in ``np.nonzero(mask)`` order."""
    mask = np.asarray(mask).astype(bool)
    if not mask.any():
        raise GeometryError("tumour mask is empty", field="mask_tumor", hint="check the segmentation")
    missing = [n for n in names if n not in maps]
    if missing:
        raise FeatureError(
            f"descriptor map(s) {missing} not computed (have {sorted(maps)})",
            field="descriptors",
            hint="compute them with descriptor_maps first",
        )
    cols = []
    for n in names:
        if maps[n].shape != mask.shape:
            raise GeometryError(f"map {n!r} shape {maps[n].shape} != mask shape {mask.shape}", field=n)
        cols.append(maps[n][mask])
    x = np.column_stack(cols).astype(float)
    if not np.all(np.isfinite(x)):
        raise FeatureError("non-finite descriptor values inside the tumour", field="descriptors")
    return x


def labels_to_volume(labels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Scatter per-voxel labels (``np.nonzero(mask)`` order) into an int16 volume, 0 outside the mask."""
    mask = np.asarray(mask).astype(bool)
    labels = np.asarray(labels)
    n = int(mask.sum())
    if labels.shape != (n,):
        raise FeatureError(
            f"got {labels.shape} labels for a mask of {n} voxels",
            field="labels",
            hint="labels must come from predict() on voxel_matrix(..., mask, ...) of the same mask",
        )
    vol = np.zeros(mask.shape, dtype=np.int16)
    vol[mask] = labels.astype(np.int16)
    return vol


def habitat_image(labels_volume: np.ndarray, reference: Image, name: str = "habitat") -> Image:
    """Wrap a habitat label volume as an `Image` on the grid of ``reference`` (write it with
    ``hccrad.io.volume.write_image`` to get a NIfTI aligned with the input)."""
    if labels_volume.shape != reference.shape:
        raise GeometryError(
            f"habitat map shape {labels_volume.shape} != reference shape {reference.shape}", field=name
        )
    return reference.with_array(np.asarray(labels_volume, dtype=np.int16), name=name)
