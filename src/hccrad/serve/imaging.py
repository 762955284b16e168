"""Imaging bundles: from an uploaded case (phases + tumour mask) to the bundle's habitat/MSI features.

Supported bundle-folder layouts (docs/serve.md):

A. explicit: ``BUNDLE/bundle.json`` + ``BUNDLE/imaging.json`` (written by :func:`write_imaging_spec`)::

       {"format": "hccrad-serve-imaging", "format_version": 1,
        "habitat_model": "habitat_model.json",          # a JSON habitat model, path inside BUNDLE
        "phases": ["pre", "arterial", "portal"], "reference_phase": "portal",
        "descriptors": [{"name": "AE", "kind": "difference", "phases": ["arterial", "pre"]}, ...],
        "msi": {"connectivity": "2d", "layout": "reference", "liver_shell_mm": 5.0}}

B. an ``hccrad run`` output folder: ``OUT/models/<model>/bundle.json`` with ``OUT/models/habitat_model.json``
   and ``OUT/run.json`` (its resolved study spec gives phases, descriptors and MSI settings).

The case is processed exactly as the pipeline does (hccrad.pipeline.imaging): descriptor maps on the tumour
(:func:`hccrad.habitat.descriptors.descriptor_maps`), habitat labels from the fitted model's ``predict``,
MSI features (:func:`hccrad.features.msi.msi_features`) with the liver shell (``liver_shell_mm`` ring around
the tumour, inside the liver mask when one is uploaded) as label 0, and ``habitat_heterogeneity``.
Phases and masks must already be on one grid (the page does not register or resample).

Uploads are NIfTI/NRRD/MHA files per role, or one zip holding them (``<role>.nii.gz`` or ``*_<role>.nii.gz``)
and/or one folder of DICOM slices per phase (``<phase>/...``). Zip members with absolute paths, drive letters,
``..`` components or symbolic links are refused, as are archives with more than ``max_files`` members or more
than ``max_bytes`` uncompressed. Files are written under names made from their role, never from the
uploaded names, so no patient name reaches a log or an error message.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from hccrad.core.errors import GeometryError, HccradError, InputError
from hccrad.core.image import Image
from hccrad.features.msi import heterogeneity_score, msi_features
from hccrad.habitat.descriptors import Descriptor, descriptor_maps, labels_to_volume, voxel_matrix
from hccrad.habitat.estimators import spatial_arguments
from hccrad.habitat.strategies import load_habitat_model
from hccrad.io.dicom import read_dicom_series
from hccrad.io.volume import read_image
from hccrad.preprocess.shell import liver_shell

logger = logging.getLogger(__name__)

FORMAT = "hccrad-serve-imaging"
IMAGE_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")
TUMOR, LIVER = "tumor", "liver"


@dataclass(frozen=True)
class ImagingSpec:
    phases: tuple[str, ...]
    reference_phase: str
    descriptors: tuple[Descriptor, ...]
    habitat_model_path: Path
    connectivity: str = "2d"
    layout: str = "reference"
    liver_shell_mm: float = 5.0

    @property
    def roles(self) -> tuple[str, ...]:
        return (*self.phases, TUMOR, LIVER)


def write_imaging_spec(folder: str | Path, habitat_model: str, descriptors: list[Descriptor], phases: list[str],
                       reference_phase: str, *, connectivity: str = "2d", layout: str = "reference",
                       liver_shell_mm: float = 5.0) -> Path:
    """Write ``folder/imaging.json`` (layout A); ``habitat_model`` is a file name inside ``folder``."""
    doc = {"format": FORMAT, "format_version": 1, "habitat_model": habitat_model, "phases": list(phases),
           "reference_phase": reference_phase,
           "descriptors": [{**dataclasses.asdict(d), "phases": list(d.phases)} for d in descriptors],
           "msi": {"connectivity": connectivity, "layout": layout, "liver_shell_mm": liver_shell_mm}}
    path = Path(folder) / "imaging.json"
    path.write_text(json.dumps(doc, indent=2))
    return path


def _descriptor(d: dict, file: Path) -> Descriptor:
    """A Descriptor from its JSON form; every key must be a Descriptor field (see hccrad.habitat.descriptors)."""
    known = {f.name for f in dataclasses.fields(Descriptor)}
    extra = set(d) - known
    if extra:
        raise InputError(f"unknown descriptor key(s) {sorted(extra)}", file=file, field="descriptors",
                         hint=f"use only {sorted(known)}")
    return Descriptor(**{**d, "phases": tuple(d["phases"])})


def load_imaging_spec(bundle_folder: Path) -> ImagingSpec | None:
    """The imaging spec of a bundle folder (layout A or B), or None for a bundle without imaging."""
    folder = bundle_folder if bundle_folder.is_dir() else bundle_folder.parent
    explicit = folder / "imaging.json"
    if explicit.is_file():
        doc = json.loads(explicit.read_text())
        if doc.get("format") != FORMAT:
            raise InputError(f"not an hccrad imaging spec (format={doc.get('format')!r})", file=explicit)
        model = (folder / doc["habitat_model"]).resolve()
        if folder.resolve() not in model.parents or model.suffix != ".json":
            raise InputError("habitat_model must name a .json file inside the bundle folder", file=explicit,
                             field="habitat_model")
        msi = doc.get("msi", {})
        return ImagingSpec(tuple(doc["phases"]), doc["reference_phase"],
                           tuple(_descriptor(d, explicit) for d in doc["descriptors"]), model,
                           msi.get("connectivity", "2d"), msi.get("layout", "reference"),
                           float(msi.get("liver_shell_mm", 5.0)))
    model, run = folder.parent / "habitat_model.json", folder.parent.parent / "run.json"
    if model.is_file() and run.is_file():
        spec = json.loads(run.read_text()).get("spec", {})
        data, hab, msi = spec.get("data", {}), spec.get("habitat", {}), spec.get("features", {}).get("msi", {})
        if not hab.get("descriptors"):
            return None
        return ImagingSpec(tuple(data.get("phases", [])), data.get("reference_phase", "portal"),
                           tuple(_descriptor(d, run) for d in hab["descriptors"]), model,
                           msi.get("connectivity", "2d"), msi.get("layout", "reference"),
                           float(msi.get("liver_shell_mm", 5.0)))
    return None


def imaging_feature_names(spec: ImagingSpec, n_habitats: int) -> list[str]:
    """Names of the features an upload yields (MSI layout for k habitats + ``habitat_heterogeneity``)."""
    k = int(n_habitats)
    lab = np.zeros((1, 3, k + 2), dtype=np.int16)
    lab[0, 1, 1:k + 1] = np.arange(1, k + 1)
    names = list(msi_features(lab, k, (1.0, 1.0, 1.0), connectivity=spec.connectivity, layout=spec.layout))
    return names + ["habitat_heterogeneity"]


def role_of(name: str, roles: tuple[str, ...]) -> str | None:
    """Role of an image file name: its stem equals a role or ends with ``_<role>`` (case-insensitive)."""
    low = PurePosixPath(name).name.lower()
    for suf in IMAGE_SUFFIXES:
        if low.endswith(suf):
            stem = low[: -len(suf)]
            break
    else:
        return None
    for r in sorted(roles, key=len, reverse=True):
        if stem == r.lower() or stem.endswith("_" + r.lower()):
            return r
    return None


def image_suffix(name: str) -> str:
    """The image suffix of a file name ('.nii.gz', '.nii', '.nrrd', '.mha') or ''."""
    low = name.lower()
    return next((s for s in IMAGE_SUFFIXES if low.endswith(s)), "")


def check_member_name(name: str) -> None:
    """Refuse archive member names that could escape the extraction folder."""
    p = name.replace("\\", "/")
    if p.startswith("/") or re.match(r"^[A-Za-z]:", p) or ".." in PurePosixPath(p).parts or "\x00" in p:
        raise InputError("archive member has an absolute path or '..' component; refused", field="archive",
                         hint="zip the files with relative paths only")


def extract_case_zip(archive: Path, dest: Path, roles: tuple[str, ...], phases: tuple[str, ...], *,
                     max_files: int, max_bytes: int) -> dict[str, Path]:
    """Safely extract a case zip into ``dest``; returns role -> file (image) or folder (DICOM series)."""
    try:
        zf = zipfile.ZipFile(archive)
    except zipfile.BadZipFile as exc:
        raise InputError("the uploaded archive is not a valid zip file", field="archive") from exc
    found: dict[str, Path] = {}
    with zf:
        infos = zf.infolist()
        if len(infos) > max_files:
            raise InputError(f"archive has {len(infos)} members, more than the limit of {max_files}",
                             field="archive", hint="upload fewer files")
        total = 0
        for info in infos:
            check_member_name(info.filename)
            if stat.S_ISLNK(info.external_attr >> 16):
                raise InputError("archive contains a symbolic link; refused", field="archive")
            total += info.file_size
            if total > max_bytes:
                raise InputError(f"archive expands to more than {max_bytes // 2**20} MB", field="archive",
                                 hint="upload a smaller case")
        dicom_dirs: dict[str, Path] = {}
        for i, info in enumerate(infos):
            if info.is_dir():
                continue
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            role = role_of(parts[-1], roles)
            if role is not None:
                if role in found:
                    raise InputError(f"archive holds two files for {role!r}", field=f"file_{role}",
                                     hint="keep one file per phase and mask")
                target = dest / f"{role}{image_suffix(parts[-1])}"
                found[role] = target
            else:
                phase = next((p for p in parts[:-1] if p.lower() in {q.lower() for q in phases}), None)
                if phase is None:
                    continue  # unrelated member (README, thumbnails): ignored, never extracted
                phase = next(q for q in phases if q.lower() == phase.lower())
                folder = dicom_dirs.setdefault(phase, dest / f"dicom_{phase}")
                folder.mkdir(exist_ok=True)
                target = folder / f"{i:06d}.dcm"
            try:
                with zf.open(info) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
                raise InputError(f"a member of the archive cannot be extracted ({type(exc).__name__})",
                                 field="archive", hint="re-create the zip (no encryption)") from None
        for phase, folder in dicom_dirs.items():
            if phase in found:
                raise InputError(f"archive holds both a file and a DICOM folder for {phase!r}", field=f"file_{phase}")
            found[phase] = folder
    return found


def _read(role: str, path: Path) -> Image:
    try:
        if path.is_dir():
            return read_dicom_series(path, name=role)
        return read_image(path, name=role)
    except HccradError as exc:  # re-raise naming the role only (file names may carry patient names)
        raise InputError(f"could not read the {role} upload: {exc.message}", field=f"file_{role}",
                         hint=exc.hint) from None


@dataclass(frozen=True)
class ImagingResult:
    features: dict[str, float]
    labels: np.ndarray
    reference: np.ndarray
    n_habitats: int
    habitat_fractions: dict[int, float]


def compute_case_features(spec: ImagingSpec, model, files: dict[str, Path]) -> ImagingResult:
    """Descriptors -> habitats -> MSI features for one uploaded case (role -> file or DICOM folder)."""
    missing = [r for r in (*spec.phases, TUMOR) if r not in files]
    if missing:
        raise InputError(f"missing upload(s): {missing}", field=f"file_{missing[0]}",
                         hint=f"upload {', '.join(spec.phases)} and the tumour mask ({TUMOR})")
    images = {p: _read(p, files[p]) for p in spec.phases}
    tumor_img = _read(TUMOR, files[TUMOR])
    ref = images[spec.reference_phase]
    for role, img in [*images.items(), (TUMOR, tumor_img)]:
        if img.shape != ref.shape or not img.same_grid(ref):
            raise GeometryError(f"the {role} upload is not on the grid of the {spec.reference_phase} phase "
                                f"(shape {img.shape} vs {ref.shape})", field=f"file_{role}",
                                hint="register and resample all phases and masks onto one grid before upload")
    tumor = tumor_img.array > 0
    if not tumor.any():
        raise GeometryError("the tumour mask is empty", field=f"file_{TUMOR}", hint="check the segmentation")
    liver = None
    if LIVER in files:
        liver_img = _read(LIVER, files[LIVER])
        if liver_img.shape != ref.shape or not liver_img.same_grid(ref):
            raise GeometryError("the liver mask is not on the image grid", field=f"file_{LIVER}")
        liver = liver_img.array > 0
    maps = descriptor_maps(images, tumor, spec.descriptors)
    X = voxel_matrix(maps, tumor, [d.name for d in spec.descriptors])
    labels = labels_to_volume(model.predict(X, **spatial_arguments(model, tumor, ref.spacing)), tumor)
    k = int(model.n_habitats_)
    shell = liver_shell(tumor, liver, ref.spacing, width_mm=spec.liver_shell_mm)
    feats = msi_features(labels, k, ref.spacing, connectivity=spec.connectivity, layout=spec.layout, background=shell)
    feats["habitat_heterogeneity"] = heterogeneity_score(labels, k)
    n = int(tumor.sum())
    fractions = {i: float((labels == i).sum() / n) for i in range(1, k + 1)}
    logger.info("imaging case processed: %d tumour voxels, %d habitats", n, k)
    return ImagingResult({k_: float(v) for k_, v in feats.items()}, labels, np.asarray(ref.array, float), k, fractions)


def load_model(spec: ImagingSpec):
    """The habitat model (JSON only; hccrad never loads a pickle)."""
    return load_habitat_model(spec.habitat_model_path)
