"""Imaging stage of a study run: descriptor maps → habitat model (fitted on training only) → habitat maps
(NIfTI) → MSI features for reader 1 and, when present, reader 2 (for the ICC stability filter).

Every case is first inspected (`Study.inspect_case`, `hccrad.preprocess.inspect`: full decompression, grids
against the reference phase, mask labels, empty masks; the full-payload check is skipped for files whose content
digest is that of files verified complete in an earlier run, out/cache/verified/); a case with an error is left
out with one row per problem in the error table (stage "inputs", naming the file role and field), and warnings (a
near-constant image inside the tumour) go to `ImagingResult.warnings` for the report. One failing case is
recorded and left out; it never stops the batch. Per-case features are cached under `out/cache/` keyed by the
configuration hash (spec sections, habitat model, hccrad version) and a digest of the case's input files
(`hccrad.pipeline.cache.InputDigests`), so a rerun after a crash resumes and a corrected input is recomputed;
`cache_hits` / `cache_computed` count the cases of each kind. The descriptor values of each case are cached the
same way (`hccrad.pipeline.descriptor_cache`; `descriptor_cache_hits`), and so is the habitat robustness result
when the stage passes its cache (`hccrad.pipeline.robustness_cache`). The per-case passes (inspection,
registration, descriptor values; habitat maps + MSI features) run in this process, on `validation.n_jobs` worker
processes or on the `validation.scheduler` Dask cluster (`hccrad.pipeline.per_case`), gathered in case order.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from hccrad import __version__
from hccrad.cohort.study import Study
from hccrad.config.spec import StudySpec
from hccrad.core.case import Case
from hccrad.core.errors import HccradError
from hccrad.core.ids import safe_file_stem
from hccrad.core.image import Image
from hccrad.features.msi import heterogeneity_score, msi_features, msi_matrix
from hccrad.habitat.estimators import spatial_arguments, spatial_fit_arguments
from hccrad.habitat.descriptors import (Descriptor, descriptor_maps, descriptor_unit, labels_to_volume,
                                        voxel_matrix)
from hccrad.habitat.summary import habitat_summary
from hccrad.io.volume import read_image, write_image
from hccrad.preprocess.inspect import CaseInspection, InputProblem
from hccrad.pipeline.assemble import assemble_features
from hccrad.pipeline.per_case import map_cases
from hccrad.pipeline.habitat_robustness import REPORT_ONLY, habitat_robustness
from hccrad.pipeline.cache import CaseCache, InputDigests, atomic_write_text, config_hash
from hccrad.pipeline.descriptor_cache import STAGE as DESCRIPTOR_STAGE
from hccrad.pipeline.descriptor_cache import cached_descriptor_matrices, descriptor_cache_key
from hccrad.pipeline.inspection_cache import verified_cache
from hccrad.pipeline.registration_stage import (descriptor_intensity_unit, preprocess_cache,
                                                preprocess_qc_table, preprocess_registered_case, qc_table,
                                                register_case, registration_cache)
from hccrad.preprocess.steps import STEPS_QC_COLUMNS
from hccrad.preprocess.alignment import QC_COLUMNS
from hccrad.preprocess.shell import liver_shell

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]

WARNING_COLUMNS = ["case_id", "file", "field", "message"]


@dataclass
class CaseVoxels:
    """What the habitat stage keeps of one case between the fit and the predict pass."""

    case_id: str
    cohort: str
    reference: Image
    tumor: np.ndarray
    X: np.ndarray
    reader2: np.ndarray | None = None
    X2: np.ndarray | None = None
    shell: np.ndarray | None = None
    shell_from_liver: bool = True
    inputs: str = ""  # digest of the case's input files (cache key)

    def __getstate__(self) -> dict:
        """Sent to or from a worker (pickle, in transit only): the boolean masks bit-packed, 8x smaller."""
        state = dict(self.__dict__)
        for name in ("tumor", "reader2", "shell"):
            mask = state[name]
            if isinstance(mask, np.ndarray) and mask.dtype == bool:
                state[name] = _PackedMask(np.packbits(mask, axis=None), mask.shape)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update({k: v.unpack() if isinstance(v, _PackedMask) else v for k, v in state.items()})


@dataclass(frozen=True)
class _PackedMask:
    """A boolean mask as bits (`numpy.packbits`) and its shape; `unpack` gives the mask back exactly."""

    bits: np.ndarray
    shape: tuple[int, ...]

    def unpack(self) -> np.ndarray:
        return np.unpackbits(self.bits, count=int(np.prod(self.shape))).reshape(self.shape).view(bool)


@dataclass
class ImagingResult:
    features: pd.DataFrame                     # case_id x MSI features (reader 1)
    features_reader2: pd.DataFrame | None      # same columns, reader-2 masks (None without them)
    habitat_summary: pd.DataFrame
    k_selection: object | None                 # hccrad.habitat KSelection (None when k is fixed)
    n_habitats: int
    model_path: Path
    errors: pd.DataFrame
    overlays: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    descriptor_names: list[str] = field(default_factory=list)
    descriptor_units: dict[str, str] = field(default_factory=dict)  # name -> unit (HU, bits, z) for the figures
    intensity_unit: str = "HU"  # the images' unit (report.intensity_unit): the overlays' grey window
    voxel_sample: tuple[np.ndarray, np.ndarray] | None = None  # training voxels (≤ 5000) and their habitats
    example_map: tuple[str, np.ndarray, tuple[float, float, float]] | None = None  # case, labels, spacing (3-D view)
    ring_cases: list[str] = field(default_factory=list)  # MSI label 0 from a dilation ring (no liver mask)
    liver_record: dict | None = None  # liver U-Net: cases predicted, Dice on held-out labelled cases
    example_slices: dict | None = None  # first overlay case: phase and descriptor-map slices (paper figures)
    example_msi: tuple[str, np.ndarray] | None = None  # first case: its MSI count matrix (seed 000 fig. 3a)
    warnings: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=WARNING_COLUMNS))
    cache_hits: int = 0       # cases whose habitat features came from the cache
    cache_computed: int = 0   # cases computed in this run
    descriptor_cache_hits: int = 0  # cases whose descriptor values came from out/cache/descriptors/
    registration_qc: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=QC_COLUMNS))
    preprocess_qc: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=STEPS_QC_COLUMNS))
    robustness: object | None = None  # hccrad.pipeline.habitat_robustness.HabitatRobustness (issue 23)


def _descriptors(spec: StudySpec) -> list[Descriptor]:
    return [d.build() for d in spec.habitat.descriptors]


def _predict_missing_livers(study: Study, ids: list[str], out: Path, progress: Progress | None):
    """Liver masks for the cases whose manifest has none, by data.liver_model (hccrad's U-Net trained on the
    labelled cases, hccrad.deep.segment, or the user's nnU-Net v2 model, hccrad.deep.nnunet); the masks
    are written under out/liver_masks/ and used for the MSI liver shell. Returns ({case: mask}, record)."""
    from hccrad.deep.segment import fill_missing_liver_masks  # lazy: torch and MONAI, only when liver masks are missing

    spec = study.spec
    col = f"mask_{spec.data.liver_mask}"
    table = study.table.loc[ids]
    has = table[col].map(lambda p: isinstance(p, str) and bool(p)) if col in table.columns else \
        pd.Series(False, index=table.index)
    if has.all():
        return {}, None
    ref = spec.data.reference_phase
    if spec.data.liver_model.kind == "nnunet":  # the user's model: nothing to train
        pred, record = _nnunet_livers(spec, table, [c for c in ids if not has[c]])
    else:
        volumes = {c: read_image(table.loc[c, f"image_{ref}"], name=ref, case=c).array for c in ids}
        masks = {c: (read_image(table.loc[c, col], name="liver", case=c).array > 0) if has[c] else None
                 for c in ids}
        pred, record = fill_missing_liver_masks(volumes, masks, holdout=min(2, max(0, int(has.sum()) - 2)),
                                                seed=spec.seed,
                                                progress=(lambda s, d, t: progress(s, d, t)) if progress else None)
    for c, m in pred.items():
        reference = read_image(table.loc[c, f"image_{ref}"], name=ref, case=c)
        write_image(reference.with_array(m.astype(np.uint8), name="liver"),
                    out / "liver_masks" / f"{safe_file_stem(c)}_liver_pred.nii.gz")
    record["predicted_cases"] = sorted(pred)
    return pred, record


def _nnunet_livers(spec: StudySpec, table: pd.DataFrame, missing: list[str]):
    """The user's nnU-Net v2 liver model (data.liver_model) on the cases without a liver mask."""
    # lazy: torch and nnU-Net, only for an nnU-Net liver model
    from hccrad.deep.nnunet import NnUNetLiverModel, fill_missing_liver_masks_nnunet

    lm = spec.data.liver_model
    channels = lm.channels or {"0": spec.data.reference_phase}
    unknown = sorted(set(channels.values()) - set(spec.data.phases))
    if unknown:
        raise HccradError(f"liver_model.channels name phases {unknown} that are not in data.phases",
                          field="data.liver_model.channels", hint=f"use phases from {spec.data.phases}")
    model = NnUNetLiverModel.from_folder(lm.folder, folds=lm.folds, checkpoint=lm.checkpoint, label=lm.label)
    cases = {c: {p: read_image(table.loc[c, f"image_{p}"], name=p, case=c) for p in set(channels.values())}
             for c in missing}
    return fill_missing_liver_masks_nnunet(cases, model, channels)


def habitat_path(out: Path, case_id: str, reader: str = "reader1") -> Path:
    """Where a case's habitat map is written (the file name comes from the sanitised id)."""
    suffix = "_habitat" if reader == "reader1" else "_habitat_reader2"
    return out / "habitats" / f"{safe_file_stem(case_id)}{suffix}.nii.gz"


def _problem_row(p: InputProblem) -> dict:
    text = f"{p.file} ({p.field}): {p.message}" + (f"; how to fix: {p.hint}" if p.hint else "")
    return {"case_id": p.case_id, "stage": "inputs", "error": "InputProblem", "message": text}


def _inspect(study: Study, case_id: str, errors: list[dict], warnings: list[dict],
             verify: bool = True) -> CaseInspection | None:
    """Inspect one case; record its errors (then return None: the case is left out) and warnings."""
    inspection = study.inspect_case(case_id, verify=verify)
    warnings.extend({"case_id": p.case_id, "file": p.file, "field": p.field, "message": p.message}
                    for p in inspection.warnings)
    for p in inspection.errors:
        log.error("case %s left out: %s", case_id, p)
        errors.append(_problem_row(p))
    return None if inspection.errors else inspection


def _load_voxels(study: Study, case: Case, predicted_liver: np.ndarray | None = None,
                 desc_cache: CaseCache | None = None, inputs: str = "") -> CaseVoxels:
    spec = study.spec
    case_id = case.case_id
    tumor = case.mask(spec.data.tumor_mask)
    ref = case.image(spec.data.reference_phase)
    for name, m in case.masks.items():
        if m.shape != ref.shape:
            raise HccradError(f"mask {name!r} has shape {m.shape}, reference phase has {ref.shape}",
                              case=case_id, field=f"mask_{name}",
                              hint="resample the mask onto the image grid (hccrad.preprocess) first")
    descs = _descriptors(spec)
    names = [d.name for d in descs]
    reader2 = None
    if spec.data.reader2_mask and spec.data.reader2_mask in case.masks:
        reader2 = case.mask(spec.data.reader2_mask)
    region = tumor | reader2 if reader2 is not None else tumor

    def matrices() -> tuple[np.ndarray, np.ndarray | None]:
        maps = descriptor_maps(case.images, region, descs, case_id=case_id)
        return (voxel_matrix(maps, tumor, names).astype(np.float32),
                voxel_matrix(maps, reader2, names).astype(np.float32) if reader2 is not None else None)

    X, X2 = matrices() if desc_cache is None else cached_descriptor_matrices(
        desc_cache, case_id, inputs, tumor, reader2, len(names), matrices)  # issue 24: cached per case
    liver = case.mask(spec.data.liver_mask) if spec.data.liver_mask and spec.data.liver_mask in case.masks else None
    if liver is None and predicted_liver is not None:
        liver = predicted_liver
    shell = liver_shell(tumor, liver, ref.spacing, width_mm=spec.features.msi.liver_shell_mm)
    return CaseVoxels(
        case_id=case_id, cohort=case.cohort, reference=ref, tumor=tumor,
        X=X, reader2=reader2, X2=X2,
        shell=shell, shell_from_liver=liver is not None,
    )


def _example_slices(study: Study, case_id: str, margin: int = 8,
                    register: Callable[[Case], Case] | None = None) -> dict:
    """Largest-tumour-slice crops of each phase and each descriptor map of one case (seed 000 fig. 2a–b,
    seed 001 fig. 2A–D): {"case_id", "phases": {name: 2-D}, "descriptors": {name: 2-D}, "mask": 2-D}."""
    spec = study.spec
    case = study.load_case(case_id)
    if register is not None:  # the same (cached) registration as the habitat maps
        case = register(case)
    tumor = case.mask(spec.data.tumor_mask)
    z = int(np.argmax(tumor.sum(axis=(1, 2))))
    ys, xs = np.nonzero(tumor[z])
    box = (slice(max(int(ys.min()) - margin, 0), int(ys.max()) + margin + 1),
           slice(max(int(xs.min()) - margin, 0), int(xs.max()) + margin + 1))
    maps = descriptor_maps(case.images, tumor, _descriptors(spec), case_id=case_id)
    return {"case_id": case_id,
            "phases": {p: case.image(p).array[z][box].astype(float) for p in spec.data.phases},
            "descriptors": {n: np.where(tumor[z][box], m[z][box], np.nan) for n, m in maps.items()},
            "mask": tumor[z][box]}


def _case_features(spec: StudySpec, model, cv: CaseVoxels, labels_of: str) -> tuple[dict, np.ndarray]:
    mask, X = (cv.tumor, cv.X) if labels_of == "reader1" else (cv.reader2, cv.X2)
    labels = model.predict(X, **spatial_arguments(model, mask, cv.reference.spacing))
    vol = labels_to_volume(labels, mask)
    k = int(model.n_habitats_)
    msi = spec.features.msi
    feats = msi_features(vol, k, cv.reference.spacing, connectivity=msi.connectivity, layout=msi.layout,
                         background=cv.shell)
    feats["habitat_heterogeneity"] = heterogeneity_score(vol, k)
    return feats, vol


def _habitat_estimator(spec: StudySpec):
    """The unfitted habitat model: the spec's strategy (hccrad.habitat.strategies) with the shared settings."""
    hs = spec.habitat
    return hs.strategy.build(n_habitats=hs.n_habitats, k_range=tuple(hs.k_range), order_by=hs.order_descriptor,
                             descriptor_names=[d.name for d in hs.descriptors], max_voxels_fit=hs.max_voxels_fit,
                             k_rule=hs.k_rule, n_bootstrap=hs.n_bootstrap, random_state=spec.seed)


def _spatial_training(model, train: list[CaseVoxels]) -> dict:
    """fit's coords/spacings for a SLIC two-step model (voxel indices in voxel_matrix row order); else {}."""
    return spatial_fit_arguments(model, [c.tumor for c in train], [c.reference.spacing for c in train])


def _left_out(case_id: str, stage: str, exc: HccradError) -> dict:
    """One row of the error table for a case the stage had to leave out (logged, never silent)."""
    log.error("case %s left out at %s: %s", case_id, stage, exc)
    return {"case_id": case_id, "stage": stage, "error": type(exc).__name__, "message": str(exc)}


@dataclass
class _CaseRows:
    """What one case's work adds to the run's tables and counters (sent back from a worker)."""

    errors: list[dict]
    warnings: list[dict]
    reg_qc: list
    pp_qc: list
    desc_hits: int
    desc_misses: int
    digests: dict[str, dict]  # input-digest records made for the case's files
    hashed: int


def _twin(obj, **changes):
    """A shallow copy of `obj` with some attributes replaced (no __init__/__post_init__ run again)."""
    twin = copy.copy(obj)
    for name, value in changes.items():
        setattr(twin, name, value)
    return twin


@dataclass
class _ImagingRun:
    """The state one `run_imaging` call shares between its steps (caches, QC rows, left-out cases)."""

    study: Study
    out: Path
    progress: Progress | None
    errors: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    predicted_livers: dict = field(default_factory=dict)
    liver_record: dict | None = None
    reg_qc: list = field(default_factory=list)
    pp_qc: list = field(default_factory=list)

    def __post_init__(self) -> None:
        spec = self.study.spec
        self.spec = spec
        self.digests = InputDigests(self.out / "cache" / "input_digests.json")
        self.reg_cache = registration_cache(spec, self.out)
        self.pp_cache = preprocess_cache(spec, self.out)  # resampling + intensity after registration
        self.desc_cache = CaseCache(self.out / "cache", DESCRIPTOR_STAGE, descriptor_cache_key(spec))
        self.verified = verified_cache(self.out / "cache")  # also marked by the run's preflight

    def for_workers(self) -> _ImagingRun:
        """This run without its progress callback (it stays here): what the per-case workers receive."""
        return _twin(self, progress=None)

    def for_case(self) -> _ImagingRun:
        """A view for one case's work: this run's settings and caches, empty tables of its own, its own cache
        counters and input-digest records (`rows` collects them, `absorb` merges them into the run)."""
        return _twin(self, progress=None, errors=[], warnings=[], reg_qc=[], pp_qc=[],
                     digests=self.digests.fork(),
                     desc_cache=_twin(self.desc_cache, hits=0, misses=0))

    def rows(self) -> _CaseRows:
        return _CaseRows(self.errors, self.warnings, self.reg_qc, self.pp_qc, self.desc_cache.hits,
                         self.desc_cache.misses, self.digests.updated, self.digests.hashed)

    def absorb(self, rows: _CaseRows) -> None:
        """One case's rows, appended in case order (so the tables are those of a run in this process)."""
        self.errors.extend(rows.errors)
        self.warnings.extend(rows.warnings)
        self.reg_qc.extend(rows.reg_qc)
        self.pp_qc.extend(rows.pp_qc)
        self.desc_cache.hits += rows.desc_hits
        self.desc_cache.misses += rows.desc_misses
        self.digests.absorb(rows.digests, rows.hashed)

    def tick(self, step: str, done: int, total: int) -> None:
        if self.progress:
            self.progress(step, done, total)

    def prepared(self, case: Case, inputs: str, case_id: str, *, record_qc: bool = True) -> Case:
        """The case registered and preprocessed as the study asks (cached per case); its QC rows join the
        run's QC tables unless `record_qc` is False (a second read for a figure)."""
        case, qc_rows = register_case(self.spec, case, inputs, self.reg_cache, self.out)
        case, pp_rows = preprocess_registered_case(self.spec, case, inputs, self.pp_cache, self.out,
                                                   self.predicted_livers.get(case_id))
        if record_qc:
            self.reg_qc.extend(qc_rows)
            self.pp_qc.extend(pp_rows)
        return case


@dataclass
class _HabitatFeatures:
    """Per case: MSI features (reader 1 and 2), descriptor values and habitat labels, figure material."""

    rows1: dict = field(default_factory=dict)
    rows2: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)   # case -> (descriptor values, habitat of each tumour voxel)
    overlays: list = field(default_factory=list)
    example: tuple | None = None
    hits: int = 0
    computed: int = 0


