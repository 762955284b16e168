"""How a table cell is compared with a declared outcome level or code: numbers as numbers (1, 1.0 and "1" are
the same level), text stripped, blanks as None (never a level). Used by the outcome coding
(`hccrad.cohort.outcomes`), the column recodes (`hccrad.config.columns`) and the deep stage's targets."""

from __future__ import annotations

import numpy as np
import pandas as pd


def level_key(value: object) -> object:
    """The comparison key of a value: a float for anything numeric (1, 1.0, "1"), else the stripped text;
    None for a blank."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_, int, float, np.integer, np.floating)):
        return float(value)
    text = str(value).strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def is_positive(values: pd.Series, positive: int | str) -> pd.Series:
    """values == positive, comparing numbers as numbers (a 0/1 column read as 1.0 still matches 1)."""
    if pd.api.types.is_numeric_dtype(values) and not isinstance(positive, str):
        return values.astype(float) == float(positive)
    num = pd.to_numeric(values, errors="coerce")
    try:
        pos = float(positive)
    except (TypeError, ValueError):
        return values.astype(str) == str(positive)
    return (num == pos) | (values.astype(str) == str(positive))
