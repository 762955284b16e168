"""Read segmentation masks as label `Image`s: label volumes, DICOM RTSTRUCT, DICOM-SEG, 3D Slicer .seg.nrrd.

`read_mask(path, reference, labels=...)` returns an integer label image (0 = background). `labels` maps
segment/ROI names (matched case-insensitively) to output values, e.g. ``{"GTV-1": 1}`` or
``{"tumor": 1, "liver": 2}``; without it every segment is kept, numbered 1..n in file order (Slicer
segments keep their LabelValue). The names used are stored in ``meta["labels"]``.

RTSTRUCT rasterisation (DICOM PS3.3 C.8.8.6, ROI Contour Module): every CLOSED_PLANAR contour is mapped
from patient coordinates p (mm) to continuous voxel indices i = (D·diag(s))⁻¹ (p − o) of the reference grid
(o origin, D direction, s spacing) — an affine map, so point-in-polygon in index space equals
point-in-polygon in physical space — and a voxel belongs to the ROI when its centre lies inside the polygon
(matplotlib.path even-odd test). Contours on the same slice are combined by exclusive-or, so an inner
contour cuts a hole, as most planning systems do. Each contour's slice is its nearest slice centre; a
contour lying more than a quarter slice off the grid is an error (wrong reference image).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from matplotlib.path import Path as PolyPath

from hccrad.core.errors import GeometryError, InputError
from hccrad.core.image import Image
from hccrad.io.dicom import is_dicom_candidate
from hccrad.io.volume import from_sitk, read_image

logger = logging.getLogger(__name__)

RTSTRUCT_SOP = "1.2.840.10008.5.1.4.1.1.481.3"
SEG_SOP = "1.2.840.10008.5.1.4.1.1.66.4"


def read_mask(path: str | Path, reference: Image | None = None, *, labels: dict[str, int] | None = None,
              case: str | None = None) -> Image:
    """Read a mask file (or a folder holding one RTSTRUCT/SEG file) as a label image.

    RTSTRUCT needs `reference` (the image the contours were drawn on). For other formats a given
    `reference` must share the mask's grid, else `GeometryError` (resample with
    `hccrad.preprocess.resample_to_reference(mask, reference, is_mask=True)` if that is intended).
    """
    path = Path(path)
    if not path.exists():
        raise InputError("mask file does not exist", case=case, file=path,
                         hint="check the path in the manifest (relative paths start at the manifest's folder)")
    if path.is_dir():
        cands = [p for p in sorted(path.rglob("*")) if is_dicom_candidate(p)]
        if len(cands) != 1:
            raise InputError(f"a mask folder must hold exactly one DICOM file (RTSTRUCT or SEG); found {len(cands)}",
                             case=case, file=path, hint="point to the RTSTRUCT/SEG file itself")
        path = cands[0]
    name = path.name.lower()
    if name.endswith(".seg.nrrd"):
        mask = _read_slicer_seg(path, labels, case)
    elif path.suffix.lower() in (".dcm", ".dicom", "") and _is_dicom(path):
        ds = _dcmread(path, case)
        sop = str(ds.get("SOPClassUID", ""))
        modality = str(ds.get("Modality", ""))
        if sop == RTSTRUCT_SOP or modality == "RTSTRUCT":
            if reference is None:
                raise InputError("an RTSTRUCT needs the reference image it was drawn on", case=case, file=path,
                                 hint="pass reference=<the image read from the referenced series>")
            return rasterise_rtstruct(ds, reference, labels=labels, case=case, file=path)
        if sop == SEG_SOP or modality == "SEG":
            return _read_dicom_seg(ds, reference, labels, case, path)
        raise InputError(f"DICOM file is neither RTSTRUCT nor SEG (Modality {modality!r})", case=case, file=path,
                         hint="for a mask stored as an image series, export it as NIfTI/NRRD")
    else:
        img = read_image(path, name="mask", case=case)
        mask = _label_image(img, labels, case, path)
    if reference is not None:
        require_same_grid(mask, reference, case=case, file=path)
    return mask


def _is_dicom(path: Path) -> bool:
    with path.open("rb") as fh:
        head = fh.read(132)
    return len(head) == 132 and head[128:132] == b"DICM" or path.suffix.lower() in (".dcm", ".dicom")


def _dcmread(path: Path, case: str | None) -> pydicom.Dataset:
    try:
        return pydicom.dcmread(str(path))
    except Exception as exc:  # noqa: BLE001 - pydicom raises many types for corrupt files
        raise InputError(f"corrupt DICOM mask file ({type(exc).__name__}: {exc})", case=case, file=path,
                         hint="re-export the segmentation") from exc


def _label_image(img: Image, labels: dict[str, int] | None, case: str | None, path: Path) -> Image:
    arr = img.array
    if not np.all(np.isfinite(arr)):
        raise GeometryError("mask contains NaN/inf values", case=case, file=path,
                            hint="re-export the mask as an integer label image")
    if np.any(arr != np.round(arr)) or arr.min() < 0:
        raise GeometryError("mask values are not non-negative integers (a probability map?)", case=case,
                            file=path, hint="threshold the map (e.g. ≥ 0.5) and save integer labels")
    out = arr.astype(np.uint8 if arr.max() < 256 else np.uint16)
    present = sorted(int(v) for v in np.unique(out) if v != 0)
    if labels is not None:
        unexpected = sorted(set(present) - set(labels.values()))
        if unexpected:
            raise GeometryError(f"mask has label values {unexpected} not among the expected {labels}", case=case,
                                file=path, hint="relabel the mask or pass labels= listing every value")
        names = dict(labels)
    else:
        names = {f"label{v}": v for v in present}
    meta = dict(img.meta, labels=names, source_format="label_image")
    return Image(out, img.spacing, img.origin, img.direction, "mask", meta)


def require_same_grid(mask: Image, reference: Image, *, case: str | None, file: str | Path | None) -> None:
    """Raise `GeometryError` naming what differs when `mask` and `reference` are not on one grid."""
    diffs = grid_differences(mask, reference)
    if diffs:
        raise GeometryError("mask and image grids differ: " + "; ".join(diffs), case=case, file=file,
                            hint="export the mask from the same image it was drawn on, or resample it with "
                                 "hccrad.preprocess.resample_to_reference(mask, image, is_mask=True)")


def grid_differences(a: Image, b: Image, atol: float = 1e-3) -> list[str]:
    """Human-readable list of differences in size, spacing, origin and direction ([] when same grid)."""
    out = []
    if a.shape != b.shape:
        out.append(f"size (z,y,x) {a.shape} vs {b.shape}")
    if not np.allclose(a.spacing, b.spacing, atol=atol):
        out.append(f"spacing (z,y,x) {_fmt(a.spacing)} vs {_fmt(b.spacing)} mm")
    if not np.allclose(a.origin, b.origin, atol=atol):
        out.append(f"origin (x,y,z) {_fmt(a.origin)} vs {_fmt(b.origin)} mm")
    if not np.allclose(a.direction, b.direction, atol=atol):
        out.append(f"direction {_fmt(a.direction)} vs {_fmt(b.direction)}")
    return out


def _fmt(v) -> str:
    return "(" + ", ".join(f"{x:.4g}" for x in v) + ")"


def physical_to_index(image: Image, points_xyz: np.ndarray) -> np.ndarray:
    """Continuous (x, y, z) voxel indices of physical points (n, 3) on `image`'s grid."""
    d = np.asarray(image.direction, float).reshape(3, 3)
    s = np.asarray(image.spacing[::-1], float)  # (x, y, z)
    m = d @ np.diag(s)
    return np.linalg.solve(m, (np.asarray(points_xyz, float) - np.asarray(image.origin)).T).T


