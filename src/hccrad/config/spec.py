"""The study spec: one pydantic model per pipeline stage, composed into `StudySpec`.

Every model forbids unknown keys (`extra="forbid"`), so a typo in YAML or in Python keyword arguments is an
error. `schema_version` lets later versions migrate old specs. Paths are resolved relative to the folder of
the YAML file that names them (see `hccrad.config.load`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (BaseModel, ConfigDict, Field, field_serializer, field_validator, model_serializer,
                      model_validator)

from hccrad.clinical.categorical import CategoricalColumn
from hccrad.clinical.derive import DeriveSpec
from hccrad.deep.spec import DeepSpec
from hccrad.habitat.strategies import (HabitatStrategySpec, PopulationStrategy, fold_flat_parameters,
                                       unfold_flat_parameters)
from hccrad.habitat.descriptor_kinds import DescriptorKindSpec, DifferenceDescriptor
from hccrad.models.kinds import LogisticKind, ModelKindSpec
from hccrad.models.published import list_published
from hccrad.radiogenomics.spec import RadiogenomicsSpec
from hccrad.selection.registry import (SELECTION_STEPS, SelectionStepSpec, migrate_flat_params, step_as_mapping,
                                       step_as_written)
# report.paper: layouts named like the example study that reproduces each paper; seed ids are aliases
from hccrad.report.layout_names import PAPER_ALIASES

PaperLayout = Literal[tuple(PAPER_ALIASES.values())]  # the layout names: one list, in report.layout_names

SCHEMA_VERSION = 1
#: a model's selection steps when the spec lists none (seed 000: univariate → correlation → scale → LASSO)
DEFAULT_SELECTION_STEPS = ["univariate", "correlation", "scale", "lasso"]
#: preset lesion rules named by what they keep -> the paper id accepted as an alias (seed 000: Wu 2025, "the
#: two largest lesions, each with a diameter greater than 2 cm"; seed 003: up to two RECIST target lesions)
RULE_ALIASES = {"seed000": "two_largest_over_20mm", "seed003": "two_largest"}
#: the preset lesion rules (`lesions.rule`): the one list of their names; each is defined in
#: hccrad.cohort.multilesion.RULE_PRESETS (tests/config/test_spec_aliases.py checks that the two agree)
LESION_RULES = ("all", "largest", "two_largest_over_20mm", "two_largest")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LiverModelSpec(_Strict):
    """How liver masks are predicted for the cases without one (`data.segment_missing_liver: true`).

    kind "unet": hccrad trains a 3-D U-Net on the cases that have liver masks (Dice on held-out labelled
    cases in the report). kind "nnunet": the user's own trained nnU-Net v2 model folder
    (…/DatasetXXX/<trainer>__<plans>__<configuration>), applied through nnunetv2's predictor with weights
    loaded without unpickling (hccrad.deep.nnunet). channels: nnU-Net channel -> phase (default: channel
    "0" = the reference phase).
    """

    kind: Literal["unet", "nnunet"] = "unet"
    folder: Path | None = None
    channels: dict[str, str] | None = None
    folds: list[int] | None = None
    checkpoint: str = "checkpoint_final.pth"
    label: int = Field(default=1, ge=1)

    @model_validator(mode="after")
    def _folder_for_nnunet(self) -> "LiverModelSpec":
        if self.kind == "nnunet" and self.folder is None:
            raise ValueError("liver_model.kind nnunet needs liver_model.folder: the trained model folder, e.g. "
                             "nnUNet_results/Dataset001_Liver/nnUNetTrainer__nnUNetPlans__3d_fullres")
        if self.kind == "unet" and (self.folder is not None or self.channels is not None):
            raise ValueError("liver_model.folder / channels apply to kind nnunet only")
        return self


class DataSpec(_Strict):
    """Where the cohort is: the manifest (one row per case/lesion) and the clinical table.

    Manifest columns: the id column, `image_<phase>` per phase, `mask_<name>` per mask, optionally a
    cohort column and `patient_id`. Relative paths inside the manifest are resolved from its folder.
    """

    manifest: Path | None = None
    cohort_manifests: dict[str, Path] | None = None  # {cohort name: manifest}, instead of one manifest
    clinical: Path | None = None
    id_column: str = "case_id"
    phases: list[str] = Field(default_factory=lambda: ["pre", "arterial", "portal"], min_length=1)
    reference_phase: str = "portal"
    tumor_mask: str = "tumor"
    mask_label: int = Field(default=1, ge=1)  # the tumour masks' lesion value; masks must hold only {0, mask_label}
    liver_mask: str | None = "liver"
    reader2_mask: str | None = "tumor_reader2"
    segment_missing_liver: bool = False  # predict liver masks for the cases without one (see liver_model)
    on_case_error: Literal["leave_out", "refuse"] = Field(default="leave_out", description=(
        "a case whose images or masks cannot be used (unreadable, truncated, off-grid, non-binary or empty "
        "mask): leave_out (the default) leaves that case out, with its reason in validate's warnings, the "
        "report and run.json, and runs the others; refuse stops validate and run. More than 20 % of the "
        "cases failing is refused either way (a systematic problem, e.g. a wrong folder)"))
    liver_model: LiverModelSpec = Field(default_factory=LiverModelSpec)
    clinical_sheet: str | int | None = Field(default=None, description=(
        "the sheet of an Excel (.xlsx) clinical table: its name or 0-based position (default: the first)"))
    manifest_sheet: str | int | None = Field(default=None, description=(
        "the sheet of Excel (.xlsx) manifests: its name or 0-based position (default: the first)"))
    row_ids: bool = Field(default=False, description=(
        "the clinical table has no id column (clinical-only studies): each row's id is 'row<N>', N = 1 for "
        "the first data row, written into data.id_column"))
    columns: dict[str, str] = Field(default_factory=dict, description=(
        "rename columns as they are read, {name in the file: name hccrad uses}, in the clinical table and the "
        "manifests (e.g. {\"Patient ID\": case_id, \"CT arterial\": image_arterial, \"Child-Pugh\": child_pugh}); "
        "every other setting names columns by the name hccrad uses; several file names may map to one name "
        "(manifests that differ), but not two columns of one table"))
    missing_values: list[str] | None = Field(default=None, description=(
        "the text that marks a missing value in the clinical table and manifests, besides a blank cell "
        "(e.g. [\"?\", \"NA\", \"n.d.\"]); a list reads exactly those as missing. Default (unset): pandas' "
        "markers (blank, NA, N/A, NULL, nan, #N/A, ...)"))
    recode: dict[str, dict[int | float | str, int | float | str]] = Field(default_factory=dict, description=(
        "value tables applied as the tables are read, {column: {value in the file: value hccrad uses}}, e.g. "
        "{cirrhosis: {\"yes\": 1, \"no\": 0}}; values match as numbers when both are numbers, otherwise as "
        "text (case-sensitive, surrounding blanks ignored); a blank cell stays blank, and a value the table "
        "does not cover is an error (validate lists them)"))
    categorical: dict[str, CategoricalColumn] = Field(default_factory=dict, description=(
        "categorical clinical columns, {column: {levels: [A, B, C, D], reference: A}}: dummy-coded against "
        "the reference in every model (ORs/HRs per level, a joint test per variable); a value outside the "
        "levels is refused by validate. A text column used as a predictor without an entry here is "
        "categorical with its sorted levels, the first the reference (validate says so)"))

    @property
    def manifests(self) -> dict[str | None, Path]:
        """{None: the manifest}, {cohort name: its manifest}, or {} for a clinical-only study."""
        if self.cohort_manifests:
            return dict(self.cohort_manifests)
        return {None: self.manifest} if self.manifest is not None else {}

    @property
    def has_imaging(self) -> bool:
        return bool(self.manifests)

    @model_validator(mode="after")
    def _one_manifest_source(self) -> "DataSpec":
        if self.manifest is not None and self.cohort_manifests:
            raise ValueError("give either data.manifest (one table, cohorts from a column) or "
                             "data.cohort_manifests ({cohort: manifest}), not both")
        if self.manifest is None and not self.cohort_manifests and self.clinical is None:
            raise ValueError("give data.manifest (imaging cases) or data.cohort_manifests, and/or data.clinical "
                             "(a clinical-only study needs at least the clinical table)")
        return self

    @field_validator("recode", mode="before")
    @classmethod
    def _no_boolean_recode(cls, value: object) -> object:
        for column, table in (value.items() if isinstance(value, dict) else ()):
            for key, target in (table.items() if isinstance(table, dict) else ()):
                _refuse_yaml_booleans(key, f"data.recode.{column} value")
                _refuse_yaml_booleans(target, f"data.recode.{column}[{key!r}]")
        return value

    @model_validator(mode="after")
    def _column_mapping(self) -> "DataSpec":
        problems = _column_mapping_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @model_validator(mode="after")
    def _reference_in_phases(self) -> "DataSpec":
        if self.reference_phase not in self.phases:
            raise ValueError(f"reference_phase {self.reference_phase!r} is not one of phases {self.phases}")
        return self


def _column_mapping_problems(data: "DataSpec") -> list[str]:
    """What is wrong with data.columns / data.recode / data.row_ids on their own (no file read)."""
    problems = []
    targets = list(data.columns.values())
    if any(not str(k).strip() or not str(v).strip() for k, v in data.columns.items()):
        problems.append("data.columns: a blank column name")
    for column, table in data.recode.items():
        if not table:
            problems.append(f"data.recode.{column}: an empty value table")
        if any(isinstance(k, str) and not k.strip() for k in table):
            problems.append(f"data.recode.{column}: a blank value cannot be recoded (a blank stays missing)")
        if column in data.columns and column not in targets:
            problems.append(f"data.recode names {column!r}, which data.columns renames to "
                            f"{data.columns[column]!r}: use the new name")
    if data.row_ids and data.has_imaging:
        problems.append("data.row_ids numbers the clinical table's rows, which only a clinical-only study can "
                        "use (manifest rows are joined by data.id_column)")
    return problems


class CohortSpec(_Strict):
    """Named cohorts. Everything data-driven is fitted on `training` and frozen for the others.

    `column` names the manifest/clinical column holding each case's cohort; when it is absent from the
    data, `split_test_fraction` splits the cases (stratified by outcome, seeded) into training and `test`.
    """

    column: str | None = "cohort"
    training: str = "training"
    tests: list[str] = Field(default_factory=list)
    split_test_fraction: float | None = Field(default=None, gt=0, lt=1)


def _refuse_yaml_booleans(value: object, field: str) -> None:
    """YAML reads unquoted yes/no/true/false as booleans; a column read from CSV holds the text."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: {value!r} is a YAML boolean (unquoted yes/no/true/false); quote the value "
                         "as it is written in the table, e.g. \"yes\"")


