"""Clinical scores, staging systems, tumour response and declared covariate bins.

Pure functions vectorised over pandas Series: each laboratory input carries a declared unit, values outside
the plausible range for that unit raise `DataError` naming the column and rows, and missing inputs give
`pd.NA` with a logged reason. See docs/clinical.md for every definition, unit and source.
"""

from hccrad.clinical.binning import AFP_STRATA, SEED001_BINS, Binner, Interval, parse_interval
from hccrad.clinical.liver import albi_grade, albi_score, child_pugh, palbi_grade, palbi_score
from hccrad.clinical.response import (
    CATEGORIES,
    ResponseRates,
    assess_visits,
    best_overall_response,
    disease_control,
    objective_response,
    overall_response,
    proportion_ci,
    response_rates,
    target_response,
)
from hccrad.clinical.scores import afp_strata, crafity, nlr, plr, six_and_twelve, tumour_number
from hccrad.clinical.staging import (
    HKLC_TREE,
    ajcc_stage,
    ajcc_t_category,
    bclc_stage,
    clip_score,
    hklc_stage,
    hklc_tumour_status,
    okuda_stage,
    vp4,
    vp_grade,
)

__all__ = [
    "AFP_STRATA", "CATEGORIES", "HKLC_TREE", "SEED001_BINS", "Binner", "Interval", "ResponseRates",
    "afp_strata", "ajcc_stage", "ajcc_t_category", "albi_grade", "albi_score", "assess_visits", "bclc_stage",
    "best_overall_response", "child_pugh", "clip_score", "crafity", "disease_control", "hklc_stage",
    "hklc_tumour_status", "nlr", "objective_response", "okuda_stage", "overall_response", "palbi_grade",
    "palbi_score", "parse_interval", "plr", "proportion_ci", "response_rates", "six_and_twelve", "target_response",
    "tumour_number", "vp4", "vp_grade",
]
