"""Feature selection steps as scikit-learn transformers (fit on training rows only, inside a Pipeline)."""

from hccrad.selection.filters import (
    CorrelationPruner,
    StabilityFilter,
    UnivariateFilter,
    VIFPruner,
    univariate_pvalues,
    vif,
)
from hccrad.selection.wrappers import LassoSelector, MRMRSelector, RFESelector

__all__ = [
    "StabilityFilter",
    "UnivariateFilter",
    "CorrelationPruner",
    "VIFPruner",
    "LassoSelector",
    "RFESelector",
    "MRMRSelector",
    "univariate_pvalues",
    "vif",
]
