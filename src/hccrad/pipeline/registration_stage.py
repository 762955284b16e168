"""Registration inside the imaging stage (`preprocess.registration`): every phase of a case registered to the
reference phase around the tumour (`hccrad.preprocess.alignment`), cached per case, with its QC rows.

The per-case cache (`out/cache/registration/`) holds the fitted transforms (kind, parameters, centre) and
the QC rows, keyed by the `preprocess` section, the reference phase, the phases, the tumour mask's name,
the seed and the hccrad version (`config_hash`) and by the digest of the case's input files; a hit
re-applies the transforms (a resampling, no optimisation). The registered phases are written under
`out/registered/` (NIfTI, reference grid) so that later stages reading files (radiomics) see the same
voxels as the habitat maps.

After registration, `preprocess_registered_case` resamples to `preprocess.spacing_mm` and applies the
intensity steps (CT: `hu_window`; MRI: `n4`, `normalise`) (`hccrad.preprocess.steps`; order register →
resample → intensity). Its per-case cache (`out/cache/preprocess/`) is keyed like the registration's (the
whole `preprocess` section, reference phase, phases, mask names, seed, version; the case's input digest, and
a predicted liver mask's digest when one is used), so a changed setting recomputes. It holds the QC rows and
the grid of every volume; the volumes themselves are the NIfTI files under `out/preprocessed/`, which the
radiomics and CNN stages read so that they see the habitat maps' voxels.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from hccrad import __version__
from hccrad.config.spec import StudySpec
from hccrad.core.case import Case
from hccrad.core.ids import safe_file_stem
from hccrad.core.errors import InputError
from hccrad.core.image import Image
from hccrad.io.volume import read_image, write_image
from hccrad.pipeline.cache import CaseCache, config_hash
from hccrad.preprocess.alignment import (QC_COLUMNS, PhaseRegistration, alignment_qc, apply_phase_registrations,
                                         fit_phase_registrations)
from hccrad.preprocess.steps import STEPS_QC_COLUMNS, GridIntensitySteps, process_case

log = logging.getLogger(__name__)
REGISTRATION_QC = "features/registration_qc.csv"  # relative to the output folder
PREPROCESS_QC = "features/preprocess_qc.csv"  # relative to the output folder


def registration_cache(spec: StudySpec, out: Path) -> CaseCache | None:
    """The per-case registration cache, or None when `preprocess.registration` is none."""
    if spec.preprocess.registration == "none":
        return None
    key = config_hash({"preprocess": spec.preprocess.model_dump(mode="json"),
                       "reference": spec.data.reference_phase, "phases": list(spec.data.phases),
                       "tumor_mask": spec.data.tumor_mask, "seed": spec.seed, "version": __version__})
    return CaseCache(out / "cache", "registration", key)


def registered_path(out: Path, case_id: str, phase: str) -> Path:
    """Where a case's registered phase is written (the file name comes from the sanitised id)."""
    return out / "registered" / f"{safe_file_stem(case_id)}_{safe_file_stem(phase)}.nii.gz"


def register_case(spec: StudySpec, case: Case, inputs: str, cache: CaseCache | None, out: Path
                  ) -> tuple[Case, list[dict]]:
    """The case with every phase registered to the reference phase, and its QC rows; unchanged (and no rows)
    when `cache` is None (registration none). Raises `HccradError` (naming the case) when it fails."""
    if cache is None:
        return case, []
    pp = spec.preprocess
    ref = spec.data.reference_phase
    tumour = case.mask(spec.data.tumor_mask)
    entry = cache.get_json(case.case_id, inputs)
    files_there = entry is not None and all(registered_path(out, case.case_id, p).is_file() for p in entry["fitted"])
    if entry is not None and files_there:
        fitted = {p: PhaseRegistration.from_dict(d) for p, d in entry["fitted"].items()}
        return case.with_images(apply_phase_registrations(case.images, ref, fitted)), entry["qc"]
    fitted = fit_phase_registrations(case.images, ref, tumour, transform=pp.registration,
                                     margin_mm=pp.registration_margin_mm, seed=spec.seed, case_id=case.case_id)
    images = apply_phase_registrations(case.images, ref, fitted)
    qc = alignment_qc(case.case_id, case.images, images, ref, tumour, fitted, min_ncc=pp.qc_min_ncc,
                      max_translation_mm=pp.qc_max_translation_mm)
    for phase in fitted:
        write_image(images[phase], registered_path(out, case.case_id, phase))
    cache.put_json(case.case_id, {"fitted": {p: r.to_dict() for p, r in fitted.items()}, "qc": qc}, inputs)
    for row in qc:
        if row["warning"]:
            log.warning("case %s, phase %s: registration QC: %s", case.case_id, row["phase"], row["warning"])
    return case.with_images(images), qc


