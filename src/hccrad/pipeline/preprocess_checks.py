"""The preflight's checks of the `preprocess` steps after registration: what `run` would refuse later.

The spec-level rules (spacing_mm three positive numbers, hu_window lo < hi, n4/normalise only with
modality: mri, hu_window only with modality: ct) are pydantic validators of `PreprocessSpec`, so
`load_spec` (and `hccrad validate`) refuse them first. Here, with the study table:

- N4 or the z-score inside the liver (`intensity_region: liver`) without `data.liver_mask` is an error; a
  case whose manifest row names no liver mask (and no liver model fills it) is an error naming the case;
- `report.intensity_unit` that contradicts the modality (HU for MRI, or not HU for a CT hu_window) is a
  warning (the descriptor axes would carry the wrong unit);
- per case, only when the step is on (these read files): `spacing_mm` that leaves the tumour mask empty
  (its mask resampled with the declared mask interpolator), and N4 on a phase with negative intensities
  (CT-like values; N4 needs magnitude images). Unreadable files are left to the image inspector.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from hccrad.cohort.study import case_files
from hccrad.config.spec import StudySpec
from hccrad.core.errors import HccradError
from hccrad.preprocess.inspect import InputProblem
from hccrad.io.volume import read_image
from hccrad.preprocess.resample import resample_isotropic

SPEC = "study spec"


def preprocess_problems(spec: StudySpec, table: pd.DataFrame) -> list[InputProblem]:
    """Every problem the resampling/intensity steps would hit in `run` (see the module docstring)."""
    pp = spec.preprocess
    if not spec.data.has_imaging or not pp.reshapes_or_rescales:
        return []
    problems = _unit_problems(spec)
    needs_region = pp.n4 or pp.normalise != "none"
    if needs_region and pp.intensity_region == "liver" and not spec.data.liver_mask:
        return problems + [InputProblem(None, SPEC, "preprocess.intensity_region", (
            "intensity_region: liver needs a liver mask, but data.liver_mask is not set"),
            "declare data.liver_mask (a mask_<name> column), or set preprocess.intensity_region: tumour_box")]
    for case_id, row in table.iterrows():
        images, masks = case_files(spec, row)
        if needs_region and pp.intensity_region == "liver" and f"mask_{spec.data.liver_mask}" not in masks \
                and not spec.data.segment_missing_liver:
            problems.append(InputProblem(str(case_id), f"mask_{spec.data.liver_mask}", "preprocess.intensity_region",
                                         "no liver mask for N4/z-score inside the liver (intensity_region: liver)",
                                         "add the case's liver mask, set data.segment_missing_liver: true, or "
                                         "use preprocess.intensity_region: tumour_box"))
        if pp.spacing_mm is not None:
            problems += _empty_after_resampling(spec, str(case_id), masks.get(f"mask_{spec.data.tumor_mask}"))
        if pp.n4:
            problems += _negative_phases(str(case_id), images)
    return problems


def _unit_problems(spec: StudySpec) -> list[InputProblem]:
    pp, unit = spec.preprocess, spec.report.intensity_unit
    if pp.modality == "mri" and unit == "HU":
        return [InputProblem(None, SPEC, "report.intensity_unit", (
            "preprocess.modality is mri but report.intensity_unit is HU: descriptor axes would say HU"),
            "set report.intensity_unit (e.g. 'a.u.'); after normalise: zscore the unit is z", "warning")]
    if pp.modality == "ct" and pp.hu_window is not None and unit != "HU":
        return [InputProblem(None, SPEC, "report.intensity_unit", (
            f"preprocess.hu_window clips Hounsfield units but report.intensity_unit is {unit!r}"),
            "for CT set report.intensity_unit: HU, or drop hu_window", "warning")]
    return []


def _readable(path) -> bool:
    return isinstance(path, str) and bool(path.strip())


def _empty_after_resampling(spec: StudySpec, case_id: str, path) -> list[InputProblem]:
    if not _readable(path):
        return []
    try:
        mask = read_image(path, name=spec.data.tumor_mask, case=case_id)
    except HccradError:
        return []  # the image inspector reports unreadable files
    binary = mask.with_array((mask.array > 0).astype(np.uint8))
    if not binary.array.any():
        return []  # an empty mask is the inspector's error
    pp = spec.preprocess
    resampled = resample_isotropic(binary, tuple(pp.spacing_mm[::-1]), is_mask=True,
                                   mask_interpolator=pp.mask_interpolator)
    if resampled.array.any():
        return []
    sp = " × ".join(f"{s:g}" for s in pp.spacing_mm)
    return [InputProblem(case_id, f"mask_{spec.data.tumor_mask}", "preprocess.spacing_mm", (
        f"the tumour mask ({int(binary.array.sum())} voxel(s)) is empty after resampling to {sp} mm"),
        "choose a finer spacing_mm, or mask_interpolator: label_gaussian")]


def _negative_phases(case_id: str, images: dict) -> list[InputProblem]:
    problems = []
    for role, path in images.items():
        if not _readable(path):
            continue
        try:
            low = float(np.min(read_image(path, name=role, case=case_id).array))
        except HccradError:
            continue
        if low < 0:
            problems.append(InputProblem(case_id, role, "preprocess.n4", (
                f"N4 needs non-negative intensities; this phase has values down to {low:g}"),
                "N4 is for MRI magnitude images: check preprocess.modality, or set n4: false"))
    return problems
