"""The liver-parenchyma shell (peritumoral ring) around a tumour.

shell = {v ∉ tumour : 0 < d(v, tumour) ≤ width_mm} ∩ liver, where d is the Euclidean distance in mm
(scipy.ndimage.distance_transform_edt with the voxel spacing as sampling, Maurer et al. 2003) from the
voxel centre to the nearest tumour voxel centre. Without a liver mask the ring is the plain dilation ring.
This is the explicit liver-parenchyma label the MSI matrix uses instead of "anything outside the mask"
(ARCHITECTURE §5).

The distance transform runs on the tumour's bounding box grown by ceil(width_mm / spacing) + 1 voxels per
axis, not on the whole volume: every tumour voxel lies in that box, so each voxel of the box has the same
nearest tumour voxel as in the whole volume, and every voxel outside it is farther than width_mm from the
tumour; the shell is identical and a 9 cm tumour's shell costs a fraction of the full-volume transform
(issue 24).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from hccrad.core.errors import GeometryError, SpecError
from hccrad.core.image import Image


def liver_shell(tumor_mask: np.ndarray | Image, liver_mask: np.ndarray | Image | None = None,
                spacing: tuple[float, float, float] | None = None, width_mm: float = 5.0) -> np.ndarray:
    """Boolean (z, y, x) ring of width `width_mm` around the tumour, inside the liver when given.

    spacing: (z, y, x) mm; taken from `tumor_mask` when it is an `Image`.
    """
    if isinstance(tumor_mask, Image):
        spacing = tumor_mask.spacing if spacing is None else spacing
        tumor = tumor_mask.array > 0
    else:
        tumor = np.asarray(tumor_mask) > 0
    if spacing is None:
        raise SpecError(["liver_shell needs spacing=(z, y, x) mm when the mask is a plain array"])
    if not width_mm > 0:
        raise SpecError([f"width_mm must be > 0, got {width_mm}"])
    if not tumor.any():
        raise GeometryError("tumour mask is empty; no shell can be drawn", field="mask_tumor",
                            hint="check the tumour segmentation")
    ring = np.zeros(tumor.shape, dtype=bool)
    box = _grown_box(tumor, spacing, width_mm)
    dist = ndimage.distance_transform_edt(~tumor[box], sampling=tuple(float(s) for s in spacing))
    ring[box] = (dist > 0) & (dist <= width_mm)
    if liver_mask is not None:
        liver = (liver_mask.array if isinstance(liver_mask, Image) else np.asarray(liver_mask)) > 0
        if liver.shape != tumor.shape:
            raise GeometryError(f"liver mask shape {liver.shape} differs from tumour mask {tumor.shape}",
                                field="mask_liver", hint="resample the liver mask onto the tumour grid")
        ring &= liver
    return ring


def _grown_box(tumor: np.ndarray, spacing, width_mm: float) -> tuple[slice, ...]:
    """The tumour's bounding box grown by ceil(width_mm / spacing) + 1 voxels per axis, clipped to the array."""
    box = []
    for axis, sp in enumerate(spacing):
        other = tuple(a for a in range(tumor.ndim) if a != axis)
        idx = np.flatnonzero(tumor.any(axis=other))
        pad = int(np.ceil(width_mm / float(sp))) + 1
        box.append(slice(max(int(idx[0]) - pad, 0), min(int(idx[-1]) + pad + 1, tumor.shape[axis])))
    return tuple(box)
