"""Calibration of predicted survival at a horizon: predicted vs Kaplan–Meier observed, by risk group.

The grouped calibration used for survival nomograms (R `rms::calibrate(..., method = "KM", u = t, m = ...)`
without the bootstrap correction, and the Hosmer–Lemeshow-type plot of seed 002): subjects are ranked by
predicted survival S_hat(t | x) at horizon t and split into `n_groups` groups of (near) equal size;
in each group the mean predicted survival is set against the Kaplan–Meier estimate at t with its
R-compatible CI (`kaplan_meier`, conf_type "log" by default). A calibration-in-the-large summary
(mean predicted vs overall KM at t) is given as well. Predictions must come from a model fitted on the
training cohort; apply it unchanged to each evaluation cohort.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hccrad.core.errors import DataError
from hccrad.survival._data import survival_arrays
from hccrad.survival.kaplan_meier import kaplan_meier

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SurvivalCalibrationResult:
    """Per-group predicted vs observed survival at one horizon."""

    horizon: float
    table: pd.DataFrame  # group, n, events, predicted, observed, lower, upper
    predicted_overall: float
    observed_overall: float
    conf_type: str
    time_unit: str
    n_dropped: int

    def summary(self) -> pd.DataFrame:
        out = self.table.copy()
        out.attrs.update(horizon=self.horizon, predicted_overall=self.predicted_overall,
                         observed_overall=self.observed_overall)
        return out

    def __str__(self) -> str:
        return (f"calibration at t={self.horizon:g} {self.time_unit}: mean predicted {self.predicted_overall:.3f}, "
                f"KM observed {self.observed_overall:.3f}\n" + self.table.to_string(index=False))


def survival_calibration(
    time,
    event,
    predicted_survival,
    horizon: float,
    *,
    n_groups: int = 5,
    conf_type: str = "log",
    time_unit: str = "days",
) -> SurvivalCalibrationResult:
    """Group by predicted S(horizon) and compare with the Kaplan–Meier estimate at the horizon per group."""
    if n_groups < 2:
        raise DataError(f"n_groups={n_groups}: need at least 2", field="n_groups")
    d = survival_arrays(time, event, extra={"predicted": predicted_survival}, what="survival calibration")
    t, e, p = d.time, d.event, d.extra["predicted"]
    if np.any((p < 0) | (p > 1)):
        raise DataError("predicted survival probabilities outside [0, 1]", field="predicted_survival",
                        hint="pass S(t | x) at the horizon (e.g. CoxResult.predict_survival), not a risk score")
    if horizon >= t.max():
        raise DataError(f"horizon {horizon:g} is at or beyond the last follow-up ({t.max():g})", field="horizon",
                        hint="choose a horizon within follow-up")
    if t.size < 2 * n_groups:
        raise DataError(f"{t.size} subjects are too few for {n_groups} groups", field="n_groups")
    ranks = pd.Series(p).rank(method="first").to_numpy()
    groups = np.ceil(ranks * n_groups / t.size).astype(int)  # 1 = lowest predicted survival
    km = kaplan_meier(t, e, groups, conf_type=conf_type, time_unit=time_unit)
    rows = []
    for g in range(1, n_groups + 1):
        sel = groups == g
        curve = km.curve(str(g))
        at = curve.survival_at([horizon])
        if at.empty:
            obs = lo = up = np.nan
            logger.warning("calibration group %d has no follow-up at t=%g", g, horizon)
        else:
            obs, lo, up = (float(at[c].iloc[0]) for c in ("survival", "lower", "upper"))
        rows.append({"group": g, "n": int(sel.sum()), "events": int(e[sel].sum()),
                     "predicted": float(p[sel].mean()), "observed": obs, "lower": lo, "upper": up})
    overall = kaplan_meier(t, e).curve("all").survival_at([horizon])
    return SurvivalCalibrationResult(float(horizon), pd.DataFrame(rows), float(p.mean()),
                                     float(overall["survival"].iloc[0]), conf_type, time_unit, d.n_dropped)
