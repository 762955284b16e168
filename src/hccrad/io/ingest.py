"""Batch ingest of a cohort folder into NIfTI files and a manifest (`hccrad ingest DIR`).

Expected layout (docs/io.md): one subfolder per patient/lesion under `src`, holding either
* DICOM: any tree of files; image series are grouped by SeriesInstanceUID and named by phase from their
  SeriesDescription (or, when that has no phase word, the folder holding them); RTSTRUCT / DICOM-SEG files
  are masks whose ROI/segment names say tumour or liver; or
* volumes (.nii, .nii.gz, .nrrd, .mha, .mhd, .seg.nrrd): phase or mask read from the file name.
Phase words (token prefixes, case-insensitive): pre/plain/native/unenhanced/nc → "pre"; art/arterial/ap →
"arterial"; port/portal/pv/pvp/ven/venous → "portal"; delay/equil/dp/eq → "delayed"; t2 → "t2".
Mask words: tumo(u)r/lesion/gtv/hcc/roi → "tumor" (with reader2/r2 → "tumor_reader2"); liver → "liver";
a file named mask/seg/label without a kind is the tumour mask. Masks must be drawn on `reference_phase`.

Output in `out`: `<case_id>/image_<phase>.nii.gz`, `<case_id>/mask_<name>.nii.gz`, `manifest.csv`
(case_id, patient_id, cohort, image_<phase>..., mask_tumor, mask_liver; paths relative to `out`),
`ingest_report.csv` (what was found and rejected, and why).

Privacy by construction: outside the private mapping file (`mapping_path`, pseudonym → source, written only
when asked) ingest writes only pseudonyms (case and patient ids, `hccrad.io.deid`) and roles: phase, mask
kind, modality, counts, geometry and a reason code (`hccrad.io.reasons`). Source paths, folder and file
names, SeriesDescription, ROI names and every other free-text DICOM field never reach a report, a JSON file
or a log line, whatever they contain; nothing is redacted because nothing is printed. `keep_source_names`
is the opt-in that adds them (report column `source`, `ignored` details, full error text).
Resumable: a case whose `<case_id>/ingest.json` exists is skipped; files are written atomically and the
marker last, so an interrupted case is redone. One bad case is rejected with its reason, never fatal.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import SimpleITK as sitk

from hccrad.core.errors import InputError
from hccrad.core.files import atomic_write_text
from hccrad.core.image import Image
from hccrad.io.deid import load_or_create_key, pseudonym, write_mapping
from hccrad.io.dicom import DicomFile, is_dicom_candidate, read_dicom_files, scan_folder
from hccrad.io.geometry import check_geometry
from hccrad.io.masks import read_mask
from hccrad.io.reasons import IngestRefusal, reason_of
from hccrad.io.volume import VOLUME_SUFFIXES, read_image, write_image

logger = logging.getLogger(__name__)

PHASE_ORDER = ("pre", "arterial", "portal", "delayed", "t2")
PHASE_WORDS: dict[str, tuple[set[str], tuple[str, ...]]] = {  # phase: (exact tokens, token prefixes)
    "pre": ({"nc", "pre", "plain", "native"}, ("pre", "plain", "native", "unenh", "noncon")),
    "arterial": ({"ap", "hap", "lap", "art"}, ("arter", "art")),
    "portal": ({"pv", "pvp", "vp"}, ("port", "ven")),
    "delayed": ({"dp", "eq"}, ("delay", "equil")),
    "t2": ({"t2", "t2w"}, ("t2",)),
}
TUMOR_WORDS = ("tumo", "lesion", "gtv", "hcc", "roi")
GENERIC_MASK_WORDS = {"mask", "seg", "segmentation", "label", "labels"}
REPORT_COLUMNS = ["case_id", "status", "phases", "masks", "ignored", "reason_code", "reason"]
SOURCE_COLUMN = "source"  # added after case_id only with keep_source_names


def _tokens(text: str) -> list[str]:
    return [t for t in re.split(r"[^a-z0-9]+", text.lower()) if t]


def phase_of(text: str) -> str | None:
    """The phase named by `text` (a series description or file name), or None if none or ambiguous."""
    toks = _tokens(text)
    hits = {ph for ph, (exact, prefixes) in PHASE_WORDS.items()
            for t in toks if t in exact or t.startswith(prefixes)}
    return hits.pop() if len(hits) == 1 else None


def mask_of(text: str) -> str | None:
    """Mask name ("tumor", "tumor_reader2", "liver") named by `text`, or None when it is not a mask name."""
    toks = _tokens(text)
    if any(t.startswith("liver") for t in toks):
        return "liver"
    if any(t.startswith(TUMOR_WORDS) for t in toks) or GENERIC_MASK_WORDS & set(toks):
        return "tumor_reader2" if {"reader2", "r2"} & set(toks) else "tumor"
    return None


def _volume_stem(p: Path) -> str:
    name = p.name
    for suf in (".seg.nrrd", *VOLUME_SUFFIXES):
        if name.lower().endswith(suf):
            return name[: -len(suf)]
    return p.stem


@dataclass(frozen=True)
class IngestResult:
    """Manifest and found/rejected table of one ingest run (`summary()` counts cases by status)."""

    manifest: pd.DataFrame
    table: pd.DataFrame
    manifest_path: Path
    table_path: Path

    def summary(self) -> pd.DataFrame:
        return self.table.groupby("status").size().rename("n_cases").reset_index()

    @property
    def n_rejected(self) -> int:
        return int((self.table["status"] == "rejected").sum())


class _Case:
    """What was found in one case folder before anything is written."""

    def __init__(self) -> None:
        self.images: dict[str, Image] = {}
        self.masks: dict[str, Image] = {}
        self.ignored: list[tuple[str, str]] = []  # (roles-only text, source detail shown only on opt-in)
        self.patient_key: str | None = None


def _modality(text: str) -> str:
    """The DICOM Modality when it is a plain code (CT, MR, ...), else "other" (never free text)."""
    return text if re.fullmatch(r"[A-Z]{2,8}", text) else "other"


def _first_patient_id(folder: Path) -> str | None:
    """PatientID of the first readable DICOM file under `folder` (for the private mapping), or None."""
    for p in sorted(folder.rglob("*")):
        if is_dicom_candidate(p):
            try:
                return str(pydicom.dcmread(str(p), stop_before_pixels=True).get("PatientID", "") or "") or None
            except Exception:  # noqa: BLE001 - a bad file is reported by discovery, not here
                continue
    return None


def _discover(folder: Path, case_id: str, reference_phase: str) -> _Case:
    found = _Case()
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.startswith(".")]
    volumes = [p for p in files if p.name.lower().endswith(VOLUME_SUFFIXES + (".seg.nrrd",))]
    vol_set = set(volumes)
    dicoms = scan_folder(folder, case=case_id) if any(p not in vol_set for p in files) else []
    if dicoms:
        found.patient_key = _first_patient_id(folder)
    series: dict[str, list[DicomFile]] = {}
    mask_files: list[tuple[Path, str]] = []  # (path, kind: rtstruct/seg/volume)
    for d in dicoms:
        if d.modality in ("RTSTRUCT", "SEG"):
            mask_files.append((d.path, d.modality))
        else:
            series.setdefault(d.series_uid, []).append(d)
    image_sources: dict[str, list] = {}
    for uid, fs in series.items():
        rel = str(fs[0].path.parent.relative_to(folder))
        ph = phase_of(fs[0].description) or phase_of(rel)
        label = fs[0].description or rel
        if ph is None:
            found.ignored.append((f"{_modality(fs[0].modality)} series ({len(fs)} files): no phase word",
                                  f"series '{label}'"))
            continue
        image_sources.setdefault(ph, []).append(("dicom", [f.path for f in fs], label))
    for p in volumes:
        stem = _volume_stem(p)
        if p.name.lower().endswith(".seg.nrrd") or mask_of(stem) is not None:
            mask_files.append((p, "volume"))
            continue
        ph = phase_of(stem)
        if ph is None:
            found.ignored.append(("volume file: no phase or mask word", f"file '{p.name}'"))
            continue
        image_sources.setdefault(ph, []).append(("volume", p, p.name))
    for ph, srcs in image_sources.items():
        if len(srcs) > 1:
            raise IngestRefusal("several_sources_for_phase", f"{len(srcs)} sources for phase {ph!r}",
                                case=case_id, field=f"image_{ph}", detail=", ".join(s[2] for s in srcs),
                                hint="keep one series per phase in the case folder (or rename the extra one)")
        kind, src, _ = srcs[0]
        found.images[ph] = (read_dicom_files(src, name=ph, case=case_id) if kind == "dicom"
                            else read_image(src, name=ph, case=case_id))
    if not found.images:
        raise IngestRefusal("no_phase_named", "no image series or file named by a phase word", case=case_id,
                            hint="name series/files with pre/arterial/portal/delayed (see docs/io.md)")
    ref = reference_phase if reference_phase in found.images else None
    if ref is None and len(found.images) == 1:
        ref = next(iter(found.images))
    if ref is None:
        raise IngestRefusal("reference_phase_missing",
                            f"reference phase {reference_phase!r} missing (found {sorted(found.images)})",
                            case=case_id, field=f"image_{reference_phase}",
                            hint="add the phase the masks were drawn on, or set reference_phase")
    reference = found.images[ref]
    for path, kind in mask_files:
        for name, mask in _read_masks(path, kind, reference, case_id).items():
            if name in found.masks:
                raise IngestRefusal("two_masks_same_kind", f"two masks for {name!r}", case=case_id,
                                    field=f"mask_{name}", detail=f"file '{path.name}'",
                                    hint="keep one mask per structure in the case folder")
            found.masks[name] = mask
    return found


def _segment_names(path: Path, kind: str) -> list[str] | None:
    if kind == "RTSTRUCT":
        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        return [str(r.ROIName) for r in ds.get("StructureSetROISequence", [])]
    if kind == "SEG":
        ds = pydicom.dcmread(str(path), stop_before_pixels=True)
        return [str(s.get("SegmentLabel", "")) for s in ds.SegmentSequence]
    if path.name.lower().endswith(".seg.nrrd"):
        r = sitk.ImageFileReader()
        r.SetFileName(str(path))
        r.ReadImageInformation()
        keys = set(r.GetMetaDataKeys())
        names, i = [], 0
        while f"Segment{i}_Name" in keys:
            names.append(r.GetMetaData(f"Segment{i}_Name"))
            i += 1
        return names
    return None


def _read_masks(path: Path, kind: str, reference: Image, case_id: str) -> dict[str, Image]:
    names = _segment_names(path, kind)
    if names is None:  # plain label volume: the file name says what it is
        m = read_mask(path, reference, case=case_id)
        return {mask_of(_volume_stem(path)) or "tumor": m.with_array((m.array > 0).astype(np.uint8))}
    by_kind: dict[str, dict[str, int]] = {}
    for n in names:
        k = mask_of(n) or ("tumor" if len(names) == 1 else None)
        if k is not None:
            by_kind.setdefault(k, {})[n] = 1
    if not by_kind:
        raise IngestRefusal("mask_not_named", f"no ROI/segment named as tumour or liver ({len(names)} names)",
                            case=case_id, detail=f"file '{path.name}', names {names}",
                            hint="name segments e.g. 'tumor' and 'liver'")
    return {k: read_mask(path, reference, labels=labels, case=case_id) for k, labels in by_kind.items()}


@contextmanager
def _no_header_values_in_warnings() -> Iterator[None]:
    """pydicom's value validation quotes the offending header value in a warning and a log record
    ("Invalid value for VR CS: '...'"); ingest turns it off while it reads headers (geometry is checked
    by hccrad itself)."""
    settings = pydicom.config.settings
    old = settings.reading_validation_mode
    settings.reading_validation_mode = pydicom.config.IGNORE
    try:
        yield
    finally:
        settings.reading_validation_mode = old


def ingest_folder(src: str | Path, out: str | Path, *, layout: str = "auto", mapping_path: str | Path | None = None,
                  progress: Callable[[int, int, str], None] | None = None, cohort: str = "training",
                  reference_phase: str = "portal", key: str | None = None, keep_source_names: bool = False
                  ) -> IngestResult:
    """Ingest every subfolder of `src` into `out` (see module docstring); returns an `IngestResult`.

    layout: "auto" (DICOM and/or volume files per case; the only layout so far). key: the
    pseudonymisation key (default: kept in `out/.hccrad/pseudonym.key`, mode 0600 — keep it secret).
    mapping_path: the PRIVATE mapping file: case id → source folder name and patient id → DICOM PatientID
    of every case seen (written, skipped or rejected), CSV, mode 0600; written only if given.
    keep_source_names: opt in to source names in the outputs: the `source` column of ingest_report.csv
    and `source` in each `<case_id>/ingest.json` (the case folder name), series descriptions and file
    names in `ignored`, and the full error text (file paths relative to `src`, ROI names) in `reason`
    and in the log. Off: only pseudonyms and roles are written.
    """
    src, out = Path(src), Path(out)
    if layout != "auto":
        raise InputError(f"unknown layout {layout!r}", field="layout", hint="use layout='auto'")
    if not src.is_dir():
        raise InputError("the source folder (SRC) does not exist or is not a folder", field="src",
                         hint="pass the cohort folder holding one subfolder per patient")
    out.mkdir(parents=True, exist_ok=True)
    key = key or load_or_create_key(out / ".hccrad" / "pseudonym.key")
    folders = sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith("."))
    rows, report, mapping = [], [], {}
    for i, folder in enumerate(folders):
        case_id = pseudonym(folder.name, key, prefix="case-")
        if progress is not None:
            progress(i, len(folders), case_id)
        with _no_header_values_in_warnings():
            row, rep = _ingest_one(folder, out, case_id, key, cohort, reference_phase, keep_source_names,
                                   mapping if mapping_path is not None else None)
        report.append(rep)
        if row is not None:
            rows.append(row)
    image_cols = [f"image_{p}" for p in PHASE_ORDER if any(f"image_{p}" in r for r in rows)]
    mask_cols = ["mask_tumor", "mask_liver"] + (["mask_tumor_reader2"] if any("mask_tumor_reader2" in r
                                                                                for r in rows) else [])
    manifest = pd.DataFrame(rows, columns=["case_id", "patient_id", "cohort", *image_cols, *mask_cols])
    columns = REPORT_COLUMNS[:1] + [SOURCE_COLUMN] * keep_source_names + REPORT_COLUMNS[1:]
    table = pd.DataFrame(report, columns=columns)
    manifest_path, table_path = out / "manifest.csv", out / "ingest_report.csv"
    atomic_write_text(manifest_path, manifest.to_csv(index=False))
    atomic_write_text(table_path, table.to_csv(index=False))
    if mapping_path is not None and mapping:
        write_mapping(mapping, mapping_path)
    logger.info("ingest: %d written, %d skipped, %d rejected", (table.status == "written").sum(),
                (table.status == "skipped").sum(), (table.status == "rejected").sum())
    return IngestResult(manifest, table, manifest_path, table_path)


def _record_mapping(mapping: dict | None, folder: Path, case_id: str, patient_id: str | None,
                    patient_key: str | None) -> None:
    """Add case id → folder name and patient id → PatientID to the private mapping (if one is kept)."""
    if mapping is None:
        return
    mapping[case_id] = folder.name
    if patient_id is not None and patient_key:
        mapping[patient_id] = patient_key


def _source_detail(exc: BaseException, folder: Path) -> str:
    """The full error text with paths relative to the cohort folder (shown only with keep_source_names)."""
    return str(exc).replace(str(folder.parent) + os.sep, "")


def _ingest_one(folder: Path, out: Path, case_id: str, key: str, cohort: str, reference_phase: str,
                keep_source_names: bool, mapping: dict | None) -> tuple[dict | None, dict]:
    case_dir = out / case_id
    marker = case_dir / "ingest.json"
    rep = {"case_id": case_id, "status": "", "phases": "", "masks": "", "ignored": "", "reason_code": "",
           "reason": ""}
    if keep_source_names:
        rep[SOURCE_COLUMN] = folder.name
    if marker.exists():
        done = json.loads(marker.read_text())
        rep.update(status="skipped", reason_code="already_ingested", reason="already ingested",
                   phases=";".join(k[6:] for k in done["row"] if k.startswith("image_")),
                   masks=";".join(k[5:] for k in done["row"] if k.startswith("mask_")))
        if mapping is not None:
            _record_mapping(mapping, folder, case_id, done["row"].get("patient_id"), _first_patient_id(folder))
        return done["row"], rep
    patient_key = None
    try:
        found = _discover(folder, case_id, reference_phase)
        patient_key = found.patient_key
        rep["phases"] = ";".join(p for p in PHASE_ORDER if p in found.images)
        rep["masks"] = ";".join(sorted(found.masks))
        rep["ignored"] = " | ".join(safe + (f" [{detail}]" if keep_source_names else "")
                                    for safe, detail in found.ignored)
        if "tumor" not in found.masks:
            raise IngestRefusal("no_tumour_mask", "no tumour mask found", case=case_id, field="mask_tumor",
                                hint="add a mask file named tumor/lesion/mask or an RTSTRUCT/SEG ROI named so")
        ref = reference_phase if reference_phase in found.images else next(iter(found.images))
        check_geometry(case_id, found.images, found.masks["tumor"], (1,), reference_phase=ref)
        for name, m in found.masks.items():
            if name != "tumor" and not np.any(m.array):
                raise IngestRefusal("mask_empty", f"mask {name!r} is empty", case=case_id, field=f"mask_{name}",
                                    hint="check the segmentation or remove the file")
        patient_id = pseudonym(found.patient_key or folder.name, key, prefix="pt-")
        case_dir.mkdir(parents=True, exist_ok=True)
        row = {"case_id": case_id, "patient_id": patient_id, "cohort": cohort}
        for ph, img in found.images.items():
            write_image(Image(img.array, img.spacing, img.origin, img.direction, ph), case_dir / f"image_{ph}.nii.gz")
            row[f"image_{ph}"] = f"{case_id}/image_{ph}.nii.gz"
        for name, m in found.masks.items():
            write_image(Image(m.array, m.spacing, m.origin, m.direction, name), case_dir / f"mask_{name}.nii.gz")
            row[f"mask_{name}"] = f"{case_id}/mask_{name}.nii.gz"
        marker_doc = {"row": row, **({SOURCE_COLUMN: folder.name} if keep_source_names else {})}
        atomic_write_text(marker, json.dumps(marker_doc, indent=1))
        _record_mapping(mapping, folder, case_id, patient_id, found.patient_key)
        rep["status"] = "written"
        logger.info("ingested %s: phases %s, masks %s", case_id, rep["phases"], rep["masks"])
        return row, rep
    except Exception as exc:  # noqa: BLE001 - one failure must not stop the batch; it is reported by code
        code, text = reason_of(exc)
        reason = text + (f" — {_source_detail(exc, folder)}" if keep_source_names else "")
        rep.update(status="rejected", reason_code=code, reason=reason)
        _record_mapping(mapping, folder, case_id, None, patient_key)
        logger.warning("rejected %s: %s", case_id, reason.splitlines()[0] if keep_source_names else code)
        return None, rep