def run_imaging(study: Study, out: Path, progress: Progress | None = None, *,
                robustness_cache: Callable | None = None) -> ImagingResult:
    """Run the habitat + MSI stage for every case of the study; see the module docstring. `robustness_cache`:
    ``(spec, model, training cases, units, compute) -> result`` that reads the habitat robustness result back
    when its inputs are unchanged (`hccrad.pipeline.robustness_cache.cached_robustness`, bound to out/cache)."""
    run = _ImagingRun(study, out, progress)
    spec, hs = study.spec, study.spec.habitat
    t0 = time.perf_counter()
    cases = _load_cases(run)
    run.seconds["descriptors"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    train = [c for c in cases.values() if c.cohort == spec.cohorts.training]
    if len(train) < 5:
        raise HccradError(f"only {len(train)} training case(s) could be read; need at least 5",
                          field="cohorts.training", hint="see the error table above for the cases left out")
    model, model_path = _fit_habitat_model(run, train)
    run.seconds["habitat_fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    units = {d.name: descriptor_unit(d.kind, d.normalise, spec.report.intensity_unit) for d in hs.descriptors}
    compute = partial(habitat_robustness, spec, model, train, partial(_case_features, spec), units=units)
    robustness = robustness_cache(spec, model, train, units, compute) if robustness_cache else compute()
    if robustness is not None:
        run.seconds["habitat_robustness"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = _habitat_features(run, model, cases)
    run.seconds["habitat_features"] = time.perf_counter() - t0
    features = assemble_features(found.rows1, spec.data.id_column)  # order by rule, not by cache or completion
    features2 = None
    if found.rows2:
        features2 = assemble_features(found.rows2, spec.data.id_column).reindex(index=features.index,
                                                                                columns=features.columns)
        features2.index.name = spec.data.id_column
    names = [d.name for d in hs.descriptors]
    train_ids = [c.case_id for c in train if c.case_id in found.labels]
    summary = habitat_summary([found.labels[c][0] for c in train_ids], [found.labels[c][1] for c in train_ids],
                              names, [cases[c].reference.voxel_volume_mm3 for c in train_ids])
    example_slices, example_msi = _example_figures(run, model, cases, found)
    unit = descriptor_intensity_unit(spec)
    return ImagingResult(
        descriptor_names=names, voxel_sample=_voxel_sample(found, train_ids, spec.seed), example_map=found.example,
        ring_cases=sorted(c.case_id for c in cases.values() if not c.shell_from_liver),
        liver_record=run.liver_record, features=features, features_reader2=features2, habitat_summary=summary,
        k_selection=getattr(model, "k_selection_", None), n_habitats=int(model.n_habitats_),
        model_path=model_path, errors=pd.DataFrame(run.errors, columns=["case_id", "stage", "error", "message"]),
        overlays=found.overlays, seconds=run.seconds, example_slices=example_slices, example_msi=example_msi,
        warnings=pd.DataFrame(run.warnings, columns=WARNING_COLUMNS), cache_hits=found.hits,
        cache_computed=found.computed, descriptor_cache_hits=run.desc_cache.hits,
        registration_qc=qc_table(run.reg_qc), preprocess_qc=preprocess_qc_table(run.pp_qc), robustness=robustness,
        descriptor_units={d.name: descriptor_unit(d.kind, d.normalise, unit) for d in hs.descriptors},
        intensity_unit=unit,
    )


def _load_cases(run: _ImagingRun) -> dict[str, CaseVoxels]:
    """Every usable case read in full, registered, preprocessed and turned into descriptor values (a case
    that fails is left out with its reason); missing livers predicted first when the spec asks."""
    study, spec = run.study, run.spec
    ids = study.case_ids()
    cases: dict[str, CaseVoxels] = {}
    inspected_first = bool(spec.data.segment_missing_liver and spec.data.liver_mask)
    if inspected_first:  # the liver U-Net needs every usable case first
        ids = [c for c in ids if _inspect(study, c, run.errors, run.warnings) is not None]
        run.predicted_livers, run.liver_record = _predict_missing_livers(study, ids, run.out, run.progress)
    loaded = map_cases(partial(_load_one, run.for_workers(), inspected_first), [(cid,) for cid in ids], spec,
                       progress=lambda done, total: run.tick("descriptor maps", done, total))
    for cid, (voxels, rows) in zip(ids, loaded):  # case order: the tables do not depend on where cases ran
        run.absorb(rows)
        if voxels is not None:
            cases[cid] = voxels
    run.digests.save()
    return cases


def _load_one(shared: _ImagingRun, inspected_first: bool, cid: str) -> tuple[CaseVoxels | None, _CaseRows]:
    """One case of `_load_cases` (in this process or a worker): its voxels, or None when it is left out,
    and its rows for the run's tables (`_ImagingRun.absorb`)."""
    run = shared.for_case()
    voxels = None
    try:
        if inspected_first:
            case, inputs = run.study.load_case(cid), ""  # inspected above
        else:
            case, inputs = _inspected_case(run, cid)
        if case is not None:
            if not inputs:
                images, masks = run.study.image_files(cid)
                inputs = run.digests.case_digest({**images, **masks})
            case = run.prepared(case, inputs, cid)
            voxels = _load_voxels(run.study, case, run.predicted_livers.get(cid), run.desc_cache, inputs)
            voxels.inputs = inputs
    except HccradError as exc:
        run.errors.append(_left_out(cid, "descriptors", exc))
    return voxels, run.rows()


def _inspected_case(run: _ImagingRun, cid: str) -> tuple[Case | None, str]:
    """The case read through its inspection (None when it is left out) and its input digest ("" when a file
    cannot be hashed: the inspection then says why). The full-payload check (`hccrad.io.integrity`) is skipped
    for files whose content digest is that of files this stage or the run's preflight verified complete before
    (out/cache/verified/, written only after an inspection without error); every other check runs."""
    images, masks = run.study.image_files(cid)
    try:
        inputs = run.digests.case_digest({**images, **masks})
    except OSError:
        inputs = ""
    verified = bool(inputs) and run.verified.get_json(cid, inputs) is True
    inspection = _inspect(run.study, cid, run.errors, run.warnings, verify=not verified)
    if inspection is None:
        return None, inputs
    if inputs and not verified:
        run.verified.put_json(cid, True, inputs)
    return run.study.case_from_inspection(inspection), inputs


def _fit_habitat_model(run: _ImagingRun, train: list[CaseVoxels]):
    """The habitat model fitted on the training cases, or read back when the training data and settings are
    those of the saved fit (resume)."""
    spec, hs = run.spec, run.spec.habitat
    model = _habitat_estimator(spec)
    model_path = run.out / "models" / "habitat_model.json"
    ordered = sorted(train, key=lambda c: c.case_id)
    fit_key = config_hash({"habitat": hs.model_dump(mode="json", exclude=REPORT_ONLY), "seed": spec.seed,
                           "preprocess": spec.preprocess.model_dump(mode="json"),
                           "training": [c.case_id for c in ordered], "version": __version__,
                           "inputs": [c.inputs for c in ordered], "voxels": [int(c.X.shape[0]) for c in ordered],
                           "estimator": model.get_params()})  # defaults of the estimator too (kmeans_sample)
    key_path = model_path.with_suffix(".key")
    if model_path.is_file() and key_path.is_file() and key_path.read_text() == fit_key:
        return type(model).from_json(model_path.read_text()), model_path  # same training data and settings
    run.tick("habitat clustering (training cases)", 0, 1)
    model.fit([c.X for c in train], **_spatial_training(model, train))
    run.tick("habitat clustering (training cases)", 1, 1)
    atomic_write_text(model_path, model.to_json())
    atomic_write_text(key_path, fit_key)
    return model, model_path


def _habitat_features(run: _ImagingRun, model, cases: dict[str, CaseVoxels]) -> _HabitatFeatures:
    """Habitat maps and MSI features of every case (reader 1 and, where drawn, reader 2), cached per case
    under a key of the settings and the fitted model; a case that fails is left out with its reason."""
    spec = run.spec
    key = config_hash({"spec": spec.model_dump(mode="json", include={"habitat", "features", "data", "seed",
                                                                   "preprocess"},
                                               exclude={"habitat": REPORT_ONLY}),
                       "model": model.to_json(), "version": __version__})
    cache1 = CaseCache(run.out / "cache", "msi_reader1", key)
    cache2 = CaseCache(run.out / "cache", "msi_reader2", key)
    found = _HabitatFeatures()
    done = map_cases(partial(_msi_one, run.for_workers(), model, cache1, cache2),
                     [(cid, _for_msi(cv)) for cid, cv in cases.items()], spec,
                     progress=lambda d, total: run.tick("habitat maps + MSI features", d, total))
    for (cid, cv), one in zip(cases.items(), done):  # case order, as a loop in this process
        if one.f1 is not None:
            found.computed += one.computed
            found.hits += not one.computed
            found.rows1[cid] = one.f1
            found.labels[cid] = (cv.X, one.labels)
        if one.f2 is not None:
            found.rows2[cid] = one.f2
        if one.error is None:
            _keep_figure_material(found, cid, cv, labels_to_volume(one.labels, cv.tumor), spec.report.overlay_cases)
        else:
            run.errors.append(one.error)
    return found


@dataclass
class _CaseMsi:
    """One case's habitat-map + MSI result: reader-1 features and tumour labels, reader-2 features, whether
    reader 1 was computed (not cached), or the left-out row of the reader that failed."""

    f1: dict | None = None
    labels: np.ndarray | None = None
    computed: bool = False
    f2: dict | None = None
    error: dict | None = None


def _for_msi(cv: CaseVoxels) -> CaseVoxels:
    """What `_msi_one` needs of a case: the case without its reference image's voxel values (a one-voxel
    placeholder on the same geometry; the pass uses only the spacing and the grid, to write the map), so a
    worker process or Dask worker is not sent the case's CT volume with the task (issue 24)."""
    return _twin(cv, reference=cv.reference.with_array(np.zeros((1, 1, 1), cv.reference.array.dtype)))


def _msi_one(run: _ImagingRun, model, cache1: CaseCache, cache2: CaseCache, cid: str, cv: CaseVoxels) -> _CaseMsi:
    """One case of `_habitat_features` (in this process or a worker)."""
    one = _CaseMsi()
    try:
        one.f1, vol, one.computed = _reader_features(run, model, cache1, cid, cv, "reader1")
        one.labels = vol[cv.tumor]
        if cv.reader2 is not None:
            one.f2 = _reader_features(run, model, cache2, cid, cv, "reader2")[0]
    except HccradError as exc:
        one.error = _left_out(cid, "habitats/MSI", exc)
    return one


def _reader_features(run: _ImagingRun, model, cache: CaseCache, cid: str, cv: CaseVoxels, reader: str):
    """One reader's MSI features and habitat volume of a case: from the cache when its map exists, else
    computed and written (map + cache). Also whether it was computed."""
    feats = cache.get_json(cid, cv.inputs)
    path = habitat_path(run.out, cid, reader)
    if feats is None or not path.is_file():
        feats, vol = _case_features(run.spec, model, cv, reader)
        write_image(cv.reference.with_array(vol.astype(np.int16), name="habitat"), path)
        cache.put_json(cid, feats, cv.inputs)
        return feats, vol, True
    if reader != "reader1":
        return feats, None, False
    labels = model.predict(cv.X, **spatial_arguments(model, cv.tumor, cv.reference.spacing))
    return feats, labels_to_volume(labels, cv.tumor), False


def _keep_figure_material(found: _HabitatFeatures, cid: str, cv: CaseVoxels, vol: np.ndarray,
                          overlay_cases: int) -> None:
    """The first case's habitat map (tumour box) and the overlays of the first `overlay_cases` cases."""
    if found.example is None:  # keep only the tumour's bounding box
        box = tuple(slice(int(i.min()), int(i.max()) + 1) for i in np.nonzero(vol))
        found.example = (cid, vol[box].copy(), cv.reference.spacing)
    if len(found.overlays) < overlay_cases:
        z = int(np.argmax(cv.tumor.sum(axis=(1, 2))))
        found.overlays.append({"case_id": cid, "cohort": cv.cohort,
                               "image": cv.reference.array[z].astype(float), "labels": vol[z]})


def _voxel_sample(found: _HabitatFeatures, train_ids: list[str], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to 5,000 training voxels (descriptor values, habitat), seeded, for the descriptor figures."""
    pooled_X = np.concatenate([found.labels[c][0] for c in train_ids])
    pooled_lab = np.concatenate([found.labels[c][1] for c in train_ids])
    keep = np.sort(np.random.default_rng(seed).choice(pooled_X.shape[0], size=min(5000, pooled_X.shape[0]),
                                                      replace=False))
    return pooled_X[keep], pooled_lab[keep]


def _example_figures(run: _ImagingRun, model, cases: dict[str, CaseVoxels], found: _HabitatFeatures):
    """The first overlay case's phase and descriptor slices and the first case's MSI count matrix."""
    example_slices = example_msi = None
    if found.overlays:
        first = found.overlays[0]["case_id"]
        try:
            example_slices = _example_slices(
                run.study, first, register=lambda c: run.prepared(c, cases[first].inputs, first, record_qc=False))
        except HccradError as exc:  # a figure only: log and go on
            log.warning("example maps of %s not drawn: %s", first, exc)
    if found.example is not None:
        example_msi = (found.example[0], msi_matrix(found.example[1], int(model.n_habitats_),
                                                    connectivity=run.spec.features.msi.connectivity))
    return example_slices, example_msi