class ResponseOutcome(_Strict):
    """A binary outcome with declared levels: `positive`/`negative` (default 1/0) or a mapping `levels`
    ({CR: 1, PR: 1, SD: 0, PD: 0}). A case whose value is blank or not a declared level is left out of this
    outcome's analyses (listed with its reason in the report and run.json); numbers match as numbers."""

    column: str
    positive: int | str = 1
    negative: int | str = 0
    levels: dict[int | str, Literal[0, 1]] | None = None
    label: str = "response"
    polarity: Literal["favourable", "adverse"] = Field(default="favourable", description=(
        "is the positive class good (favourable: response; groups 'responder'/'non-responder', a higher "
        "predicted probability means a lower risk) or bad (adverse: death, progression; groups 'event'/"
        "'no event', a higher predicted probability means a higher risk)? Text levels name the groups "
        "themselves (positive: died -> 'died')"))

    @field_validator("positive", "negative", mode="before")
    @classmethod
    def _no_boolean_level(cls, value: object) -> object:
        _refuse_yaml_booleans(value, "outcome.response level")
        return value

    @field_validator("levels", mode="before")
    @classmethod
    def _no_boolean_keys(cls, value: object) -> object:
        for key in value if isinstance(value, dict) else ():
            _refuse_yaml_booleans(key, "outcome.response.levels key")
        return value

    @model_validator(mode="after")
    def _levels_declared_once(self) -> "ResponseOutcome":
        if self.levels is not None:
            if {"positive", "negative"} & self.model_fields_set:
                raise ValueError("outcome.response: give either levels: {value: 0/1, ...} or positive:/negative:, "
                                 "not both")
            if set(self.levels.values()) != {0, 1}:
                raise ValueError("outcome.response.levels must map at least one value to 1 and one to 0")
        elif str(self.positive).strip() == str(self.negative).strip():
            raise ValueError(f"outcome.response: positive and negative are the same value {self.positive!r}")
        return self

    @property
    def coding(self) -> dict[int | str, int]:
        """{declared value: 1 (positive) or 0 (negative)}."""
        return dict(self.levels) if self.levels is not None else {self.positive: 1, self.negative: 0}


