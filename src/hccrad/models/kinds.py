"""The registry of model kinds: one pydantic class per kind, carrying its parameters, its ``build()`` and the
exact types a saved bundle of that kind may hold. The union :data:`ModelKindSpec` is the only list of names:
the study spec (`models[].kind`), the pipeline factory (`hccrad.models.factory.MODEL_STEPS`) and the bundle
allow-list (`hccrad.models.trusted_types.MODEL_KIND_TYPES`) are all read from it.

In a study spec a model's ``kind`` is either a name (``kind: svm``, every parameter at its default) or a
mapping with its parameters (``kind: {kind: svm, C: 0.5}``), validated with ``extra="forbid"``.

A new model kind is one class here (``kind`` literal, ``step``, ``trusted_types``, its parameters as fields
and ``build``), added to :data:`MODEL_KIND_CLASSES`, plus its tests (fit/predict; the skops round trip in
tests/models/test_bundle_security.py covers every class of the registry).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sklearn.ensemble import RandomForestClassifier

from hccrad.core.errors import ModelError
from hccrad.models.logistic import LogisticModel
from hccrad.models.platt import PlattSVC


class ModelKind(BaseModel):
    """Base of the registry entries (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    step: ClassVar[str]                      # the pipeline step name (also the bundles' ``model_kinds`` name)
    trusted_types: ClassVar[frozenset[str]]  # exact types a skops bundle of this kind may construct
    scale_inputs: ClassVar[bool] = False     # clinical-only models: standardise the inputs first

    def build(self, random_state: int | None = 0) -> Any:
        raise NotImplementedError

    def changed_params(self) -> dict:
        """The parameters set away from their defaults (what a spec must write down; {} = the kind's name)."""
        return self.model_dump(exclude_defaults=True, exclude={"kind"})

    @classmethod
    def from_params(cls, params: dict, random_state: int | None = 0) -> Any:
        """The estimator from pipeline ``params[step]`` (``random_state`` may be among them); an unknown or
        invalid parameter is a `ModelError` naming it."""
        params = dict(params)
        seed = params.pop("random_state", random_state)
        allowed = sorted(set(cls.model_fields) - {"kind"})
        bad = sorted(set(params) - set(allowed))
        if bad:
            raise ModelError(f"unknown parameter(s) {bad} for step {cls.step!r}", field=f"params.{cls.step}",
                             hint=f"allowed: {allowed + ['random_state']}")
        try:
            kind = cls(**params)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ModelError(f"step {cls.step!r}: {first['loc'][0]}: {first['msg']}",
                             field=f"params.{cls.step}.{first['loc'][0]}") from None
        return kind.build(seed)


class LogisticKind(ModelKind):
    """Unpenalised maximum-likelihood logistic regression with Firth's correction under separation
    (:class:`~hccrad.models.logistic.LogisticModel`, statsmodels)."""

    kind: Literal["logistic"] = "logistic"
    maxiter: int = Field(default=100, ge=1)
    firth: bool | Literal["auto"] = "auto"

    step: ClassVar[str] = "logistic"
    trusted_types: ClassVar[frozenset[str]] = frozenset({"hccrad.models.logistic.LogisticModel"})

    def build(self, random_state: int | None = 0) -> LogisticModel:
        return LogisticModel(maxiter=self.maxiter, firth=self.firth)


class SVMKind(ModelKind):
    """Support vector machine with Platt-calibrated probabilities (:class:`~hccrad.models.platt.PlattSVC`);
    ``random_state`` seeds its inner folds (the SVC fit is deterministic)."""

    kind: Literal["svm"] = "svm"
    C: float = Field(default=1.0, gt=0)
    kernel: Literal["rbf", "linear", "poly", "sigmoid"] = "rbf"
    gamma: float | Literal["scale", "auto"] = "scale"

    step: ClassVar[str] = "svm"
    # both names of the one class: bundles written before hccrad.models.platt existed name the factory
    trusted_types: ClassVar[frozenset[str]] = frozenset({"hccrad.models.platt.PlattSVC",
                                                         "hccrad.models.factory.PlattSVC"})
    scale_inputs: ClassVar[bool] = True  # the kernel needs comparable scales

    def build(self, random_state: int | None = 0) -> PlattSVC:
        return PlattSVC(C=self.C, kernel=self.kernel, gamma=self.gamma, random_state=random_state)


class RandomForestKind(ModelKind):
    """scikit-learn's random forest (Breiman 2001), single-threaded so resamples parallelise instead."""

    kind: Literal["random_forest"] = "random_forest"
    n_estimators: int = Field(default=300, ge=1)
    max_depth: int | None = Field(default=None, ge=1)
    min_samples_leaf: int = Field(default=2, ge=1)
    max_features: float | Literal["sqrt", "log2"] | None = "sqrt"

    step: ClassVar[str] = "rf"
    trusted_types: ClassVar[frozenset[str]] = frozenset({
        "sklearn.ensemble._forest.RandomForestClassifier", "sklearn.tree._classes.DecisionTreeClassifier",
        "sklearn.tree._tree.Tree"})

    def build(self, random_state: int | None = 0) -> RandomForestClassifier:
        return RandomForestClassifier(n_estimators=self.n_estimators, max_depth=self.max_depth,
                                      min_samples_leaf=self.min_samples_leaf, max_features=self.max_features,
                                      n_jobs=1, random_state=random_state)


class XGBoostKind(ModelKind):
    """Gradient-boosted trees (XGBoost, Chen & Guestrin 2016), single-threaded."""

    kind: Literal["xgboost"] = "xgboost"
    n_estimators: int = Field(default=200, ge=1)
    max_depth: int = Field(default=3, ge=1)
    learning_rate: float = Field(default=0.1, gt=0)
    subsample: float = Field(default=1.0, gt=0, le=1)
    colsample_bytree: float = Field(default=1.0, gt=0, le=1)

    step: ClassVar[str] = "xgboost"
    trusted_types: ClassVar[frozenset[str]] = frozenset({"xgboost.sklearn.XGBClassifier", "xgboost.core.Booster",
                                                         "builtins.bytearray"})

    def build(self, random_state: int | None = 0):
        from xgboost import XGBClassifier  # lazy: heavy import (xgboost), only when this kind is built

        return XGBClassifier(n_estimators=self.n_estimators, max_depth=self.max_depth,
                             learning_rate=self.learning_rate, subsample=self.subsample,
                             colsample_bytree=self.colsample_bytree, n_jobs=1, eval_metric="logloss",
                             random_state=random_state)


MODEL_KIND_CLASSES: tuple[type[ModelKind], ...] = (LogisticKind, SVMKind, RandomForestKind, XGBoostKind)
ModelKindSpec = Annotated[Union[LogisticKind, SVMKind, RandomForestKind, XGBoostKind], Field(discriminator="kind")]
MODEL_KINDS: dict[str, type[ModelKind]] = {cls.model_fields["kind"].default: cls for cls in MODEL_KIND_CLASSES}