def with_registered_phases(spec: StudySpec, case: Case, out: Path) -> Case:
    """The case with its non-reference phases read from `out/registered/` (what the imaging stage wrote)
    under `preprocess.registration`; unchanged without it. A missing file is an error naming the case.
    With resampling or an intensity step, every phase and mask comes from `out/preprocessed/` instead."""
    if spec.preprocess.reshapes_or_rescales:
        return with_preprocessed_files(spec, case, out)
    if spec.preprocess.registration == "none":
        return case
    images = dict(case.images)
    for phase in images:
        if phase == spec.data.reference_phase:
            continue
        path = registered_path(out, case.case_id, phase)
        if not path.is_file():
            raise InputError(f"no registered {phase} phase ({path.name})", case=case.case_id, field=phase,
                             hint="the imaging stage registers the phases first; see the left-out table "
                                  "for why this case has none")
        images[phase] = read_image(path, name=phase, case=case.case_id)
    return case.with_images(images)


def qc_table(rows: list[dict]) -> pd.DataFrame:
    """The QC rows as a table (columns `QC_COLUMNS`), ordered by case and phase."""
    table = pd.DataFrame(rows, columns=QC_COLUMNS)
    return table.sort_values(["case_id", "phase"], kind="stable").reset_index(drop=True)


def registration_record(spec: StudySpec, qc: pd.DataFrame, path: str | None) -> dict | None:
    """The run.json entry: the settings, the QC file and the per-phase warnings (None without registration)."""
    if spec.preprocess.registration == "none":
        return None
    flagged = qc[qc["warning"].astype(str) != ""]
    return {"settings": spec.preprocess.model_dump(mode="json"), "qc_table": path,
            "n_cases": int(qc["case_id"].nunique()), "n_phases_registered": int(len(qc)),
            "median_ncc_before": float(qc["ncc_before"].median()) if len(qc) else None,
            "median_ncc_after": float(qc["ncc_after"].median()) if len(qc) else None,
            "warnings": [f"case {r.case_id}, phase {r.phase}: {r.warning}" for r in flagged.itertuples()]}


def grid_intensity_steps(spec: StudySpec) -> GridIntensitySteps:
    """The `preprocess` section's resampling and intensity settings for `hccrad.preprocess.steps`."""
    pp = spec.preprocess
    return GridIntensitySteps(spacing_xyz=pp.spacing_mm, image_interpolator=pp.image_interpolator,
                              mask_interpolator=pp.mask_interpolator, hu_window=pp.hu_window, n4=pp.n4,
                              normalise=pp.normalise, region=pp.intensity_region,
                              box_margin_mm=pp.registration_margin_mm)


def preprocess_cache(spec: StudySpec, out: Path) -> CaseCache | None:
    """The per-case cache of the steps after registration, or None when none of them is on."""
    if not spec.preprocess.reshapes_or_rescales:
        return None
    key = config_hash({"preprocess": spec.preprocess.model_dump(mode="json"), "stage": "resample+intensity",
                       "reference": spec.data.reference_phase, "phases": list(spec.data.phases),
                       "tumor_mask": spec.data.tumor_mask, "liver_mask": spec.data.liver_mask,
                       "seed": spec.seed, "version": __version__})
    return CaseCache(out / "cache", "preprocess", key)


def preprocessed_path(out: Path, case_id: str, kind: str, name: str) -> Path:
    """Where a case's preprocessed phase (kind "image") or mask (kind "mask") is written."""
    return out / "preprocessed" / f"{safe_file_stem(case_id)}_{kind}_{safe_file_stem(name)}.nii.gz"


def _volumes(case: Case) -> dict[tuple[str, str], Image]:
    return {**{("image", p): img for p, img in case.images.items()},
            **{("mask", n): m for n, m in case.masks.items()}}


def _grid(image: Image) -> dict:
    return {"spacing": list(image.spacing), "origin": list(image.origin), "direction": list(image.direction)}


def _from_cache(case: Case, entry: dict, out: Path) -> Case | None:
    """The preprocessed case rebuilt from the NIfTI files and the cached grids; None when a file is missing."""
    images, masks = {}, {}
    for kind, name in _volumes(case):
        path = preprocessed_path(out, case.case_id, kind, name)
        grid = entry["grids"].get(f"{kind}:{name}")
        if grid is None or not path.is_file():
            return None
        array = read_image(path, name=name, case=case.case_id).array
        old = case.images[name] if kind == "image" else case.masks[name]
        vol = Image(array, tuple(grid["spacing"]), tuple(grid["origin"]), tuple(grid["direction"]), name,
                    dict(old.meta))
        (images if kind == "image" else masks)[name] = vol
    return case.with_images(images).with_masks(masks)