class SurvivalOutcome(_Strict):
    time: str
    event: str
    unit: Literal["days", "weeks", "months", "years"] = "months"
    label: str = "overall survival"
    horizons: list[float] = Field(default_factory=lambda: [12.0, 24.0, 36.0])
    compare_with: list[str] = Field(default_factory=list, description=(
        "columns of staging systems / clinical scores (ordinal: higher = worse) compared with the model by "
        "C-index and time-dependent AUC (seed 002 table 3)"))
    model: str | None = Field(default=None, description=(
        "the model whose score defines the risk groups, enters the Cox regression and is compared with the "
        "staging systems; none (the default): the survival analysis uses the clinical columns only"))
    covariates: list[str] = Field(default_factory=list, description=(
        "clinical columns of the univariable and multivariable Cox regression (with the model score when "
        "`model` is set; seed 002 table 2, seed 004 table 3); numeric or 0/1"))
    groups: list[str] = Field(default_factory=list, description=(
        "columns whose groups get Kaplan–Meier curves and a log-rank test in every cohort (e.g. BCLC)"))
    score_direction: Literal["lower_risk", "higher_risk"] | None = Field(default=None, description=(
        "what a higher score of `model` means: lower_risk or higher_risk. When not given (null) it follows "
        "outcome.response.polarity: the score is the predicted probability of the positive class, so "
        "favourable (the default) -> lower_risk, adverse -> higher_risk; checked against the univariable Cox "
        "association and reported"))
    event_codes: dict[int | str, Literal[0, 1]] | None = Field(default=None, description=(
        "how the event column is coded, {value: 0 censored / 1 event}, e.g. {1: 0, 2: 1} for R's 1/2 coding; "
        "default 0/1. Any other value is refused by validate"))
    ties: Literal["efron", "breslow"] = Field(default="efron", description=(
        "how the Cox regressions handle tied event times: efron (R coxph's default) or breslow (SPSS's and "
        "SAS PHREG's default; choose it to reproduce a paper analysed there)"))

    @field_validator("event_codes", mode="before")
    @classmethod
    def _no_boolean_codes(cls, value: object) -> object:
        for key in value if isinstance(value, dict) else ():
            _refuse_yaml_booleans(key, "outcome.survival.event_codes key")
        return value

    @property
    def event_coding(self) -> dict[int | str, int]:
        """{declared value: 0 (censored) or 1 (event)}."""
        return dict(self.event_codes) if self.event_codes is not None else {0: 0, 1: 1}


