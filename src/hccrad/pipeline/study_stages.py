"""The stages of a study run, in order, each in the one shape of `hccrad.pipeline.stages`:

``imaging`` (habitats + MSI) → ``radiomics`` (PyRadiomics per habitat) → ``features`` (the analysis table:
feature join, ICC stability, lesions per patient, cases without an outcome) → ``deep`` (CNN score) →
``models`` (fit + validate) → ``evaluation`` (per cohort) → ``survival`` → ``radiogenomics``.
The report is written from their results by `hccrad.pipeline.run`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hccrad.cohort.multilesion import combine_manifest_lesions, patient_table
from hccrad.cohort.outcomes import response_left_out, survival_left_out
from hccrad.config.spec import StudySpec
from hccrad.core.files import atomic_write_text
from hccrad.features.stability import stability_table
from hccrad.pipeline.deep_score import join_cnn_score
from hccrad.pipeline.evaluation import Evaluation, evaluate_models
from hccrad.pipeline.habitat_robustness import k_sensitivity
from hccrad.pipeline.imaging import ImagingResult, run_imaging
from hccrad.pipeline.modelling import FittedModels, fit_models, no_models
from hccrad.pipeline.radiogenomics_stage import run_study_radiogenomics
from hccrad.pipeline.robustness_cache import cached_robustness
from hccrad.pipeline.radiomics_stage import RadiomicsResult, run_radiomics, usable_radiomics_columns
from hccrad.pipeline.registration_stage import PREPROCESS_QC, REGISTRATION_QC
from hccrad.pipeline.stages import StageContext
from hccrad.pipeline.survival_stage import SurvivalResult, run_survival

log = logging.getLogger(__name__)


def write_table(df: pd.DataFrame, path_stem: Path, meta: dict[str, str]) -> None:
    """Parquet (with config hash + version in its metadata) and CSV."""
    path_stem.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                           **{k.encode(): v.encode() for k, v in meta.items()}})
    tmp = path_stem.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    tmp.replace(path_stem.with_suffix(".parquet"))
    atomic_write_text(path_stem.with_suffix(".csv"), df.to_csv())


@dataclass
class ImagingStage:
    """Habitat maps, MSI features (and reader-2 features), registration QC (`run_imaging`)."""

    meta: dict[str, str]
    name: str = "imaging"

    def run(self, context: StageContext) -> ImagingResult:
        imaging = run_imaging(context.study, context.out, progress=context.progress,
                              robustness_cache=partial(cached_robustness, context.out / "cache"))
        context.timings.update({f"imaging_{k}": v for k, v in imaging.seconds.items()})
        write_table(imaging.features, context.out / "features" / "habitat_features", self.meta)
        if context.spec.preprocess.registration != "none":
            atomic_write_text(context.out / REGISTRATION_QC, imaging.registration_qc.to_csv(index=False))
        if context.spec.preprocess.reshapes_or_rescales:
            atomic_write_text(context.out / PREPROCESS_QC, imaging.preprocess_qc.to_csv(index=False))
        return imaging


@dataclass
class RadiomicsStage:
    """PyRadiomics features per case and region (`run_radiomics`)."""

    meta: dict[str, str]
    name: str = "radiomics"

    def run(self, context: StageContext) -> RadiomicsResult:
        spec = context.spec
        rad = run_radiomics(context.study, context.result("imaging"), context.out,
                            n_jobs=-1 if spec.validation.n_jobs != 1 else 1, progress=context.progress,
                            scheduler=spec.validation.scheduler)
        write_table(rad.features, context.out / "features" / "radiomics_features", self.meta)
        if rad.features_reader2 is not None and context.result("imaging") is not None \
                and context.result("imaging").features_reader2 is not None:
            write_table(rad.features_reader2, context.out / "features" / "radiomics_features_reader2", self.meta)
        return rad


@dataclass
class AnalysisTable:
    """The table every model and analysis reads: one row per analysed patient (clinical + features)."""

    data: pd.DataFrame
    habitat_columns: list[str]
    radiomics_columns: list[str]
    stability: pd.DataFrame | None
    lesion_record: dict | None
    errors: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass
class FeaturesStage:
    """Join the feature tables to the clinical table: radiomics features kept on the training cohort (cases
    with one undefined are left out), the ICC stability table from reader-2 masks, several lesions combined
    per patient, and the cases whose outcome is blank or undeclared (`leave_out_by_outcome`)."""

    meta: dict[str, str]
    name: str = "features"

    def run(self, context: StageContext) -> AnalysisTable:
        spec, table = context.spec, context.study.table
        imaging: ImagingResult | None = context.result("imaging")
        rad: RadiomicsResult | None = context.result("radiomics")
        features = imaging.features if imaging is not None else pd.DataFrame(index=table.index)
        features2 = imaging.features_reader2 if imaging is not None else None
        habitat_columns = list(imaging.features.columns) if imaging is not None else []
        train_ids = [c for c in context.study.case_ids(spec.cohorts.training) if c in features.index]
        left_out: list[pd.DataFrame] = []
        radiomics_columns: list[str] = []
        if rad is not None:
            features, features2, radiomics_columns, incomplete = _join_radiomics(features, features2, rad, train_ids)
            left_out.append(incomplete)
        stability = self._stability(context, features, features2, train_ids)
        base, lesion_record = table, None
        if spec.lesions is not None:
            features, base, lesion_record = _combine_lesions(spec, features, table)
        data = base.loc[features.index].join(features)
        data, outcome_left_out = leave_out_by_outcome(spec, data)
        left_out.append(outcome_left_out)
        kept = [e for e in left_out if len(e)]
        return AnalysisTable(data, habitat_columns, radiomics_columns, stability, lesion_record,
                             pd.concat(kept, ignore_index=True) if kept else pd.DataFrame())

    def _stability(self, context: StageContext, features, features2, train_ids) -> pd.DataFrame | None:
        if features2 is None:
            return None

        ids = [c for c in train_ids if c in features.index]
        stability = stability_table(features.loc[ids], features2.loc[ids])
        atomic_write_text(context.out / "features" / "stability.csv", stability.to_csv(index=False))
        write_table(context.result("imaging").features_reader2,
                    context.out / "features" / "habitat_features_reader2", self.meta)
        return stability


def _join_radiomics(features: pd.DataFrame, features2: pd.DataFrame | None, rad: RadiomicsResult,
                    train_ids: list[str]):
    """Radiomics columns defined for every training case joined; cases with one of them undefined left out."""
    radiomics_columns, dropped = usable_radiomics_columns(rad.features, train_ids)
    if dropped:
        log.warning("%d radiomics feature(s) undefined for some training case were dropped", len(dropped))
    features = features.join(rad.features[radiomics_columns], how="inner")
    if features2 is not None and rad.features_reader2 is not None:
        features2 = features2.join(rad.features_reader2.reindex(columns=radiomics_columns), how="left")
    incomplete = features.index[features[radiomics_columns].isna().any(axis=1)]
    left_out = pd.DataFrame({"case_id": list(incomplete), "stage": "radiomics", "error": "UndefinedFeature",
                             "message": "a feature kept on the training cohort is undefined for this case "
                                        "(e.g. an absent habitat)"})
    return features.drop(index=incomplete), features2, radiomics_columns, left_out


def _combine_lesions(spec: StudySpec, features: pd.DataFrame, table: pd.DataFrame):
    """One row per patient from its selected lesions (stability stays per lesion)."""
    ls = spec.lesions
    features, lesion_record = combine_manifest_lesions(
        features, table, patient_column=ls.patient_column, rule=ls.rule, combine=ls.combine, rules=ls.rules,
        volume_column=ls.volume_column, diameter_column=ls.diameter_column)
    base = patient_table(table, patient_column=ls.patient_column, lesion_columns=(ls.diameter_column,))
    return features[[c for c in features.columns if c not in base.columns]], base, lesion_record


def leave_out_by_outcome(spec: StudySpec, data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cases whose response is blank or not a declared level (and blank survival time/event), as left-out
    rows. Without a survival outcome they leave `data`; with one they stay for the survival analyses, and
    every response analysis uses the analysed cases only (`hccrad.cohort.outcomes`)."""
    response_out = response_left_out(spec, data)
    kept = [p for p in (response_out, survival_left_out(spec, data)) if len(p)]
    if spec.outcome.survival is None and len(response_out):
        data = data.drop(index=list(response_out["case_id"]))
    return data, pd.concat(kept, ignore_index=True) if kept else pd.DataFrame()


