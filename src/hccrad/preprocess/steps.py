"""Resampling and intensity handling of one case after registration, with one QC row per phase.

Order (per case): registration (`hccrad.preprocess.alignment`, on the reference grid where the masks were
drawn) → resampling → intensity. Registering first interpolates each moving phase once less; intensity
comes last so that N4 and the z-score see the voxels the descriptor maps will see.

* Resampling (`resample_case`, `hccrad.preprocess.resample.resample_isotropic`): every phase and mask to
  `spacing_xyz` ((x, y, z) mm); images linear or B-spline, masks nearest neighbour or label-Gaussian (both
  keep one label per voxel; masks stay binary). A tumour mask left empty by the new grid is an error naming
  the case, the mask file and `preprocess.spacing_mm`; a tumour volume changed by more than
  `MAX_VOLUME_CHANGE` (10 %) is a QC warning (a grid too coarse for the tumour).
* CT (`hu_window`): every phase clipped to [lo, hi] HU, x' = min(max(x, lo), hi) (values stay in HU, so a
  phase difference such as AE = arterial − pre stays in HU).
* MRI: N4 bias-field correction (Tustison et al., IEEE TMI 2010; SimpleITK, one thread, fitted inside the
  intensity region; the QC row gives the range of the removed field b = I / I_corr there), then the
  z-score x' = (x − μ) / σ with μ, σ over the intensity region (seed 001 §2.5). The region is the liver
  mask or the tumour's bounding box grown by `box_margin_mm` on each side (the liver around the tumour).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hccrad.core.case import Case
from hccrad.core.errors import GeometryError, InputError
from hccrad.preprocess.alignment import tumour_box
from hccrad.preprocess.intensity import n4_bias_correction, normalise
from hccrad.preprocess.resample import resample_isotropic

STEPS_QC_COLUMNS = ["case_id", "phase", "spacing_before_mm", "spacing_after_mm", "shape_after",
                    "tumour_ml_before", "tumour_ml_after", "hu_window", "clipped_pct", "n4_bias_min",
                    "n4_bias_max", "region", "region_mean", "region_sd", "steps", "warning"]
N4_THREADS = 1  # byte-identical reruns
MAX_VOLUME_CHANGE = 0.10  # QC warning when resampling changes the tumour volume by more than this fraction


@dataclass(frozen=True)
class GridIntensitySteps:
    """Settings of `process_case` (the study spec's `preprocess` section after registration).

    spacing_xyz: (x, y, z) mm or None (keep the grid); hu_window: (lo, hi) HU or None; n4: N4 bias-field
    correction; normalise: "none" or "zscore"; region: "liver" or "tumour_box" (N4 and z-score statistics).
    """

    spacing_xyz: tuple[float, float, float] | None = None
    image_interpolator: str = "linear"
    mask_interpolator: str = "nearest"
    hu_window: tuple[float, float] | None = None
    n4: bool = False
    normalise: str = "none"
    region: str = "tumour_box"
    box_margin_mm: float = 30.0

    @property
    def active(self) -> bool:
        return (self.spacing_xyz is not None or self.hu_window is not None or self.n4
                or self.normalise != "none")

    @property
    def needs_region(self) -> bool:
        return self.n4 or self.normalise != "none"


def _xyz(spacing_zyx: tuple[float, ...]) -> str:
    return " × ".join(f"{s:.4g}" for s in spacing_zyx[::-1])


def _window_text(window: tuple[float, float] | None) -> str:
    return "" if window is None else f"{window[0]:g} to {window[1]:g}"


def resample_case(case: Case, steps: GridIntensitySteps, tumour_mask: str) -> Case:
    """Every phase and mask of `case` on the `steps.spacing_xyz` grid (see the module docstring)."""
    if steps.spacing_xyz is None:
        return case
    zyx = tuple(float(s) for s in steps.spacing_xyz[::-1])
    images = {p: resample_isotropic(img, zyx, interpolator=steps.image_interpolator)
              for p, img in case.images.items()}
    masks = {n: resample_isotropic(m.with_array((m.array > 0).astype(np.uint8)), zyx, is_mask=True,
                                   mask_interpolator=steps.mask_interpolator)
             for n, m in case.masks.items()}
    out = case.with_images(images).with_masks(masks)
    if tumour_mask in masks and not out.mask(tumour_mask).any():
        before = int(case.mask(tumour_mask).sum())
        raise GeometryError(f"the tumour mask ({before} voxel(s) at {_xyz(case.masks[tumour_mask].spacing)} mm) "
                            f"is empty after resampling to {_xyz(zyx)} mm", case=case.case_id,
                            file=case.masks[tumour_mask].meta.get("path"), field="preprocess.spacing_mm",
                            hint="choose a finer spacing_mm, or mask_interpolator: label_gaussian")
    return out


def intensity_region(case: Case, steps: GridIntensitySteps, tumour_mask: str, liver_mask: str | None
                     ) -> np.ndarray:
    """The voxels N4 and the z-score use: the liver mask, or the tumour box grown by `box_margin_mm`."""
    if steps.region == "liver":
        if not liver_mask or liver_mask not in case.masks:
            raise InputError("intensity_region: liver needs the case's liver mask, which it does not have",
                             case=case.case_id, field=f"mask_{liver_mask or 'liver'}",
                             hint="add the liver mask to the manifest, or set preprocess.intensity_region: "
                                  "tumour_box")
        region = case.mask(liver_mask)
        if not region.any():
            raise InputError("the liver mask is empty", case=case.case_id, field=f"mask_{liver_mask}",
                             hint="check the liver segmentation")
        return region
    tumour = case.mask(tumour_mask)
    box = tumour_box(tumour, case.masks[tumour_mask].spacing, steps.box_margin_mm)
    region = np.zeros(tumour.shape, bool)
    region[box] = True
    return region


def _n4(case: Case, phase: str, region: np.ndarray) -> tuple:
    img = case.images[phase]
    if float(np.min(img.array)) < 0:
        raise InputError(f"N4 needs non-negative intensities; the {phase} phase has values down to "
                         f"{float(np.min(img.array)):g}", case=case.case_id, file=img.meta.get("path"),
                         field=f"image_{phase}", hint="N4 is for MRI magnitude images; set preprocess.n4: false")
    corrected = n4_bias_correction(img, region, threads=N4_THREADS)
    inside = corrected.array[region]
    ok = np.abs(inside) > 1e-6
    bias = np.asarray(img.array, np.float32)[region][ok] / inside[ok]
    span = (round(float(bias.min()), 4), round(float(bias.max()), 4)) if bias.size else (None, None)
    return corrected, span


def apply_intensity(case: Case, steps: GridIntensitySteps, region: np.ndarray | None,
                    tumour: np.ndarray) -> tuple[Case, dict[str, dict]]:
    """The intensity steps on every phase; per phase the QC values (see `STEPS_QC_COLUMNS`)."""
    images = dict(case.images)
    qc: dict[str, dict] = {p: {} for p in images}
    for phase, img in case.images.items():
        if steps.hu_window is not None:
            lo, hi = steps.hu_window
            vals = np.asarray(img.array)[tumour]
            qc[phase]["clipped_pct"] = round(100.0 * float(np.mean((vals < lo) | (vals > hi))), 3) if vals.size else 0.0
            images[phase] = normalise(img, "window", window=(lo, hi))
        if steps.n4:
            images[phase], (qc[phase]["n4_bias_min"], qc[phase]["n4_bias_max"]) = _n4(
                case.with_images(images), phase, region)
        if steps.normalise == "zscore":
            vals = np.asarray(images[phase].array, float)[region]
            qc[phase]["region_mean"], qc[phase]["region_sd"] = round(float(vals.mean()), 4), round(float(vals.std()), 4)
            try:
                images[phase] = normalise(images[phase], "zscore", region)
            except InputError as exc:
                raise InputError(exc.message, case=case.case_id, field=f"image_{phase}", hint=exc.hint) from exc
    return case.with_images(images), qc


def process_case(case: Case, steps: GridIntensitySteps, *, tumour_mask: str, liver_mask: str | None
                 ) -> tuple[Case, list[dict]]:
    """Resample, then the intensity steps; the new case and one QC row per phase (`STEPS_QC_COLUMNS`)."""
    if not steps.active:
        return case, []
    before = case.masks[tumour_mask]
    ml_before = float(before.array.astype(bool).sum()) * before.voxel_volume_mm3 / 1000.0
    out = resample_case(case, steps, tumour_mask)
    tumour = out.mask(tumour_mask)
    region = intensity_region(out, steps, tumour_mask, liver_mask) if steps.needs_region else None
    out, qc = apply_intensity(out, steps, region, tumour)
    done = [name for name, on in (("resample", steps.spacing_xyz is not None), ("hu_clip", steps.hu_window),
                                  ("n4", steps.n4), ("zscore", steps.normalise == "zscore")) if on]
    after = out.masks[tumour_mask]
    ml_after = float(tumour.sum()) * after.voxel_volume_mm3 / 1000.0
    warning = ""
    if abs(ml_after - ml_before) > MAX_VOLUME_CHANGE * ml_before:
        warning = (f"tumour volume {ml_before:.3g} → {ml_after:.3g} mL after resampling "
                   f"({100 * (ml_after - ml_before) / ml_before:+.0f} %)")
    rows = []
    for phase in case.images:
        rows.append({"case_id": case.case_id, "phase": phase,
                     "spacing_before_mm": _xyz(case.images[phase].spacing),
                     "spacing_after_mm": _xyz(out.images[phase].spacing),
                     "shape_after": " × ".join(str(n) for n in out.images[phase].shape[::-1]),
                     "tumour_ml_before": round(ml_before, 3),
                     "tumour_ml_after": round(ml_after, 3),
                     "hu_window": _window_text(steps.hu_window),
                     "clipped_pct": qc[phase].get("clipped_pct"), "n4_bias_min": qc[phase].get("n4_bias_min"),
                     "n4_bias_max": qc[phase].get("n4_bias_max"),
                     "region": steps.region if steps.needs_region else "",
                     "region_mean": qc[phase].get("region_mean"), "region_sd": qc[phase].get("region_sd"),
                     "steps": "; ".join(done), "warning": warning})
    return out, rows
