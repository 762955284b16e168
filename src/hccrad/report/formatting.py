"""How numbers are written in the report's tables and figure ticks.

Rules (what a journal expects; the CSV files keep the full-precision values):
- a column of counts (all values whole numbers, e.g. `n`, `events`, `n_boot`, `df`) is written as integers:
  "200", never "200.000";
- a p-value (or q-value) column is written with three decimals, and a value below 0.001 as "< 0.001",
  never "0.000";
- every other float with the table's float format (three decimals by default); a non-zero value that would
  show as 0.000 keeps two significant digits (0.00025), and "-0.000" loses its sign.

Tick labels in figures carry at most four significant digits (`tick_label`), and time axes are ticked at
round steps of the time unit (`round_time_ticks`: 0, 50, 100 weeks; 0, 12, 24, 36 months) — the step is the
smallest "nice" step (1, 2, 2.5, 5 × 10^k, or 3/6/12/24 for months, 7/14/28 for days) giving at most
`max_ticks` ticks.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd

P_VALUE_FLOOR = 0.001

_P_COLUMN = re.compile(r"^(p|q)$|^(p|q)[_ ]|[_ ](p|q)$|p[-_ ]?val|padj|fdr|^q_bh", re.IGNORECASE)
_COUNT_COLUMN = re.compile(r"^(n|df|events?|count|k)$|^n[_ ]|[_ ]n$|^n_boot|_count$|^n_", re.IGNORECASE)


def is_p_column(name: object) -> bool:
    """True for columns holding p- or q-values by name: p, p_uv, p_mv, p_value, q_bh, padj, fdr."""
    return bool(_P_COLUMN.search(str(name)))


def format_p(p: float, floor: float = P_VALUE_FLOOR) -> str:
    """'< 0.001' below the floor, three decimals otherwise; '' for a missing value."""
    if p is None or pd.isna(p):
        return ""
    if p < floor:
        return f"< {floor:g}"
    return f"{p:.3f}"


def _whole_numbers(values: pd.Series) -> bool:
    v = values.dropna().to_numpy(float)
    return v.size > 0 and bool(np.all(np.isfinite(v))) and bool(np.all(v == np.round(v)))


def is_count_column(name: object, values: pd.Series) -> bool:
    """Whole numbers only, and either named like a count or holding a value beyond 1 (so an AUC column that
    happens to hold only 1.0 stays a float)."""
    if not _whole_numbers(values):
        return False
    return bool(_COUNT_COLUMN.search(str(name))) or float(values.dropna().abs().max()) > 1


def format_column(name: object, values: pd.Series, float_format: str = "{:.3f}") -> pd.Series:
    """The strings a float column is shown with in the report (see the module docstring)."""
    if is_p_column(name):
        return values.map(format_p)
    if is_count_column(name, values):
        return values.map(lambda v: "" if pd.isna(v) else str(int(v)))
    return values.map(lambda v: format_float(v, float_format))


def format_float(v: float, float_format: str = "{:.3f}") -> str:
    """`float_format`, except that a non-zero value it would show as zero keeps two significant digits
    (an OR's lower bound 0.00025, not 0.000) and a negative zero loses its sign."""
    if pd.isna(v):
        return ""
    text = float_format.format(v)
    if v != 0 and np.isfinite(v) and float(text.replace(",", "")) == 0:
        return tick_label(float(v), 2)
    return text[1:] if text.startswith("-") and float(text) == 0 else text


def format_table(table: pd.DataFrame, float_format: str = "{:.3f}") -> pd.DataFrame:
    """A copy of `table` with its float columns written as strings by `format_column`; an integer column
    named like a p-value is left alone (p-values are never integers)."""
    shown = table.copy()
    for c in shown.columns:
        if pd.api.types.is_float_dtype(shown[c]):
            shown[c] = format_column(c, shown[c], float_format)
    return shown


def tick_label(value: float, digits: int = 4) -> str:
    """A tick label with at most `digits` significant digits and no trailing zeros ("-2.474", "0.5", "100")."""
    if not np.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    text = f"{value:.{digits}g}"
    if "e" in text:  # keep plain notation for ordinary magnitudes
        exp = int(math.floor(math.log10(abs(value))))
        if -4 <= exp < 6:
            text = f"{round(value, digits - 1 - exp):.{max(digits - 1 - exp, 0)}f}"
            text = text.rstrip("0").rstrip(".") if "." in text else text
    return text


_UNIT_STEPS = {
    "months": (1, 2, 3, 6, 12, 24, 36, 60, 120),
    "month": (1, 2, 3, 6, 12, 24, 36, 60, 120),
    "days": (1, 2, 7, 14, 28, 30, 60, 90, 180, 365, 730),
    "day": (1, 2, 7, 14, 28, 30, 60, 90, 180, 365, 730),
}


def _nice_steps(span: float) -> list[float]:
    k = math.floor(math.log10(span)) if span > 0 else 0
    steps = [m * 10.0 ** e for e in range(k - 2, k + 2) for m in (1, 2, 2.5, 5)]
    return [s for s in steps if s >= 25 or not math.isclose(s / 10 ** math.floor(math.log10(s)), 2.5)]


def round_time_ticks(t_max: float, unit: str = "", max_ticks: int = 7) -> list[float]:
    """Ticks 0, s, 2s, … covering [0, t_max] with the smallest round step s of the unit giving ≤ `max_ticks`.

    Months step by 1, 2, 3, 6, 12, 24 …; days by 7, 14, 28, 30, 90, 180, 365 …; anything else (weeks,
    years) by 1, 2, 2.5, 5 × 10^k. The last tick is the last multiple of s not beyond t_max (at least s).
    """
    if not np.isfinite(t_max) or t_max <= 0:
        return [0.0, 1.0]
    steps = list(_UNIT_STEPS.get(unit.strip().lower(), ())) + _nice_steps(t_max)
    steps = sorted(s for s in set(steps) if s > 0)
    for s in steps:
        n = math.floor(t_max / s + 1e-9)
        if n + 1 <= max_ticks and n >= 1:
            return [float(round(i * s, 10)) for i in range(n + 1)]
    s = steps[-1]
    return [0.0, float(s)]
