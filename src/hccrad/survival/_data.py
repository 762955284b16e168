"""Input checking shared by the survival functions.

Every public survival function calls :func:`survival_arrays` or :func:`complete_cases`: rows with a
missing time, event, score or covariate are dropped (complete-case analysis) and the count is logged at
WARNING level and returned, so that no NaN ever reaches an estimator silently. Anything that cannot be
repaired by dropping rows (negative times, events not coded 0/1, too few events) raises
:class:`hccrad.core.errors.DataError` with a hint.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hccrad.core.errors import DataError

logger = logging.getLogger(__name__)

TIME_UNITS = {"days": 365.25, "weeks": 365.25 / 7.0, "months": 12.0, "years": 1.0}


def years_to(unit: str, years: Sequence[float] = (1, 3, 5)) -> list[float]:
    """Convert horizons in years to the declared time unit (days use 365.25 days per year)."""
    if unit not in TIME_UNITS:
        raise DataError(
            f"unknown time unit {unit!r}",
            field="time_unit",
            hint=f"use one of {sorted(TIME_UNITS)}",
        )
    return [float(y) * TIME_UNITS[unit] for y in years]


def level_label(value) -> str:
    """Readable label of a group/level: 1.0 -> "1", "BCLC B" -> "BCLC B"."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


@dataclass(frozen=True)
class SurvivalArrays:
    """Validated, complete-case survival data: float times, 0/1 events and any extra columns."""

    time: np.ndarray
    event: np.ndarray
    extra: dict[str, np.ndarray]
    n_input: int
    n_dropped: int
    keep: np.ndarray  # boolean mask over the input rows


def _as_float(values, name: str) -> np.ndarray:
    arr = pd.to_numeric(pd.Series(np.asarray(values).ravel()), errors="coerce").to_numpy(dtype=float)
    return arr


def _event_array(values, name: str) -> np.ndarray:
    raw = pd.Series(np.asarray(values).ravel())
    if raw.dtype == bool:
        return raw.astype(float).to_numpy()
    arr = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    return arr


def survival_arrays(
    time,
    event,
    *,
    extra: dict[str, object] | None = None,
    what: str = "survival data",
    min_events: int = 1,
) -> SurvivalArrays:
    """Check time/event (+ extra per-subject arrays), drop incomplete rows with a logged count.

    Events must be coded 0 = censored, 1 = event (booleans accepted). R's 1/2 coding of `lung` is
    refused with a hint rather than guessed.
    """
    t = _as_float(time, "time")
    e = _event_array(event, "event")
    if t.shape != e.shape:
        raise DataError(f"{what}: time has {t.size} values but event has {e.size}", field="event")
    columns = {}
    for name, values in (extra or {}).items():
        arr = np.asarray(values)
        if arr.ndim == 1:
            arr = _as_float(arr, name)
        else:
            arr = np.asarray(arr, dtype=float)
        if arr.shape[0] != t.size:
            raise DataError(
                f"{what}: {name!r} has {arr.shape[0]} values but time has {t.size}",
                field=name,
                hint="pass one value per subject, in the same order as time",
            )
        columns[name] = arr
    keep = np.isfinite(t) & np.isfinite(e)
    for arr in columns.values():
        keep &= np.all(np.isfinite(arr.reshape(arr.shape[0], -1)), axis=1)
    n_dropped = int((~keep).sum())
    if n_dropped:
        logger.warning("%s: dropped %d of %d rows with a missing value (complete-case)", what, n_dropped, t.size)
    t, e = t[keep], e[keep]
    columns = {k: v[keep] for k, v in columns.items()}
    if t.size == 0:
        raise DataError(f"{what}: no complete rows left", hint="check the time/event columns for missing values")
    if np.any(t < 0):
        raise DataError(f"{what}: {int((t < 0).sum())} negative survival time(s)", field="time",
                        hint="times must be >= 0 (time from the index date to the event or last follow-up)")
    bad = ~np.isin(e, (0.0, 1.0))
    if np.any(bad):
        codes = sorted(set(np.unique(e[bad]).tolist()))
        hint = "code events 0 = censored, 1 = event"
        if set(np.unique(e).tolist()) <= {1.0, 2.0}:
            hint += " (R's lung data use 1/2: pass status - 1)"
        raise DataError(f"{what}: event codes {codes} are not 0/1", field="event", hint=hint)
    if int(e.sum()) < min_events:
        raise DataError(
            f"{what}: {int(e.sum())} event(s), at least {min_events} needed",
            field="event",
            hint="survival statistics need observed events; check the event column coding",
        )
    return SurvivalArrays(t, e.astype(int), columns, int(keep.size), n_dropped, keep)


def complete_cases(df: pd.DataFrame, columns: Sequence[str], *, what: str) -> tuple[pd.DataFrame, int]:
    """Return the rows of `df` with no missing value in `columns` and the number dropped (logged)."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"{what}: column(s) {missing} not in the table",
            field=missing[0],
            hint=f"available columns: {list(df.columns)[:30]}",
        )
    sub = df.loc[:, list(columns)]
    numeric = sub.apply(pd.to_numeric, errors="coerce")
    not_numeric = [c for c in columns if (numeric[c].isna() & sub[c].notna()).any()]
    if not_numeric:
        raise DataError(
            f"{what}: non-numeric values in column(s) {not_numeric}",
            field=not_numeric[0],
            hint="encode categories as numbers or declare them as categorical",
        )
    keep = numeric.notna().all(axis=1) & np.isfinite(numeric).all(axis=1)
    n_dropped = int((~keep).sum())
    if n_dropped:
        logger.warning("%s: dropped %d of %d rows with a missing value in %s (complete-case)",
                       what, n_dropped, len(df), list(columns))
    out = df.loc[keep].copy()
    out[list(columns)] = numeric.loc[keep]
    return out, n_dropped
