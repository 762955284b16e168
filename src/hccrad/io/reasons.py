"""Why ingest left a case out, in words that cannot hold a source name (privacy by construction).

An error raised while reading a case may quote a file path, a folder name, a series description, an
ROI/segment name or a parser's message; any of them can identify a patient. So the ingest report and log
never show the error's text. They show a reason code and its fixed description from `REASONS` (chosen by
matching the error message against each reason's pattern: the message only picks among constants), plus
the error's field when it is a DICOM keyword or an hccrad role (`image_portal`, `mask_tumor`). Errors that
ingest raises itself are `IngestRefusal`s, whose message is built from roles and counts only and whose
source details (`detail`) are shown only when the user opts in with `keep_source_names`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydicom.datadict import tag_for_keyword

from hccrad.core.errors import GeometryError, HccradError, InputError

PHASES = ("pre", "arterial", "portal", "delayed", "t2")
MASK_KINDS = ("tumor", "tumor_reader2", "liver")
#: Fields that are roles, not source names: the phases and mask kinds, alone or as manifest columns.
ROLE_FIELDS = frozenset({*PHASES, *MASK_KINDS, "mask", *(f"image_{p}" for p in PHASES),
                         *(f"mask_{k}" for k in MASK_KINDS)})


@dataclass(frozen=True)
class Reason:
    """A reason code, its fixed description, and the pattern of the error messages it stands for."""

    code: str
    text: str
    pattern: str


#: Checked in order; the first reason whose pattern is found in an error message is reported.
REASONS: tuple[Reason, ...] = (
    Reason("unreadable", "a file or folder is not readable (permissions)", r"not readable"),
    Reason("source_missing", "a file or folder does not exist", r"does not exist"),
    Reason("corrupt_file", "a corrupt, truncated or non-DICOM file",
           r"corrupt|cannot read image|cannot decode|cannot read Slicer"),
    Reason("multi_frame", "a multi-frame DICOM image where single-frame slices are needed", r"single-frame slice"),
    Reason("not_volumetric", "a slice without a 3-D position (scout or secondary capture?)",
           r"cannot place it in 3-D"),
    Reason("mixed_series", "slices of different orientations or sizes (mixed series)",
           r"different (orientations|sizes)|mixed series"),
    Reason("duplicate_slice", "two slices at the same position", r"same position"),
    Reason("missing_slice", "missing slice(s) in a DICOM series", r"missing slice"),
    Reason("irregular_spacing", "irregular slice spacing", r"irregular slice spacing"),
    Reason("vector_image", "an RGB/vector image where a scalar volume is needed", r"several components"),
    Reason("nan_voxels", "NaN/inf voxels", r"NaN/inf"),
    Reason("not_3d", "a 2-D image where a 3-D volume is needed", r"2-D|single slice|expected a 3-D"),
    Reason("grid_mismatch", "the mask and the image grids differ",
           r"grids differ|SEG frames are|does not fall on a slice|does not lie on a slice"),
    Reason("mask_outside_image", "the mask reaches outside the image", r"outside the (field of view|reference)"),
    Reason("phases_do_not_overlap", "the phases do not overlap in space", r"do not overlap"),
    Reason("mask_empty", "a mask is empty", r"is empty"),
    Reason("mask_too_small", "the mask has fewer voxels than needed", r"fewer than the"),
    Reason("mask_labels", "mask label values other than expected (or not integers)",
           r"label values|not non-negative integers"),
    Reason("mask_not_named", "no ROI/segment named as tumour or liver",
           r"ROI/segment|segment .* not found|Segment0_Name"),
    Reason("mask_file_kind", "a DICOM mask that is not one RTSTRUCT or SEG file",
           r"neither RTSTRUCT nor SEG|exactly one DICOM file|needs the reference image"),
)


class IngestRefusal(InputError):
    """A case refused by ingest itself. `safe_message` holds only roles and counts; `detail` (source
    names: series descriptions, file names) is appended to the error text but reported only on opt-in."""

    def __init__(self, code: str, safe_message: str, *, case: str, field: str | None = None,
                 hint: str | None = None, detail: str = "") -> None:
        self.code = code
        self.safe_message = safe_message
        self.detail = detail
        super().__init__(safe_message + (f": {detail}" if detail else ""), case=case, field=field, hint=hint)


def safe_field(field: str | None) -> str | None:
    """`field` when it is a DICOM keyword or an hccrad role, else None (it is then never reported)."""
    if not field:
        return None
    if field in ROLE_FIELDS or (field.isidentifier() and tag_for_keyword(field) is not None):
        return field
    return None


def reason_of(exc: BaseException) -> tuple[str, str]:
    """(reason code, description) of an error, with no text taken from the error (see module docstring)."""
    if isinstance(exc, IngestRefusal):
        code, text = exc.code, exc.safe_message
    elif isinstance(exc, HccradError):
        hit = next((r for r in REASONS if re.search(r.pattern, exc.message, flags=re.IGNORECASE)), None)
        if hit is not None:
            code, text = hit.code, hit.text
        elif isinstance(exc, GeometryError):
            code, text = "geometry_error", "a geometry check failed"
        else:
            code, text = "input_error", "an input could not be read or used"
    else:
        return "unexpected_error", f"unexpected {type(exc).__name__}; please report it"
    field = safe_field(getattr(exc, "field", None))
    return code, text + (f" (field {field})" if field else "")
