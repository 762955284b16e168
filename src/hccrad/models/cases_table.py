"""Reading the table of new patients that ``hccrad predict`` scores: refuse what cannot be scored as meant.

- An empty file (0 bytes, blanks only) or a header without rows is an error, never an empty prediction.
- Delimiter: ``sep`` if given, else sniffed by :class:`csv.Sniffer` on the first lines among ``,`` ``;`` and
  tab (falling back to the candidate that splits the header and the first lines into the same number (> 1)
  of fields; ``,`` for a one-column file). With ``;`` the decimal mark may be ``,`` (``1,5`` = 1.5; the
  European spreadsheet export); a column that mixes ``1,5`` and ``1.5`` is refused (which is meant is
  ambiguous). If columns the model needs are missing but appear when the header is split at another
  delimiter, the error says that the file appears to use that delimiter; a row with more or fewer fields
  than the header is refused with its line (pandas would shift the columns into an index).
- Patient ids are read as text (``007`` stays ``007``); a blank id is refused with its line, and duplicated
  ids are refused, naming them, unless ``allow_duplicates``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd

from hccrad.core.errors import InputError

DELIMITERS = (",", ";", "\t")
_NAMES = {",": "','", ";": "';'", "\t": "tab"}
SNIFF_CHARS = 64 * 1024


def parse_sep(sep: str | None) -> str | None:
    """``--sep`` as typed (``,`` ``;`` ``\\t`` ``tab``) -> the delimiter; None means sniff."""
    if sep is None:
        return None
    value = {"tab": "\t", "\\t": "\t", "comma": ",", "semicolon": ";"}.get(sep.lower(), sep)
    if value not in DELIMITERS:
        raise InputError(f"unsupported delimiter {sep!r}", field="--sep", hint="use ',', ';' or 'tab'")
    return value


def _field_counts(lines: list[str], sep: str) -> list[int]:
    return [len(row) for row in csv.reader(lines, delimiter=sep)]


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample among , ; and tab (csv.Sniffer, then a field-count fallback)."""
    lines = [ln for ln in sample.splitlines()[:20] if ln.strip()]
    try:
        found = csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
        if _field_counts(lines[:1], found)[0] > 1:
            return found
    except csv.Error:
        pass
    for sep in DELIMITERS:
        counts = _field_counts(lines, sep)
        if counts and counts[0] > 1 and len(set(counts)) == 1:
            return sep
    return ","


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path,
                         hint="save the table as UTF-8 CSV") from exc


def _read_csv(text: str, path: Path, sep: str, decimal: str, id_col: str) -> pd.DataFrame:
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, decimal=decimal, dtype={id_col: str})
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot be read as a table with delimiter {_NAMES[sep]} ({exc})".replace("\n", " "),
                         file=path, hint="check the delimiter (--sep) and quoting; every row needs the same "
                         "number of fields as the header") from exc


def _merge_decimal_marks(comma: pd.DataFrame, point: pd.DataFrame, path: Path, id_col: str) -> pd.DataFrame:
    """Per column, the reading that is numeric (decimal ',' or '.'); a column with numbers written with both
    marks is refused."""
    out = comma.copy()
    for col in comma.columns:
        if col == id_col or pd.api.types.is_numeric_dtype(comma[col]):
            continue
        if pd.api.types.is_numeric_dtype(point[col]):
            out[col] = point[col]
            continue
        text = comma[col].dropna().astype(str).str.strip()
        if len(text) and pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce").notna().all():
            with_comma = text[text.str.contains(",", regex=False)]
            with_point = text[text.str.contains(".", regex=False)]
            if with_comma.empty or with_point.empty:
                continue
            raise InputError(
                f"column mixes decimal marks: {with_comma.iloc[0]!r} (line {with_comma.index[0] + 2}) and "
                f"{with_point.iloc[0]!r} (line {with_point.index[0] + 2})", file=path, field=str(col),
                hint="use one decimal mark throughout the file")
    return out


def _header(text: str, sep: str) -> list[str]:
    return next((row for row in csv.reader(io.StringIO(text), delimiter=sep) if row), [])


def _check_delimiter(text: str, path: Path, sep: str, required: list[str]) -> None:
    """Columns the model needs that are missing from the header, but present when it is split at another
    delimiter: the file uses that delimiter."""
    missing = [c for c in required if c not in _header(text, sep)]
    if not missing:
        return
    for other in DELIMITERS:
        if other != sep and any(m in [f.strip() for f in _header(text, other)] for m in missing):
            name = "tab" if other == "\t" else other
            raise InputError(
                f"the file appears to use {_NAMES[other]} as delimiter, not {_NAMES[sep]}: column(s) "
                f"{missing[:5]} are inside the header read as one field", file=path,
                hint=f"pass --sep '{name}'" + (" (decimal ',' is accepted with ';')" if other == ";" else ""))


def _check_field_counts(text: str, path: Path, sep: str) -> None:
    """Every row has as many fields as the header (pandas would otherwise turn extra leading fields into an
    index, silently shifting the columns)."""
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    width = None
    for row in reader:
        if not row:
            continue
        if width is None:
            width = len(row)
        elif len(row) != width:
            raise InputError(f"line {reader.line_num} has {len(row)} field(s) with delimiter {_NAMES[sep]}, the "
                             f"header {width}", file=path,
                             hint="check the delimiter (pass --sep ',', ';' or 'tab') and quoting")


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
    """The patients to score from a CSV/TSV (delimiter ``sep`` or sniffed) or Parquet file, checked as the
    module doc says; ``required`` are the model's input columns (used to diagnose a wrong delimiter)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("table does not exist", file=path, hint="pass a CSV, TSV or Parquet file")
    if path.suffix.lower() in (".parquet", ".pq"):
        df = pd.read_parquet(path)
    else:
        text = _read_text(path)
        if not text.strip():
            raise InputError("the file is empty", file=path, hint="export the table with a header row and one "
                             "row per patient")
        sep = parse_sep(sep) or sniff_delimiter(text[:SNIFF_CHARS])
        _check_delimiter(text, path, sep, list(required))
        _check_field_counts(text, path, sep)
        df = _read_csv(text, path, sep, ".", id_col)
        if sep == ";":
            df = _merge_decimal_marks(_read_csv(text, path, sep, ",", id_col), df, path, id_col)
    if df.empty:
        raise InputError("the table has a header but no patient rows", file=path,
                         hint="add one row per patient to score")
    _check_ids(df, path, id_col, allow_duplicates)
    return df
