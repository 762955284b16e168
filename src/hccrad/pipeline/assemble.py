"""Case x feature tables assembled in an order that does not depend on the cache.

A per-case result comes back either freshly computed (its keys in the order the code wrote them) or from
the cache (JSON written with sorted keys), and cases finish in any order when run in parallel or resumed
after an interrupted run. Building a table from the first row's keys, or in completion order, therefore
gave a different column/row order -- and different selection results -- after a resume. Here the order is
fixed by rule: rows by sorted case id, columns by :func:`feature_column_key` (natural order: text parts
compared as text, digit runs as numbers, so ``msi_2`` precedes ``msi_10``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import pandas as pd

_PARTS = re.compile(r"(\d+)")


def feature_column_key(name: str) -> tuple:
    """Natural sort key of a feature name."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in _PARTS.split(str(name)) if p)


def canonical_columns(columns: Iterable[str]) -> list[str]:
    return sorted(dict.fromkeys(columns), key=lambda c: (feature_column_key(c), str(c)))


def assemble_features(rows: Mapping[str, Mapping[str, float]], index_name: str) -> pd.DataFrame:
    """Rows = cases (sorted id), columns = the union of the feature names in canonical order."""
    cases = sorted(rows, key=str)
    cols = canonical_columns(c for case in cases for c in rows[case])
    table = pd.DataFrame.from_dict({c: dict(rows[c]) for c in cases}, orient="index").reindex(columns=cols)
    table.index.name = index_name
    return table


def canonical_table(table: pd.DataFrame) -> pd.DataFrame:
    """An assembled table put in the canonical order (rows by sorted case id, canonical columns)."""
    out = table.reindex(columns=canonical_columns(table.columns))
    return out.loc[sorted(out.index, key=str)]
