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
from hccrad.pipeline.cache import atomic_write_json, atomic_write_text

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


def _write_table(df: pd.DataFrame, path_stem: Path, meta: dict[str, str]) -> None:
    """Parquet (with config hash + version in its metadata) and CSV."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path_stem.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           **{k.encode(): v.encode() for k, v in meta.items()}})
    tmp = path_stem.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path_stem.with_suffix(".parquet"))
    atomic_write_text(path_stem.with_suffix(".csv"), df.to_csv())


def _cache_counts(imaging, radiomics) -> dict:
    """Cases taken from the per-case cache vs computed in this run, per stage (for run.json and the report)."""
    out = {}
    if imaging is not None:
        out["imaging"] = {"from_cache": imaging.cache_hits, "computed": imaging.cache_computed}
    if radiomics is not None:
        out["radiomics"] = {"from_cache": radiomics.cache_hits, "computed": radiomics.cache_computed}
    return out


def run_study(spec: StudySpec, *, out_dir: Path | None = None, progress: Progress | None = None) -> RunResult:
    """Run every stage of `spec`; see the module docstring for the outputs."""
    from hccrad.features.stability import stability_table
    from hccrad.pipeline.cache import config_hash
    from hccrad.pipeline.evaluation import evaluate_models
    from hccrad.pipeline.imaging import run_imaging
    from hccrad.pipeline.modelling import fit_models, no_models
    from hccrad.pipeline.survival_stage import run_survival
    from hccrad.pipeline.radiomics_stage import run_radiomics, usable_radiomics_columns
    from hccrad.pipeline.appendix import report_appendix
    from hccrad.pipeline.registration_stage import REGISTRATION_QC, registration_record
    from hccrad.pipeline.reporting import build_report

    from hccrad.pipeline.preflight import (cases_left_out_by_preflight, preflight, problems_as_records,
                                           refuse_on_errors)

    started = time.time()
    preflight_warnings = refuse_on_errors(preflight(spec))  # every input check, before any long stage
    out = Path(out_dir or spec.output_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {"preflight": time.time() - started}
    preflight_left_out = cases_left_out_by_preflight(preflight_warnings)  # data.on_case_error: leave_out
    study = Study(spec, left_out=tuple(preflight_left_out["case_id"]))
    t0 = time.perf_counter()
    table = study.table
    timings["load"] = time.perf_counter() - t0
    meta = {"hccrad_version": __version__, "config_hash": config_hash(dump_spec(spec))}

    t0 = time.perf_counter()
    errors: list[pd.DataFrame] = [preflight_left_out]
    imaging = None
    features, features2 = pd.DataFrame(index=table.index), None
    if spec.data.has_imaging:
        imaging = run_imaging(study, out, progress=progress)
        timings.update({f"imaging_{k}": v for k, v in imaging.seconds.items()})
        _write_table(imaging.features, out / "features" / "habitat_features", meta)
        if spec.preprocess.registration != "none":
            atomic_write_text(out / REGISTRATION_QC, imaging.registration_qc.to_csv(index=False))
        errors.append(imaging.errors)
        features, features2 = imaging.features, imaging.features_reader2
    timings["imaging"] = time.perf_counter() - t0
    habitat_columns = list(imaging.features.columns) if imaging is not None else []
    radiomics_columns: list[str] = []
    train_ids = [c for c in study.case_ids(spec.cohorts.training) if c in features.index]
    if spec.features.radiomics.enabled:
        t0 = time.perf_counter()
        rad = run_radiomics(study, imaging, out, n_jobs=-1 if spec.validation.n_jobs != 1 else 1,
                            progress=progress)
        errors.append(rad.errors)
        _write_table(rad.features, out / "features" / "radiomics_features", meta)
        radiomics_columns, dropped = usable_radiomics_columns(rad.features, train_ids)
        if dropped:
            log.warning("%d radiomics feature(s) undefined for some training case were dropped", len(dropped))
        features = features.join(rad.features[radiomics_columns], how="inner")
        if features2 is not None and rad.features_reader2 is not None:
            features2 = features2.join(rad.features_reader2.reindex(columns=radiomics_columns), how="left")
            _write_table(rad.features_reader2, out / "features" / "radiomics_features_reader2", meta)
        incomplete = features.index[features[radiomics_columns].isna().any(axis=1)]
        errors.append(pd.DataFrame({"case_id": list(incomplete), "stage": "radiomics",
                                    "error": "UndefinedFeature",
                                    "message": "a feature kept on the training cohort is undefined for this case "
                                               "(e.g. an absent habitat)"}))
        features = features.drop(index=incomplete)
        timings["radiomics"] = time.perf_counter() - t0
    stability = None
    if features2 is not None:
        ids = [c for c in train_ids if c in features.index]
        stability = stability_table(features.loc[ids], features2.loc[ids])
        atomic_write_text(out / "features" / "stability.csv", stability.to_csv(index=False))
        _write_table(imaging.features_reader2, out / "features" / "habitat_features_reader2", meta)
    kept = [e for e in errors if len(e)]
    errors_table = pd.concat(kept, ignore_index=True) if kept else \
        pd.DataFrame(columns=["case_id", "stage", "error", "message"])
    base, lesion_record = table, None
    if spec.lesions is not None:  # one row per patient from its selected lesions (stability stays per lesion)
        from hccrad.cohort.multilesion import combine_manifest_lesions, patient_table

        ls = spec.lesions
        features, lesion_record = combine_manifest_lesions(
            features, table, patient_column=ls.patient_column, rule=ls.rule, combine=ls.combine, rules=ls.rules,
            volume_column=ls.volume_column, diameter_column=ls.diameter_column)
        base = patient_table(table, patient_column=ls.patient_column, lesion_columns=(ls.diameter_column,))
        features = features[[c for c in features.columns if c not in base.columns]]

    t0 = time.perf_counter()
    data = base.loc[features.index].join(features)
    data, errors_table = _leave_out_by_outcome(spec, data, errors_table)
    deep = None
    if spec.deep is not None:  # CNN score: out-of-fold on training, trained-on-training elsewhere
        from hccrad.deep.study import run_deep_stage

        t0 = time.perf_counter()
        from hccrad.pipeline.deep_score import join_cnn_score

        deep = run_deep_stage(study, spec.deep, out, progress=progress)
        data = join_cnn_score(spec, data, deep)  # left out (warning/error) when no architecture learned
        timings["deep"] = time.perf_counter() - t0
    if spec.models:
        fitted = fit_models(spec, data, habitat_columns=habitat_columns,
                            radiomics_columns=radiomics_columns, stability=stability, out=out, progress=progress)
    else:  # a survival-only (or descriptive) study: no response model to fit
        fitted = no_models(spec, data)
    timings["models"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    evaluation = evaluate_models(spec, data, fitted, progress=progress)
    timings["evaluation"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    survival = run_survival(spec, data, {n: m.scores for n, m in fitted.models.items()})
    timings["survival"] = time.perf_counter() - t0

    radiogenomics = None
    if spec.radiogenomics is not None:
        from hccrad.pipeline.radiogenomics_stage import run_study_radiogenomics

        t0 = time.perf_counter()
        if progress:
            progress("radiogenomics", 0, 1)
        radiogenomics = run_study_radiogenomics(study, fitted)
        if progress:
            progress("radiogenomics", 1, 1)
        timings["radiogenomics"] = time.perf_counter() - t0

    from hccrad.pipeline.patients import patient_table

    atomic_write_text(out / "patients.csv", patient_table(spec, data, fitted, survival).to_csv())
    t0 = time.perf_counter()
    from hccrad.pipeline.results import RESULTS_DIR, collect_results, save_results

    results = collect_results(spec, study, data, imaging, fitted, evaluation, stability, errors_table, survival,
                              report_appendix(dump_spec(spec), package_versions(), timings),
                              deep=deep, radiogenomics=radiogenomics)
    try:
        save_results(results, out / RESULTS_DIR)  # `hccrad report OUT` rebuilds the report from these
    except HccradError as exc:  # the report is still written; results/index.json says why it cannot be rebuilt
        log.warning("the results were not saved, so `hccrad report` cannot rebuild this report: %s", exc)
    report = build_report(results, spec, out, radiogenomics=radiogenomics, deep=deep)
    timings["report"] = time.perf_counter() - t0
    timings["total"] = time.time() - started

    run_json = atomic_write_json(out / "run.json", {
        "spec": dump_spec(spec), "versions": package_versions(), "seed": spec.seed,
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
        "started_unix": started, "n_cases": study.n_cases_listed, "n_cases_analysed": int(len(data)),
        "cases_left_out": errors_table.to_dict(orient="records"),
        "patients_table": "patients.csv",
        "cohorts": data["cohort"].value_counts().to_dict(),
        "habitats": ({"n_habitats": imaging.n_habitats, "model": str(imaging.model_path.relative_to(out))}
                     if imaging is not None else None),
        "models": fitted.describe(),
        "resampling_warnings": [f"model {name}: {m.optimism.warning}" for name, m in fitted.models.items()
                                if m.optimism is not None and m.optimism.warning],
        "survival": survival.describe() if survival is not None else None,
        "derived_columns": study.derive_record,
        "column_mapping": study.column_record,
        "lesions": lesion_record,
        "deep": deep.record() if deep is not None else None,
        "liver_segmentation": imaging.liver_record if imaging is not None else None,
        "preflight_warnings": problems_as_records(preflight_warnings),
        "case_warnings": imaging.warnings.to_dict(orient="records") if imaging is not None else [],
        "registration": registration_record(spec, imaging.registration_qc, REGISTRATION_QC)
        if imaging is not None else None,
        "cache": _cache_counts(imaging, rad if spec.features.radiomics.enabled else None),
    })
    atomic_write_text(out / "report" / "run.json.txt", run_json.read_text())
    return RunResult(out_dir=out, report=report, run_json=run_json, metrics=evaluation.metrics)


def _leave_out_by_outcome(spec: StudySpec, data: pd.DataFrame, errors_table: pd.DataFrame
                          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cases whose response is blank or not a declared level (and blank survival time/event) join the
    left-out table. Without a survival outcome they leave `data`; with one they stay for the survival
    analyses, and every response analysis uses the analysed cases only (`hccrad.cohort.outcomes`)."""
    from hccrad.cohort.outcomes import response_left_out, survival_left_out

    response_out = response_left_out(spec, data)
    parts = [errors_table, response_out, survival_left_out(spec, data)]
    kept = [p for p in parts if len(p)]
    if len(kept) > 1 or (kept and kept[0] is not errors_table):
        errors_table = pd.concat(kept, ignore_index=True)
    if spec.outcome.survival is None and len(response_out):
        data = data.drop(index=list(response_out["case_id"]))
    return data, errors_table


def synth_for_spec(study_path: Path, n: int, *, seed: int = 0) -> Path | None:
    """Generate a synthetic cohort where the study's (single) manifest should be, if it is not there yet,
    and synthetic expression counts (80 % of the patients) where its radiogenomics.counts should be, when
    that file is missing and sits in the cohort folder. Returns the manifest path written, or None when the
    manifest already exists."""
    from hccrad.synth import generate_cohort, generate_expression

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
    from hccrad.synth import generate_cohort

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
