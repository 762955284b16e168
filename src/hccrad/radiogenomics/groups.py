"""High/low radiomics-score groups for the radiogenomics cohort (seed 004: "stratified into high- or
low-radiomics score groups according to the optimal cutoff value of the constructed model").

``high`` = score > cut-off, ``low`` otherwise (survminer ``surv_categorize`` convention, as
`hccrad.survival.apply_cutpoint`). The cut-off is either fixed (the model's training cut-off, e.g. seed 004's
0.015, or any user value) or the maximally selected log-rank cut-point of the scores against overall survival
in this cohort (`hccrad.survival.maxstat_cutpoint`, R maxstat / survminer ``surv_cutpoint``). A cut-point
searched on the same patients whose survival is then compared is optimistic: the Kaplan–Meier log-rank p is
then not a valid test, only the Lausen–Schumacher corrected p of the search is (reported in `cutpoint`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

import pandas as pd

from hccrad.core.errors import DataError
from hccrad.survival.cutpoint import CutpointResult, apply_cutpoint, maxstat_cutpoint

logger = logging.getLogger(__name__)

LABELS = ("low", "high")


@dataclass(frozen=True)
class GroupAssignment:
    """Group label per patient and how the cut-off was chosen ('fixed' or 'maxstat')."""

    groups: pd.Series  # index patient_id, values 'low' / 'high'
    cutoff: float
    method: str
    cutpoint: CutpointResult | None = None

    def counts(self) -> dict[str, int]:
        return {g: int((self.groups == g).sum()) for g in LABELS}

    def summary(self) -> pd.DataFrame:
        row = {"method": self.method, "cutoff": self.cutoff, **{f"n_{k}": v for k, v in self.counts().items()}}
        if self.cutpoint is not None:
            row.update(maxstat_statistic=self.cutpoint.statistic, maxstat_p_lausen=self.cutpoint.p_value)
        return pd.DataFrame([row])


def define_groups(
    scores: pd.Series,
    cutoff: float | Literal["maxstat"],
    *,
    time: pd.Series | None = None,
    event: pd.Series | None = None,
    min_per_group: int = 2,
    minprop: float = 0.1,
) -> GroupAssignment:
    """Split patients at `cutoff` (a number, or "maxstat" with `time`/`event` aligned on the score index)."""
    if isinstance(cutoff, str):
        if cutoff != "maxstat":
            raise DataError(f"unknown cut-off {cutoff!r}", field="groups",
                            hint="give a number (the model's cut-off) or 'maxstat'")
        if time is None or event is None:
            raise DataError("the maximally selected log-rank cut-point needs survival time and event",
                            field="clinical", hint="pass a clinical table with the OS time and event columns")
        cp = maxstat_cutpoint(time.reindex(scores.index).to_numpy(), event.reindex(scores.index).to_numpy(),
                              scores.to_numpy(), minprop=minprop)
        value, method = cp.cutpoint, "maxstat"
        logger.warning("cut-point chosen on this cohort's survival (%s); the KM log-rank p is optimistic", cp)
    else:
        cp, value, method = None, float(cutoff), "fixed"
    labels = pd.Series(apply_cutpoint(scores.to_numpy(), value, labels=LABELS), index=scores.index, name="group")
    out = GroupAssignment(labels, value, method, cp)
    small = {g: n for g, n in out.counts().items() if n < min_per_group}
    if small:
        raise DataError(f"cut-off {value:g} leaves too few patients: {out.counts()}", field="groups",
                        hint=f"each group needs >= {min_per_group} patients for differential expression")
    return out
