"""Read DICOM image series (a folder of single-frame slices) as `hccrad.core.Image`.

How a series becomes a volume (DICOM PS3.3 C.7.6.2, Image Plane Module):

* files are grouped by SeriesInstanceUID (0020,000E); when a folder holds several series, the caller picks
  one by UID or by a case-insensitive substring of SeriesDescription (0008,103E), otherwise an
  `InputError` lists the series found;
* slices are sorted by their position along the slice normal, d = IPP · (r × c), where IPP is
  ImagePositionPatient and r, c the row and column direction cosines of ImageOrientationPatient — never by
  file name or InstanceNumber;
* the slice step is the median of the successive differences of d; a gap larger than 1.5 steps means a
  missing slice, two slices at the same position mean mixed acquisitions, and either is an `InputError`;
* voxel values are stored value × RescaleSlope + RescaleIntercept (Hounsfield units for CT);
* geometry follows ITK: origin = IPP of the first sorted slice, direction columns (r, c, n),
  spacing (z, y, x) = (step, PixelSpacing[0], PixelSpacing[1]) (PixelSpacing is row spacing, then column).

Only roles go into `Image.meta` (modality, slice count); no free-text DICOM field (patient name, ID, dates,
SeriesDescription, institution) is copied out of the headers (see `hccrad.io.deid`, `hccrad.io.ingest`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import SimpleITK as sitk
from pydicom.errors import InvalidDicomError

from hccrad.core.errors import InputError
from hccrad.core.image import Image

logger = logging.getLogger(__name__)

#: File suffixes treated as DICOM candidates (files without a suffix are candidates too).
DICOM_SUFFIXES = (".dcm", ".dicom", ".ima", "")
#: Relative tolerance on slice spacing before a series is called irregular.
SPACING_RTOL = 0.1


@dataclass(frozen=True)
class DicomFile:
    """Header summary of one DICOM file (no patient identifiers)."""

    path: Path
    series_uid: str
    description: str
    modality: str
    sop_class: str
    frame_of_reference: str


def is_dicom_candidate(path: Path) -> bool:
    """True for files that may be DICOM: suffix .dcm/.dicom/.ima, or no suffix and the "DICM" marker at byte
    128 (not DICOMDIR, not hidden files). A candidate that then fails to parse is reported as corrupt."""
    name = path.name
    if not path.is_file() or name.startswith(".") or name.upper() == "DICOMDIR":
        return False
    suffix = path.suffix.lower()
    if suffix == "":  # no suffix: DICOM only when the Part 10 preamble says so (skips README, notes, ...)
        try:
            with path.open("rb") as fh:
                return fh.read(132)[128:132] == b"DICM"
        except OSError:
            return True  # unreadable: let the reader report it
    return suffix in DICOM_SUFFIXES


def _read_header(path: Path, case: str | None) -> pydicom.Dataset:
    if not os.access(path, os.R_OK):
        raise InputError("DICOM file is not readable (permissions)", case=case, file=path,
                         hint="fix the file permissions (chmod a+r)")
    try:
        return pydicom.dcmread(str(path), stop_before_pixels=True)
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"corrupt or non-DICOM file ({type(exc).__name__}: {exc})", case=case, file=path,
                         hint="remove or replace this file, or re-export the series from PACS") from exc


def scan_folder(folder: str | Path, *, case: str | None = None, recursive: bool = True) -> list[DicomFile]:
    """Read the headers of every DICOM candidate under `folder` (corrupt files raise `InputError`)."""
    folder = Path(folder)
    if not folder.exists():
        raise InputError("folder does not exist", case=case, file=folder, hint="check the path")
    if not folder.is_dir():
        raise InputError("expected a folder of DICOM files", case=case, file=folder,
                         hint="pass the folder that holds the series, not a single file")
    if not os.access(folder, os.R_OK | os.X_OK):
        raise InputError("folder is not readable (permissions)", case=case, file=folder,
                         hint="fix the folder permissions (chmod a+rx)")
    paths = sorted(folder.rglob("*") if recursive else folder.iterdir())
    out = []
    for p in paths:
        if not is_dicom_candidate(p):
            continue
        ds = _read_header(p, case)
        out.append(DicomFile(
            path=p,
            series_uid=str(ds.get("SeriesInstanceUID", "")),
            description=str(ds.get("SeriesDescription", "") or ""),
            modality=str(ds.get("Modality", "") or ""),
            sop_class=str(ds.get("SOPClassUID", "") or ""),
            frame_of_reference=str(ds.get("FrameOfReferenceUID", "") or ""),
        ))
    return out


def list_series(folder: str | Path, *, case: str | None = None) -> pd.DataFrame:
    """One row per series under `folder`: series_uid, description, modality, n_files, folder."""
    files = scan_folder(folder, case=case)
    rows: dict[str, dict] = {}
    for f in files:
        row = rows.setdefault(f.series_uid, {"series_uid": f.series_uid, "description": f.description,
                                             "modality": f.modality, "n_files": 0,
                                             "folder": str(f.path.parent)})
        row["n_files"] += 1
    return pd.DataFrame(list(rows.values()), columns=["series_uid", "description", "modality", "n_files",
                                                      "folder"])


def select_series(files: list[DicomFile], *, series_uid: str | None = None, description: str | None = None,
                  case: str | None = None, folder: Path | None = None) -> list[DicomFile]:
    """Files of one image series: by UID, by description substring, or the only image series present."""
    images = [f for f in files if f.modality not in ("RTSTRUCT", "SEG", "RTPLAN", "RTDOSE", "SR", "PR")]
    uids = sorted({f.series_uid for f in images})
    if not uids:
        raise InputError("no DICOM image files found", case=case, file=folder,
                         hint="point to the folder holding the image slices (.dcm)")
    if series_uid is not None:
        chosen = [f for f in images if f.series_uid == series_uid]
        what = f"SeriesInstanceUID {series_uid}"
    elif description is not None:
        matching = {f.series_uid for f in images if description.lower() in f.description.lower()}
        if len(matching) > 1:
            raise InputError(f"{len(matching)} series match description {description!r}: "
                             + _describe(images, matching), case=case, file=folder,
                             hint="pass series_uid= to choose one")
        chosen = [f for f in images if f.series_uid in matching]
        what = f"description containing {description!r}"
    else:
        if len(uids) > 1:
            raise InputError(f"the folder holds {len(uids)} series (mixed series): " + _describe(images, uids),
                             case=case, file=folder,
                             hint="pass series_uid= or description= to choose one, or split the folder")
        chosen = images
        what = ""
    if not chosen:
        raise InputError(f"no series with {what}; found " + _describe(images, uids), case=case, file=folder,
                         hint="check the UID/description, or list the series with hccrad.io.list_series")
    return chosen


def _describe(files: list[DicomFile], uids) -> str:
    parts = []
    for uid in sorted(uids):
        fs = [f for f in files if f.series_uid == uid]
        parts.append(f"[{fs[0].description or '(no description)'}: {len(fs)} files, UID {uid}]")
    return "; ".join(parts)


def read_dicom_series(folder: str | Path, *, series_uid: str | None = None, description: str | None = None,
                      name: str = "", case: str | None = None) -> Image:
    """Read one DICOM series from `folder` (searched recursively) into an `Image` (see module docstring)."""
    folder = Path(folder)
    files = select_series(scan_folder(folder, case=case), series_uid=series_uid, description=description,
                          case=case, folder=folder)
    return read_dicom_files([f.path for f in files], name=name, case=case)


def read_dicom_files(paths: list[Path], *, name: str = "", case: str | None = None) -> Image:
    """Stack single-frame slices of one series into a volume, sorted along the slice normal."""
    headers = [(p, pydicom.dcmread(str(p), stop_before_pixels=True)) for p in paths]
    slices = []
    for p, ds in headers:
        for kw in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "Rows", "Columns"):
            if kw not in ds:
                raise InputError(f"slice lacks {kw}; cannot place it in 3-D", case=case, file=p, field=kw,
                                 hint="this is not a volumetric image series (a scout or secondary capture?);"
                                      " choose another series")
        slices.append((p, ds))
    iop = np.asarray(slices[0][1].ImageOrientationPatient, dtype=float)
    row, col = iop[:3], iop[3:]
    normal = np.cross(row, col)
    for p, ds in slices:
        if not np.allclose(np.asarray(ds.ImageOrientationPatient, float), iop, atol=1e-4):
            raise InputError("slices have different orientations (mixed series?)", case=case, file=p,
                             field="ImageOrientationPatient", hint="choose a single series")
        if (int(ds.Rows), int(ds.Columns)) != (int(slices[0][1].Rows), int(slices[0][1].Columns)):
            raise InputError("slices have different sizes (mixed series?)", case=case, file=p, field="Rows",
                             hint="choose a single series")
    pos = np.array([float(np.dot(np.asarray(ds.ImagePositionPatient, float), normal)) for _, ds in slices])
    order = np.argsort(pos, kind="stable")
    slices = [slices[i] for i in order]
    pos = pos[order]
    if len(slices) < 2:
        raise InputError("the series has a single slice (a 2-D image); a 3-D volume is needed", case=case,
                         file=slices[0][0], hint="export the full volumetric series")
    steps = np.diff(pos)
    step = float(np.median(steps))
    dup = np.flatnonzero(steps < 1e-3)
    if dup.size or step <= 0:
        i = int(dup[0]) if dup.size else 0
        raise InputError(f"two slices at the same position {pos[i]:.2f} mm (duplicate or mixed acquisitions)",
                         case=case, file=slices[i + 1][0], field="ImagePositionPatient",
                         hint="remove duplicate files or split the acquisitions into separate folders")
    gaps = np.flatnonzero(steps > 1.5 * step)
    if gaps.size:
        i = int(gaps[0])
        n_missing = int(round(steps[i] / step)) - 1
        raise InputError(f"missing slice(s): gap of {steps[i]:.2f} mm between positions {pos[i]:.2f} and "
                         f"{pos[i + 1]:.2f} mm where the step is {step:.2f} mm (~{n_missing} slice(s) missing)",
                         case=case, file=slices[i + 1][0], field="ImagePositionPatient",
                         hint="re-export the complete series from PACS")
    if np.any(np.abs(steps - step) > SPACING_RTOL * step):
        raise InputError(f"irregular slice spacing ({steps.min():.3f}–{steps.max():.3f} mm)", case=case,
                         file=slices[0][0], field="ImagePositionPatient",
                         hint="resample the series to regular spacing before import")
    arrays = [_pixels(p, case) for p, _ in slices]
    vol = np.stack(arrays).astype(np.float32 if any(a.dtype.kind == "f" for a in arrays) else np.int16)
    first = slices[0][1]
    ps = [float(v) for v in first.PixelSpacing]
    direction = np.column_stack([row, col, normal]).ravel()
    meta = {"modality": str(first.get("Modality", "")), "n_slices": len(slices), "source_format": "dicom"}
    logger.debug("read DICOM series: %d slices, step %.3f mm", len(slices), step)
    return Image(vol, (step, ps[0], ps[1]), tuple(float(v) for v in first.ImagePositionPatient),
                 tuple(direction), name, meta)


def _pixels(path: Path, case: str | None) -> np.ndarray:
    """Stored values × RescaleSlope + RescaleIntercept of one slice (pydicom, SimpleITK/GDCM fallback)."""
    try:
        ds = pydicom.dcmread(str(path))
        arr = ds.pixel_array
        slope = float(ds.get("RescaleSlope", 1) or 1)
        intercept = float(ds.get("RescaleIntercept", 0) or 0)
    except Exception as exc:  # noqa: BLE001 - decoder failures come in many types; retry with GDCM
        try:
            img = sitk.ReadImage(str(path))
            return sitk.GetArrayFromImage(img)[0]
        except RuntimeError:
            raise InputError(f"cannot decode pixel data ({type(exc).__name__}: {exc})", case=case, file=path,
                             field="PixelData",
                             hint="the file is truncated or uses an unsupported compression; re-export it"
                                  " uncompressed") from exc
    if arr.ndim != 2:
        raise InputError(f"expected a single-frame slice, got pixel array of shape {arr.shape}", case=case,
                         file=path, hint="multi-frame DICOM is not supported as an image series; convert it")
    if slope == 1.0 and float(intercept).is_integer() and arr.dtype.kind in "iu":
        out = arr.astype(np.int32) + int(intercept)
        if out.min() >= np.iinfo(np.int16).min and out.max() <= np.iinfo(np.int16).max:
            return out.astype(np.int16)
        return out.astype(np.float32)
    return (arr.astype(np.float32) * slope + intercept).astype(np.float32)
