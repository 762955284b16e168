"""Radiomics stage of a study run: PyRadiomics features per phase × region (whole tumour and each
habitat), for reader 1 and, when a second reader's mask exists, reader 2 (for the ICC filter).

Cases run in parallel processes with a per-case cache keyed by the PyRadiomics parameters, the habitat
model, the hccrad version and a digest of the case's files (inputs and habitat map;
`hccrad.pipeline.cache.InputDigests`) (`hccrad.features.extract.extract_cohort`): a rerun only computes
what changed, and one failing case becomes a row of the error table instead of stopping the batch.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from hccrad import __version__
from hccrad.cohort.study import Study
from hccrad.features.extract import extract_cohort
from hccrad.features.radiomics import RadiomicsTask, load_params, params_hash, run_radiomics_task
from hccrad.pipeline.assemble import canonical_table
from hccrad.pipeline.cache import InputDigests
from hccrad.pipeline.imaging import ImagingResult, habitat_path
from hccrad.pipeline.registration_stage import preprocessed_path, registered_path

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass
class RadiomicsResult:
    features: pd.DataFrame                 # case x `<phase>_<region>_<pyradiomics name>`
    features_reader2: pd.DataFrame | None
    errors: pd.DataFrame                   # case_id, stage, error, message
    cache_hits: int = 0                    # reader-1 cases whose features came from the cache
    cache_computed: int = 0                # reader-1 cases computed in this run


def _task_keys(tasks: list[RadiomicsTask], digests: InputDigests) -> dict[str, str]:
    """Cache key per case id: the id and the digest of the task's files (images, masks, habitat map)."""
    keys = {}
    for t in tasks:
        files = {**{f"image_{p}": v for p, v in t.images.items()}, **{f"mask_{k}": v for k, v in t.masks.items()},
                 "habitat_map": t.habitat_map}
        keys[t.case_id] = f"{t.case_id}.{digests.case_digest(files)}"
    return keys


def _phase_file(spec, out: Path, row: pd.Series, case_id: str, phase: str) -> str:
    """The phase as the habitat maps saw it: resampled/intensity-processed (out/preprocessed/), else
    registered (out/registered/) under preprocess.registration."""
    if spec.preprocess.reshapes_or_rescales:
        return str(preprocessed_path(out, case_id, "image", phase))
    if spec.preprocess.registration != "none" and phase != spec.data.reference_phase:
        return str(registered_path(out, case_id, phase))
    return row[f"image_{phase}"]


def _mask_file(spec, out: Path, row: pd.Series, case_id: str, mask_name: str) -> str:
    """The mask on the habitat maps' grid: out/preprocessed/ after resampling or an intensity step."""
    if spec.preprocess.reshapes_or_rescales:
        return str(preprocessed_path(out, case_id, "mask", mask_name))
    return row[f"mask_{mask_name}"]


def run_radiomics(study: Study, imaging: ImagingResult, out: Path, *, n_jobs: int = -1,
                  progress: Progress | None = None, scheduler: str | None = None) -> RadiomicsResult:
    """Extract PyRadiomics features for every case the imaging stage kept (see module docstring); on the
    Dask cluster at ``scheduler`` (`validation.scheduler`) when given."""
    spec = study.spec
    rs = spec.features.radiomics
    params = load_params(rs.params)
    phases = rs.phases or spec.data.phases
    model_hash = hashlib.sha256(imaging.model_path.read_bytes()).hexdigest()[:12]
    key = f"{params_hash(params)}-{model_hash}-{'-'.join(phases)}-{'-'.join(rs.regions)}-v{__version__}"
    digests = InputDigests(out / "cache" / "input_digests.json")
    hits = computed = 0
    table = study.table
    readers = {"reader1": (spec.data.tumor_mask, "reader1")}
    if imaging.features_reader2 is not None and spec.data.reader2_mask:
        readers["reader2"] = (spec.data.reader2_mask, "reader2")
    results: dict[str, pd.DataFrame] = {}
    errors = []
    for reader, (mask_name, habitat_reader) in readers.items():
        tasks = []
        for cid in imaging.features.index:
            row = table.loc[cid]
            masks = {"tumor": _mask_file(spec, out, row, cid, mask_name)} if "tumor" in rs.regions else {}
            habitat = habitat_path(out, cid, habitat_reader) if "habitats" in rs.regions else None
            tasks.append(RadiomicsTask(case_id=str(cid), images={p: _phase_file(spec, out, row, cid, p)
                                                                for p in phases},
                                       masks=masks, habitat_map=habitat, n_habitats=imaging.n_habitats,
                                       params=params))
        task_keys = _task_keys(tasks, digests)
        digests.save()
        by_key = {k: cid for cid, k in task_keys.items()}
        res = extract_cohort(
            tasks, run_radiomics_task, out / "cache" / f"radiomics_{reader}",
            key=lambda t, keys=task_keys: keys[t.case_id], config_hash=key, n_jobs=n_jobs, scheduler=scheduler,
            progress=(lambda d, t, _c, r=reader: progress(f"radiomics ({r})", d, t)) if progress else None,
        )
        if reader == "reader1":
            hits, computed = res.n_cached, res.n_computed
        feats = res.features.copy()
        feats.index = [by_key[k] for k in feats.index.astype(str)]
        feats = canonical_table(feats)  # rows by case id, columns by rule: the same after a resume
        feats.index.name = spec.data.id_column
        results[reader] = feats
        for _, e in res.errors.iterrows():
            errors.append({"case_id": by_key.get(e["case_id"], e["case_id"]), "stage": f"radiomics ({reader})",
                           "error": e["error_type"], "message": e["message"]})
    return RadiomicsResult(results["reader1"], results.get("reader2"),
                           pd.DataFrame(errors, columns=["case_id", "stage", "error", "message"]),
                           cache_hits=hits, cache_computed=computed)


def usable_radiomics_columns(features: pd.DataFrame, training_ids: list[str]) -> tuple[list[str], list[str]]:
    """Columns defined (no NaN) for every training case, and the dropped ones. Decided on training only."""
    train = features.loc[[c for c in training_ids if c in features.index]]
    bad = train.columns[train.isna().any()].tolist()
    return [c for c in features.columns if c not in set(bad)], bad
