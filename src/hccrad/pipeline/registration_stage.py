"""Registration inside the imaging stage (`preprocess.registration`): every phase of a case registered to the
reference phase around the tumour (`hccrad.preprocess.alignment`), cached per case, with its QC rows.

The per-case cache (`out/cache/registration/`) holds the fitted transforms (kind, parameters, centre) and
the QC rows, keyed by the `preprocess` section, the reference phase, the phases, the tumour mask's name,
the seed and the hccrad version (`config_hash`) and by the digest of the case's input files; a hit
re-applies the transforms (a resampling, no optimisation). The registered phases are written under
`out/registered/` (NIfTI, reference grid) so that later stages reading files (radiomics) see the same
voxels as the habitat maps.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from hccrad import __version__
from hccrad.config.spec import StudySpec
from hccrad.core.case import Case
from hccrad.core.ids import safe_file_stem
from hccrad.core.errors import InputError
from hccrad.io.volume import read_image, write_image
from hccrad.pipeline.cache import CaseCache, config_hash
from hccrad.preprocess.alignment import (QC_COLUMNS, PhaseRegistration, alignment_qc, apply_phase_registrations,
                                         fit_phase_registrations)

log = logging.getLogger(__name__)
REGISTRATION_QC = "features/registration_qc.csv"  # relative to the output folder


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
    under `preprocess.registration`; unchanged without it. A missing file is an error naming the case."""
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
