"""Resampling with SimpleITK: to isotropic spacing and onto a reference grid.

Images use B-spline (cubic) or linear interpolation, masks nearest neighbour, as in IBSI (Zwanenburg et al.,
Radiology 2020, "interpolation"), or SimpleITK's label-Gaussian interpolator (each label's indicator blurred
by a Gaussian of σ = the input spacing, the voxel taking the label with the largest blurred value: smoother
borders when upsampling, still one label per voxel): the new grid keeps the origin and direction, and its
size is round(n · s / s_new) per axis, so the field of view is preserved to within one new voxel.
"""

from __future__ import annotations

import logging

import numpy as np
import SimpleITK as sitk

from hccrad.core.errors import SpecError
from hccrad.core.image import Image
from hccrad.io.volume import from_sitk, to_sitk

logger = logging.getLogger(__name__)

INTERPOLATORS = {
    "bspline": sitk.sitkBSpline,
    "linear": sitk.sitkLinear,
    "nearest": sitk.sitkNearestNeighbor,
}
MASK_INTERPOLATORS = {"nearest": sitk.sitkNearestNeighbor, "label_gaussian": sitk.sitkLabelGaussian}


def _interp(name: str) -> int:
    if name not in INTERPOLATORS:
        raise SpecError([f"interpolator {name!r} is not one of {sorted(INTERPOLATORS)}"])
    return INTERPOLATORS[name]


def _finish(out: sitk.Image, image: Image, is_mask: bool) -> Image:
    res = from_sitk(out, image.name)
    arr = res.array
    if is_mask:
        arr = arr.astype(image.array.dtype)
    return Image(arr, res.spacing, res.origin, res.direction, image.name, dict(image.meta))


def resample_isotropic(image: Image, spacing_mm: float | tuple[float, float, float] = 1.0, *,
                       interpolator: str = "bspline", is_mask: bool = False,
                       mask_interpolator: str = "nearest") -> Image:
    """Resample to `spacing_mm` (a number, or (z, y, x) mm). Masks (`is_mask=True`) use
    `mask_interpolator` ("nearest" or "label_gaussian"), never an image interpolator."""
    sp = (float(spacing_mm),) * 3 if np.isscalar(spacing_mm) else tuple(float(s) for s in spacing_mm)
    if min(sp) <= 0:
        raise SpecError([f"spacing_mm must be positive, got {spacing_mm}"])
    itk = to_sitk(image)
    new_xyz = sp[::-1]
    size = [max(1, int(round(n * s / t))) for n, s, t in zip(itk.GetSize(), itk.GetSpacing(), new_xyz)]
    if is_mask and mask_interpolator not in MASK_INTERPOLATORS:
        raise SpecError([f"mask interpolator {mask_interpolator!r} is not one of {sorted(MASK_INTERPOLATORS)}"])
    interp = MASK_INTERPOLATORS[mask_interpolator] if is_mask else _interp(interpolator)
    src = itk if is_mask else sitk.Cast(itk, sitk.sitkFloat32)
    out = sitk.Resample(src, size, sitk.Transform(), interp, itk.GetOrigin(), new_xyz, itk.GetDirection(),
                        0.0 if is_mask else float(np.min(image.array)), src.GetPixelID())
    logger.debug("resampled %s %s -> %s", image.name, image.shape, tuple(size[::-1]))
    return _finish(out, image, is_mask)


def resample_to_reference(image: Image, reference: Image, is_mask: bool = False, *,
                          interpolator: str = "linear", transform: sitk.Transform | None = None) -> Image:
    """Resample `image` onto `reference`'s grid (optionally through `transform`, fixed → moving points).

    Voxels outside `image`'s field of view get 0 for masks and the image minimum for images.
    """
    itk = to_sitk(image)
    ref = to_sitk(reference.with_array(np.zeros(reference.shape, np.uint8)))
    interp = sitk.sitkNearestNeighbor if is_mask else _interp(interpolator)
    src = itk if is_mask else sitk.Cast(itk, sitk.sitkFloat32)
    default = 0.0 if is_mask else float(np.min(image.array))
    out = sitk.Resample(src, ref, transform or sitk.Transform(), interp, default, src.GetPixelID())
    return _finish(out, image, is_mask)
