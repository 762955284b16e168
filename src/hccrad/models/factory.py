"""Model factory: selection + model pipelines on a DataFrame, score fusion, and seed 001's nested models.

:func:`build_model_pipeline` is what the study pipeline calls. Step names (in the order given):

=============== ===================================================== =========================================
step            what                                                  ``params[step]`` keys
=============== ===================================================== =========================================
``scale``       z-score (StandardScaler), fitted in-fold              with_mean, with_std
``stability``   :class:`~hccrad.selection.StabilityFilter`            table, icc_min, cv_max, missing
``univariate``  :class:`~hccrad.selection.UnivariateFilter`           p_max, test, normality_alpha
``correlation`` :class:`~hccrad.selection.CorrelationPruner`          threshold, method, test
``vif``         :class:`~hccrad.selection.VIFPruner`                  max_vif
``rfe``         :class:`~hccrad.selection.RFESelector`                n_features, step, C
``lasso``       :class:`~hccrad.selection.LassoSelector`              cv, rule, Cs, c_ratio, scoring, random_state,
                                                                      max_features, keep_path
``mrmr``        :class:`~hccrad.selection.MRMRSelector`               n_features, random_state
``stepwise``    :class:`~hccrad.models.stepwise.StepwiseSelector`     screen_p, entry_p, stay_p, direction, criterion
``logistic``    :class:`~hccrad.models.logistic.LogisticModel` (last) maxiter
``svm``         :class:`PlattSVC`, RBF kernel (last)                  C, kernel, gamma, random_state
``rf``          sklearn RandomForestClassifier (last)                 n_estimators, max_depth, min_samples_leaf
``xgboost``     xgboost XGBClassifier (last)                          n_estimators, max_depth, learning_rate,
                                                                      subsample, colsample_bytree
=============== ===================================================== =========================================

The selection steps' names and their spec parameters are the registry :mod:`hccrad.selection.registry` (the
one list of them; ``stepwise`` is this package's clinical selection).
Unknown step names or parameter keys raise :class:`ModelError` (a typo is an error, never ignored).
``random_state`` is passed to every step that takes one unless ``params`` sets it.
"""

from __future__ import annotations

import inspect
import logging

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from hccrad.core.errors import DataError, ModelError
from hccrad.models import fitmemo
from hccrad.models.dummies import DummyEncoder
from hccrad.models.kinds import MODEL_KIND_CLASSES
from hccrad.models.logistic import LogisticModel
from hccrad.models.platt import PlattSVC  # noqa: F401  (bundles name hccrad.models.factory.PlattSVC)
from hccrad.models.stepwise import StepwiseSelector
from hccrad.selection.folds import patient_folds, row_groups
from hccrad.selection.registry import SELECTION_STEPS as SELECTION_STEP_KINDS

logger = logging.getLogger(__name__)


# step name -> transformer class: the registry of selection steps (hccrad.selection.registry, the one list of
# their names) and the clinical stepwise selection of this package
SELECTION_STEPS = {**{kind: cls.estimator for kind, cls in SELECTION_STEP_KINDS.items()},
                   "stepwise": StepwiseSelector}
MODEL_STEPS = {cls.step: cls for cls in MODEL_KIND_CLASSES}  # pipeline step name -> model kind (kinds.py)


def _make(step: str, kw: dict, random_state: int | None):
    if step in MODEL_STEPS:
        return MODEL_STEPS[step].from_params(kw, random_state)
    factory = SELECTION_STEPS.get(step)
    if factory is None:
        raise ModelError(
            f"unknown pipeline step {step!r}", field="steps",
            hint=f"use one of {sorted(SELECTION_STEPS) + sorted(MODEL_STEPS)}",
        )
    allowed = set(inspect.signature(factory).parameters)
    bad = set(kw) - allowed
    if bad:
        raise ModelError(f"unknown parameter(s) {sorted(bad)} for step {step!r}", field=f"params.{step}",
                         hint=f"allowed: {sorted(allowed)}")
    kw = dict(kw)
    if "random_state" in allowed and "random_state" not in kw:
        kw["random_state"] = random_state
    return factory(**kw)


