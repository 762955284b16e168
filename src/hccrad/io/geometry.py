"""Geometry checks for one case: phases, mask and labels, with errors that say what differs and how to fix it.

`check_geometry` raises `GeometryError` for: an image that is 2-D (or a single slice), NaN/inf voxels, a
mask whose grid differs from the reference phase (size, spacing, origin, direction are each named), an
empty mask, a mask smaller than `min_voxels`, label values other than the expected ones, phases whose
physical extents do not overlap, and a mask that reaches outside a phase's field of view.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from hccrad.core.errors import GeometryError, InputError
from hccrad.core.image import Image
from hccrad.io.masks import grid_differences
from hccrad.io.volume import read_image

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class GeometryTolerance:
    """How far two grids may differ and still count as one grid.

    spacing: |s_a − s_b| ≤ spacing_rtol · |s_b| per axis (relative; 1e-4 of 0.7 mm is 0.07 µm);
    origin: |o_a − o_b| ≤ origin_atol_mm per axis (mm); direction: |d_a − d_b| ≤ direction_atol per
    cosine. Shapes must be equal. The defaults absorb the float32 rounding of NIfTI headers (≈ 1e-5 mm at
    300 mm from the scanner origin) and nothing a scanner or a registration would produce.
    """

    spacing_rtol: float = 1e-4
    origin_atol_mm: float = 1e-3
    direction_atol: float = 1e-4


DEFAULT_TOLERANCE = GeometryTolerance()


def grid_mismatches(a: Image, b: Image, tolerance: GeometryTolerance = DEFAULT_TOLERANCE) -> list[str]:
    """What differs between the grids of `a` and `b` beyond `tolerance`: one phrase per property
    ("size …", "spacing …", "origin …", "direction …"); [] when they share a grid."""
    out = []
    if a.shape != b.shape:
        out.append(f"size (z,y,x) {a.shape} vs {b.shape}")
    if not np.allclose(a.spacing, b.spacing, rtol=tolerance.spacing_rtol, atol=0.0):
        out.append(f"spacing (z,y,x) {_fmt(a.spacing)} vs {_fmt(b.spacing)} mm")
    if not np.allclose(a.origin, b.origin, rtol=0.0, atol=tolerance.origin_atol_mm):
        out.append(f"origin (x,y,z) {_fmt(a.origin)} vs {_fmt(b.origin)} mm")
    if not np.allclose(a.direction, b.direction, rtol=0.0, atol=tolerance.direction_atol):
        out.append(f"direction {_fmt(a.direction)} vs {_fmt(b.direction)}")
    return out


def _fmt(values: Sequence[float]) -> str:
    return "(" + ", ".join(f"{x:.6g}" for x in values) + ")"


def physical_bounds(image: Image) -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned (x, y, z) bounding box in mm of the voxel centres' convex hull, extended by half a voxel."""
    nz, ny, nx = image.shape
    d = np.asarray(image.direction, float).reshape(3, 3)
    s = np.asarray(image.spacing[::-1], float)
    corners = np.array([[i, j, k] for i in (-0.5, nx - 0.5) for j in (-0.5, ny - 0.5) for k in (-0.5, nz - 0.5)])
    pts = (d @ (corners * s).T).T + np.asarray(image.origin)
    return pts.min(axis=0), pts.max(axis=0)


def _load(item: Image | str | Path, name: str, case_id: str) -> tuple[Image, str]:
    if isinstance(item, Image):
        return item, item.meta.get("path", name)
    path = Path(item)
    if path.is_file():
        try:
            img = sitk.ReadImage(str(path))
        except RuntimeError as exc:
            raise InputError(f"cannot read image ({str(exc).strip().splitlines()[-1]})", case=case_id,
                             file=path, field=name, hint="check the file format") from exc
        if img.GetDimension() == 2:
            raise GeometryError("the image is 2-D (one slice); a 3-D volume is needed", case=case_id,
                                file=path, field=name, hint="export the whole series as one 3-D volume")
    return read_image(path, name=name, case=case_id), str(path)