def _select(names: list[str], labels: dict[str, int] | None, case, path) -> dict[str, int]:
    """Map file segment names to output values: `labels` (case-insensitive) or 1..n in file order."""
    if labels is None:
        return {n: i + 1 for i, n in enumerate(names)}
    lower = {n.lower(): n for n in names}
    out = {}
    for want, value in labels.items():
        if want.lower() not in lower:
            raise InputError(f"segment {want!r} not found; the file has {names}", case=case, file=path,
                             field="labels", hint="use one of the segment names listed")
        out[lower[want.lower()]] = int(value)
    return out


def rasterise_rtstruct(ds: pydicom.Dataset, reference: Image, *, labels: dict[str, int] | None = None,
                       case: str | None = None, file: str | Path | None = None) -> Image:
    """Rasterise the CLOSED_PLANAR contours of an RTSTRUCT onto `reference`'s grid (see module docstring)."""
    roi_names = {int(r.ROINumber): str(r.ROIName) for r in ds.get("StructureSetROISequence", [])}
    contours = {int(c.ReferencedROINumber): c for c in ds.get("ROIContourSequence", [])}
    chosen = _select([roi_names[k] for k in sorted(roi_names)], labels, case, file)
    nz, ny, nx = reference.shape
    out = np.zeros(reference.shape, dtype=np.uint8 if max(chosen.values(), default=0) < 256 else np.uint16)
    yy, xx = np.mgrid[0:ny, 0:nx]
    for number, roi_name in roi_names.items():
        if roi_name not in chosen:
            continue
        roi = np.zeros(reference.shape, dtype=bool)
        for contour in contours.get(number, pydicom.Dataset()).get("ContourSequence", []):
            geom = str(contour.get("ContourGeometricType", "CLOSED_PLANAR"))
            if geom != "CLOSED_PLANAR":
                logger.warning("skipping a %s contour (ROI number %s)", geom, number)
                continue
            pts = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
            idx = physical_to_index(reference, pts)
            k = float(np.mean(idx[:, 2]))
            kk = int(round(k))
            if abs(k - kk) > 0.25 or np.ptp(idx[:, 2]) > 0.25:
                raise GeometryError(f"contour of ROI {roi_name!r} at slice index {k:.2f} does not lie on a slice "
                                    "of the reference image", case=case, file=file,
                                    hint="pass the image series the RTSTRUCT references as reference")
            if not 0 <= kk < nz:
                raise GeometryError(f"contour of ROI {roi_name!r} lies outside the reference image (slice {kk})",
                                    case=case, file=file, hint="pass the image series the RTSTRUCT references")
            poly = PolyPath(idx[:, :2])
            x0, y0 = np.floor(idx[:, :2].min(axis=0)).astype(int)
            x1, y1 = np.ceil(idx[:, :2].max(axis=0)).astype(int)
            x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, nx - 1), min(y1, ny - 1)
            if x1 < x0 or y1 < y0:
                continue
            sub = np.column_stack([xx[y0:y1 + 1, x0:x1 + 1].ravel(), yy[y0:y1 + 1, x0:x1 + 1].ravel()])
            inside = poly.contains_points(sub).reshape(y1 - y0 + 1, x1 - x0 + 1)
            roi[kk, y0:y1 + 1, x0:x1 + 1] ^= inside
        out[roi] = chosen[roi_name]
    meta = {"labels": chosen, "source_format": "rtstruct"}
    return Image(out, reference.spacing, reference.origin, reference.direction, "mask", meta)