class OutcomeSpec(_Strict):
    response: ResponseOutcome | None = None
    survival: SurvivalOutcome | None = None

    @model_validator(mode="after")
    def _at_least_one(self) -> "OutcomeSpec":
        if self.response is None and self.survival is None:
            raise ValueError("declare at least one outcome: response and/or survival")
        return self


#: A voxel descriptor for habitat clustering (seed 000: AE = arterial − pre, VE = portal − pre): one flat mapping
#: {name, kind, phases, ...}, each kind with its own fields (hccrad.habitat.descriptor_kinds, the registry)
DescriptorSpec = DescriptorKindSpec


class HabitatSpec(_Strict):
    descriptors: list[DescriptorSpec] = Field(
        default_factory=lambda: [
            DifferenceDescriptor(name="AE", phases=["arterial", "pre"]),
            DifferenceDescriptor(name="VE", phases=["portal", "pre"]),
        ]
    )
    strategy: HabitatStrategySpec = Field(default_factory=PopulationStrategy, description=(
        "the habitat strategy, by name (population, individual, two_step) or with its parameters, e.g. "
        "{kind: two_step, supervoxels: slic} (hccrad.habitat.strategies: the registry of strategies)"))
    n_habitats: int | Literal["auto"] = "auto"
    k_range: tuple[int, int] = (2, 10)
    order_by: str | None = None  # default: the first descriptor
    max_voxels_fit: int = Field(default=200_000, ge=1_000)
    # issue 23: k rule ("consensus": elbow = silhouette, else the most stable k over n_bootstrap resamples of
    # the training cases); the two-step supervoxel settings are the strategy's parameters
    k_rule: Literal["elbow", "consensus"] = "elbow"
    n_bootstrap: int = Field(default=20, ge=1, le=1000)
    # issue 23: stability over B bootstrap resamples of the training patients (0 = off) and the main habitat
    # model's corrected AUC at k-1, k, k+1 (hccrad.pipeline.habitat_robustness)
    stability_resamples: int = Field(default=0, ge=0, le=1000)
    k_sensitivity: bool = False

    @model_validator(mode="before")
    @classmethod
    def _flat_strategy_parameters(cls, data):
        """Schema 1's flat two-step parameters (n_supervoxels, supervoxels, compactness) move into strategy."""
        return fold_flat_parameters(data) if isinstance(data, dict) else data

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy_by_name(cls, value):
        return {"kind": value} if isinstance(value, str) else value

    @model_serializer(mode="wrap")
    def _schema1_layout(self, handler) -> dict:
        """Written as schema 1 wrote it (strategy's name, two-step parameters flat), so the dump, run.json and
        the configuration hashes of existing specs are unchanged (hccrad.habitat.strategies)."""
        data = handler(self)
        if "strategy" not in data:
            return data
        data["strategy"], flat = unfold_flat_parameters(self.strategy)
        items = list(data.items())
        at = list(data).index("n_bootstrap") + 1 if "n_bootstrap" in data else len(items)
        return dict(items[:at] + list(flat.items()) + items[at:])

    @field_validator("k_range")
    @classmethod
    def _k_range(cls, v: tuple[int, int]) -> tuple[int, int]:
        if not 2 <= v[0] < v[1]:
            raise ValueError("k_range must be (low, high) with 2 <= low < high")
        return v

    @model_validator(mode="after")
    def _order_by_known(self) -> "HabitatSpec":
        names = [d.name for d in self.descriptors]
        if len(set(names)) != len(names):
            raise ValueError(f"descriptor names must be unique, got {names}")
        if self.order_by is not None and self.order_by not in names:
            raise ValueError(f"order_by {self.order_by!r} is not a descriptor name ({names})")
        return self

    @property
    def order_descriptor(self) -> str:
        return self.order_by or self.descriptors[0].name


