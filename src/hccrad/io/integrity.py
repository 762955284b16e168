"""Is a volume file complete? Full decompression and a byte count against the size its header declares.

Why this exists: SimpleITK reads a truncated `.nii.gz` (or `.nii`, `.mha`, `.nrrd`) without a word and fills
the missing voxels with 0, so a half-written file would be analysed as a half-black volume. Here the whole
payload is read (a gzip/zlib stream is decompressed to its end, which also checks its CRC-32 / Adler-32),
and its length n is compared with the size the header declares,

    expected = offset + Π dim_i · channels · bytes_per_voxel,

where offset is NIfTI's `vox_offset` (0 for the other formats, whose header is skipped first). A file is
complete when the stream ends cleanly and n ≥ expected. For float NIfTI the payload is also checked for
NaN/inf (ITK's NIfTI reader turns them into 0, equally silently).

Formats: NIfTI-1/2 (`.nii`, `.nii.gz`), MetaImage (`.mha`, `.mhd` + raw, zlib-compressed or not), NRRD
(`.nrrd`, `.nhdr` + data file; raw, gzip or bzip2 encodings). ASCII/hex NRRD and DICOM are left to their
readers (their values are text or per-file, not a byte payload with a declared size).
"""

from __future__ import annotations

import bz2
import gzip
import re
import zlib
from pathlib import Path

import numpy as np

CHUNK = 1 << 22  # 4 MiB per read while decompressing


class IncompleteFileError(Exception):
    """The file's payload is shorter than its header declares, or its compressed stream is broken."""


class NonFiniteValuesError(Exception):
    """A float NIfTI payload holds NaN or ±inf voxels (`count` of them)."""

    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(f"{count} NaN/inf voxel(s)")


def verify_complete(path: Path) -> bytes | None:
    """Raise `IncompleteFileError` if the volume at `path` is truncated or its stream is corrupt, and
    `NonFiniteValuesError` for a float NIfTI holding NaN/inf. For a complete `.nii.gz` return its decompressed
    bytes (the whole `.nii`, so a reader need not decompress it again); else None."""
    name = path.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return _verify_nifti(path)
    elif name.endswith((".mha", ".mhd")):
        _verify_metaimage(path)
    elif name.endswith((".nrrd", ".nhdr")):
        _verify_nrrd(path)
    return None


def _short(expected: int, got: int) -> IncompleteFileError:
    return IncompleteFileError(f"truncated: the payload has {got} of the {expected} bytes its header declares "
                               f"({100 * got / max(expected, 1):.1f} %)")


# ---- NIfTI -------------------------------------------------------------------------------------------

def _verify_nifti(path: Path) -> bytes | None:
    import nibabel as nib  # lazy: nibabel (~0.3 s to import) only to check a NIfTI file; io stays light

    gz = path.name.lower().endswith(".gz")
    raw = _gunzip(path) if gz else None
    try:  # a .nii.gz's header is read from the bytes just decompressed, not by opening the file again
        loaded = _nifti_from_bytes(nib, raw) if raw is not None else nib.load(str(path))
        header, offset = loaded.header, int(loaded.dataobj.offset)  # the header copy's vox_offset reads 0
    except Exception as exc:  # noqa: BLE001 - nibabel raises many types for a broken header
        raise IncompleteFileError(f"unreadable NIfTI header ({type(exc).__name__}: {exc})") from exc
    shape = header.get_data_shape()
    dtype = header.get_data_dtype()
    n_values = int(np.prod(shape, dtype=np.int64))
    expected = offset + n_values * dtype.itemsize
    if raw is not None:
        if len(raw) < expected:
            raise _short(expected, len(raw))
        data = np.frombuffer(raw, dtype=dtype, count=n_values, offset=offset) if dtype.kind == "f" else None
    else:
        size = path.stat().st_size
        if size < expected:
            raise _short(expected, size)
        data = np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=(n_values,)) if dtype.kind == "f" else None
    if data is not None:
        bad = int(np.count_nonzero(~np.isfinite(data)))
        if bad:
            raise NonFiniteValuesError(bad)
    return raw


def _gunzip(path: Path) -> bytes:
    """The whole decompressed stream of a gzip file (which checks its CRC-32 and length)."""
    try:
        return gzip.decompress(path.read_bytes())
    except (EOFError, OSError, zlib.error) as exc:  # EOFError: cut short; BadGzipFile(OSError): CRC/length
        raise IncompleteFileError(f"the gzip stream is broken ({type(exc).__name__}: {exc}); the file is "
                                  "truncated or corrupt") from exc


def _nifti_from_bytes(nib, raw: bytes):
    """nibabel's NIfTI-1 or NIfTI-2 image (header and data proxy) of a whole `.nii` held in memory; the version
    from ``sizeof_hdr`` (348 or 540, in either byte order)."""
    sizes = {int.from_bytes(raw[:4], order) for order in ("little", "big")}
    return (nib.Nifti2Image if 540 in sizes else nib.Nifti1Image).from_bytes(raw)


# ---- byte sizes shared by MetaImage and NRRD ----------------------------------------------------------

