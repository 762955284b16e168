"""Intensity steps: N4 bias-field correction, normalisation, discretisation (IBSI).

* N4 (Tustison et al., IEEE TMI 2010) via SimpleITK: the bias field is estimated on a shrunken copy inside
  `mask` (Otsu foreground when none) and removed at full resolution, I_corr = I / exp(log-bias).
* Normalisation: min-max x' = (x − min) / (max − min); z-score x' = (x − μ) / σ with min, max, μ, σ taken
  inside `mask` when given (e.g. liver or tumour); window: values clipped to [lo, hi] (HU for CT, kept in
  HU so phase differences such as AE = arterial − pre stay in HU).
* Discretisation, IBSI reference manual (Zwanenburg et al., arXiv:1612.07003, §2.7 / Radiology 2020):
  fixed bin number  X_d = ⌊N_g (X − X_min) / (X_max − X_min)⌋ + 1, with X_d = N_g where X = X_max;
  fixed bin size    X_d = ⌊(X − X_min) / w_b⌋ + 1, X_min the ROI minimum or the lower bound of the
  re-segmentation range.
"""

from __future__ import annotations

import logging

import numpy as np
import SimpleITK as sitk

from hccrad.core.errors import InputError, SpecError
from hccrad.core.image import Image
from hccrad.io.volume import from_sitk, to_sitk

logger = logging.getLogger(__name__)

NORMALISATIONS = ("minmax", "zscore", "window")


def n4_bias_correction(image: Image, mask: np.ndarray | Image | None = None, *, shrink_factor: int = 2,
                       iterations: tuple[int, ...] = (50, 50, 30, 20), fitting_levels: int | None = None,
                       threads: int | None = None) -> Image:
    """Remove a smooth multiplicative bias field (MRI). Needs positive intensities inside the mask.
    `threads`: ITK threads (1 for byte-identical reruns)."""
    arr = np.asarray(image.array, np.float32)
    itk = sitk.Cast(to_sitk(image.with_array(arr)), sitk.sitkFloat32)
    if mask is None:
        m = sitk.OtsuThreshold(itk, 0, 1, 200)
    else:
        marr = (mask.array if isinstance(mask, Image) else np.asarray(mask)) > 0
        if marr.shape != image.shape:
            raise InputError(f"N4 mask shape {marr.shape} differs from image shape {image.shape}",
                             field=image.name, hint="pass a mask on the image's grid")
        m = to_sitk(image.with_array(marr.astype(np.uint8)))
    if float(np.min(arr)) < 0:
        raise InputError("N4 needs non-negative intensities (MRI); this image has negative values",
                         field=image.name, hint="N4 is for MRI; skip it for CT (n4=False)")
    small = sitk.Shrink(itk, [shrink_factor] * 3) if shrink_factor > 1 else itk
    msmall = sitk.Shrink(m, [shrink_factor] * 3) if shrink_factor > 1 else m
    n4 = sitk.N4BiasFieldCorrectionImageFilter()
    if threads is not None:
        n4.SetNumberOfThreads(int(threads))
    levels = fitting_levels or len(iterations)
    n4.SetMaximumNumberOfIterations(list(iterations)[:levels])
    n4.Execute(small, msmall)
    log_bias = n4.GetLogBiasFieldAsImage(itk)
    corrected = itk / sitk.Exp(log_bias)
    out = from_sitk(corrected, image.name)
    return Image(out.array.astype(np.float32), image.spacing, image.origin, image.direction, image.name,
                 dict(image.meta))


def normalise(image: Image, method: str = "minmax", mask: np.ndarray | Image | None = None, *,
              window: tuple[float, float] | None = None) -> Image:
    """Normalise intensities (see module docstring); statistics from `mask` voxels when given."""
    if method not in NORMALISATIONS:
        raise SpecError([f"normalisation {method!r} is not one of {NORMALISATIONS}"])
    arr = np.asarray(image.array, np.float32)
    if method == "window":
        if window is None or len(window) != 2 or not window[0] < window[1]:
            raise SpecError([f"method='window' needs window=(lo, hi) with lo < hi, got {window}"])
        return image.with_array(np.clip(arr, window[0], window[1]).astype(np.float32))
    if mask is not None:
        marr = (mask.array if isinstance(mask, Image) else np.asarray(mask)) > 0
        if marr.shape != image.shape:
            raise InputError(f"normalisation mask shape {marr.shape} differs from image {image.shape}",
                             field=image.name, hint="resample the mask onto the image first")
        vals = arr[marr]
    else:
        vals = arr.ravel()
    if vals.size == 0:
        raise InputError("normalisation mask is empty", field=image.name, hint="check the mask")
    if method == "minmax":
        lo, hi = float(vals.min()), float(vals.max())
        if hi == lo:
            raise InputError(f"constant intensity {lo} in the normalisation region; min-max is undefined",
                             field=image.name, hint="use another region or method")
        out = (arr - lo) / (hi - lo)
    else:
        mu, sd = float(vals.mean()), float(vals.std())
        if sd == 0:
            raise InputError(f"constant intensity {mu} in the normalisation region; z-score is undefined",
                             field=image.name, hint="use another region or method")
        out = (arr - mu) / sd
    return image.with_array(out.astype(np.float32))


def discretise(array: np.ndarray, *, bin_count: int | None = None, bin_width: float | None = None,
               mask: np.ndarray | None = None, min_value: float | None = None) -> np.ndarray:
    """IBSI discretisation of `array` within `mask` (all voxels when None); voxels outside get 0.

    Give exactly one of `bin_count` (fixed bin number) or `bin_width` (fixed bin size). `min_value` sets
    X_min for the fixed bin size (the lower bound of the re-segmentation range); default: the ROI minimum.
    """
    if (bin_count is None) == (bin_width is None):
        raise SpecError(["give exactly one of bin_count or bin_width"])
    x = np.asarray(array, float)
    roi = np.ones(x.shape, bool) if mask is None else np.asarray(mask) > 0
    if roi.shape != x.shape:
        raise InputError(f"mask shape {roi.shape} differs from array shape {x.shape}", field="mask",
                         hint="pass a mask on the array's grid")
    vals = x[roi]
    if vals.size == 0:
        raise InputError("discretisation region is empty", field="mask", hint="check the mask")
    if not np.all(np.isfinite(vals)):
        raise InputError("NaN/inf values inside the discretisation region", field="array",
                         hint="fill undefined voxels before discretisation")
    out = np.zeros(x.shape, dtype=np.int32)
    if bin_count is not None:
        if int(bin_count) < 1:
            raise SpecError([f"bin_count must be ≥ 1, got {bin_count}"])
        lo, hi = float(vals.min()), float(vals.max())
        if hi == lo:
            d = np.ones(vals.shape, np.int32)
        else:
            d = np.floor(bin_count * (vals - lo) / (hi - lo)).astype(np.int64) + 1
            d = np.minimum(d, bin_count)
    else:
        if not bin_width > 0:
            raise SpecError([f"bin_width must be > 0, got {bin_width}"])
        lo = float(vals.min()) if min_value is None else float(min_value)
        d = np.floor((vals - lo) / bin_width).astype(np.int64) + 1
        if d.min() < 1:
            raise InputError(f"values below min_value={min_value} inside the region", field="min_value",
                             hint="re-segment the region to [min_value, ...] first or lower min_value")
    out[roi] = d
    return out