class MSISpec(_Strict):
    enabled: bool = True
    connectivity: Literal["2d", "3d"] = "2d"
    layout: Literal["reference", "wu2025"] = "reference"
    liver_shell_mm: float = Field(default=5.0, gt=0)


class RadiomicsSpec(_Strict):
    enabled: bool = False
    params: Path | None = None
    phases: list[str] | None = None  # default: all phases
    regions: list[Literal["tumor", "habitats"]] = Field(default_factory=lambda: ["tumor", "habitats"])


class FeaturesSpec(_Strict):
    msi: MSISpec = Field(default_factory=MSISpec)
    radiomics: RadiomicsSpec = Field(default_factory=RadiomicsSpec)
    icc_min: float | None = Field(default=0.75, ge=0, le=1)


class ModelSpec(_Strict):
    """One model. `features` names a feature group (`habitat`, `radiomics`) or explicit columns;
    `clinical` lists clinical candidates; `fuse` names another model whose in-fold score is added."""

    name: str
    kind: ModelKindSpec = Field(default_factory=LogisticKind, description=(
        "the model kind, by name (logistic, svm, random_forest, xgboost) or with its parameters, e.g. "
        "{kind: svm, C: 0.5} (hccrad.models.kinds: the registry of kinds and their parameters)"))
    features: Literal["habitat", "radiomics", "none"] | list[str] = "habitat"  # a list may mix group names and columns
    clinical: list[str] = Field(default_factory=list)
    clinical_selection: Literal["stepwise", "all"] = "stepwise"
    entry_p: float = Field(default=0.1, gt=0, le=1)
    fuse: str | None = None
    selection_steps: list[SelectionStepSpec] = Field(
        default_factory=lambda: [SELECTION_STEPS[s]() for s in DEFAULT_SELECTION_STEPS], description=(
            "the selection steps, in order, each by name (univariate, correlation, scale, lasso, rfe, vif, mrmr, "
            "stability) or with its parameters, e.g. {kind: univariate, p_max: 0.01} (hccrad.selection.registry: "
            "the registry of steps and their parameters). The flat fields of earlier specs (univariate_p, "
            "correlation_threshold, correlation_method, lasso_rule, lasso_cv, rfe_features, rfe_step) are still "
            "read and moved into their step"))

    @model_validator(mode="before")
    @classmethod
    def _flat_step_params(cls, data):
        return migrate_flat_params(data, DEFAULT_SELECTION_STEPS) if isinstance(data, dict) else data

    @field_validator("selection_steps", mode="before")
    @classmethod
    def _steps_by_name(cls, value):
        return [step_as_mapping(s) for s in value] if isinstance(value, (list, tuple)) else value

    @field_validator("selection_steps")
    @classmethod
    def _steps_once(cls, value: list) -> list:
        kinds = [s.kind for s in value]
        twice = sorted({k for k in kinds if kinds.count(k) > 1})
        if twice:
            raise ValueError(f"selection step(s) {twice} listed more than once")
        return value

    @field_serializer("selection_steps")
    def _steps_as_written(self, value: list) -> list:
        """Each step as its name when its parameters are the defaults, else as a mapping (run.json, hashes)."""
        return [step_as_written(s) for s in value]

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_by_name(cls, value):
        return {"kind": value} if isinstance(value, str) else value

    @field_serializer("kind")
    def _kind_as_written(self, value) -> str | dict:
        """A kind with every parameter at its default is written as its name (run.json, config hashes)."""
        changed = value.changed_params()
        return value.kind if not changed else {"kind": value.kind, **changed}


