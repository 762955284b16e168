"""Radiomics stage of a study run: PyRadiomics features per phase × region (whole tumour and each
habitat), for reader 1 and, when a second reader's mask exists, reader 2 (for the ICC filter).

Cases run in parallel processes with a per-case cache keyed by the PyRadiomics parameters and the habitat
model (`hccrad.features.extract.extract_cohort`): a rerun only computes what changed, and one failing
case becomes a row of the error table instead of stopping the batch.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from hccrad.cohort.study import Study
from hccrad.features.extract import extract_cohort
from hccrad.features.radiomics import RadiomicsTask, load_params, params_hash, run_radiomics_task
from hccrad.pipeline.assemble import canonical_table
from hccrad.pipeline.imaging import ImagingResult

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass
class RadiomicsResult:
    features: pd.DataFrame                 # case x `<phase>_<region>_<pyradiomics name>`
    features_reader2: pd.DataFrame | None
    errors: pd.DataFrame                   # case_id, stage, error, message


def _task_key(task: RadiomicsTask) -> str:
    return task.case_id


def run_radiomics(study: Study, imaging: ImagingResult, out: Path, *, n_jobs: int = -1,
                  progress: Progress | None = None) -> RadiomicsResult:
    """Extract PyRadiomics features for every case the imaging stage kept (see module docstring)."""
    spec = study.spec
    rs = spec.features.radiomics
    params = load_params(rs.params)
    phases = rs.phases or spec.data.phases
    model_hash = hashlib.sha256(imaging.model_path.read_bytes()).hexdigest()[:12]
    key = f"{params_hash(params)}-{model_hash}-{'-'.join(phases)}-{'-'.join(rs.regions)}"
    table = study.table
    readers = {"reader1": (spec.data.tumor_mask, "_habitat")}
    if imaging.features_reader2 is not None and spec.data.reader2_mask:
        readers["reader2"] = (spec.data.reader2_mask, "_habitat_reader2")
    results: dict[str, pd.DataFrame] = {}
    errors = []
    for reader, (mask_name, suffix) in readers.items():
        tasks = []
        for cid in imaging.features.index:
            row = table.loc[cid]
            masks = {"tumor": row[f"mask_{mask_name}"]} if "tumor" in rs.regions else {}
            habitat = out / "habitats" / f"{cid}{suffix}.nii.gz" if "habitats" in rs.regions else None
            tasks.append(RadiomicsTask(case_id=str(cid), images={p: row[f"image_{p}"] for p in phases},
                                       masks=masks, habitat_map=habitat, n_habitats=imaging.n_habitats,
                                       params=params))
        res = extract_cohort(
            tasks, run_radiomics_task, out / "cache" / f"radiomics_{reader}", key=_task_key, config_hash=key,
            n_jobs=n_jobs,
            progress=(lambda d, t, _c, r=reader: progress(f"radiomics ({r})", d, t)) if progress else None,
        )
        feats = res.features.copy()
        feats.index = feats.index.astype(str)
        feats = canonical_table(feats)  # rows by case id, columns by rule: the same after a resume
        feats.index.name = spec.data.id_column
        results[reader] = feats
        for _, e in res.errors.iterrows():
            errors.append({"case_id": e["case_id"], "stage": f"radiomics ({reader})", "error": e["error_type"],
                           "message": e["message"]})
    return RadiomicsResult(results["reader1"], results.get("reader2"),
                           pd.DataFrame(errors, columns=["case_id", "stage", "error", "message"]))


def usable_radiomics_columns(features: pd.DataFrame, training_ids: list[str]) -> tuple[list[str], list[str]]:
    """Columns defined (no NaN) for every training case, and the dropped ones. Decided on training only."""
    train = features.loc[[c for c in training_ids if c in features.index]]
    bad = train.columns[train.isna().any()].tolist()
    return [c for c in features.columns if c not in set(bad)], bad
