"""Run a whole study: imaging (habitats, MSI) → feature tables → models (fitted on training) → validation →
evaluation per cohort → report. Writes `run.json` (resolved spec, versions, seed, timings) beside the report.

Output folder layout:
  habitats/<case>_habitat.nii.gz    habitat maps aligned with the input
  features/features.parquet|csv     case x feature table (+ reader-2 table, stability table)
  models/                           habitat model (JSON), model bundles (JSON)
  report/index.html                 the report (figures as PNG+SVG, tables as CSV)
  cache/                            per-case results keyed by configuration hash (resumable)
  results/                          the typed stage results the report reads (`hccrad report OUT` rebuilds it)
  run.json
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path
from typing import Callable

import pandas as pd
import yaml

from hccrad import __version__
from hccrad.cohort.study import Study
from hccrad.config.load import dump_spec, load_spec
from hccrad.config.spec import StudySpec
from hccrad.core.errors import HccradError, SpecError
from hccrad.pipeline.appendix import report_appendix
from hccrad.pipeline.cache import atomic_write_json, atomic_write_text, config_hash
from hccrad.pipeline.inspection_cache import InspectionCache
from hccrad.pipeline.patients import patient_table
from hccrad.pipeline.preflight import cases_left_out_by_preflight, preflight, problems_as_records, refuse_on_errors
from hccrad.pipeline.registration_stage import PREPROCESS_QC, REGISTRATION_QC, preprocess_record, registration_record
from hccrad.pipeline.reporting import build_report
from hccrad.pipeline.results import RESULTS_DIR, collect_results, save_results
from hccrad.pipeline.stages import StageContext, run_stage
from hccrad.pipeline.study_stages import (DeepStage, EvaluationStage, FeaturesStage, HabitatSensitivityStage,
                                          ImagingStage, ModelsStage, RadiogenomicsStage, RadiomicsStage, SurvivalStage)
from hccrad.synth import generate_cohort, generate_expression

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]

VERSIONED = ("numpy", "scipy", "pandas", "scikit-learn", "statsmodels", "lifelines", "scikit-survival",
             "SimpleITK", "pyradiomics", "matplotlib", "pydantic", "xgboost-cpu")


@dataclass(frozen=True)
class RunResult:
    out_dir: Path
    report: Path
    run_json: Path
    metrics: pd.DataFrame   # model x cohort discrimination summary


def package_versions() -> dict[str, str]:
    out = {"hccrad": __version__, "python": platform.python_version()}
    for name in VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def _cache_counts(imaging, radiomics) -> dict:
    """Cases taken from the per-case cache vs computed in this run, per stage (for run.json and the report)."""
    out = {}
    if imaging is not None:
        out["imaging"] = {"from_cache": imaging.cache_hits, "computed": imaging.cache_computed,
                          "descriptors_from_cache": imaging.descriptor_cache_hits}
    if radiomics is not None:
        out["radiomics"] = {"from_cache": radiomics.cache_hits, "computed": radiomics.cache_computed}
    return out


def run_study(spec: StudySpec, *, out_dir: Path | None = None, progress: Progress | None = None) -> RunResult:
    """Run every stage of `spec`; see the module docstring for the outputs. Each stage goes through the one
    runner of `hccrad.pipeline.stages` (timing, left-out cases, result by name)."""
    started = time.time()
    inspections = InspectionCache(Path(out_dir or spec.output_dir).resolve() / "cache")  # image checks by digest
    preflight_warnings = refuse_on_errors(preflight(spec, inspections=inspections))  # before any long stage
    out = Path(out_dir or spec.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    inspections.save()
    preflight_left_out = cases_left_out_by_preflight(preflight_warnings)  # data.on_case_error: leave_out
    study = Study(spec, left_out=tuple(preflight_left_out["case_id"]))
    context = StageContext(spec, study, out, progress, timings={"preflight": time.time() - started},
                           errors=[preflight_left_out])
    t0 = time.perf_counter()
    study.table  # noqa: B018  (reads and joins the tables once, timed as "load")
    context.timings["load"] = time.perf_counter() - t0
    for stage in _stages(spec, {"hccrad_version": __version__, "config_hash": config_hash(dump_spec(spec))}):
        run_stage(context, stage)
    report = _write_report(context)
    context.timings["total"] = time.time() - started
    run_json = atomic_write_json(out / "run.json", _run_record(context, started, preflight_warnings))
    atomic_write_text(out / "report" / "run.json.txt", run_json.read_text())
    return RunResult(out_dir=out, report=report, run_json=run_json, metrics=context.result("evaluation").metrics)


def _stages(spec: StudySpec, meta: dict[str, str]) -> list:
    """The stages this study runs, in order (`hccrad.pipeline.study_stages`)."""
    stages: list = []
    if spec.data.has_imaging:
        stages.append(ImagingStage(meta))
    if spec.features.radiomics.enabled:
        stages.append(RadiomicsStage(meta))
    stages.append(FeaturesStage(meta))
    if spec.deep is not None:
        stages.append(DeepStage())
    stages.append(ModelsStage())
    if spec.data.has_imaging and spec.habitat.k_sensitivity:
        stages.append(HabitatSensitivityStage())
    stages += [EvaluationStage(), SurvivalStage()]
    if spec.radiogenomics is not None:
        stages.append(RadiogenomicsStage())
    return stages


def _write_report(context: StageContext) -> Path:
    """patients.csv and the report, from the stages' results only."""
    spec, out, r = context.spec, context.out, context.result
    table = r("features")
    atomic_write_text(out / "patients.csv", patient_table(spec, table.data, r("models"), r("survival")).to_csv())
    t0 = time.perf_counter()
    results = collect_results(spec, context.study, table.data, r("imaging"), r("models"), r("evaluation"),
                              table.stability, context.error_table(), r("survival"),
                              report_appendix(dump_spec(spec), package_versions(), context.timings),
                              deep=r("deep"), radiogenomics=r("radiogenomics"))
    try:
        save_results(results, out / RESULTS_DIR)  # `hccrad report OUT` rebuilds the report from these
    except HccradError as exc:  # the report is still written; results/index.json says why it cannot be rebuilt
        log.warning("the results were not saved, so `hccrad report` cannot rebuild this report: %s", exc)
    report = build_report(results, spec, out)
    context.timings["report"] = time.perf_counter() - t0
    return report


