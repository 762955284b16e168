"""Precision notes for small test cohorts under the AUC table (issue 26).

A cohort is *small* when it has fewer than `MIN_PATIENTS` (50) analysed patients, or fewer than
`MIN_PER_CLASS` (20) events or non-events: the DeLong 95% CI of an AUC then spans a large part of [0.5, 1]
(Hanley & McNeil 1982, Radiology 143:29 — the AUC's standard error grows as the smaller class shrinks).
Nothing is estimated here: the note reads each cohort's n, events and the existing CI bounds
(`lower`, `upper`) of the AUC table and states the CI widths, so a reader sees that an 18-case cohort's
interval reaching 1.0 is imprecision, not a finding.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

MIN_PATIENTS = 50
MIN_PER_CLASS = 20


def small_cohort_notes(metrics: pd.DataFrame, training: str | None = None) -> list[str]:
    """One sentence per test cohort (every cohort but `training`) below the stated size, in table order.

    `metrics`: the AUC table (columns cohort, n, events, lower, upper; one row per model and cohort)."""
    notes = []
    for cohort, rows in metrics.groupby("cohort", sort=False):
        if cohort == training:
            continue
        n, events = int(rows["n"].iloc[0]), int(rows["events"].iloc[0])
        non_events = n - events
        if n >= MIN_PATIENTS and min(events, non_events) >= MIN_PER_CLASS:
            continue
        width = (rows["upper"] - rows["lower"]).to_numpy(dtype=float)
        width = width[np.isfinite(width)]
        span = (f"its AUC 95% CIs are {width.min():.2f}–{width.max():.2f} wide (upper bounds up to "
                f"{rows['upper'].max():.3f})" if width.size else "its AUCs have no CI")
        notes.append(f"Test cohort '{cohort}' is small (n = {n}, {events} events, {non_events} non-events; "
                     f"below {MIN_PATIENTS} patients or {MIN_PER_CLASS} events/non-events): {span}, so its "
                     "AUCs and DeLong tests are imprecise estimates.")
    return notes
