"""Read and write volumetric images (NIfTI, NRRD, MHA) as `hccrad.core.Image`, via SimpleITK.

Every failure is an `InputError` naming the file (and the case when known) and saying how to fix it.
Before SimpleITK reads a file, `hccrad.io.integrity.verify_complete` reads its whole payload (a truncated
`.nii.gz` would otherwise come back with its missing voxels set to 0): a truncated or corrupt file raises
`CorruptFileError`, NaN/inf voxels in a float NIfTI raise `NonFiniteVoxelsError`. `verify=False` skips that
check; only for bytes already verified (the imaging stage: a file whose content digest is that of a file it
verified before, `hccrad.pipeline.imaging`). A `.nii.gz` is decompressed once: SimpleITK reads the bytes the
check decompressed, written uncompressed to a temporary `.nii` (same NIfTI reader, so the same image; ITK's
own gzip reading cost ~15 ms more per file, 18 ms instead of 3 ms for a 64k-voxel volume; issue 24), up to
`MAX_TEMP_BYTES`; larger files are read by SimpleITK from the `.nii.gz` itself.
Writes are atomic: the file is written beside its destination and renamed into place, so a crash never
leaves a half-written volume that a resumed run would trust.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from hccrad.core.errors import GeometryError, InputError
from hccrad.core.files import shareable
from hccrad.core.image import Image
from hccrad.io.dicom import read_dicom_series
from hccrad.io.integrity import IncompleteFileError, NonFiniteValuesError, verify_complete

VOLUME_SUFFIXES = (".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd")
MAX_TEMP_BYTES = 256 << 20   # largest decompressed .nii.gz read back from a temporary .nii


class CorruptFileError(InputError):
    """A volume file is truncated or its compressed stream is corrupt."""


class NonFiniteVoxelsError(GeometryError):
    """A volume holds NaN or ±inf voxels."""


def from_sitk(img: sitk.Image, name: str = "") -> Image:
    """Convert a SimpleITK image to an `Image` (array (z, y, x), spacing reordered to (z, y, x))."""
    if img.GetDimension() != 3:
        raise InputError(f"expected a 3-D image, got {img.GetDimension()}-D", field=name or None)
    arr = sitk.GetArrayFromImage(img)
    sx, sy, sz = img.GetSpacing()
    return Image(arr, (sz, sy, sx), img.GetOrigin(), img.GetDirection(), name)


def to_sitk(image: Image) -> sitk.Image:
    """Convert an `Image` to SimpleITK, restoring ITK's (x, y, z) spacing order."""
    out = sitk.GetImageFromArray(np.ascontiguousarray(image.array))
    sz, sy, sx = image.spacing
    out.SetSpacing((sx, sy, sz))
    out.SetOrigin(image.origin)
    out.SetDirection(image.direction)
    return out


def read_image(path: str | Path, *, name: str = "", case: str | None = None, verify: bool = True) -> Image:
    """Read a NIfTI / NRRD / MHA volume, or a folder holding one DICOM series
    (`hccrad.io.dicom.read_dicom_series`). Raises `InputError` for missing, unreadable or non-3-D input."""
    path = Path(path)
    if not path.exists():
        raise InputError(
            "file does not exist", case=case, file=path, field=name or None,
            hint="check the path in the manifest (relative paths are resolved from the manifest's folder)",
        )
    if path.is_dir():
        return read_dicom_series(path, name=name, case=case)
    if not os.access(path, os.R_OK):
        raise InputError("file is not readable (permissions)", case=case, file=path, field=name or None,
                         hint="fix the file permissions (chmod a+r)")
    payload = _require_complete(path, name, case) if verify else None
    try:
        img = _read_sitk(path, payload)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unknown reader error"
        raise InputError(f"cannot read image ({first})", case=case, file=path, field=name or None,
                         hint=f"use one of {', '.join(VOLUME_SUFFIXES)} or a DICOM series folder") from exc
    if img.GetNumberOfComponentsPerPixel() != 1:
        raise InputError("image has several components per voxel (RGB/vector); expected a scalar volume",
                         case=case, file=path, field=name or None)
    if img.GetDimension() != 3:
        raise InputError(f"expected a 3-D volume, got {img.GetDimension()}-D", case=case, file=path,
                         field=name or None, hint="export the series as one 3-D volume")
    image = from_sitk(img, name)
    image.meta["path"] = str(path)
    return image


def _read_sitk(path: Path, payload: bytes | None) -> sitk.Image:
    """SimpleITK's image of the file; from ``payload`` (a `.nii.gz`'s decompressed bytes) when given and at
    most `MAX_TEMP_BYTES`, through a temporary uncompressed `.nii` (see the module docstring)."""
    if payload is None or len(payload) > MAX_TEMP_BYTES:
        return sitk.ReadImage(str(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix="hccrad-", suffix=".nii")  # private (0600), removed below
    except OSError:  # no writable temporary folder: SimpleITK decompresses the file itself
        return sitk.ReadImage(str(path))
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(payload)
        except OSError:  # e.g. the temporary folder is full
            return sitk.ReadImage(str(path))
        return sitk.ReadImage(tmp)
    except RuntimeError as exc:  # name the user's file, not the temporary copy
        raise RuntimeError(str(exc).replace(tmp, str(path))) from exc
    finally:
        os.unlink(tmp)


def _require_complete(path: Path, name: str, case: str | None) -> bytes | None:
    """The whole payload is there and (float NIfTI) finite; see `hccrad.io.integrity`. Returns the
    decompressed bytes of a `.nii.gz` (None otherwise)."""
    try:
        return verify_complete(path)
    except IncompleteFileError as exc:
        raise CorruptFileError(f"file is truncated or corrupt: {exc}", case=case, file=path, field=name or None,
                               hint="copy or export the file again (an interrupted transfer or a full disk "
                                    "leaves a cut-off file); compare its size with the source") from exc
    except NonFiniteValuesError as exc:
        raise NonFiniteVoxelsError(f"image has {exc.count} NaN/inf voxel(s)", case=case, file=path,
                                   field=name or None,
                                   hint="fill or crop the undefined region (e.g. outside the scan's field of "
                                        "view) before import") from exc


def write_image(image: Image, path: str | Path, *, compress: bool = True) -> Path:
    """Write an `Image` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=path.parent)
    os.close(fd)
    try:
        sitk.WriteImage(to_sitk(image), tmp, compress)
        shareable(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