def _read_dicom_seg(ds: pydicom.Dataset, reference: Image | None, labels, case, path) -> Image:
    """DICOM-SEG (PS3.3 A.51): frames placed by PlanePositionSequence onto `reference` (or their own grid)."""
    seg_names = {int(s.SegmentNumber): str(s.get("SegmentLabel", f"segment{s.SegmentNumber}"))
                 for s in ds.SegmentSequence}
    chosen = _select([seg_names[k] for k in sorted(seg_names)], labels, case, path)
    try:
        frames = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - pixel decoders raise many types; re-raised naming the file
        raise InputError(f"cannot decode DICOM-SEG pixel data ({exc})", case=case, file=path,
                         hint="re-export the segmentation") from exc
    if frames.ndim == 2:
        frames = frames[None]
    if str(ds.get("SegmentationType", "BINARY")) == "FRACTIONAL":
        frames = frames.astype(float) / float(ds.get("MaximumFractionalValue", 255)) >= 0.5
    shared = ds.SharedFunctionalGroupsSequence[0]
    per_frame = ds.PerFrameFunctionalGroupsSequence

    def fg(i, kw):
        item = per_frame[i]
        return getattr(item, kw)[0] if kw in item else getattr(shared, kw)[0]

    iop = np.asarray(fg(0, "PlaneOrientationSequence").ImageOrientationPatient, float)
    px = fg(0, "PixelMeasuresSequence")
    positions = np.array([np.asarray(fg(i, "PlanePositionSequence").ImagePositionPatient, float)
                          for i in range(len(per_frame))])
    seg_of_frame = [int(fg(i, "SegmentIdentificationSequence").ReferencedSegmentNumber) for i in range(len(per_frame))]
    if reference is None:
        normal = np.cross(iop[:3], iop[3:])
        d = positions @ normal
        uniq = np.unique(np.round(d, 3))
        step = float(np.median(np.diff(uniq))) if uniq.size > 1 else float(getattr(px, "SliceThickness", 1.0) or 1.0)
        first = positions[np.argmin(d)]
        nz = int(round((uniq[-1] - uniq[0]) / step)) + 1
        ps = [float(v) for v in px.PixelSpacing]
        reference = Image(np.zeros((nz, int(ds.Rows), int(ds.Columns)), np.uint8), (step, ps[0], ps[1]),
                          tuple(first), tuple(np.column_stack([iop[:3], iop[3:], normal]).ravel()))
    elif (int(ds.Rows), int(ds.Columns)) != reference.shape[1:]:
        raise GeometryError(f"SEG frames are {ds.Rows}×{ds.Columns} but the image slices are "
                            f"{reference.shape[1]}×{reference.shape[2]}", case=case, file=path,
                            hint="pass the image series the segmentation was made on")
    out = np.zeros(reference.shape, dtype=np.uint8 if max(chosen.values(), default=0) < 256 else np.uint16)
    idx = physical_to_index(reference, positions)
    for i, seg_no in enumerate(seg_of_frame):
        name = seg_names.get(seg_no)
        if name not in chosen:
            continue
        kx, ky, kz = idx[i]
        k = int(round(kz))
        if abs(kx) > 0.25 or abs(ky) > 0.25 or abs(kz - k) > 0.25 or not 0 <= k < reference.shape[0]:
            raise GeometryError(f"SEG frame {i + 1} (segment {name!r}) does not fall on a slice of the image",
                                case=case, file=path, hint="pass the image series the segmentation was made on")
        out[k][frames[i].astype(bool)] = chosen[name]
    meta = {"labels": chosen, "source_format": "dicom_seg"}
    return Image(out, reference.spacing, reference.origin, reference.direction, "mask", meta)