class ReaderSpec(_Strict):
    """A radiologist's call (0/1) or ordinal rating per patient, in a column of the clinical table
    (seed 003: model vs radiologists). Ratings need the `threshold` at which a reader calls positive."""

    name: str
    column: str
    threshold: float | None = None


class LesionsSpec(_Strict):
    """Several lesions per patient: manifest rows sharing `patient_column` are lesions of one patient.

    Lesions are selected by `rule` ("two_largest_over_20mm": the two largest with diameter > 2 cm, seed 000;
    "two_largest": up to two target lesions, seed 003; the paper ids "seed000" and "seed003" are accepted as
    aliases) and their features combined into one patient row by `combine`
    (volume-type `*_mm3` features are summed). See docs/clinical.md, "Several lesions per patient"."""

    patient_column: str = "patient_id"
    rule: Literal[LESION_RULES] = "largest"
    combine: Literal["largest", "volume_weighted_mean", "mean", "sum", "max", "min"] = "largest"
    rules: dict[str, str] | None = None
    volume_column: str = "habitat*_volume_mm3"
    diameter_column: str = "lesion_diameter_mm"

    @field_validator("rule", mode="before")
    @classmethod
    def _rule_alias(cls, value):
        return RULE_ALIASES.get(value, value) if isinstance(value, str) else value


class AssociationSpec(_Strict):
    """Imaging features against pathology / laboratory markers (seed 000 sFig. 3). `features`: columns of
    the feature table; default the habitat proportions (`habitat<k>_fraction`)."""

    markers: list[str] = Field(min_length=1)
    features: list[str] | None = None


class ValidationSpec(_Strict):
    """`as_published: true` adds, beside the honest optimism-corrected AUC (selection refitted in every
    resample), the protocol some papers used (seed 000): features selected once on all training patients,
    then only the final logistic model bootstrapped. It is labelled as such and never replaces the honest one."""

    bootstrap: int = Field(default=1000, ge=0)
    as_published: bool = False
    cv_folds: int = Field(default=5, ge=2)
    n_jobs: int = 1
    level: float = Field(default=0.95, gt=0.5, lt=1)
    scheduler: str | None = Field(default=None, pattern=r"^(tcp|tls)://\S+:\d+$", description=(
        "address of a Dask distributed scheduler, e.g. tcp://host:8786: the resamples (in chunks), the "
        "per-case radiomics extraction and the imaging stage's per-case work run on its workers instead of this "
        "machine (n_jobs then unused); "
        "same numbers as a local run. None: this machine"))




class ReportSpec(_Strict):
    title: str | None = None
    proportion_ci: Literal["clopper-pearson", "wald"] = "clopper-pearson"  # SEN/SPE/PPV/NPV intervals
    overlay_cases: int = Field(default=3, ge=0)
    intensity_unit: str = Field(default="HU", min_length=1, description=(
        "the images' intensity unit on descriptor colour bars and axes: HU for CT, e.g. 'a.u.' for MRI"))
    table_one_by: list[str] = Field(default_factory=list, description=(
        "extra Table 1 grouped by each of these clinical columns (seed 002: by MTM subtype)"))
    table_one: list[str] | None = Field(default=None, description=(
        "the variables of Table 1, in this order (default: the models' clinical variables and the survival "
        "covariates, groups and staging columns; never an outcome, survival time/event or reader column)"))
    table_one_labels: dict[str, str] = Field(default_factory=dict, description=(
        "readable names with units for Table 1, {column: label}, e.g. {afp: \"AFP (ng/mL)\"}"))
    table_one_smd: bool = Field(default=False, description=(
        "add the standardised mean difference between the groups to Table 1 (Yang & Dalton 2012)"))
    or_units: dict[str, float | Literal["log10"]] = Field(default_factory=dict, description=(
        "the OR table's unit per continuous clinical variable, {column: u}: OR per u units (exp(u·β)), e.g. "
        "{afp: 100} for 'per 100 ng/mL'; or 'log10' for the OR per 10-fold increase (fitted on log10)"))
    published: list[str] = Field(default_factory=list, description=(
        "shipped published models (hccrad validate-published --list) shown with their formulas in the report"))
    paper: PaperLayout | None = Field(default=None, description=(
        "arrange index.html as this paper's tables and figures, in its order (hccrad.report.paper); "
        "the stage-by-stage report is then written as stages.html. The paper ids seed000 … seed004 are "
        "accepted as aliases (of the names in this order)"))

    @field_validator("paper", mode="before")
    @classmethod
    def _paper_alias(cls, value):
        return PAPER_ALIASES.get(value, value) if isinstance(value, str) else value

    @field_validator("or_units")
    @classmethod
    def _positive_or_units(cls, value: dict[str, float | str]) -> dict[str, float | str]:
        bad = {k: u for k, u in value.items() if u != "log10" and not (isinstance(u, (int, float)) and 0 < u < float("inf"))}
        if bad:
            raise ValueError(f"or_units must be numbers > 0 or 'log10'; got {bad}")
        return value

    @field_validator("published")
    @classmethod
    def _known_published(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in list_published()]
        if unknown:
            raise ValueError(f"no shipped published model named {unknown}; use one of {list_published()}")
        return value


