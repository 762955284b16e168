"""The schema of ``bundle.json``: pydantic models validated on every load (`model_validate`, ``extra="forbid"``
at every level), a format version, and the migration of older files.

A model bundle is untrusted input (it may come from another site or a download): `load_bundle` validates
the raw JSON against :class:`BundleDocument` before anything reads it, so an unknown key, a wrong type or a
categorical variable whose levels and coefficients disagree is refused with the file and the field, instead
of surfacing later as a ``KeyError`` or a silently ignored setting. Only plain JSON values are built; no
type is looked up by name (the skops model file has its own exact allow-list,
:mod:`hccrad.models.trusted_types`).

Format versions (``format_version``):

1. numeric variables only (hccrad < 0.9 and the shipped published models);
2. adds categorical variables (``{"kind": "categorical", "levels", "reference", "coefficients"}``).

:func:`migrate` brings a version-1 document to the current version (2). Version 2 only added a variable kind,
so a version-1 document is valid version 2 as it is and only its number changes; the migration runs after
the ``spec_hash`` check, on a copy, so the file on disk and its hash stay as written. A newer version than
this hccrad reads is refused (upgrade hccrad).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, StrictBool, Tag, ValidationError,
                      field_validator, model_validator)

from hccrad.core.errors import InputError

FORMAT = "hccrad-model-bundle"
FORMAT_VERSION = 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _finite(x: float | None) -> float | None:
    if x is not None and not math.isfinite(x):
        raise ValueError("must be a finite number")
    return x


class NumericVariable(_Strict):
    """A numeric predictor: its term is coefficient * (x - center) / scale. ``coefficient``, ``center`` or
    ``scale`` may be null in a published model whose paper does not give them (the bundle then cannot score,
    or scores on the cohort's z-scale, see `bundle_scores`)."""

    name: str = Field(min_length=1)
    coefficient: float | None
    center: float | None = 0.0
    scale: float | None = 1.0
    unit: str | None = None
    definition: str | None = None
    range: tuple[float | None, float | None] | None = None
    published_name: str | None = None
    sign_inferred: StrictBool | None = None

    _check_finite = field_validator("coefficient", "center", "scale")(_finite)

    @field_validator("scale")
    @classmethod
    def _positive_scale(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("scale must be > 0")
        return v


class CategoricalVariable(_Strict):
    """A categorical predictor entering as treatment dummies: b_l for the patient's level, 0 for the
    reference (format version 2)."""

    name: str = Field(min_length=1)
    kind: Literal["categorical"]
    levels: list[str] = Field(min_length=2)
    reference: str
    coefficients: dict[str, float]
    unit: str | None = None
    definition: str | None = None

    @model_validator(mode="after")
    def _levels_agree(self) -> CategoricalVariable:
        if len(set(self.levels)) != len(self.levels):
            raise ValueError(f"levels {self.levels} are not distinct")
        if self.reference not in self.levels:
            raise ValueError(f"reference {self.reference!r} is not one of the levels {self.levels}")
        if set(self.coefficients) != set(self.levels) - {self.reference}:
            raise ValueError("coefficients must give one number for each level but the reference")
        if not all(math.isfinite(c) for c in self.coefficients.values()):
            raise ValueError("coefficients must be finite numbers")
        return self


def _variable_tag(v: Any) -> str:
    kind = v.get("kind") if isinstance(v, dict) else getattr(v, "kind", None)
    return "categorical" if kind is not None else "numeric"


Variable = Annotated[
    Union[Annotated[CategoricalVariable, Tag("categorical")], Annotated[NumericVariable, Tag("numeric")]],
    Discriminator(_variable_tag),
]


class ScoreSummary(_Strict):
    """Distribution of the training patients' scores (`hccrad.models.bundle._dist`)."""

    mean: float
    sd: float  # NaN for a single training patient
    min: float
    p25: float
    median: float
    p75: float
    max: float


class TrainingSummary(_Strict):
    n: int = Field(ge=0)
    n_positive: int = Field(ge=0)
    score: ScoreSummary


class Covariance(_Strict):
    """Covariance of (intercept, coefficients) for confidence intervals on the web page."""

    terms: list[str]
    matrix: list[list[float]]

    @model_validator(mode="after")
    def _square(self) -> Covariance:
        n = len(self.terms)
        if len(self.matrix) != n or any(len(row) != n for row in self.matrix):
            raise ValueError(f"matrix must be {n} x {n}, one row and column per term")
        return self


class BaselineSurvival(_Strict):
    """S0(t) of a Cox bundle at the covariate means: a step function."""

    time: list[float]
    survival: list[float]

    @model_validator(mode="after")
    def _same_length(self) -> BaselineSurvival:
        if len(self.time) != len(self.survival) or not self.time:
            raise ValueError("time and survival must be non-empty lists of the same length")
        return self


class DerivedScore(_Strict):
    """A variable computed by another bundle: inline (``spec``) or a shipped published model (``bundle``)."""

    spec: BundleDocument | None = None
    bundle: str | None = None
    output: Literal["score"] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> DerivedScore:
        if (self.spec is None) == (self.bundle is None):
            raise ValueError("give exactly one of 'spec' (an inline bundle) or 'bundle' (a published model name)")
        return self


class BundleDocument(_Strict):
    """The whole ``bundle.json`` (current format version)."""

    format: Literal["hccrad-model-bundle"]
    format_version: int = Field(ge=1, le=FORMAT_VERSION, strict=True)  # true is not a version
    name: str = Field(min_length=1)
    kind: Literal["linear", "skops"]
    link: Literal["logit", "cox", "unknown"]
    score_name: str | None = None
    outcome: str | None = None
    source: str | dict[str, str] | None = None
    versions: dict[str, str] | None = None
    thresholds: dict[str, float] = Field(default_factory=dict)
    threshold_scale: Literal["probability", "score"] | None = None
    range_tolerance: float | None = Field(default=None, ge=0)
    training_summary: TrainingSummary | None = None
    # linear bundles
    intercept: float | None = None
    fit_method: str | None = None
    variables: list[Variable] | None = None
    derived: dict[str, DerivedScore] | None = None
    allowed_values: dict[str, list[float | str]] | None = None
    covariance: Covariance | None = None
    # Cox bundles (link "cox")
    time_unit: str | None = None
    horizons: list[float] | None = None
    baseline_survival: BaselineSurvival | None = None
    # skops bundles
    input_features: list[str] | None = None
    ranges: dict[str, tuple[float, float]] | None = None
    units: dict[str, str | None] | None = None
    selected_features: list[str] | None = None
    model_kinds: list[str] | None = None
    notes: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    spec_hash: str | None = None

    @model_validator(mode="after")
    def _kind_has_its_parts(self) -> BundleDocument:
        if self.kind == "linear" and self.variables is None:
            raise ValueError("a linear bundle needs 'variables'")
        if self.kind == "skops" and self.input_features is None:
            raise ValueError("a skops bundle needs 'input_features'")
        if self.link == "cox" and (self.baseline_survival is None or not self.horizons):
            raise ValueError("a Cox bundle (link 'cox') needs 'baseline_survival' and 'horizons'")
        return self


DerivedScore.model_rebuild()


def migrate(document: dict) -> dict:
    """A copy of a raw bundle document brought to :data:`FORMAT_VERSION` (see the module docstring)."""
    version = document.get("format_version", 1)
    if not isinstance(version, int) or isinstance(version, bool):
        return dict(document)  # validation names the field
    out = dict(document)
    if version == 1:
        out["format_version"] = 2  # version 2 only added categorical variables
    return out


def check_header(document: Any, file) -> None:
    """The checks that come before any other: a JSON object, of a format version this hccrad reads (so that a
    newer bundle is named as newer, not as malformed). The one place the version is compared."""
    if not isinstance(document, dict):
        raise InputError("bundle.json must hold a JSON object", file=file)
    version = document.get("format_version")
    if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
        raise InputError(f"bundle format {version} is newer than this hccrad reads",
                         file=file, field="format_version", hint="upgrade hccrad")


def validate_document(document: Any, file) -> BundleDocument:
    """Validate a raw (already migrated) document; an `InputError` naming the file and the first bad field."""
    check_header(document, file)
    try:
        return BundleDocument.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"] if p not in ("categorical", "numeric"))
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise InputError(f"bundle does not match the bundle schema: {field}: {first['msg']}{more}", file=file,
                         field=field or None,
                         hint="bundles are written by ModelBundle.save; see hccrad.models.bundle_schema "
                              "for the fields") from None