@dataclass
class DeepStage:
    """The CNN score: out of fold on training, from the final network elsewhere; joined to the analysis
    table (left out when no architecture learned, `join_cnn_score`)."""

    name: str = "deep"

    def run(self, context: StageContext):
        from hccrad.pipeline.deep_stage import run_deep_stage  # lazy: torch and MONAI: deep stage only

        deep = run_deep_stage(context.study, context.spec.deep, context.out, progress=context.progress)
        table: AnalysisTable = context.result("features")
        table.data = join_cnn_score(context.spec, table.data, deep)
        return deep


@dataclass
class ModelsStage:
    """Every model of the spec fitted on training and validated (`fit_models`); none in a survival-only or
    descriptive study (`no_models`)."""

    name: str = "models"

    def run(self, context: StageContext) -> FittedModels:
        spec, table = context.spec, context.result("features")
        if not spec.models:
            return no_models(spec, table.data)
        return fit_models(spec, table.data, habitat_columns=table.habitat_columns,
                          radiomics_columns=table.radiomics_columns, stability=table.stability, out=context.out,
                          progress=context.progress)


@dataclass
class HabitatSensitivityStage:
    """The main habitat model's corrected AUC at k−1, k, k+1 (`habitat.k_sensitivity`,
    `hccrad.pipeline.habitat_robustness.k_sensitivity`); the table joins the imaging result's robustness."""

    name: str = "habitat_k_sensitivity"

    def run(self, context: StageContext) -> pd.DataFrame | None:
        imaging: ImagingResult | None = context.result("imaging")
        table: AnalysisTable = context.result("features")
        if imaging is None or imaging.robustness is None:
            return None
        return k_sensitivity(context.spec, table.data, context.result("models"), imaging.robustness,
                             habitat_columns=table.habitat_columns, radiomics_columns=table.radiomics_columns,
                             stability=table.stability)


@dataclass
class EvaluationStage:
    """Discrimination, classification, comparisons, calibration and decision curves per cohort."""

    name: str = "evaluation"

    def run(self, context: StageContext) -> Evaluation:
        return evaluate_models(context.spec, context.result("features").data, context.result("models"),
                               progress=context.progress)


@dataclass
class SurvivalStage:
    """Every survival statistic of the spec (`run_survival`): None without a survival outcome."""

    name: str = "survival"

    def run(self, context: StageContext) -> SurvivalResult | None:
        fitted: FittedModels = context.result("models")
        return run_survival(context.spec, context.result("features").data,
                            {n: m.scores for n, m in fitted.models.items()})


@dataclass
class RadiogenomicsStage:
    """Gene expression by score group (`run_study_radiogenomics`)."""

    name: str = "radiogenomics"

    def run(self, context: StageContext):
        if context.progress:
            context.progress("radiogenomics", 0, 1)
        result = run_study_radiogenomics(context.study, context.result("models"))
        if context.progress:
            context.progress("radiogenomics", 1, 1)
        return result