def _run_record(context: StageContext, started: float, preflight_warnings) -> dict:
    """run.json: spec, versions, seed, timings, left-out cases and each stage's record."""
    spec, out, r = context.spec, context.out, context.result
    imaging, table, fitted = r("imaging"), r("features"), r("models")
    survival, deep, errors = r("survival"), r("deep"), context.error_table()
    return {
        "spec": dump_spec(spec), "versions": package_versions(), "seed": spec.seed,
        "timings_s": {k: round(v, 3) for k, v in context.timings.items()},
        "started_unix": started, "n_cases": context.study.n_cases_listed, "n_cases_analysed": int(len(table.data)),
        "cases_left_out": errors.to_dict(orient="records"),
        "patients_table": "patients.csv",
        "cohorts": table.data["cohort"].value_counts().to_dict(),
        "habitats": ({"n_habitats": imaging.n_habitats, "model": str(imaging.model_path.relative_to(out))}
                     if imaging is not None else None),
        "models": fitted.describe(),
        "resampling_warnings": [f"model {name}: {m.optimism.warning}" for name, m in fitted.models.items()
                                if m.optimism is not None and m.optimism.warning],
        "survival": survival.describe() if survival is not None else None,
        "derived_columns": context.study.derive_record,
        "column_mapping": context.study.column_record,
        "lesions": table.lesion_record,
        "deep": deep.record() if deep is not None else None,
        "liver_segmentation": imaging.liver_record if imaging is not None else None,
        "preflight_warnings": problems_as_records(preflight_warnings),
        "case_warnings": imaging.warnings.to_dict(orient="records") if imaging is not None else [],
        "registration": registration_record(spec, imaging.registration_qc, REGISTRATION_QC)
        if imaging is not None else None,
        "preprocessing": preprocess_record(spec, imaging.preprocess_qc, PREPROCESS_QC)
        if imaging is not None else None,
        "habitat_robustness": imaging.robustness.record()
        if imaging is not None and imaging.robustness is not None else None,
        "cache": _cache_counts(imaging, r("radiomics")),
    }


def synth_for_spec(study_path: Path, n: int, *, seed: int = 0) -> Path | None:
    """Generate a synthetic cohort where the study's (single) manifest should be, if it is not there yet,
    and synthetic expression counts (80 % of the patients) where its radiogenomics.counts should be, when
    that file is missing and sits in the cohort folder. Returns the manifest path written, or None when the
    manifest already exists."""
    spec = load_spec(study_path, check_files=False)
    paths = list(spec.data.manifests.values())
    if len(paths) != 1:
        raise SpecError(["--synth needs a study with one data.manifest"], file=study_path)
    made = None if paths[0].is_file() else generate_cohort(paths[0].parent, n=n, seed=seed).manifest
    rg = spec.radiogenomics
    if rg is not None and rg.counts.parent == paths[0].parent and not rg.counts.is_file():
        generate_expression(paths[0].parent, seed=seed, fraction=0.8)
    return made


def demo_spec_text() -> str:
    return resources.files("hccrad.pipeline").joinpath("demo_study.yaml").read_text(encoding="utf-8")


def run_demo(out: Path, *, n: int = 60, seed: int = 0, bootstrap: int | None = None,
             progress: Progress | None = None) -> RunResult:
    """Generate the synthetic cohort under `out/cohort`, write `out/study.yaml` and run it."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    cohort_dir = out / "cohort"
    if not (cohort_dir / "manifest.csv").is_file() or not (cohort_dir / "truth.json").is_file():
        generate_cohort(cohort_dir, n=n, seed=seed,
                        progress=(lambda i, total: progress("synthetic cases", i, total)) if progress else None)
    raw = yaml.safe_load(demo_spec_text())
    raw["seed"] = seed
    if bootstrap is not None:
        raw["validation"]["bootstrap"] = bootstrap
    study_path = out / "study.yaml"
    atomic_write_text(study_path, "# written by `hccrad demo`\n" + yaml.safe_dump(raw, sort_keys=False))
    return run_study(load_spec(study_path), progress=progress)