_META_BYTES = {"MET_CHAR": 1, "MET_UCHAR": 1, "MET_SHORT": 2, "MET_USHORT": 2, "MET_INT": 4, "MET_UINT": 4,
               "MET_LONG": 4, "MET_ULONG": 4, "MET_LONG_LONG": 8, "MET_ULONG_LONG": 8, "MET_FLOAT": 4,
               "MET_DOUBLE": 8}


def _nrrd_bytes(type_name: str) -> int | None:
    t = type_name.strip().lower()
    if t == "float":
        return 4
    if t == "double":
        return 8
    if "64" in t or "long" in t:
        return 8
    if "16" in t or "short" in t:
        return 2
    if "8" in t or "char" in t:
        return 1
    if "32" in t or "int" in t:
        return 4
    return None  # "block" or unknown: left to the reader


def _read_header(path: Path, terminator) -> tuple[list[str], int]:
    """Header lines up to and including the line where `terminator(line)` is true, and its byte length."""
    lines, length = [], 0
    with path.open("rb") as fh:
        for raw in fh:
            length += len(raw)
            line = raw.decode("latin-1").rstrip("\r\n")
            lines.append(line)
            if terminator(line) or length > (1 << 20):
                break
    return lines, length


def _check_stream(fh, expected: int, decompressor, what: str) -> None:
    """Decompress everything left in `fh`; the stream must end cleanly and give ≥ `expected` bytes."""
    got = 0
    try:
        while chunk := fh.read(CHUNK):
            got += len(decompressor.decompress(chunk))
            if decompressor.eof:
                break
    except (OSError, zlib.error, ValueError) as exc:
        raise IncompleteFileError(f"the {what} stream is corrupt ({exc})") from exc
    if not decompressor.eof:
        raise IncompleteFileError(f"the {what} stream ends early after {got} of {expected} bytes; the file is "
                                  "truncated")
    if got < expected:
        raise _short(expected, got)


def _check_payload(data_path: Path, skip: int, expected: int, codec: str) -> None:
    if not data_path.is_file():
        raise IncompleteFileError(f"the data file {data_path.name} named in the header does not exist")
    with data_path.open("rb") as fh:
        fh.seek(skip)
        if codec == "raw":
            got = data_path.stat().st_size - skip
            if got < expected:
                raise _short(expected, got)
        elif codec == "zlib":
            _check_stream(fh, expected, zlib.decompressobj(zlib.MAX_WBITS | 32), "zlib/gzip")
        elif codec == "bzip2":
            _check_stream(fh, expected, bz2.BZ2Decompressor(), "bzip2")


# ---- MetaImage ---------------------------------------------------------------------------------------

def _verify_metaimage(path: Path) -> None:
    lines, length = _read_header(path, lambda ln: ln.split("=")[0].strip() == "ElementDataFile")
    fields = {ln.split("=", 1)[0].strip(): ln.split("=", 1)[1].strip() for ln in lines if "=" in ln}
    nbytes = _META_BYTES.get(fields.get("ElementType", ""))
    if nbytes is None or "DimSize" not in fields or "ElementDataFile" not in fields:
        return  # not a header this check understands; SimpleITK judges it
    n = int(np.prod([int(v) for v in fields["DimSize"].split()], dtype=np.int64))
    expected = n * nbytes * int(fields.get("ElementNumberOfChannels", "1"))
    data_file = fields["ElementDataFile"]
    if data_file.upper() == "LOCAL":
        data_path, skip = path, length
    elif data_file.upper().startswith("LIST") or re.search(r"%\d*d", data_file):
        return  # one file per slice: left to the reader
    else:
        data_path, skip = path.parent / data_file, max(int(fields.get("HeaderSize", "0")), 0)
    compressed = fields.get("CompressedData", "False").lower() in ("true", "1")
    _check_payload(data_path, skip, expected, "zlib" if compressed else "raw")


# ---- NRRD --------------------------------------------------------------------------------------------

def _verify_nrrd(path: Path) -> None:
    detached = path.name.lower().endswith(".nhdr")
    lines, length = _read_header(path, lambda ln: ln.strip() == "")
    fields = {}
    for ln in lines[1:]:
        if ln.startswith("#") or ":=" in ln or ":" not in ln:
            continue
        key, value = ln.split(":", 1)
        fields[key.strip().lower()] = value.strip()
    nbytes = _nrrd_bytes(fields.get("type", ""))
    encoding = fields.get("encoding", "raw").lower()
    codec = {"raw": "raw", "gzip": "zlib", "gz": "zlib", "bzip2": "bzip2", "bz2": "bzip2"}.get(encoding)
    if nbytes is None or codec is None or "sizes" not in fields:
        return  # text encodings or block types: SimpleITK judges them
    expected = int(np.prod([int(v) for v in fields["sizes"].split()], dtype=np.int64)) * nbytes
    data_file = fields.get("data file", fields.get("datafile"))
    skip = int(fields.get("byte skip", "0"))
    if data_file is not None or detached:
        if data_file is None or data_file.upper().startswith("LIST") or " " in data_file.strip():
            return  # several data files: left to the reader
        _check_payload(path.parent / data_file, max(skip, 0), expected, codec)
    else:
        _check_payload(path, length + max(skip, 0), expected, codec)
