"""Categorical clinical predictors: declared levels and reference, or inferred from text columns.

A categorical predictor X with levels l_0 (the reference), l_1, ..., l_k enters a model as k 0/1 dummy
columns `X[l_j]` = 1{X = l_j} (treatment coding, as R's `contr.treatment` and patsy's `C(X, Treatment(l_0))`):
each dummy's coefficient is the log odds ratio (logistic) or log hazard ratio (Cox) of level l_j against
the reference, and the variable as a whole is tested jointly on k degrees of freedom.

Declared in the spec (`data.categorical: {BCLC: {levels: [A, B, C, D], reference: A}}`); a text column used
as a predictor without a declaration is inferred as categorical with its levels in sorted order and the
first as reference (a warning in `hccrad validate` names the column and the levels); a text column is one
whose non-blank values are at least half not numbers (`is_text`). Values are compared as
text: a number is written without a trailing ".0" (1, 1.0 and "1" are the level "1"), surrounding blanks are
ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


def level_text(value: object) -> str | None:
    """The level a cell holds, as text ("1" for 1, 1.0 and "1 "); None for a blank."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        if np.isnan(float(value)):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    return text or None


class CategoricalColumn(BaseModel):
    """One categorical clinical column: its levels (in order) and the reference level of the dummy coding."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    levels: list[int | str] | None = Field(default=None, min_length=2, description=(
        "the values the column may hold, in order (the order of the OR/HR rows, and of an ordinal stage); "
        "a value outside them is refused by validate. Default: the values found in the training cohort, "
        "sorted"))
    reference: int | str | None = Field(default=None, description=(
        "the level every other level is compared with (its OR/HR is 1); default: the first level"))
    ordered: bool = Field(default=False, description=(
        "the levels are ordered (a staging system: later = more advanced); needed for compare_with"))

    @field_validator("levels", mode="before")
    @classmethod
    def _no_booleans(cls, value: object) -> object:
        for v in value if isinstance(value, list) else ():
            if isinstance(v, bool):
                raise ValueError(f"level {v!r} is a YAML boolean (unquoted yes/no/true/false); quote it")
        return value

    @model_validator(mode="after")
    def _reference_is_a_level(self) -> "CategoricalColumn":
        if self.levels is not None:
            texts = [level_text(v) for v in self.levels]
            if None in texts or len(set(texts)) != len(texts):
                raise ValueError(f"levels {self.levels} hold a blank or the same level twice")
            if self.reference is not None and level_text(self.reference) not in texts:
                raise ValueError(f"reference {self.reference!r} is not one of the levels {self.levels}")
        if self.ordered and self.levels is None:
            raise ValueError("ordered: true needs the levels in their order")
        return self


@dataclass(frozen=True)
class Coding:
    """The treatment coding of one column: its levels (as text, declared order), reference, dummy names."""

    column: str
    levels: tuple[str, ...]
    reference: str
    declared: bool

    @property
    def others(self) -> tuple[str, ...]:
        return tuple(v for v in self.levels if v != self.reference)

    @property
    def dummies(self) -> tuple[str, ...]:
        return tuple(dummy_name(self.column, v) for v in self.others)


def dummy_name(column: str, level: str) -> str:
    """The name of a dummy column: `BCLC[B]` (patsy's `[T.B]` without the `T.`)."""
    return f"{column}[{level}]"


def as_levels(values: pd.Series) -> pd.Series:
    """The column as level texts (object dtype; None for blanks)."""
    return values.astype(object).map(level_text)


def is_text(values: pd.Series) -> bool:
    """True for a text column: at least half of its non-blank values are not numbers (BCLC 0/A/B/C/D is text;
    a numeric column with a stray ">400" is not, and stays a numeric column with a bad value, refused)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return True
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    present = values.dropna()
    return bool(len(present)) and float(pd.to_numeric(present, errors="coerce").isna().mean()) >= 0.5


def coding_of(column: str, values: pd.Series, declared: CategoricalColumn | None) -> Coding:
    """The coding of `column`: declared levels/reference, else the sorted levels of `values` (first = reference).
    A declaration without levels takes them from `values`."""
    if declared is not None and declared.levels is not None:
        levels = tuple(level_text(v) for v in declared.levels)
    elif isinstance(values.dtype, pd.CategoricalDtype):
        levels = tuple(level_text(v) for v in values.cat.categories)
    else:
        found = {v for v in as_levels(values) if v is not None}
        levels = tuple(sorted(found, key=_sort_key))
    reference = level_text(declared.reference) if declared is not None and declared.reference is not None \
        else (levels[0] if levels else "")
    return Coding(column, levels, reference, declared is not None)


def _sort_key(level: str) -> tuple:
    """Numbers by value before text, text alphabetically (so 2 < 10)."""
    try:
        return (0, float(level), level)
    except ValueError:
        return (1, 0.0, level)


def codings_for(columns: Iterable[str], table: pd.DataFrame,
                declared: Mapping[str, CategoricalColumn]) -> dict[str, Coding]:
    """{column: Coding} for the `columns` that are declared categorical or hold text in `table`."""
    out = {}
    for col in dict.fromkeys(columns):
        if col in declared or (col in table.columns and is_text(table[col])):
            out[col] = coding_of(col, table[col] if col in table.columns else pd.Series(dtype=object),
                                 declared.get(col))
    return out


def values_outside(values: pd.Series, coding: Coding) -> pd.Series:
    """The non-blank values (indexed by case) that are not levels of `coding`."""
    text = as_levels(values)
    return values[text.notna() & ~text.isin(coding.levels)]


__all__ = ["CategoricalColumn", "Coding", "level_text", "dummy_name", "as_levels", "is_text", "coding_of",
           "codings_for", "values_outside"]