def preprocess_registered_case(spec: StudySpec, case: Case, inputs: str, cache: CaseCache | None, out: Path,
                               predicted_liver=None) -> tuple[Case, list[dict]]:
    """The (registered) case resampled and with the intensity steps applied, and its QC rows (columns
    `STEPS_QC_COLUMNS`); unchanged (no rows) when `cache` is None. `predicted_liver` (a boolean array on
    the case's grid) stands in for a missing liver mask, so it is resampled with the others."""
    if cache is None:
        return case, []
    liver = spec.data.liver_mask
    if predicted_liver is not None and liver and liver not in case.masks:
        ref = case.image(spec.data.reference_phase)
        case = case.with_masks({**case.masks, liver: ref.with_array(predicted_liver.astype("uint8"), name=liver)})
        digest = hashlib.sha256(np.ascontiguousarray(predicted_liver, dtype=np.uint8).tobytes()).hexdigest()
        inputs = config_hash({"inputs": inputs, "predicted_liver": digest})
    entry = cache.get_json(case.case_id, inputs)
    if entry is not None:
        cached = _from_cache(case, entry, out)
        if cached is not None:
            return cached, entry["qc"]
    done, rows = process_case(case, grid_intensity_steps(spec), tumour_mask=spec.data.tumor_mask, liver_mask=liver)
    for (kind, name), vol in _volumes(done).items():
        write_image(vol, preprocessed_path(out, case.case_id, kind, name))
    cache.put_json(case.case_id, {"grids": {f"{k}:{n}": _grid(v) for (k, n), v in _volumes(done).items()},
                                  "qc": rows}, inputs)
    if rows and rows[0]["warning"]:
        log.warning("case %s: preprocessing QC: %s", case.case_id, rows[0]["warning"])
    return done, rows


def with_preprocessed_files(spec: StudySpec, case: Case, out: Path) -> Case:
    """The case with every phase and mask read from `out/preprocessed/` (what the imaging stage wrote); a
    missing file is an error naming the case."""
    images, masks = {}, {}
    for kind, name in _volumes(case):
        path = preprocessed_path(out, case.case_id, kind, name)
        if not path.is_file():
            raise InputError(f"no preprocessed {kind} {name!r} ({path.name})", case=case.case_id,
                             field=f"{kind}_{name}", hint="the imaging stage preprocesses the case first; see the "
                                                          "left-out table for why this case has none")
        (images if kind == "image" else masks)[name] = read_image(path, name=name, case=case.case_id)
    return case.with_images(images).with_masks(masks)


def preprocess_qc_table(rows: list[dict]) -> pd.DataFrame:
    """The resampling/intensity QC rows as a table (columns `STEPS_QC_COLUMNS`), ordered by case and phase."""
    table = pd.DataFrame(rows, columns=STEPS_QC_COLUMNS)
    return table.sort_values(["case_id", "phase"], kind="stable").reset_index(drop=True)


def preprocess_record(spec: StudySpec, qc: pd.DataFrame, path: str | None) -> dict | None:
    """The run.json entry of the steps after registration (None when none is on)."""
    if not spec.preprocess.reshapes_or_rescales:
        return None
    pp = spec.preprocess
    return {"order": "register -> resample -> intensity", "spacing_mm": list(pp.spacing_mm) if pp.spacing_mm else None,
            "modality": pp.modality, "hu_window": list(pp.hu_window) if pp.hu_window else None, "n4": pp.n4,
            "normalise": pp.normalise, "intensity_region": pp.intensity_region, "qc_table": path,
            "n_cases": int(qc["case_id"].nunique()),
            "median_tumour_ml_before": float(qc["tumour_ml_before"].median()) if len(qc) else None,
            "median_tumour_ml_after": float(qc["tumour_ml_after"].median()) if len(qc) else None,
            "warnings": [f"case {c}: {w}" for c, w in
                         qc.loc[qc["warning"].astype(str) != "", ["case_id", "warning"]].drop_duplicates()
                         .itertuples(index=False)]}


def descriptor_intensity_unit(spec: StudySpec) -> str:
    """The images' unit after preprocessing: 'z' (SD units) after a z-score, else report.intensity_unit."""
    return "z" if spec.preprocess.normalise == "zscore" else spec.report.intensity_unit
