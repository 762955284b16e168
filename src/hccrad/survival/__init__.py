"""Survival analysis and prognostic stratification.

Kaplan–Meier with R-compatible CIs, (stratified) log-rank, Cox regression (Efron or Breslow ties, stepwise,
score and PH tests),
Harrell's C with CI and paired comparison (Kang et al. 2015), maximally selected log-rank cut-points
(Lausen–Schumacher p), time-dependent AUC (IPCW) with paired bootstrap comparison, calibration at a
horizon and nomogram points. See docs/survival.md.
"""

from hccrad.survival._data import complete_cases, years_to
from hccrad.survival.calibration import SurvivalCalibrationResult, survival_calibration
from hccrad.survival.compare import (RiskGroups, ScoreComparison, compare_prognostic_scores,
                                     risk_groups_by_cohort)
from hccrad.survival.concordance import CIndexComparison, CIndexResult, compare_cindex, harrell_c
from hccrad.survival.cox import CoxResult, cox_regression
from hccrad.survival.cutpoint import CutpointResult, apply_cutpoint, maxstat_cutpoint, p_lausen92
from hccrad.survival.kaplan_meier import KaplanMeierResult, KMCurve, kaplan_meier
from hccrad.survival.logrank import LogrankResult, logrank_test
from hccrad.survival.nomogram import Nomogram, nomogram_points
from hccrad.survival.time_auc import (TimeAUCComparison, TimeAUCResult, compare_time_auc,
                                      time_dependent_auc)

__all__ = [
    "CIndexComparison", "CIndexResult", "CoxResult", "CutpointResult", "KMCurve", "KaplanMeierResult",
    "LogrankResult", "Nomogram", "RiskGroups", "ScoreComparison", "SurvivalCalibrationResult", "TimeAUCComparison",
    "TimeAUCResult", "apply_cutpoint", "compare_cindex", "compare_prognostic_scores", "compare_time_auc",
    "complete_cases", "cox_regression", "harrell_c", "kaplan_meier", "logrank_test", "maxstat_cutpoint",
    "nomogram_points", "p_lausen92", "risk_groups_by_cohort", "survival_calibration", "time_dependent_auc", "years_to",
]
