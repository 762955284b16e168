"""Input handling shared by the clinical scores: series coercion, declared units, plausibility checks.

Every laboratory input is passed together with its declared unit. Values are converted to the unit of the
published definition (e.g. bilirubin to µmol/L for ALBI) and checked against a plausible range *in the
declared unit*; a value outside that range most often means the column is in another unit (bilirubin of
1.2 declared as µmol/L is 1.2 mg/dL), so the error names the column, the offending rows and the likely unit.

Missing inputs are never guessed: the output is `pd.NA` and one log record says how many rows and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from hccrad.core.errors import DataError, InputError

logger = logging.getLogger("hccrad.clinical")


@dataclass(frozen=True)
class Quantity:
    """A laboratory quantity: canonical unit, conversion factors to it, plausible range per unit."""

    name: str
    canonical: str
    factors: dict[str, float]  # multiply a value in the key unit to get the canonical unit
    plausible: dict[str, tuple[float, float]]  # inclusive plausible range per unit
    median_floor: dict[str, float] | None = None  # cohort median below this suggests a wrong unit


# Conversions: bilirubin 1 mg/dL = 17.1 µmol/L; albumin 1 g/dL = 10 g/L; CRP 1 mg/dL = 10 mg/L;
# cell counts 10^9/L = G/L = 10^3/µL.
BILIRUBIN = Quantity(
    "bilirubin",
    "umol/L",
    {"umol/L": 1.0, "mg/dL": 17.1},
    {"umol/L": (1.0, 1000.0), "mg/dL": (0.05, 60.0)},
    median_floor={"umol/L": 4.0},
)
ALBUMIN = Quantity("albumin", "g/L", {"g/L": 1.0, "g/dL": 10.0}, {"g/L": (10.0, 65.0), "g/dL": (1.0, 6.5)})
CRP = Quantity("CRP", "mg/dL", {"mg/dL": 1.0, "mg/L": 0.1}, {"mg/dL": (0.0, 60.0), "mg/L": (0.0, 600.0)})
AFP = Quantity("AFP", "ng/mL", {"ng/mL": 1.0, "ug/L": 1.0}, {"ng/mL": (0.0, 1e8), "ug/L": (0.0, 1e8)})
INR = Quantity("INR", "1", {"1": 1.0}, {"1": (0.5, 15.0)})
_CELLS = {"10^9/L": 1.0, "10^3/uL": 1.0, "/uL": 1e-3}
PLATELETS = Quantity("platelets", "10^9/L", _CELLS,
                     {"10^9/L": (1.0, 2000.0), "10^3/uL": (1.0, 2000.0), "/uL": (1000.0, 2.0e6)})
NEUTROPHILS = Quantity("neutrophils", "10^9/L", _CELLS,
                       {"10^9/L": (0.01, 100.0), "10^3/uL": (0.01, 100.0), "/uL": (10.0, 1.0e5)})
LYMPHOCYTES = Quantity("lymphocytes", "10^9/L", _CELLS,
                       {"10^9/L": (0.01, 100.0), "10^3/uL": (0.01, 100.0), "/uL": (10.0, 1.0e5)})
DIAMETER_CM = Quantity("diameter", "cm", {"cm": 1.0, "mm": 0.1}, {"cm": (0.0, 40.0), "mm": (0.0, 400.0)})

_UNIT_ALIASES = {
    "µmol/l": "umol/L", "umol/l": "umol/L", "μmol/l": "umol/L", "mg/dl": "mg/dL", "g/l": "g/L", "g/dl": "g/dL",
    "mg/l": "mg/L", "ng/ml": "ng/mL", "ug/l": "ug/L", "µg/l": "ug/L", "10^9/l": "10^9/L", "g/l (cells)": "10^9/L",
    "10^3/ul": "10^3/uL", "10^3/µl": "10^3/uL", "/ul": "/uL", "/µl": "/uL", "cells/ul": "/uL", "1": "1", "cm": "cm", "mm": "mm",
}


def normalise_unit(unit: str, quantity: Quantity) -> str:
    """Map a spelling of a unit ("µmol/L", "umol/l") to the key used in `quantity`, or raise InputError."""
    key = _UNIT_ALIASES.get(str(unit).strip().lower(), str(unit).strip())
    if key not in quantity.factors:
        raise InputError(
            f"unit {unit!r} is not known for {quantity.name}",
            field=quantity.name,
            hint=f"declare one of {sorted(quantity.factors)}",
        )
    return key


def as_series(values: Any, name: str, index: pd.Index | None = None) -> pd.Series:
    """Coerce a Series / array / scalar to a Series; keeps a Series' own name and index."""
    if isinstance(values, pd.Series):
        s = values.copy()
        if s.name is None:
            s.name = name
        if index is not None and not s.index.equals(index):
            raise InputError(
                f"column {s.name!r} has a different row index from the other inputs",
                field=str(s.name),
                hint="pass columns of one DataFrame (same index), or reset the indexes",
            )
        return s
    arr = np.atleast_1d(np.asarray(values, dtype=object))
    if index is not None and len(index) != len(arr):
        if len(arr) == 1:
            arr = np.repeat(arr, len(index))
        else:
            raise InputError(f"{name}: {len(arr)} values for {len(index)} rows", field=name)
    return pd.Series(arr, index=index, name=name)


def rows_text(labels: pd.Index | list, limit: int = 5) -> str:
    labels = list(labels)
    shown = ", ".join(repr(x) for x in labels[:limit])
    return shown + (f" … ({len(labels)} rows)" if len(labels) > limit else "")


