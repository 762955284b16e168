"""Outcome coding: declared levels → 1 / 0, and every other value left out with its reason.

A binary outcome (`outcome.response`) is coded by its declared levels (`positive`/`negative`, default 1/0,
or a mapping `levels: {CR: 1, PR: 1, SD: 0, PD: 0}`):

    y_i = coding[v_i]   if v_i is a declared level
    y_i = NaN           otherwise (blank, or a value such as 3, 2, "yes" that was not declared)

and the cases with NaN are left out of that outcome's analyses (n, events, AUC, Table 1 and the odds
ratios are on the analysed n), each listed with the value that put it out. A survival event column is coded
the same way (`outcome.survival.event_codes`, default {0: 0, 1: 1}); there an undeclared non-blank value is
an error, since a mis-coded event (R's 1 = censored, 2 = dead) inverts every survival estimate.

Values match as numbers when both sides are numbers (a 0/1 column read as 1.0 matches level 1, "1" too), and
otherwise as text after stripping surrounding blanks (case-sensitive: "Yes" is not "yes").
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from hccrad.clinical.coding import level_key
from hccrad.config.spec import ResponseOutcome, StudySpec

LEFT_OUT_COLUMNS = ["case_id", "stage", "error", "message"]


def code_levels(values: pd.Series, coding: Mapping[object, int]) -> pd.Series:
    """values → coding[value] as float; NaN for a blank or an undeclared value (same index)."""
    keys = {level_key(k): float(v) for k, v in coding.items()}
    return pd.Series([keys.get(level_key(v), np.nan) for v in values.astype(object)], index=values.index,
                     dtype=float, name=values.name)


def undeclared_values(values: pd.Series, coding: Mapping[object, int]) -> pd.Series:
    """The non-blank values that are not declared levels (same index, only those rows)."""
    keys = {level_key(k) for k in coding}
    mask = [level_key(v) is not None and level_key(v) not in keys for v in values.astype(object)]
    return values[np.asarray(mask, dtype=bool)]


def leave_out_reason(value: object, coding: Mapping[object, int]) -> str | None:
    """Why a case with this value is left out of the outcome's analyses (None when it is analysed)."""
    key = level_key(value)
    if key is None:
        return "blank outcome"
    if key in {level_key(k) for k in coding}:
        return None
    declared = ", ".join(f"{k!r} = {v}" for k, v in coding.items())
    return f"value {value!r} is not a declared level ({declared})"


def response_labels(spec: StudySpec, data: pd.DataFrame) -> pd.Series:
    """The binary response of each row of `data` (1.0 / 0.0; NaN = not analysed for this outcome)."""
    r = spec.outcome.response
    return code_levels(data[r.column], r.coding).rename(r.column)


POLARITY_NAMES = {"favourable": ("non-responder", "responder"), "adverse": ("no event", "event")}


def response_group_names(response: ResponseOutcome) -> tuple[str, str]:
    """(name of the negative class, name of the positive class) for tables and figures.

    Text levels name the groups (positive: died, negative: alive -> ("alive", "died"); levels {CR: 1, PR: 1,
    SD: 0, PD: 0} -> ("SD/PD", "CR/PR")); numeric levels (1/0) take the names of `polarity`: favourable
    -> ("non-responder", "responder"), adverse -> ("no event", "event")."""
    coding = response.coding
    if all(isinstance(level_key(k), str) for k in coding):
        names = ["/".join(str(k).strip() for k, v in coding.items() if v == cls) for cls in (0, 1)]
        return names[0], names[1]
    return POLARITY_NAMES[response.polarity]


def default_score_direction(response: ResponseOutcome | None) -> str:
    """What a higher predicted probability of the positive class means for the risk of the survival
    outcome: favourable positive class (response) -> "lower_risk", adverse (death, progression) -> "higher_risk"."""
    return "higher_risk" if response is not None and response.polarity == "adverse" else "lower_risk"


def analysed_for_response(spec: StudySpec, data: pd.DataFrame) -> pd.Index:
    """The rows of `data` whose response is a declared level."""
    y = response_labels(spec, data)
    return y.index[y.notna()]


def response_left_out(spec: StudySpec, data: pd.DataFrame) -> pd.DataFrame:
    """One row per case left out of the response analyses: case_id, stage, error, message (the errors
    table of `run.json` and the report)."""
    r = spec.outcome.response
    if r is None or r.column not in data.columns:
        return pd.DataFrame(columns=LEFT_OUT_COLUMNS)
    rows = []
    for case_id, value in data[r.column].astype(object).items():
        reason = leave_out_reason(value, r.coding)
        if reason is not None:
            rows.append({"case_id": str(case_id), "stage": f"outcome {r.label}",
                         "error": "UndeclaredOutcome" if level_key(value) is not None else "MissingOutcome",
                         "message": f"{r.column}: {reason}; left out of the {r.label} analyses"})
    return pd.DataFrame(rows, columns=LEFT_OUT_COLUMNS)


def survival_left_out(spec: StudySpec, data: pd.DataFrame) -> pd.DataFrame:
    """Cases left out of the survival analyses for a blank time or event (the columns as `Study.table` holds
    them: the event already coded 0/1)."""
    sv = spec.outcome.survival
    if sv is None or sv.time not in data.columns or sv.event not in data.columns:
        return pd.DataFrame(columns=LEFT_OUT_COLUMNS)
    time = pd.to_numeric(data[sv.time], errors="coerce")
    rows = []
    for case_id in data.index[time.isna() | data[sv.event].isna()]:
        blank = [c for c, s in ((sv.time, time), (sv.event, data[sv.event])) if pd.isna(s.loc[case_id])]
        rows.append({"case_id": str(case_id), "stage": f"outcome {sv.label}", "error": "MissingOutcome",
                     "message": f"blank {' and '.join(blank)}; left out of the {sv.label} analyses"})
    return pd.DataFrame(rows, columns=LEFT_OUT_COLUMNS)
