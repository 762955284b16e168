"""Inspect one case's image and mask files before anything is computed from them, listing every problem.

`inspect_case_images` reads each file once, fully (`hccrad.io.volume.read_image`, whose
`hccrad.io.integrity.verify_complete` decompresses the whole stream and compares its length with the size
the header declares; SimpleITK alone zero-fills a truncated `.nii.gz` without a word), and returns one
`InputProblem` per finding instead of stopping at the first:

- readability (field "readability"): missing, unreadable, truncated or corrupt file, not a 3-D scalar
  volume; NaN/inf voxels (field "values");
- geometry (field "geometry"): every image and every mask against the `reference` image — size, spacing,
  origin and direction within `GeometryTolerance` (`hccrad.io.geometry.grid_mismatches`, the comparison
  `check_geometry` makes);
- labels (field "labels"): a mask holding values other than {0, mask_label} (a mask with {0, 2} when the
  label is 1 is an error: declare the label), non-integer or NaN values; roles in `multilabel_masks` (a
  liver mask whose tumour is labelled 2 inside it) count every non-zero voxel as foreground instead;
- empty (field "empty"): a mask without a foreground voxel;
- intensity (field "intensity", a warning): an image that is constant or near-constant inside a mask.
  Rule: SD of the voxels inside the mask ≤ `NEAR_CONSTANT_FRACTION` (1e-3) × (max − min) of the whole
  image, i.e. ≤ 1 HU for a CT spanning 1000 HU; a wholly constant image always warns. Each image warns
  at most once, for the first mask (in the order given) where the rule holds;
- alignment (field "alignment", a warning; only when `alignment_mask` names the tumour mask's role): a
  phase that looks shifted from the reference phase around the tumour
  (`hccrad.preprocess.alignment.misalignment`: phase correlation of smoothed gradient magnitudes in the
  tumour box grown by 10 mm, a shift ≥ 2 mm that raises their NCC by ≥ max(0.05, 3/√N_eff); ~10–30 ms per
  phase); the hint suggests `preprocess: {registration: rigid}`.

`inspect_and_load` does the same and also returns the images it read, so a run reads each file once;
`verify=False` skips the full-payload check for files whose bytes were verified before (the other checks run).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hccrad.core.errors import HccradError
from hccrad.core.image import Image
from hccrad.io.geometry import DEFAULT_TOLERANCE, GeometryTolerance, grid_mismatches
from hccrad.io.volume import NonFiniteVoxelsError, read_image
from hccrad.preprocess.alignment import misalignment

NEAR_CONSTANT_FRACTION = 1e-3

__all__ = ["CaseInspection", "DEFAULT_TOLERANCE", "GeometryTolerance", "InputProblem", "NEAR_CONSTANT_FRACTION",
           "inspect_and_load", "inspect_case_images"]


@dataclass(frozen=True)
class InputProblem:
    """One thing wrong with a study's inputs: where (case, file role, field), what, and how to fix it."""

    case_id: str | None      # None for study-level problems
    file: str                # the manifest column / role, e.g. "image_arterial", "mask_tumor", "clinical"
    field: str               # "readability", "values", "geometry", "labels", "empty", "intensity", ...
    message: str
    hint: str = ""
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = ", ".join(p for p in (f"case {self.case_id!r}" if self.case_id is not None else "",
                                      f"file {self.file}", f"field {self.field!r}") if p)
        text = f"{self.severity}: {where}: {self.message}"
        return text + (f"\n  how to fix: {self.hint}" if self.hint else "")


