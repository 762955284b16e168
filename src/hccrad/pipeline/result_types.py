"""The typed results the report reads (`hccrad.pipeline.results` collects, saves and loads them): frozen
dataclasses, one record each under OUT/results/ (`hccrad.pipeline.records`). Kept apart from the code that
computes and writes them, so the record reader and the section writers can name them without importing it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np  # noqa: F401  (annotations)
import pandas as pd

from hccrad.config.spec import ModelSpec


@dataclass(frozen=True)
class CohortCounts:
    """Cases listed in the manifest(s): in all and per cohort (the patient-flow figure)."""
    n_cases_listed: int
    listed_per_cohort: pd.Series


@dataclass(frozen=True)
class LassoRecord:
    """What the LASSO figures read from the fitted LASSO step (`hccrad.report.figures.lasso`)."""
    cv_results_: Any          # log10_lambda, mean, se, n_nonzero per candidate λ
    scoring: str
    C_: float
    rule: str
    coef_path_: np.ndarray | None
    feature_names_in_: Any


@dataclass(frozen=True)
class ModelRecord:
    """A fitted model as the report sees it (`pipeline.modelling.FittedModel` without its estimator), with
    the statistics computed from the estimator on the training cohort."""
    name: str
    spec: ModelSpec
    columns: list[str]
    selected: list[str]
    threshold: float
    scores: pd.Series
    optimism: Any                       # hccrad.models.validation.OptimismResult | None
    as_published: Any
    coefficients: pd.DataFrame | None
    formula: str | None
    bundle: Path | None
    importance: pd.DataFrame | None     # feature, coefficient, sd, p, importance, -log10 p
    vif: pd.DataFrame | None            # term, VIF
    summary_error: str | None           # importance/VIF not computable: the message
    nomogram: Any                       # hccrad.survival.nomogram.Nomogram | None
    nomogram_error: str | None


@dataclass(frozen=True)
class OddsRatioRecord:
    model: str                          # the clinical model whose variables are shown
    table: pd.DataFrame | None          # OddsRatioResult.summary()
    error: str | None


@dataclass(frozen=True)
class ModelsRecord:
    """`pipeline.modelling.FittedModels` as the report sees it."""
    models: dict[str, ModelRecord]
    y: pd.Series
    cohort: pd.Series
    training: str
    lasso: LassoRecord | None
    notes: list[str]
    odds_ratios: OddsRatioRecord | None


@dataclass(frozen=True)
class TruthRecord:
    table: pd.DataFrame                 # truth_comparison
    population: dict[str, Any]          # truth.json "population" (AUC of the habitat / clinical part)


@dataclass(frozen=True)
class TableOneEntry:
    title: str
    key: str
    name: str                           # report/table1_<name>.csv|.html
    result: Any                         # hccrad.evaluate.descriptive.TableOneResult


@dataclass(frozen=True)
class TableOneRecord:
    """Table 1 (`pipeline.report_table_one.table_one_record`): the tables computed, in order, and the message
    of the one that could not be (the report shows the tables before it, then the message)."""
    note: str
    tables: tuple[TableOneEntry, ...]
    error: str | None


@dataclass(frozen=True)
class ReadersRecord:
    """Each model against each radiologist per cohort (`hccrad.evaluate.readers.reader_comparison`)."""
    cohorts: tuple[str, ...]
    results: tuple[Any, ...]            # ReaderComparisonResult per cohort
    error: str | None


@dataclass(frozen=True)
class AssociationsRecord:
    """Habitat features against pathology / lab markers (`hccrad.evaluate.associations`)."""
    table: pd.DataFrame | None
    error: str | None


@dataclass(frozen=True)
class DeepRecord:
    """The CNN stage as the report sees it (`pipeline.deep_stage.DeepStageResult` without its networks): the AUC
    table, the training notes, and each figure's data (`hccrad.report.figures.deep`, drawn at report time) and
    table, in the stage's order."""
    summary: pd.DataFrame               # DeepStageResult.summary(): AUC of cnn_score per cohort
    learned: bool
    notes: tuple[str, ...]
    figures: tuple[tuple[str, Any], ...]      # (key, LossCurvesFigure | CamOverlayFigure | ...)
    tables: tuple[tuple[str, pd.DataFrame], ...]


@dataclass(frozen=True)
class StudyResults:
    """Everything `reporting.build_report` reads; each field is one record under OUT/results/."""
    cohort: CohortCounts
    data: pd.DataFrame                  # the analysed cases: clinical columns + features
    errors: pd.DataFrame                # cases left out, with the stage and reason
    stability: pd.DataFrame | None
    imaging: Any                        # pipeline.imaging.ImagingResult | None
    habitat_features: pd.DataFrame | None  # mean, std, min, median, max of each habitat feature (training)
    models: ModelsRecord
    evaluation: Any                     # pipeline.evaluation.Evaluation
    survival: Any                       # pipeline.survival_stage.SurvivalResult | None
    truth: TruthRecord | None
    table_one: TableOneRecord
    readers: ReadersRecord | None
    associations: AssociationsRecord | None
    appendix: dict[str, str]
    deep: DeepRecord | None = None
    radiogenomics: Any = None           # hccrad.radiogenomics.RadiogenomicsResult | None
    not_recorded: tuple[str, ...] = field(default_factory=tuple)


SECTIONS = tuple(f.name for f in dataclasses.fields(StudyResults))