def _read_slicer_seg(path: Path, labels, case) -> Image:
    """3D Slicer .seg.nrrd: SegmentN_Name / _LabelValue / _Layer header fields; layers as components."""
    try:
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(path))
        img = reader.Execute()
    except RuntimeError as exc:
        raise InputError(f"cannot read Slicer segmentation ({str(exc).strip().splitlines()[-1]})", case=case,
                         file=path, hint="re-save the segmentation from 3D Slicer") from exc
    keys = set(img.GetMetaDataKeys())
    segs = []
    i = 0
    while f"Segment{i}_Name" in keys:
        label = int(img.GetMetaData(f"Segment{i}_LabelValue")) if f"Segment{i}_LabelValue" in keys else 1
        layer = int(img.GetMetaData(f"Segment{i}_Layer")) if f"Segment{i}_Layer" in keys else 0
        segs.append((img.GetMetaData(f"Segment{i}_Name"), label, layer))
        i += 1
    if not segs:
        raise InputError("no Segment0_Name field: not a 3D Slicer segmentation", case=case, file=path,
                         hint="save as .seg.nrrd from Slicer, or rename to .nrrd to read it as a label image")
    ncomp = img.GetNumberOfComponentsPerPixel()
    if img.GetDimension() == 4:  # older Slicer writes layers as a 4th axis
        arr4 = sitk.GetArrayFromImage(img)  # (layer, z, y, x)
        layers = [arr4[j] for j in range(arr4.shape[0])]
        ref = from_sitk(sitk.Extract(img, list(img.GetSize()[:3]) + [0], [0, 0, 0, 0]), "mask")
    elif ncomp > 1:
        arr4 = sitk.GetArrayFromImage(img)  # (z, y, x, layer)
        layers = [arr4[..., j] for j in range(ncomp)]
        ref = from_sitk(sitk.VectorIndexSelectionCast(img, 0), "mask")
    else:
        layers = [sitk.GetArrayFromImage(img)]
        ref = from_sitk(img, "mask")
    if labels is None:
        chosen = {name: label for name, label, _ in segs}
    else:
        chosen = _select([s[0] for s in segs], labels, case, path)
    out = np.zeros(ref.shape, dtype=np.uint8 if max(chosen.values(), default=0) < 256 else np.uint16)
    for name, label, layer in segs:
        if name in chosen:
            out[layers[layer] == label] = chosen[name]
    return Image(out, ref.spacing, ref.origin, ref.direction, "mask",
                 {"labels": chosen, "source_format": "slicer_seg"})