@dataclass
class CaseInspection:
    """The problems of one case and the volumes that could be read (role → Image)."""

    case_id: str
    problems: list[InputProblem] = field(default_factory=list)
    images: dict[str, Image] = field(default_factory=dict)
    masks: dict[str, Image] = field(default_factory=dict)

    @property
    def errors(self) -> list[InputProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[InputProblem]:
        return [p for p in self.problems if p.severity == "warning"]


def inspect_case_images(case_id: str, images: Mapping[str, Path], masks: Mapping[str, Path], *,
                        reference: str, tolerance: GeometryTolerance = DEFAULT_TOLERANCE,
                        mask_label: int = 1, multilabel_masks: Collection[str] = (),
                        alignment_mask: str | None = None) -> list[InputProblem]:
    """Every problem with one case's files (see the module docstring); [] for a good case.

    images: role → path, e.g. {"image_portal": Path(...)}; masks: role → path ({"mask_tumor": ...});
    reference: the image role whose grid every other image and mask must share.
    """
    return inspect_and_load(case_id, images, masks, reference=reference, tolerance=tolerance,
                            mask_label=mask_label, multilabel_masks=multilabel_masks,
                            alignment_mask=alignment_mask).problems


def inspect_and_load(case_id: str, images: Mapping[str, Path | str], masks: Mapping[str, Path | str], *,
                     reference: str, tolerance: GeometryTolerance = DEFAULT_TOLERANCE, mask_label: int = 1,
                     multilabel_masks: Collection[str] = (), alignment_mask: str | None = None,
                     verify: bool = True) -> CaseInspection:
    """`inspect_case_images`, also returning the volumes read (a run then reads no file twice)."""
    result = CaseInspection(case_id)
    if reference not in images:
        result.problems.append(InputProblem(case_id, reference, "geometry",
                                            f"the reference image {reference!r} is not among {sorted(images)}",
                                            "name a reference role that the case has"))
    for role, path in images.items():
        _read_into(result, role, path, result.images, verify)
    for role, path in masks.items():
        _read_into(result, role, path, result.masks, verify)
    ref = result.images.get(reference)
    if ref is not None:
        for role, img in [*result.images.items(), *result.masks.items()]:
            if role != reference:
                _check_grid(result, role, img, reference, ref, tolerance)
    foregrounds = {}
    for role, m in result.masks.items():
        fg = _mask_foreground(result, role, m, mask_label, multilabel=role in multilabel_masks)
        if fg is not None and (ref is None or m.shape == ref.shape):
            foregrounds[role] = fg
    _check_intensity(result, foregrounds)
    if alignment_mask is not None and alignment_mask in foregrounds and ref is not None:
        _check_alignment(result, reference, foregrounds[alignment_mask])
    return result


def _check_alignment(result: CaseInspection, ref_role: str, tumour: np.ndarray) -> None:
    ref = result.images[ref_role]
    for role, img in result.images.items():
        if role == ref_role or not img.same_grid(ref):
            continue  # a phase off the reference grid is already a geometry error
        m = misalignment(ref.array, img.array, tumour, ref.spacing)
        if m.looks_misaligned:
            result.problems.append(InputProblem(
                result.case_id, role, "alignment",
                f"phase looks shifted from {ref_role} by ~{m.shift_mm:.1f} mm around the tumour (shift (z, y, x) "
                f"{m.shift_vox} voxels raises the NCC of the gradient magnitudes from {m.ncc_zero:.2f} to "
                f"{m.ncc_shifted:.2f}); habitats mix voxels of different tissue across phases",
                "register the phases to the reference phase: add `preprocess: {registration: rigid}` to the "
                "study spec", severity="warning"))


def _read_into(result: CaseInspection, role: str, path: Path | str, into: dict[str, Image],
               verify: bool = True) -> None:
    if path is None or (isinstance(path, float) and np.isnan(path)) or str(path).strip() == "":
        result.problems.append(InputProblem(result.case_id, role, "readability", "no file given (blank cell)",
                                            f"fill the manifest column {role!r} for this case"))
        return
    try:
        into[role] = read_image(Path(path), name=role, case=result.case_id, verify=verify)
    except HccradError as exc:
        kind = "values" if isinstance(exc, NonFiniteVoxelsError) else "readability"
        result.problems.append(InputProblem(result.case_id, role, kind, exc.message, exc.hint or ""))


def _check_grid(result: CaseInspection, role: str, img: Image, ref_role: str, ref: Image,
                tolerance: GeometryTolerance) -> None:
    diffs = grid_mismatches(img, ref, tolerance)
    if diffs:
        hint = ("export the mask from the image it was drawn on, or resample it with "
                "hccrad.preprocess.resample_to_reference(mask, image, is_mask=True)" if role.startswith("mask")
                else "register/resample the phase onto the reference grid (hccrad.preprocess) first")
        result.problems.append(InputProblem(result.case_id, role, "geometry",
                                            f"grid differs from {ref_role}: " + "; ".join(diffs), hint))


def _mask_foreground(result: CaseInspection, role: str, mask: Image, label: int, *,
                     multilabel: bool) -> np.ndarray | None:
    """Boolean foreground of a mask, or None after recording why it cannot be used."""
    arr = mask.array
    values = np.unique(arr)
    if arr.dtype.kind == "f" and (not np.all(np.isfinite(values)) or np.any(values != np.round(values))):
        result.problems.append(InputProblem(result.case_id, role, "labels",
                                            "mask values are not integers (NaN, or a probability map?)",
                                            "threshold the map and save the mask as an integer label image"))
        return None
    if multilabel:
        fg = arr != 0
    else:
        other = [v.item() for v in values if v != 0 and v != label]
        if other:
            shown = [int(v) for v in values[:10]]
            result.problems.append(InputProblem(
                result.case_id, role, "labels",
                f"mask has label values {shown} but must hold only {{0, {label}}}",
                "relabel the mask to 0/1, or declare its label (data.mask_label, or mask_label=) when the "
                "lesion is drawn with another value"))
            return None
        fg = arr == label
    if not fg.any():
        result.problems.append(InputProblem(result.case_id, role, "empty", "mask is empty (no foreground voxel)",
                                            "check that the segmentation was saved and drawn on this case"))
        return None
    return fg


def _check_intensity(result: CaseInspection, foregrounds: Mapping[str, np.ndarray]) -> None:
    for role, img in result.images.items():
        arr = img.array
        span = float(arr.max()) - float(arr.min()) if arr.size else 0.0
        for mask_role, fg in foregrounds.items():
            if fg.shape != arr.shape:
                continue
            sd = float(np.std(arr[fg], dtype=np.float64))
            if sd <= NEAR_CONSTANT_FRACTION * span:
                what = "constant" if span == 0 else "near-constant"
                result.problems.append(InputProblem(
                    result.case_id, role, "intensity",
                    f"image is {what} inside {mask_role}: SD {sd:.4g} ≤ {NEAR_CONSTANT_FRACTION:g} × its range "
                    f"{span:.4g}; habitats and texture features of this case carry no information",
                    "check the file (a blank export, a wrong series or window) before trusting this case",
                    severity="warning"))
                break
