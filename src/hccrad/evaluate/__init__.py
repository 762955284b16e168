"""Evaluation statistics: discrimination (AUC, DeLong), classification at a cut-off, NRI/IDI,
calibration, decision curves, Table 1 / odds ratios and reader comparators.

Every function validates its input (raising `hccrad.core.errors.DataError`) and returns an immutable
result object with `summary()` → DataFrame naming the method and CIs.
"""

from hccrad.evaluate.calibration import (
    CalibrationResult,
    HosmerLemeshowResult,
    OptimismCalibration,
    bootstrap_calibration_curve,
    calibration,
    calibration_curve_binned,
    calibration_curve_smoothed,
    hosmer_lemeshow,
)
from hccrad.evaluate.classification import (
    ClassificationResult,
    ConfusionCounts,
    YoudenThreshold,
    classification_metrics,
    confusion_counts,
    format_rate,
    proportion_ci,
    youden_threshold,
)
from hccrad.evaluate.decision import decision_curve, marker_to_probability
from hccrad.evaluate.decision_survival import km_survival_at, survival_decision_curve
from hccrad.evaluate.descriptive import OddsRatioResult, TableOneResult, odds_ratio_table, table_one
from hccrad.evaluate.discrimination import (
    AUCResult,
    DeLongTestResult,
    ROCPoints,
    auc_ci,
    bootstrap_auc,
    delong_covariance,
    delong_test,
    delong_test_unpaired,
    fast_delong,
    roc_curve_points,
)
from hccrad.evaluate.performance import PerformanceResult, performance_table
from hccrad.evaluate.readers import ReaderComparisonResult, reader_comparison
from hccrad.evaluate.reclassification import ReclassificationResult, idi, nri

__all__ = [
    "AUCResult", "CalibrationResult", "ClassificationResult", "ConfusionCounts", "DeLongTestResult",
    "HosmerLemeshowResult", "OddsRatioResult", "OptimismCalibration", "PerformanceResult", "ROCPoints", "ReaderComparisonResult",
    "ReclassificationResult", "TableOneResult", "YoudenThreshold", "auc_ci", "bootstrap_auc", "bootstrap_calibration_curve",
    "calibration", "calibration_curve_binned", "calibration_curve_smoothed", "classification_metrics",
    "confusion_counts", "decision_curve", "delong_covariance", "delong_test", "delong_test_unpaired",
    "fast_delong", "format_rate", "hosmer_lemeshow", "idi", "marker_to_probability", "nri",
    "odds_ratio_table", "performance_table", "proportion_ci", "reader_comparison", "roc_curve_points", "table_one",
    "youden_threshold",
    "km_survival_at", "survival_decision_curve",
]
