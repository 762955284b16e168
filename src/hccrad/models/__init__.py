"""Models: logistic with ORs/CIs and paper formulas, stepwise, SVM/RF/XGBoost, score fusion, leakage-free
validation (train/test, repeated CV, Harrell optimism bootstrap), JSON/skops bundles and published models."""

from hccrad.models.factory import (
    ColumnSelector,
    ScoreFusion,
    build_model_pipeline,
    make_step,
    scores_of,
    seed001_nested_models,
    selected_features,
)
from hccrad.models.bundle import ModelBundle, bundle_from_pipeline, load_bundle, predict_bundle
from hccrad.models.logistic import LogisticModel, StepwiseResult, format_formula, stepwise_logistic
from hccrad.models.published import PublishedValidation, list_published, load_published, validate_published
from hccrad.models.validation import (
    CVResult,
    OptimismResult,
    TrainTestResult,
    optimism_bootstrap,
    optimism_bootstraps,
    repeated_cv,
    split_train_test,
    train_test_validate,
)

__all__ = [
    "ColumnSelector", "ScoreFusion", "build_model_pipeline", "make_step", "scores_of", "seed001_nested_models",
    "selected_features", "LogisticModel", "StepwiseResult", "format_formula", "stepwise_logistic",
    "CVResult", "OptimismResult", "TrainTestResult", "optimism_bootstrap", "optimism_bootstraps", "repeated_cv",
    "split_train_test", "train_test_validate", "ModelBundle", "bundle_from_pipeline", "load_bundle", "predict_bundle",
    "PublishedValidation", "list_published", "load_published", "validate_published",
]
