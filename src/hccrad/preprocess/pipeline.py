"""`preprocess_case`: the preprocessing steps in order, each returning a record for run.json.

Order (seed 001 §2.5; seed 000 §2.5): N4 bias-field correction (MRI only) → registration of every phase to
the reference phase (which also puts all phases on the reference grid, where the masks were drawn) →
resampling to isotropic spacing (images B-spline or linear, masks nearest) → intensity normalisation.
Registering before resampling interpolates each moving phase once less than the reverse order.
The study run (the spec's `preprocess:` section) does not use this function: it registers around the tumour
(`hccrad.preprocess.alignment`) and then resamples and applies the intensity steps
(`hccrad.preprocess.steps`), N4 included, in the order register → resample → intensity (Mattes mutual
information is insensitive to a smooth bias field, and N4 then sees the voxels the descriptor maps see).
Discretisation is not part of this step: it belongs to feature extraction (bin settings are feature
parameters), see `hccrad.preprocess.discretise`.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from hccrad.core.case import Case
from hccrad.core.errors import SpecError
from hccrad.preprocess.intensity import NORMALISATIONS, n4_bias_correction, normalise
from hccrad.preprocess.register import METRICS, TRANSFORMS, register_to_reference
from hccrad.preprocess.resample import INTERPOLATORS, resample_isotropic, resample_to_reference

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreprocessSteps:
    """Settings of `preprocess_case` (mirrors the config's preprocess section).

    reference_phase: the phase the masks were drawn on; register: None, "rigid" or "affine";
    spacing_mm: isotropic spacing or None to keep the grid; normalisation: None, "minmax", "zscore",
    "window"; normalise_within: mask name whose voxels give the statistics (None = whole image).
    """

    reference_phase: str = "portal"
    n4: bool = False
    register: str | None = "rigid"
    metric: str = "mattes_mi"
    registration_backend: str = "sitk"
    seed: int = 0
    spacing_mm: float | None = 1.0
    image_interpolator: str = "bspline"
    mask_interpolator: str = "nearest"
    normalisation: str | None = None
    normalise_within: str | None = None
    window: tuple[float, float] | None = None

    def validate(self) -> None:
        problems = []
        if self.register not in (None, *TRANSFORMS):
            problems.append(f"register={self.register!r} is not None or one of {TRANSFORMS}")
        if self.metric not in METRICS:
            problems.append(f"metric={self.metric!r} is not one of {METRICS}")
        if self.image_interpolator not in INTERPOLATORS:
            problems.append(f"image_interpolator={self.image_interpolator!r} not in {sorted(INTERPOLATORS)}")
        if self.mask_interpolator != "nearest":
            problems.append("mask_interpolator must be 'nearest' (labels cannot be interpolated)")
        if self.normalisation not in (None, *NORMALISATIONS):
            problems.append(f"normalisation={self.normalisation!r} is not None or one of {NORMALISATIONS}")
        if self.normalisation == "window" and self.window is None:
            problems.append("normalisation='window' needs window=(lo, hi)")
        if self.spacing_mm is not None and not self.spacing_mm > 0:
            problems.append(f"spacing_mm must be > 0, got {self.spacing_mm}")
        if problems:
            raise SpecError(problems)


def preprocess_case(case: Case, steps: PreprocessSteps) -> tuple[Case, list[dict]]:
    """Apply `steps` to every phase and mask of `case`; return the new Case and one record per step."""
    steps.validate()
    records: list[dict] = []
    images = dict(case.images)
    masks = dict(case.masks)
    fixed = case.image(steps.reference_phase)
    if steps.n4:
        for ph, img in images.items():
            images[ph] = n4_bias_correction(img)
        records.append({"step": "n4", "phases": sorted(images)})
        fixed = images[steps.reference_phase]
    for ph, img in list(images.items()):
        if ph == steps.reference_phase:
            continue
        if steps.register is not None:
            images[ph], rec = register_to_reference(img, fixed, steps.register, steps.metric,
                                                    backend=steps.registration_backend,
                                                    interpolator="linear", seed=steps.seed, case=case.case_id)
            records.append({**rec.to_dict(), "case_id": case.case_id, "phase": ph})
        elif not img.same_grid(fixed):
            images[ph] = resample_to_reference(img, fixed, interpolator="linear")
            records.append({"step": "resample_to_reference", "case_id": case.case_id, "phase": ph,
                            "reference": steps.reference_phase})
    for name, m in masks.items():
        if not m.same_grid(fixed):
            masks[name] = resample_to_reference(m, fixed, is_mask=True)
            records.append({"step": "resample_to_reference", "case_id": case.case_id, "mask": name,
                            "interpolator": "nearest"})
    if steps.spacing_mm is not None:
        images = {ph: resample_isotropic(img, steps.spacing_mm, interpolator=steps.image_interpolator)
                  for ph, img in images.items()}
        masks = {n: resample_isotropic(m, steps.spacing_mm, is_mask=True) for n, m in masks.items()}
        records.append({"step": "resample_isotropic", "case_id": case.case_id, "spacing_mm": steps.spacing_mm,
                        "image_interpolator": steps.image_interpolator, "mask_interpolator": "nearest",
                        "shape": list(fixed.shape if not images else images[steps.reference_phase].shape)})
    if steps.normalisation is not None:
        region = None
        if steps.normalise_within is not None:
            region = case.with_masks(masks).mask(steps.normalise_within)
        images = {ph: normalise(img, steps.normalisation, region, window=steps.window)
                  for ph, img in images.items()}
        records.append({"step": "normalise", "case_id": case.case_id, "method": steps.normalisation,
                        "within": steps.normalise_within, "window": list(steps.window) if steps.window else None})
    logger.info("preprocessed case %s: %d step(s)", case.case_id, len(records))
    return case.with_images(images).with_masks(masks), records


def steps_record(steps: PreprocessSteps) -> dict:
    """The settings as a JSON-ready dict for run.json."""
    d = asdict(steps)
    if d["window"] is not None:
        d["window"] = list(d["window"])
    return d