def make_step(step: str, params: dict | None = None, random_state: int | None = 0):
    """One pipeline step by name (selection step or model), as :func:`build_model_pipeline` builds it."""
    return _make(step, dict(params or {}), random_state)


class ColumnSelector(TransformerMixin, BaseEstimator):
    """Select named columns of a DataFrame (first pipeline step); a missing column is a clear error."""

    def __init__(self, features: list[str]) -> None:
        self.features = features

    def fit(self, X, y=None):
        self._pick(X)
        self.n_features_in_ = X.shape[1]
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        return self

    def _pick(self, X) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise DataError("ColumnSelector needs a DataFrame with named columns",
                            hint="pass the feature table as a pandas DataFrame")
        missing = [f for f in self.features if f not in X.columns]
        if missing:
            raise ModelError(f"{len(missing)} feature column(s) missing, e.g. {missing[:3]}", field=missing[0],
                             hint="check the feature table or the model's feature list")
        return X[list(self.features)]

    def transform(self, X):
        check_is_fitted(self, "n_features_in_")
        return self._pick(X)

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.features, dtype=object)

    def set_output(self, *, transform=None):
        return self


def build_model_pipeline(
    features: list[str] | None,
    steps: list[str] = ("scale", "univariate", "correlation", "lasso", "logistic"),
    params: dict | None = None,
    random_state: int | None = 0,
    categorical: dict[str, tuple[list[str], str]] | None = None,
) -> Pipeline:
    """A selection + model ``Pipeline`` on a DataFrame: ``ColumnSelector(features)`` (if given) then ``steps``.

    ``categorical`` ({column: (levels, reference)}) adds a :class:`~hccrad.models.dummies.DummyEncoder`
    ("dummies") right after the column selector: those columns enter the steps as treatment-coded dummies.

    The last step must be a model (logistic, svm, rf, xgboost); the others selection steps (module doc table).
    ``params`` maps a step name to its keyword arguments. The pipeline outputs pandas between steps so
    feature names flow to the model (``pipeline[:-1].get_feature_names_out()`` = selected features).
    """
    steps = list(steps)
    params = dict(params or {})
    if not steps or steps[-1] not in MODEL_STEPS:
        raise ModelError(f"the last step must be a model, got {steps[-1:]}", field="steps",
                         hint=f"end steps with one of {sorted(MODEL_STEPS)}")
    if len(set(steps)) != len(steps):
        raise ModelError(f"duplicate step names in {steps}", field="steps")
    extra = set(params) - set(steps)
    if extra:
        raise ModelError(f"params given for step(s) not in the pipeline: {sorted(extra)}", field="params")
    bad_order = [s for s in steps[:-1] if s in MODEL_STEPS]
    if bad_order:
        raise ModelError(f"model step(s) {bad_order} must be last", field="steps")
    chain = []
    if features is not None:
        if not features:
            raise ModelError("empty feature list", field="features", hint="name at least one feature column")
        chain.append(("columns", ColumnSelector(list(features))))
    if categorical:
        chain.append(("dummies", DummyEncoder(dict(categorical))))
    chain += [(s, _make(s, params.get(s, {}), random_state)) for s in steps]
    return Pipeline(chain).set_output(transform="pandas")


def selected_features(fitted) -> list[str]:
    """Names of the features the fitted model finally uses (after all selection steps)."""
    if hasattr(fitted, "selected_features_"):
        return list(fitted.selected_features_)
    if isinstance(fitted, Pipeline):
        last = fitted.steps[-1][1]
        if hasattr(last, "selected_features_"):
            return list(last.selected_features_)
        if len(fitted.steps) == 1:
            return [str(c) for c in getattr(last, "feature_names_in_", [])]
        return [str(c) for c in fitted[:-1].get_feature_names_out()]
    return [str(c) for c in getattr(fitted, "feature_names_in_", [])]