def check_geometry(case_id: str, images: Mapping[str, Image | str | Path], mask: Image | str | Path | None,
                   expected_labels: Sequence[int] = (1,), *, reference_phase: str | None = None,
                   min_voxels: int = 2, atol: float = 1e-3) -> dict:
    """Check one case and return a record of what was checked; raise `GeometryError` on the first problem.

    images: phase → Image or path; mask: the label image drawn on `reference_phase` (default: "portal" if
    present, else the first phase); expected_labels: the label values allowed besides 0.
    """
    if not images:
        raise GeometryError("no images given", case=case_id, hint="add at least one phase")
    loaded = {ph: _load(im, f"image_{ph}", case_id) for ph, im in images.items()}
    ref = reference_phase or ("portal" if "portal" in loaded else next(iter(loaded)))
    if ref not in loaded:
        raise GeometryError(f"reference phase {ref!r} not among {sorted(loaded)}", case=case_id,
                            field="reference_phase", hint="choose a phase that exists")
    for ph, (img, src) in loaded.items():
        if min(img.shape) < 2:
            raise GeometryError(f"phase {ph!r} has shape {img.shape}: effectively 2-D", case=case_id, file=src,
                                field=f"image_{ph}", hint="export the whole series as one 3-D volume")
        arr = img.array
        if arr.dtype.kind == "f":
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            if bad:
                raise GeometryError(f"phase {ph!r} has {bad} NaN/inf voxel(s)", case=case_id, file=src,
                                    field=f"image_{ph}",
                                    hint="fill or crop the undefined region (e.g. outside the scan's field of "
                                         "view) before import")
    boxes = {ph: physical_bounds(img) for ph, (img, _) in loaded.items()}
    lo = np.max([b[0] for b in boxes.values()], axis=0)
    hi = np.min([b[1] for b in boxes.values()], axis=0)
    if np.any(hi <= lo):
        desc = "; ".join(f"{ph}: x,y,z {np.round(b[0], 1).tolist()}–{np.round(b[1], 1).tolist()} mm"
                         for ph, b in boxes.items())
        raise GeometryError(f"phases do not overlap in space ({desc})", case=case_id,
                            file=", ".join(src for _, src in loaded.values()),
                            hint="check that all phases belong to this patient and share a frame of reference")
    record = {"case_id": case_id, "reference_phase": ref, "phases": sorted(loaded), "mask_voxels": None}
    if mask is None:
        return record
    m, msrc = _load(mask, "mask", case_id)
    rimg, rsrc = loaded[ref]
    diffs = grid_differences(m, rimg, atol=atol)
    if diffs:
        raise GeometryError(f"mask and {ref} image grids differ: " + "; ".join(diffs), case=case_id,
                            file=f"{msrc} vs {rsrc}", field="mask",
                            hint="export the mask from the image it was drawn on, or resample it with "
                                 "hccrad.preprocess.resample_to_reference(mask, image, is_mask=True)")
    marr = m.array
    if marr.dtype.kind == "f" and not np.all(np.isfinite(marr)):
        raise GeometryError("mask has NaN/inf values", case=case_id, file=msrc, field="mask",
                            hint="save the mask as an integer label image")
    values = np.unique(marr)
    unexpected = [v.item() for v in values if v != 0 and v not in set(expected_labels)]
    if unexpected:
        raise GeometryError(f"mask has label values {unexpected[:10]} besides the expected {list(expected_labels)}",
                            case=case_id, file=msrc, field="mask",
                            hint="relabel the mask, or list the values in expected_labels")
    n = int(np.count_nonzero(marr))
    if n == 0:
        raise GeometryError("mask is empty (no voxel labelled)", case=case_id, file=msrc, field="mask",
                            hint="check that the segmentation was saved, and drawn on this image")
    if n < min_voxels:
        raise GeometryError(f"mask has {n} voxel(s), fewer than the {min_voxels} needed", case=case_id,
                            file=msrc, field="mask", hint="check the segmentation; a lesion this small cannot "
                                                          "carry texture or habitat information")
    zyx = np.argwhere(marr != 0)
    d = np.asarray(rimg.direction, float).reshape(3, 3)
    pts = (d @ (zyx[:, ::-1] * np.asarray(rimg.spacing[::-1])).T).T + np.asarray(rimg.origin)
    for ph, (lo_b, hi_b) in boxes.items():
        if np.any(pts.min(axis=0) < lo_b - atol) or np.any(pts.max(axis=0) > hi_b + atol):
            raise GeometryError(f"the mask reaches outside the field of view of phase {ph!r}", case=case_id,
                                file=loaded[ph][1], field=f"image_{ph}",
                                hint="use a series covering the whole tumour, or crop the mask")
    record["mask_voxels"] = n
    return record
