"""Voxel descriptor maps: the per-voxel features that habitat clustering groups.

Seed 000 (Wu et al. 2025, section 2.7) encodes habitats with two subtraction maps,
``AE = CT_arterial - CT_pre`` and ``VE = CT_portal - CT_pre`` (HU); seed 001 clusters the raw multiphase
intensities of each tumour. A `Descriptor` names one map; its kinds (difference, intensity, local_mean,
local_entropy: what each computes, with its formula) are the registry :mod:`hccrad.habitat.descriptor_kinds`.

Here, for every kind: the phases are checked (present, one grid with the mask), the kind's map is computed,
``smooth_mm > 0`` smooths it inside the tumour only (normalised convolution, below), and
``normalise="zscore"`` rescales it per case with the mean and SD of its tumour voxels (for raw MR
intensities without units).
"""

from __future__ import annotations

import logging
from typing import Mapping, Sequence

import numpy as np
from scipy import ndimage

from hccrad.core.errors import FeatureError, GeometryError
from hccrad.core.image import Image
from hccrad.habitat.descriptor_kinds import DESCRIPTOR_KINDS, Descriptor, DifferenceDescriptor, tumour_box

__all__ = ["SEED000_DESCRIPTORS", "Descriptor", "descriptor_maps", "descriptor_unit", "habitat_image",
           "labels_to_volume", "voxel_matrix"]

logger = logging.getLogger(__name__)


def descriptor_unit(kind: str, normalise: str = "none", intensity_unit: str = "HU") -> str:
    """The unit of a descriptor map: its kind's unit (the images' unit, HU for CT, or e.g. bits for
    local_entropy; hccrad.habitat.descriptor_kinds), and SD of the tumour's voxels after ``normalise="zscore"``."""
    if normalise == "zscore":
        return "z, SD of tumour"
    if kind not in DESCRIPTOR_KINDS:
        raise FeatureError(f"unknown descriptor kind {kind!r}", field="kind",
                           hint=f"use one of {list(DESCRIPTOR_KINDS)}")
    return DESCRIPTOR_KINDS[kind].unit(intensity_unit)


#: Seed 000's two descriptors (AE first, so habitats are ordered by arterial enhancement).
SEED000_DESCRIPTORS: tuple[Descriptor, ...] = (
    DifferenceDescriptor(name="AE", phases=["arterial", "pre"]).build(),
    DifferenceDescriptor(name="VE", phases=["portal", "pre"]).build(),
)


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
    sl = tumour_box(mask, margin)
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
    """Full-volume float64 maps, one per descriptor name (each kind: hccrad.habitat.descriptor_kinds).

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
        out = d.spec.compute([_image(images, ph, case_id).array.astype(float) for ph in d.phases], mask)
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
