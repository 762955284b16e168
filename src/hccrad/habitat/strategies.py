"""The registry of habitat strategies: one pydantic class per strategy, carrying its parameters and its
``build()`` (the estimator of :mod:`hccrad.habitat.estimators`). The union :data:`HabitatStrategySpec` is the
only list of names: the study spec (``habitat.strategy``), the pipeline (which builds the estimator from the
spec) and :func:`load_habitat_model` (which allows exactly the registered estimator classes in a saved model)
read it.

In a study spec the strategy is a name (``strategy: population``, every parameter at its default) or a mapping
with its parameters (``strategy: {kind: two_step, n_supervoxels: 50, supervoxels: slic, compactness: 0.1}``),
validated with ``extra="forbid"``.

Schema 1 wrote the two-step parameters flat in the habitat section (``strategy: two_step`` beside
``n_supervoxels``, ``supervoxels``, ``compactness``). :func:`fold_flat_parameters` reads that form (a flat
parameter the chosen strategy does not have is refused, unless it holds the default every earlier hccrad wrote
into run.json), and :func:`unfold_flat_parameters` writes a spec back in it, so the spec dump, run.json and every
configuration hash made from them are the same as before this registry for every existing spec.

A new strategy is one class here (``kind`` literal, ``estimator``, its parameters as fields with descriptions
and, when they are not the estimator's own keyword arguments, ``estimator_params``), added to
:data:`STRATEGY_CLASSES` and the :data:`HabitatStrategySpec` union, plus its tests (tests/habitat/).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Sequence, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hccrad.core.errors import ModelError
from hccrad.habitat.estimators import (CASE_KMEANS_SAMPLE, POOLED_KMEANS_SAMPLE, IndividualHabitats,
                                       PopulationHabitats, TwoStepHabitats, _HabitatEstimator)

#: the smallest kmeans_sample a study spec accepts (a k-means on fewer rows is a test setting, not a study's)
SPEC_MIN_KMEANS_SAMPLE = 1_000
_KmeansSample = Union[Annotated[int, Field(ge=SPEC_MIN_KMEANS_SAMPLE)], None]


class HabitatStrategy(BaseModel):
    """Base of the registry entries (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    estimator: ClassVar[type[_HabitatEstimator]]

    def changed_params(self) -> dict:
        """The parameters set away from their defaults (what a spec must write down; {} = the name)."""
        return self.model_dump(mode="json", exclude_defaults=True, exclude={"kind"})

    def estimator_params(self) -> dict:
        """The strategy's own keyword arguments of ``estimator`` (by default: its parameters as named)."""
        return self.model_dump(exclude={"kind"})

    def build(self, *, n_habitats: int | Literal["auto"] = "auto", k_range: tuple[int, int] = (2, 10),
              order_by: str | int = 0, descriptor_names: Sequence[str] | None = None,
              max_voxels_fit: int = 200_000, k_rule: Literal["elbow", "consensus"] = "elbow",
              n_bootstrap: int = 20, random_state: int = 0) -> _HabitatEstimator:
        """The unfitted estimator: the settings every strategy shares plus this strategy's parameters."""
        return self.estimator(n_habitats=n_habitats, k_range=tuple(k_range), order_by=order_by,
                              descriptor_names=None if descriptor_names is None else list(descriptor_names),
                              max_voxels_fit=max_voxels_fit, k_rule=k_rule, n_bootstrap=n_bootstrap,
                              random_state=random_state, **self.estimator_params())


class PopulationStrategy(HabitatStrategy):
    """k-means on the tumour voxels of all training cases pooled (seed 000, Wu et al. 2025 §2.7);
    :class:`~hccrad.habitat.estimators.PopulationHabitats`."""

    kind: Literal["population"] = "population"
    kmeans_sample: _KmeansSample = Field(default=POOLED_KMEANS_SAMPLE, description=(
        "pooled training voxels (a seeded subsample, proportional per case) on which the k-means at the chosen "
        "k is fitted; every voxel is then assigned to its nearest centre; null: every sampled voxel (up to "
        "max_voxels_fit), as before issue 24"))
    estimator: ClassVar[type[_HabitatEstimator]] = PopulationHabitats


class IndividualStrategy(HabitatStrategy):
    """k-means within each tumour, clusters ordered by the ``order_by`` descriptor (seed 001; HABIT
    "one-step"); :class:`~hccrad.habitat.estimators.IndividualHabitats`."""

    kind: Literal["individual"] = "individual"
    kmeans_sample: _KmeansSample = Field(default=CASE_KMEANS_SAMPLE, description=(
        "voxels of each tumour (a seeded subsample) on which its k-means is fitted; every voxel is then "
        "assigned to its nearest centre; null: every voxel, as before issue 24"))
    estimator: ClassVar[type[_HabitatEstimator]] = IndividualHabitats


class TwoStepStrategy(HabitatStrategy):
    """Per-tumour supervoxels, then population k-means of the supervoxel means (HABIT "two-step");
    :class:`~hccrad.habitat.estimators.TwoStepHabitats`."""

    kind: Literal["two_step"] = "two_step"
    n_supervoxels: int = Field(default=50, ge=2, description=(
        "supervoxels per tumour (capped at the tumour's voxel count)"))
    supervoxels: Literal["descriptor", "slic"] = Field(default="descriptor", description=(
        "descriptor: k-means supervoxels in descriptor space, no spatial term; slic: spatial 3-D SLIC "
        "supervoxels (Achanta et al. 2012) on the descriptor maps, as in HABIT (issue 23)"))
    compactness: float = Field(default=0.1, gt=0, description=(
        "SLIC's weight of the distance in mm against the descriptor distance (larger = more compact "
        "supervoxels); supervoxels: slic only"))
    kmeans_sample: _KmeansSample = Field(default=CASE_KMEANS_SAMPLE, description=(
        "voxels of each tumour (a seeded subsample) on which its supervoxel k-means is fitted; every voxel is "
        "then assigned to its nearest supervoxel; null: every voxel, as before issue 24; supervoxels: "
        "descriptor only"))

    estimator: ClassVar[type[_HabitatEstimator]] = TwoStepHabitats

    @model_validator(mode="after")
    def _parameters_of_the_supervoxel_kind(self) -> "TwoStepStrategy":
        default = type(self).model_fields["compactness"].default
        if self.supervoxels != "slic" and self.compactness != default:
            raise ValueError(f"compactness ({self.compactness}) applies to supervoxels: slic only "
                             f"(supervoxels is {self.supervoxels!r})")
        if self.supervoxels == "slic" and self.kmeans_sample != type(self).model_fields["kmeans_sample"].default:
            raise ValueError(f"kmeans_sample ({self.kmeans_sample}) applies to supervoxels: descriptor only "
                             "(SLIC supervoxels use every voxel)")
        return self


STRATEGY_CLASSES: tuple[type[HabitatStrategy], ...] = (PopulationStrategy, IndividualStrategy, TwoStepStrategy)
HabitatStrategySpec = Annotated[Union[PopulationStrategy, IndividualStrategy, TwoStepStrategy],
                                Field(discriminator="kind")]
STRATEGIES: dict[str, type[HabitatStrategy]] = {cls.model_fields["kind"].default: cls
                                                 for cls in STRATEGY_CLASSES}

# ---- schema 1: the two-step parameters written flat in the habitat section ------------------------------
#: flat habitat key -> the value every earlier hccrad wrote there (also for strategies without that parameter)
FLAT_PARAMETERS: dict[str, Any] = {name: TwoStepStrategy.model_fields[name].default
                                   for name in ("n_supervoxels", "supervoxels", "compactness")}


def _as_mapping(strategy: Any) -> dict | Any:
    if isinstance(strategy, str):
        return {"kind": strategy}
    if isinstance(strategy, HabitatStrategy):
        return strategy.model_dump()
    return dict(strategy) if isinstance(strategy, dict) else strategy


def fold_flat_parameters(habitat: dict, default: str = "population") -> dict:
    """The habitat section with schema 1's flat strategy parameters moved into ``strategy`` (a mapping).

    A flat parameter the chosen strategy does not have is refused (a `ValueError` naming it and the strategies
    it applies to) unless it holds its default, which every earlier hccrad wrote into run.json; one given both
    flat and inside ``strategy`` with different values is refused too.
    """
    flat = {key: habitat[key] for key in FLAT_PARAMETERS if key in habitat}
    if not flat:
        return habitat
    out = {key: value for key, value in habitat.items() if key not in FLAT_PARAMETERS}
    mapping = _as_mapping(out.get("strategy", default))
    cls = STRATEGIES.get(mapping.get("kind")) if isinstance(mapping, dict) else None
    if cls is None:  # not a known strategy: the union's own error names it
        return out
    for key, value in flat.items():
        if key in cls.model_fields:
            if key in mapping and mapping[key] != value:
                raise ValueError(f"{key} is given twice, {value!r} in habitat and {mapping[key]!r} in "
                                 f"habitat.strategy: write it once, inside strategy")
            mapping[key] = value
        elif value != FLAT_PARAMETERS[key]:
            owners = [name for name, c in STRATEGIES.items() if key in c.model_fields]
            raise ValueError(f"{key}: {value!r} applies to strategy {' or '.join(owners)} only "
                             f"(strategy is {cls.model_fields['kind'].default!r})")
    out["strategy"] = mapping
    return out


def unfold_flat_parameters(strategy: HabitatStrategy) -> tuple[str | dict, dict]:
    """How a strategy is written (schema 1 layout): its name, or ``{kind, ...}`` with the changed parameters
    that have no flat key, and the flat keys with the strategy's values (their defaults where it has none)."""
    flat = {key: getattr(strategy, key, default) for key, default in FLAT_PARAMETERS.items()}
    changed = {k: v for k, v in strategy.changed_params().items() if k not in FLAT_PARAMETERS}
    return (strategy.kind if not changed else {"kind": strategy.kind, **changed}), flat


# ---- saved models: exactly the registered estimator classes ---------------------------------------------
ESTIMATOR_CLASSES: dict[str, type[_HabitatEstimator]] = {cls.estimator.__name__: cls.estimator
                                                          for cls in STRATEGY_CLASSES}


def load_habitat_model(path: str | Path) -> _HabitatEstimator:
    """Load any habitat estimator saved with ``save`` (JSON), dispatching on the stored class name among the
    registered strategies' estimators (an exact allow-list; nothing else is constructed)."""
    text = Path(path).read_text(encoding="utf-8")
    name = json.loads(text).get("class")
    if name not in ESTIMATOR_CLASSES:
        raise ModelError(f"unknown habitat model class {name!r}", file=path, field="class",
                         hint=f"expected one of {sorted(ESTIMATOR_CLASSES)}")
    return ESTIMATOR_CLASSES[name].from_json(text)
