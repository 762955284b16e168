"""The registry of feature-selection steps: one pydantic class per step, carrying its parameters, its
``build()`` and the exact types a saved bundle holding it may construct. The union :data:`SelectionStepSpec`
is the only list of step names: the study spec (``models[].selection_steps``), the pipeline factory
(``hccrad.models.factory.SELECTION_STEPS``) and the bundle allow-list
(``hccrad.models.trusted_types.SELECTION_STEP_TYPES``) are all read from it.

In a study spec a step is a name (``univariate``: every parameter at its default) or a mapping with its
parameters (``{kind: univariate, p_max: 0.01}``), validated with ``extra="forbid"``. Parameters carry the
names of the transformer's own arguments (:mod:`hccrad.selection.filters`, :mod:`hccrad.selection.wrappers`),
so ``params={"univariate": {"p_max": 0.01}}`` of ``build_model_pipeline`` means the same.

Specs written before the registry set seven parameters flat on the model (``univariate_p``,
``correlation_threshold``, ``correlation_method``, ``lasso_rule``, ``lasso_cv``, ``rfe_features``,
``rfe_step``); :func:`migrate_flat_params` moves each into its listed step (see its docstring for what is
refused).

A new selection step is one class here (``kind`` literal, ``estimator``, ``trusted_types``, its parameters
as fields with descriptions) added to :data:`SELECTION_STEP_CLASSES` and the union, plus its tests
(tests/selection/test_registry.py builds every class; tests/models/test_bundle_security.py saves a bundle
with every storable step).
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sklearn.preprocessing import StandardScaler

from hccrad.selection.filters import TESTS, CorrelationPruner, StabilityFilter, UnivariateFilter, VIFPruner
from hccrad.selection.wrappers import LassoSelector, MRMRSelector, RFESelector

TestName = Literal[TESTS]  # "auto" (Shapiro-Wilk chooses), "ttest" (Welch), "mannwhitney"


class SelectionStep(BaseModel):
    """Base of the registry entries (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    estimator: ClassVar[type]                # the transformer class build() makes
    trusted_types: ClassVar[frozenset[str]]  # exact types it adds to a skops bundle; empty: skops cannot store it
    legacy: ClassVar[dict[str, str]] = {}    # flat ModelSpec field of specs before the registry -> parameter

    def params(self) -> dict[str, Any]:
        """Every parameter, as the transformer's keyword arguments (``params[step]`` of the factory)."""
        return self.model_dump(exclude={"kind"})

    def changed_params(self) -> dict[str, Any]:
        """The parameters set away from their defaults (what a spec must write down; {} = the step's name)."""
        return self.model_dump(exclude_defaults=True, exclude={"kind"})

    def build(self, random_state: int | None = 0) -> Any:
        """The unfitted transformer; ``random_state`` seeds it when it takes one."""
        kwargs = self.params()
        if "random_state" in inspect.signature(self.estimator).parameters:
            kwargs["random_state"] = random_state
        return self.estimator(**kwargs)


class ScaleStep(SelectionStep):
    """z-score every feature with the training rows' mean and SD (scikit-learn's StandardScaler)."""

    kind: Literal["scale"] = "scale"
    with_mean: bool = Field(default=True, description="subtract the training mean")
    with_std: bool = Field(default=True, description="divide by the training standard deviation")

    estimator: ClassVar[type] = StandardScaler
    trusted_types: ClassVar[frozenset[str]] = frozenset({"sklearn.preprocessing._data.StandardScaler"})


class StabilityStep(SelectionStep):
    """ICC (and CV) filter (:class:`~hccrad.selection.StabilityFilter`). The study pipeline adds it first, with
    the reader-2 ICC table, when ``features.icc_min`` is set; listed here it has no table and keeps every
    feature."""

    kind: Literal["stability"] = "stability"
    icc_min: float = Field(default=0.75, ge=0, le=1, description="keep features with ICC >= icc_min")
    cv_max: float | None = Field(default=None, gt=0, description="and CV <= cv_max (a fraction); None: no CV limit")
    missing: Literal["raise", "drop", "keep"] = Field(default="raise", description=(
        "features absent from the stability table: refuse, drop or keep them"))

    estimator: ClassVar[type] = StabilityFilter
    trusted_types: ClassVar[frozenset[str]] = frozenset()  # its ICC table is a pandas DataFrame: skops cannot store it


class UnivariateStep(SelectionStep):
    """Two-sample test per feature between the outcome classes (:class:`~hccrad.selection.UnivariateFilter`)."""

    kind: Literal["univariate"] = "univariate"
    p_max: float = Field(default=0.05, gt=0, le=1, description="keep features with p < p_max")
    test: TestName = Field(default="auto", description=(
        "auto: Welch t-test when Shapiro-Wilk accepts normality in both classes, else Mann-Whitney U"))
    normality_alpha: float = Field(default=0.05, ge=0, le=1, description="the Shapiro-Wilk level of 'auto'")

    estimator: ClassVar[type] = UnivariateFilter
    trusted_types: ClassVar[frozenset[str]] = frozenset({"hccrad.selection.filters.UnivariateFilter"})
    legacy: ClassVar[dict[str, str]] = {"univariate_p": "p_max"}


class CorrelationStep(SelectionStep):
    """Of every pair with |r| > threshold keep the feature with the smaller univariate p
    (:class:`~hccrad.selection.CorrelationPruner`)."""

    kind: Literal["correlation"] = "correlation"
    threshold: float = Field(default=0.95, gt=0, le=1, description="|r| above which a pair is redundant")
    method: Literal["spearman", "pearson"] = Field(default="spearman", description="the correlation coefficient")
    test: TestName = Field(default="auto", description="the univariate test that ranks the features")

    estimator: ClassVar[type] = CorrelationPruner
    trusted_types: ClassVar[frozenset[str]] = frozenset({"hccrad.selection.filters.CorrelationPruner"})
    legacy: ClassVar[dict[str, str]] = {"correlation_threshold": "threshold", "correlation_method": "method"}


class VIFStep(SelectionStep):
    """Drop the feature with the largest variance inflation factor until all are <= max_vif
    (:class:`~hccrad.selection.VIFPruner`)."""

    kind: Literal["vif"] = "vif"
    max_vif: float = Field(default=10.0, gt=0, description="the largest VIF kept (10: multicollinearity)")

    estimator: ClassVar[type] = VIFPruner
    trusted_types: ClassVar[frozenset[str]] = frozenset({"hccrad.selection.filters.VIFPruner"})


class RFEStep(SelectionStep):
    """Recursive feature elimination with an L2 logistic regression (:class:`~hccrad.selection.RFESelector`)."""

    kind: Literal["rfe"] = "rfe"
    n_features: int = Field(default=10, ge=1, description="features the RFE step keeps")
    step: int | float = Field(default=1, gt=0, description=(
        "features dropped per round: an integer, or a fraction (0, 1) of the remaining ones. 1 (one at a time) "
        "refits the model once per dropped feature, inside every resample: with hundreds of radiomics "
        "features, 0.1 is ~100x faster and usually keeps a similar set"))
    C: float = Field(default=1.0, gt=0, description="inverse L2 penalty of the ranking logistic regression")

    estimator: ClassVar[type] = RFESelector
    trusted_types: ClassVar[frozenset[str]] = frozenset({"hccrad.selection.wrappers.RFESelector"})
    legacy: ClassVar[dict[str, str]] = {"rfe_features": "n_features", "rfe_step": "step"}

    @field_validator("step")
    @classmethod
    def _whole_or_fraction(cls, value: int | float) -> int | float:
        if isinstance(value, float) and not value < 1:
            if not value.is_integer():
                raise ValueError("an integer number of features or a fraction in (0, 1)")
            return int(value)
        return value


class LassoStep(SelectionStep):
    """L1 logistic regression tuned by k-fold CV; keeps the non-zero coefficients
    (:class:`~hccrad.selection.LassoSelector`)."""

    kind: Literal["lasso"] = "lasso"
    cv: int = Field(default=10, ge=2, description="folds of the LASSO's internal cross-validation")
    rule: Literal["1se", "min"] = Field(default="1se", description=(
        "the C with the best CV score (min) or the most regularised one within one SE of it (1se)"))
    Cs: int = Field(default=20, ge=1, description="points of the log-spaced C grid")
    c_ratio: float = Field(default=1e3, gt=0, description="the grid's largest C over its smallest")
    scoring: Literal["deviance", "auc"] = Field(default="deviance", description="the CV score")
    max_features: int | Literal["epv"] | None = Field(default="epv", description=(
        "cap on the selected features: a number, 'epv' (one per 10 patients of the smaller class) or None"))
    penalize_intercept: bool = Field(default=True, description=(
        "True: liblinear (penalised intercept); False: saga with a free intercept (glmnet's objective)"))
    cv_stop: int | None = Field(default=4, ge=1, description=(
        "end the C grid once the CV error at this many consecutive C lies above the best C's 1-SE bound "
        "(choice among the C scored until then, in every fit; as glmnet ends its path early); null: choose "
        "among the whole grid"))

    estimator: ClassVar[type] = LassoSelector
    trusted_types: ClassVar[frozenset[str]] = frozenset({"hccrad.selection.wrappers.LassoSelector"})
    legacy: ClassVar[dict[str, str]] = {"lasso_rule": "rule", "lasso_cv": "cv"}

    @field_validator("max_features")
    @classmethod
    def _positive_cap(cls, value):
        if isinstance(value, int) and value < 1:
            raise ValueError("max_features must be >= 1, 'epv' or None")
        return value


class MRMRStep(SelectionStep):
    """Minimum-redundancy maximum-relevance (:class:`~hccrad.selection.MRMRSelector`)."""

    kind: Literal["mrmr"] = "mrmr"
    n_features: int = Field(default=10, ge=1, description="features the mRMR step keeps")

    estimator: ClassVar[type] = MRMRSelector
    trusted_types: ClassVar[frozenset[str]] = frozenset({"hccrad.selection.wrappers.MRMRSelector"})


SELECTION_STEP_CLASSES: tuple[type[SelectionStep], ...] = (
    StabilityStep, UnivariateStep, CorrelationStep, VIFStep, RFEStep, ScaleStep, LassoStep, MRMRStep)
SelectionStepSpec = Annotated[
    Union[StabilityStep, UnivariateStep, CorrelationStep, VIFStep, RFEStep, ScaleStep, LassoStep, MRMRStep],
    Field(discriminator="kind")]
SELECTION_STEPS: dict[str, type[SelectionStep]] = {
    cls.model_fields["kind"].default: cls for cls in SELECTION_STEP_CLASSES}
#: flat ModelSpec field of specs before the registry -> (step, parameter)
LEGACY_FLAT_PARAMS: dict[str, tuple[str, str]] = {
    flat: (kind, param) for kind, cls in SELECTION_STEPS.items() for flat, param in cls.legacy.items()}


def step_as_mapping(value: Any) -> Any:
    """A step written as its name -> ``{"kind": name}``; a built step -> its mapping (anything else unchanged,
    for pydantic to judge)."""
    if isinstance(value, SelectionStep):
        return {"kind": value.kind, **value.changed_params()}
    return {"kind": value} if isinstance(value, str) else value


def step_as_written(step: SelectionStep) -> str | dict:
    """A step with every parameter at its default is written as its name (run.json, config hashes)."""
    changed = step.changed_params()
    return step.kind if not changed else {"kind": step.kind, **changed}


def migrate_flat_params(data: dict, default_steps: list[str]) -> dict:
    """A model's raw spec with the flat step parameters of specs before the registry moved into its steps.

    ``univariate_p: 0.01`` with ``univariate`` listed becomes ``{kind: univariate, p_max: 0.01}``. A flat
    parameter whose step is not listed is dropped when it equals the step's default (specs and run.json
    files written before the registry wrote all seven) and refused otherwise: it would have no effect (it was
    silently unused before). Refused as well: an invalid value (named by its flat field) and a flat
    parameter that a step mapping also sets to a different value.
    """
    flat = {k: data[k] for k in LEGACY_FLAT_PARAMS if k in data}
    if not flat:
        return data
    out = {k: v for k, v in data.items() if k not in flat}
    steps = [step_as_mapping(s) for s in out.get("selection_steps", default_steps)]
    listed = {s.get("kind"): i for i, s in enumerate(steps) if isinstance(s, dict)}
    for name, value in flat.items():
        kind, param = LEGACY_FLAT_PARAMS[name]
        cls = SELECTION_STEPS[kind]
        _check_flat_value(cls, name, param, value)
        if kind not in listed:
            if cls.model_fields[param].default != value:
                raise ValueError(f"{name} = {value!r} has no effect: {kind!r} is not in selection_steps "
                                 f"(add it to selection_steps, or remove {name})")
            continue
        step = dict(steps[listed[kind]])
        if param in step and step[param] != value:
            raise ValueError(f"{name} = {value!r} and selection step {kind!r} with {param} = {step[param]!r} "
                             f"set one parameter twice (keep {{kind: {kind}, {param}: ...}} only)")
        step[param] = value
        steps[listed[kind]] = step
    out["selection_steps"] = steps
    return out


def _check_flat_value(cls: type[SelectionStep], name: str, param: str, value: Any) -> None:
    try:
        cls.model_validate({param: value})
    except ValidationError as exc:
        raise ValueError(f"{name}: {exc.errors()[0]['msg']}") from None