def numeric(values: Any, name: str, index: pd.Index | None = None) -> pd.Series:
    """A float Series with NaN for missing; non-numeric text is an InputError naming the rows."""
    s = as_series(values, name, index)
    out = pd.to_numeric(s.astype(object).where(s.notna(), np.nan), errors="coerce")
    bad = out.isna() & s.notna()
    if bad.any():
        raise InputError(
            f"column {s.name!r} has non-numeric values in rows {rows_text(s.index[bad])}",
            field=str(s.name),
            case=str(s.index[bad][0]),
            hint="clean the column or map the text codes to numbers before computing the score",
        )
    return out.astype(float).rename(s.name)


def quantity(values: Any, unit: str, q: Quantity, index: pd.Index | None = None) -> pd.Series:
    """Values of `q` converted to its canonical unit, after range checks in the declared `unit`.

    Raises DataError naming the column and rows when a value lies outside the plausible range for the
    declared unit, and suggests the unit the values look like.
    """
    key = normalise_unit(unit, q)
    s = numeric(values, q.name, index)
    lo, hi = q.plausible[key]
    bad = s.notna() & ((s < lo) | (s > hi))
    if bad.any():
        alt = [u for u, (a, b) in q.plausible.items() if u != key and s[bad].between(a, b).all()]
        looks = f"; these look like {alt[0]}" if alt else ""
        raise DataError(
            f"column {s.name!r} declared in {key} has values outside the plausible range [{lo:g}, {hi:g}] "
            f"in rows {rows_text(s.index[bad])} (e.g. {s[bad].iloc[0]:g}){looks}",
            field=str(s.name),
            case=str(s.index[bad][0]),
            hint=f"declare the unit the column is really in ({sorted(q.factors)}) or correct those rows",
        )
    if q.median_floor and key in q.median_floor and s.notna().sum() >= 5:
        med = float(s.median())
        if med < q.median_floor[key]:
            raise DataError(
                f"column {s.name!r} declared in {key} has median {med:g}, implausibly low for that unit "
                f"(values look like {[u for u in q.factors if u != key]})",
                field=str(s.name),
                hint="check the declared unit of the column",
            )
    return (s * q.factors[key]).rename(s.name)


def log_missing(score: str, missing: pd.Series, reasons: dict[str, pd.Series]) -> None:
    """Log once how many rows of `score` are pd.NA and which inputs were missing."""
    if not bool(missing.any()):
        return
    parts = [f"{k} missing in {int(v.sum())}" for k, v in reasons.items() if bool(v.any())]
    logger.warning(
        "%s: %d of %d rows set to missing (%s); rows %s",
        score, int(missing.sum()), len(missing), ", ".join(parts), rows_text(missing.index[missing]),
    )


_BAD = object()


def _map_codes(s: pd.Series, lookup: dict, *, integer_floats: bool) -> tuple[pd.Series, pd.Series]:
    """Map each value through `lookup` (text compared stripped and lower-case; 2.0 read as 2 when
    `integer_floats`); missing stays pd.NA. Returns (mapped values, mask of values not in `lookup`)."""

    def conv(v: Any) -> Any:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return pd.NA
        key = v.strip().lower() if isinstance(v, str) else v
        if integer_floats and isinstance(key, (float, np.floating)) and float(key).is_integer():
            key = int(key)
        try:
            return lookup[key]
        except (KeyError, TypeError):
            return _BAD

    out = s.map(conv)
    bad = out.map(lambda v: v is _BAD).astype(bool)
    return out.where(~bad, pd.NA), bad


def boolean(values: Any, name: str, index: pd.Index | None = None) -> pd.Series:
    """A nullable boolean Series from bool / 0-1 / yes-no text; anything else is an InputError."""
    s = as_series(values, name, index)
    mapping = {
        True: True, False: False, 1: True, 0: False, 1.0: True, 0.0: False,
        "yes": True, "no": False, "y": True, "n": False, "true": True, "false": False,
        "present": True, "absent": False, "presence": True, "absence": False, "1": True, "0": False,
    }

    out, bad = _map_codes(s, mapping, integer_floats=False)
    if bad.any():
        raise InputError(
            f"column {s.name!r} must be yes/no (bool, 0/1); got {s[bad].iloc[0]!r} in rows {rows_text(s.index[bad])}",
            field=str(s.name),
            case=str(s.index[bad][0]),
            hint="map the column to True/False before computing the score",
        )
    return out.astype("boolean").rename(s.name)


def categorical(values: Any, name: str, allowed: dict[Any, str], index: pd.Index | None = None) -> pd.Series:
    """Map codes to canonical labels via `allowed` (keys compared case-insensitively for text)."""
    s = as_series(values, name, index)
    lookup = {(k.strip().lower() if isinstance(k, str) else k): v for k, v in allowed.items()}

    out, bad = _map_codes(s, lookup, integer_floats=True)
    if bad.any():
        raise InputError(
            f"column {s.name!r}: value {s[bad].iloc[0]!r} in rows {rows_text(s.index[bad])} is not one of "
            f"{sorted({str(k) for k in allowed})}",
            field=str(s.name),
            case=str(s.index[bad][0]),
            hint="recode the column to the documented labels",
        )
    return out.astype(object).where(out.notna(), pd.NA).rename(s.name)


def ordered(values: pd.Series, categories: list[str], name: str) -> pd.Series:
    """An ordered categorical with the given categories (pd.NA stays missing)."""
    return pd.Series(pd.Categorical(values.astype(object).where(values.notna(), None), categories=categories,
                                    ordered=True), index=values.index, name=name)