class PreprocessSpec(_Strict):
    """Preprocessing of each case's phases before the descriptor maps (`hccrad.preprocess.alignment`).

    registration: none keeps the phases as read (they must already share the reference grid); rigid (6
    parameters) or affine (12) registers every phase to `data.reference_phase` around the tumour (SimpleITK,
    Mattes mutual information), with a per-case QC table in the report and run.json. Rigid is recommended
    for multi-phase CT (breathing shifts the liver between phases; the preflight warns when phases look
    misaligned).

    After registration (order: register → resample → intensity, `hccrad.preprocess.steps`): spacing_mm
    resamples every phase and mask ([x, y, z] mm; images linear or B-spline, masks nearest or label-Gaussian,
    a tumour mask left empty is an error); then per modality, CT: hu_window clips to [lo, hi] HU; MRI: n4
    (N4 bias-field correction) and normalise: zscore, both inside intensity_region. All off by default.
    """

    registration: Literal["none", "rigid", "affine"] = Field(default="none", description=(
        "register every phase to the reference phase: none (default: phases used as read), rigid "
        "(recommended for multi-phase CT) or affine"))
    registration_margin_mm: float = Field(default=30.0, gt=0, description=(
        "the registration sees the tumour's bounding box grown by this margin (mm) on each side"))
    qc_min_ncc: float = Field(default=0.3, ge=-1, le=1, description=(
        "QC warning when a phase's normalised cross-correlation with the reference inside the tumour box "
        "(grown by 10 mm) is below this after registration, or fell by more than 0.01"))
    qc_max_translation_mm: float = Field(default=10.0, gt=0, description=(
        "QC warning when the registration moved a phase by more than this (mm)"))
    spacing_mm: tuple[float, float, float] | None = Field(default=None, description=(
        "[x, y, z] mm: resample every phase and mask to this spacing after registration (default null: "
        "keep the reference phase's grid)"))
    image_interpolator: Literal["linear", "bspline"] = Field(default="linear", description=(
        "how images are resampled to spacing_mm"))
    mask_interpolator: Literal["nearest", "label_gaussian"] = Field(default="nearest", description=(
        "how masks are resampled to spacing_mm (both keep them binary)"))
    modality: Literal["ct", "mri"] = Field(default="ct", description=(
        "the images' modality: hu_window is for CT, n4 and normalise for MRI"))
    hu_window: tuple[float, float] | None = Field(default=None, description=(
        "CT: clip every phase to [lo, hi] HU after resampling (default null: no clip), e.g. [-100, 300]"))
    n4: bool = Field(default=False, description=(
        "MRI: N4 bias-field correction of every phase inside intensity_region (SimpleITK)"))
    normalise: Literal["none", "zscore"] = Field(default="none", description=(
        "MRI: z-score every phase with the mean and SD inside intensity_region"))
    intensity_region: Literal["liver", "tumour_box"] = Field(default="tumour_box", description=(
        "where N4 fits the bias field and the z-score takes its statistics: the liver mask (data.liver_mask) "
        "or the tumour's bounding box grown by registration_margin_mm"))

    @field_validator("spacing_mm")
    @classmethod
    def _positive_spacing(cls, v):
        if v is not None and not all(s > 0 for s in v):
            raise ValueError(f"spacing_mm must be three positive numbers [x, y, z] mm, got {list(v)}")
        return v

    @field_validator("hu_window")
    @classmethod
    def _ordered_window(cls, v):
        if v is not None and not v[0] < v[1]:
            raise ValueError(f"hu_window must be [lo, hi] with lo < hi, got {list(v)}")
        return v

    @model_validator(mode="after")
    def _modality_steps(self) -> "PreprocessSpec":
        problems = []
        if self.modality == "ct" and self.n4:
            problems.append("n4 is for MRI (bias fields); with modality: ct set n4: false or modality: mri")
        if self.modality == "ct" and self.normalise != "none":
            problems.append("normalise: zscore is for MRI (CT is already in HU); with modality: ct use "
                            "hu_window or set modality: mri")
        if self.modality == "mri" and self.hu_window is not None:
            problems.append("hu_window clips Hounsfield units (CT); with modality: mri use normalise instead")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def reshapes_or_rescales(self) -> bool:
        """True when a step after registration changes the voxels (resampling or an intensity step)."""
        return (self.spacing_mm is not None or self.hu_window is not None or self.n4
                or self.normalise != "none")


