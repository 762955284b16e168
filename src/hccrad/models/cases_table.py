"""Reading the table of new patients that ``hccrad predict`` scores: refuse what cannot be scored as meant.

- An empty file (0 bytes, blanks only) or a header without rows is an error, never an empty prediction.
- The file is read by :func:`hccrad.io.tables.read_table` (CSV/TSV/Parquet/Excel; delimiter ``sep`` if given,
  else sniffed among ``,`` ``;`` and tab; with ``;`` the decimal mark may be ``,``, and a column that mixes
  ``1,5`` and ``1.5`` is refused). If columns the model needs are missing but appear when the header is split at another
  delimiter, the error says that the file appears to use that delimiter; a row with more or fewer fields
  than the header is refused with its line (pandas would shift the columns into an index).
- Patient ids are read as text (``007`` stays ``007``); a blank id is refused with its line, and duplicated
  ids are refused, naming them, unless ``allow_duplicates``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hccrad.core.errors import InputError

from hccrad.io.tables import (  # noqa: F401  (sniff_delimiter: re-exported, this module's public API)
    DELIMITER_NAMES as _NAMES,
    DELIMITERS,
    SNIFF_CHARS,
    header_of,
    parse_sep,
    read_table,
    read_text,
    sniff_delimiter,
)


def _check_delimiter(text: str, path: Path, sep: str, required: list[str]) -> None:
    """Columns the model needs that are missing from the header, but present when it is split at another
    delimiter: the file uses that delimiter."""
    missing = [c for c in required if c not in header_of(text, sep)]
    if not missing:
        return
    for other in DELIMITERS:
        if other != sep and any(m in [f.strip() for f in header_of(text, other)] for m in missing):
            name = "tab" if other == "\t" else other
            raise InputError(
                f"the file appears to use {_NAMES[other]} as delimiter, not {_NAMES[sep]}: column(s) "
                f"{missing[:5]} are inside the header read as one field", file=path,
                hint=f"pass --sep '{name}'" + (" (decimal ',' is accepted with ';')" if other == ";" else ""))


def _check_ids(df: pd.DataFrame, path: Path, id_col: str, allow_duplicates: bool) -> None:
    if id_col not in df.columns:
        return
    ids = df[id_col]
    blank = ids.isna() | (ids.astype(str).str.strip() == "")
    if blank.any():
        lines = [int(i) + 2 for i in df.index[blank][:10]]
        raise InputError(f"blank patient id on line(s) {lines}", file=path, field=id_col,
                         hint="give every row an id, or remove the row")
    counts = ids.value_counts()
    dup = counts[counts > 1]
    if len(dup) and not allow_duplicates:
        named = ", ".join(f"{i!r} ({n}x)" for i, n in dup.head(10).items())
        raise InputError(f"{len(dup)} patient id(s) appear more than once: {named}"
                         + (" ..." if len(dup) > 10 else ""), file=path, field=id_col,
                         hint="remove the duplicated rows, or pass --allow-duplicates to score every row")


def read_cases_table(path: str | Path, *, sep: str | None = None, id_col: str = "case_id",
                     required: list[str] | tuple[str, ...] = (), allow_duplicates: bool = False) -> pd.DataFrame:
    """The patients to score from a CSV/TSV (delimiter ``sep`` or sniffed), Parquet or Excel file
    (`hccrad.io.tables.read_table`), checked as the module doc says; ``required`` are the model's input columns (used to diagnose a wrong delimiter)."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() not in (".parquet", ".pq", ".xlsx", ".xlsm", ".xls"):
        text = read_text(path)
        if not text.strip():
            raise InputError("the file is empty", file=path, hint="export the table with a header row and one "
                             "row per patient")
        sep = parse_sep(sep) or sniff_delimiter(text[:SNIFF_CHARS])
        _check_delimiter(text, path, sep, list(required))
    df = read_table(path, sep=sep, text_columns=(id_col,), allow_empty=True)
    if df.empty:
        raise InputError("the table has a header but no patient rows", file=path,
                         hint="add one row per patient to score")
    _check_ids(df, path, id_col, allow_duplicates)
    return df