def without_lasso_path(estimator):
    """``estimator`` with every nested :class:`LassoSelector` set to ``keep_path=False`` (in place; returned).

    For fits inside resampling: the coefficient path (refits on all rows at every C) is only plotted from the
    apparent fit; the chosen C, selected set and coefficients are the same with or without it."""
    keys = [k for k in estimator.get_params(deep=True) if k == "keep_path" or k.endswith("__keep_path")]
    return estimator.set_params(**dict.fromkeys(keys, False)) if keys else estimator


def scores_of(model, X) -> np.ndarray:
    """Continuous score for ranking (AUC): P(y=1) when available, else the decision function."""
    if hasattr(model, "predict_proba"):
        try:
            return np.asarray(model.predict_proba(X))[:, 1]
        except AttributeError:
            pass
    return np.asarray(model.decision_function(X), dtype=float)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class ScoreFusion(ClassifierMixin, BaseEstimator):
    """Combined model of seed 000: logistic on clinical columns + a radiomics/habitat score fitted in-fold.

    ``fit``: (1) fit ``score_pipeline`` on ``X[score_features]`` (or take the fit of that same pipeline on
    these same rows that a resample of the score model left in :mod:`hccrad.models.fitmemo`: identical);
    (2) the score of each training patient is its
    linear predictor (``decision_function``; for a model without one, e.g. XGBoost or a random forest, the
    logit of its P(y = 1), log(p / (1 − p)) with p clipped to [1e-6, 1 − 1e-6]) -- from the same fit (``inner_cv=None``, as seed 000) or out of
    fold (``inner_cv=k``, stacking, less optimistic second stage); (3) fit :class:`LogisticModel` on
    ``X[clinical_features] + score``. Inside a validation resample the whole thing is refitted.
    """

    def __init__(
        self,
        score_pipeline,
        score_features: list[str],
        clinical_features: list[str],
        score_name: str = "HabitatScore",
        inner_cv: int | None = None,
        random_state: int | None = 0,
        categorical: dict[str, tuple[list[str], str]] | None = None,
    ) -> None:
        self.score_pipeline = score_pipeline
        self.score_features = score_features
        self.clinical_features = clinical_features
        self.score_name = score_name
        self.inner_cv = inner_cv
        self.random_state = random_state
        self.categorical = categorical

    def _cols(self, X, cols) -> pd.DataFrame:
        if not isinstance(X, pd.DataFrame):
            raise DataError("ScoreFusion needs a DataFrame", hint="pass a DataFrame with named columns")
        missing = [c for c in cols if c not in X.columns]
        if missing:
            raise ModelError(f"ScoreFusion: missing column(s) {missing[:3]}", field=missing[0])
        return X[list(cols)]

    def _score(self, model, X) -> np.ndarray:
        Xs = self._cols(X, self.score_features)
        if hasattr(model, "decision_function"):
            return np.asarray(model.decision_function(Xs), float)
        return _logit(np.asarray(model.predict_proba(Xs))[:, 1])

    def fit(self, X, y):
        yv = np.asarray(y).ravel()
        self.classes_ = np.unique(yv)
        Xs = self._cols(X, self.score_features)
        score = clone(self.score_pipeline)
        key = fitmemo.fit_key(score, Xs, yv)  # the same pipeline fitted on these same rows (a resample)?
        reused = fitmemo.take(key)
        self.score_model_ = reused if reused is not None else score.fit(Xs, yv)
        if self.inner_cv:
            # a bootstrap patient's copies stay in one fold (hccrad.selection.folds)
            cv = patient_folds(yv, row_groups(X), self.inner_cv, self.random_state)
            linear = hasattr(self.score_pipeline, "decision_function")
            s = cross_val_predict(clone(self.score_pipeline), self._cols(X, self.score_features), yv, cv=cv,
                                  method="decision_function" if linear else "predict_proba")
            s = np.asarray(s, float) if linear else _logit(np.asarray(s)[:, 1])
        else:
            s = self._score(self.score_model_, X)
        self.encoder_ = None
        if self.categorical:  # categorical clinical columns enter as treatment-coded dummies
            self.encoder_ = DummyEncoder(dict(self.categorical)).fit(self._cols(X, self.clinical_features))
        Z = self._clinical(X).assign(**{self.score_name: s})
        self.fusion_model_ = LogisticModel().fit(Z, yv)
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        return self

    def _clinical(self, X) -> pd.DataFrame:
        clinical = self._cols(X, self.clinical_features)
        encoder = getattr(self, "encoder_", None)
        return clinical if encoder is None else encoder.transform(clinical)

    def _z(self, X) -> pd.DataFrame:
        check_is_fitted(self, "fusion_model_")
        return self._clinical(X).assign(**{self.score_name: self._score(self.score_model_, X)})

    def fusion_inputs(self, X) -> pd.DataFrame:
        """The second-stage design: the clinical columns and the frozen first-stage score (for nomograms)."""
        return self._z(X)

    def decision_function(self, X) -> np.ndarray:
        return self.fusion_model_.decision_function(self._z(X))

    def predict_proba(self, X) -> np.ndarray:
        return self.fusion_model_.predict_proba(self._z(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    @property
    def selected_features_(self) -> list[str]:
        check_is_fitted(self, "fusion_model_")
        return [*selected_features(self.score_model_), *self.clinical_features]

    def summary(self) -> pd.DataFrame:
        return self.fusion_model_.summary()

    def formula(self, name: str = "combined", digits: int = 4) -> str:
        return self.fusion_model_.formula(name=name, digits=digits)


def _branch(steps: list[str], params: dict | None, random_state: int | None) -> Pipeline:
    params = params or {}
    return Pipeline([(s, _make(s, params.get(s, {}), random_state)) for s in steps]).set_output(transform="pandas")


def seed001_nested_models(
    clinical: list[str],
    radiomics: list[str],
    habitat: list[str],
    selection_steps: list[str] = ("scale", "correlation", "rfe", "lasso"),
    params: dict | None = None,
    clinical_selection: bool = True,
    random_state: int | None = 0,
) -> dict[str, Pipeline]:
    """Seed 001's three nested models as pipelines: ``clinical``, ``clinical_radiomics``,
    ``clinical_radiomics_habitat``.

    Clinical columns go through :class:`StepwiseSelector` (univariable -> multivariable, if
    ``clinical_selection``); radiomics and habitat columns each through their own ``selection_steps``
    (seed 001: normalisation, |r| > 0.9 pruning, RFE, LASSO with 10-fold CV; ``params`` keyed by step name, as
    in :func:`build_model_pipeline`); the selected columns are concatenated and fed to one
    :class:`LogisticModel`. Every part is refitted within each validation resample.
    """
    params = dict(params or {})
    if "correlation" in selection_steps and "correlation" not in params:
        params["correlation"] = {"threshold": 0.9}

    def clin():
        return StepwiseSelector() if clinical_selection else "passthrough"

    def model(branches: list[tuple]) -> Pipeline:
        ct = ColumnTransformer(branches, verbose_feature_names_out=False, remainder="drop")
        return Pipeline([("features", ct), ("logistic", LogisticModel())]).set_output(transform="pandas")

    def rad():
        return ("radiomics", _branch(list(selection_steps), params, random_state), list(radiomics))

    def hab():
        return ("habitat", _branch(list(selection_steps), params, random_state), list(habitat))

    return {
        "clinical": model([("clinical", clin(), list(clinical))]),
        "clinical_radiomics": model([("clinical", clin(), list(clinical)), rad()]),
        "clinical_radiomics_habitat": model([("clinical", clin(), list(clinical)), rad(), hab()]),
    }