class StudySpec(_Strict):
    """A whole study: data, cohorts, outcomes and the settings of every stage."""

    schema_version: Literal[1] = SCHEMA_VERSION
    name: str
    seed: int = Field(default=0, ge=0)
    output_dir: Path = Path("hccrad-out")
    data: DataSpec
    cohorts: CohortSpec = Field(default_factory=CohortSpec)
    outcome: OutcomeSpec
    preprocess: PreprocessSpec = Field(default_factory=PreprocessSpec)
    habitat: HabitatSpec = Field(default_factory=HabitatSpec)
    features: FeaturesSpec = Field(default_factory=FeaturesSpec)
    models: list[ModelSpec] = Field(default_factory=list)
    validation: ValidationSpec = Field(default_factory=ValidationSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)
    derive: DeriveSpec | None = None
    lesions: LesionsSpec | None = None
    deep: DeepSpec | None = None
    radiogenomics: RadiogenomicsSpec | None = None
    readers: list[ReaderSpec] = Field(default_factory=list)
    associations: AssociationSpec | None = None

    @model_validator(mode="after")
    def _cross_checks(self) -> "StudySpec":
        problems = []
        phases = set(self.data.phases)
        for d in self.habitat.descriptors:
            missing = [p for p in d.phases if p not in phases]
            if missing:
                problems.append(f"habitat descriptor {d.name!r} uses phase(s) {missing} not in data.phases")
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            problems.append(f"model names must be unique, got {names}")
        for m in self.models:
            if m.fuse is not None and m.fuse not in names:
                problems.append(f"model {m.name!r} fuses unknown model {m.fuse!r}")
            if m.fuse == m.name:
                problems.append(f"model {m.name!r} cannot fuse itself")
        if self.radiogenomics is not None and self.radiogenomics.scores is None and not self.models:
            problems.append("radiogenomics without a scores table needs a model whose scores it uses")
        if not self.data.has_imaging:
            for name, on in (("features.radiomics", self.features.radiomics.enabled), ("deep", self.deep),
                             ("lesions", self.lesions)):
                if on:
                    problems.append(f"{name} needs images: give data.manifest (this study has only a clinical "
                                    "table)")
            for m in self.models:
                if m.features != "none" and not isinstance(m.features, list):
                    problems.append(f"model {m.name!r} uses imaging features ({m.features}) but the study has no "
                                    "images: set features: none and list clinical columns")
        if self.lesions is not None and (self.deep is not None or self.radiogenomics is not None):
            problems.append("lesions: several lesions per patient cannot yet be combined with the deep or "
                            "radiogenomics stages (they score manifest rows); drop one of them")
        clash = {r.name for r in self.readers} & set(names)
        if clash:
            problems.append(f"reader names {sorted(clash)} are also model names")
        if self.readers and not self.models:
            problems.append("readers are compared with models: declare at least one model")
        outcome_columns = ({self.outcome.response.column} if self.outcome.response else set()) | (
            {self.outcome.survival.time, self.outcome.survival.event} if self.outcome.survival else set())
        if self.report.table_one and outcome_columns & set(self.report.table_one):
            listed = sorted(outcome_columns & set(self.report.table_one))
            problems.append(f"report.table_one lists outcome column(s) {listed}: Table 1 shows baseline "
                            "characteristics, the outcome is its grouping")
        if self.models and self.outcome.response is None:
            problems.append("models need outcome.response (the binary outcome they predict)")
        clinical = {c for m in self.models for c in m.clinical}
        if set(self.report.or_units) - clinical:
            problems.append(f"report.or_units names {sorted(set(self.report.or_units) - clinical)}, not clinical "
                            f"variables of any model (the OR table shows those: {sorted(clinical)})")
        if problems:
            raise ValueError("; ".join(problems))
        return self
