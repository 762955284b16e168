"""Reading a table as users have it: CSV/TXT (sniffed delimiter, decimal comma), TSV, Parquet, Excel.

One reader for every tabular input (clinical table, manifests, the patients ``hccrad predict`` scores), so
every table is read by the same rules and refused with the same errors (file, field, hint):

- Format by extension: ``.csv``/``.txt`` (delimiter ``sep`` if given, else sniffed by :class:`csv.Sniffer`
  among ``,`` ``;`` and tab, falling back to the candidate that splits the first lines into the same number
  (> 1) of fields; ``,`` for a one-column file), ``.tsv``/``.tab`` (tab), ``.parquet``/``.pq`` (pyarrow),
  ``.xlsx``/``.xlsm`` (openpyxl; ``sheet`` = sheet name or 0-based position, default the first sheet; a
  missing sheet is an error naming the sheets there). ``.xls`` (the pre-2007 format) is refused: save it as
  ``.xlsx``. Any other extension is refused.
- Decimal comma: with ``;`` the decimal mark may be ``,`` (``1,5`` = 1.5; the European spreadsheet export),
  decided per column: a column is read with decimal ``,`` only when every value parses as a number that way;
  a column mixing ``1,5`` and ``1.5`` is refused (which is meant is ambiguous).
- Missing markers: ``missing_values=None`` keeps pandas' markers (blank, ``NA``, ``N/A``, ``NULL``, ``nan``,
  ``#N/A`` …); a list reads exactly a blank cell and those markers as missing (``["?"]``: ``?`` is blank,
  ``NA`` stays the text ``NA``). In Parquet, nulls are missing and text cells equal to a marker too (a text
  column of numbers and markers is then numeric, as CSV reads it).
- Refused: a file that does not exist, is empty or is not UTF-8 text; a row with more or fewer fields than
  the header (pandas would shift the columns into an index); a header with a repeated name (pandas would
  rename the second ``x.1``) or a blank name over a column holding values (a blank name over an empty column,
  a spreadsheet's trailing column, is dropped); a header without rows.
- ``text_columns`` (ids) are read as text: ``007`` stays ``007``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from hccrad.core.errors import InputError

DELIMITERS = (",", ";", "\t")
DELIMITER_NAMES = {",": "','", ";": "';'", "\t": "tab"}
SNIFF_CHARS = 64 * 1024
TEXT_SUFFIXES = (".csv", ".txt")
TAB_SUFFIXES = (".tsv", ".tab")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
SUPPORTED = "CSV (.csv, .txt), TSV (.tsv), Parquet (.parquet) or Excel (.xlsx)"


def parse_sep(sep: str | None) -> str | None:
    """A delimiter as typed (``,`` ``;`` ``\\t`` ``tab``) -> the delimiter; None means sniff."""
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


def read_text(path: Path) -> str:
    """The file as UTF-8 text (a byte-order mark is dropped); an InputError if it is not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path,
                         hint="save the table as UTF-8 CSV") from exc


def header_of(text: str, sep: str) -> list[str]:
    """The first non-empty row of CSV text split at `sep`."""
    return next((row for row in csv.reader(io.StringIO(text), delimiter=sep) if row), [])


def check_field_counts(text: str, path: Path, sep: str) -> None:
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
            raise InputError(f"line {reader.line_num} has {len(row)} field(s) with delimiter "
                             f"{DELIMITER_NAMES[sep]}, the header {width}", file=path,
                             hint="check the delimiter (',', ';' or tab) and quoting; every row needs the same "
                                  "number of fields as the header")


def _na_options(missing_values: Sequence[str] | None) -> dict:
    if missing_values is None:
        return {}
    return {"keep_default_na": False, "na_values": ["", *missing_values]}


def read_csv_text(text: str, path: Path, sep: str, decimal: str, *, text_columns: Sequence[str] = (),
                  missing_values: Sequence[str] | None = None) -> pd.DataFrame:
    """`text` parsed by pandas with this delimiter and decimal mark (a parser error is an InputError)."""
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, decimal=decimal, dtype={c: str for c in text_columns},
                           **_na_options(missing_values))
    except pd.errors.ParserError as exc:
        raise InputError(f"cannot be read as a table with delimiter {DELIMITER_NAMES[sep]} ({exc})"
                         .replace("\n", " "), file=path,
                         hint="check the delimiter and quoting; every row needs the same number of fields as the "
                              "header") from exc


def merge_decimal_marks(comma: pd.DataFrame, point: pd.DataFrame, path: Path,
                        text_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Per column, the reading that is numeric (decimal ',' or '.'); a column with numbers written with both
    marks is refused."""
    out = comma.copy()
    for col in comma.columns:
        if col in text_columns or pd.api.types.is_numeric_dtype(comma[col]):
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


def _check_header(names: list[object], path: Path, frame: pd.DataFrame | None = None) -> list[int]:
    """Refuse repeated column names and blank names over columns with values; return the positions of blank
    names over empty columns (to drop)."""
    text = ["" if n is None or (isinstance(n, float) and pd.isna(n)) else str(n).strip() for n in names]
    seen: dict[str, int] = {}
    for i, name in enumerate(text):
        if name and name in seen:
            raise InputError(f"column name {name!r} appears twice in the header (columns {seen[name] + 1} and "
                             f"{i + 1})", file=path, field=name,
                             hint="give every column its own name (pandas would silently rename the second)")
        seen.setdefault(name, i)
    drop = []
    for i, name in enumerate(text):
        if name:
            continue
        if frame is not None and frame.iloc[:, i].notna().any():
            raise InputError(f"column {i + 1} has no name in the header but holds values", file=path,
                             hint="name the column in the header row, or delete it")
        drop.append(i)
    return drop


def _sniffed(text: str, sep: str | None, path: Path) -> str:
    if path.suffix.lower() in TAB_SUFFIXES:
        return "\t"
    return parse_sep(sep) or sniff_delimiter(text[:SNIFF_CHARS])


def _read_delimited(path: Path, sep: str | None, text_columns: Sequence[str],
                    missing_values: Sequence[str] | None) -> pd.DataFrame:
    text = read_text(path)
    if not text.strip():
        raise InputError("the file is empty", file=path, hint="export the table with a header row and one row "
                         "per case")
    sep = _sniffed(text, sep, path)
    check_field_counts(text, path, sep)
    _check_header(header_of(text, sep), path)
    frame = read_csv_text(text, path, sep, ".", text_columns=text_columns, missing_values=missing_values)
    if sep == ";":
        comma = read_csv_text(text, path, sep, ",", text_columns=text_columns, missing_values=missing_values)
        frame = merge_decimal_marks(comma, frame, path, text_columns)
    drop = _check_header(header_of(text, sep), path, frame)  # blank names: refused over values, else dropped
    return frame.drop(columns=frame.columns[drop]) if drop else frame


def _excel_sheet(path: Path, sheet: str | int | None) -> str | int:
    try:
        names = pd.ExcelFile(path, engine="openpyxl").sheet_names
    except ImportError as exc:
        raise InputError("reading Excel files needs the openpyxl package", file=path,
                         hint="pip install openpyxl (pinned in requirements/base.txt), or save the sheet as "
                              "CSV") from exc
    except Exception as exc:  # a damaged or mislabelled file: zipfile / openpyxl raise various errors
        raise InputError(f"cannot be opened as an Excel workbook ({type(exc).__name__}: {exc})", file=path,
                         hint="open it in a spreadsheet program and save it again as .xlsx, or as CSV") from exc
    if sheet is None:
        return names[0]
    if isinstance(sheet, int) and not isinstance(sheet, bool):
        if 0 <= sheet < len(names):
            return names[sheet]
    elif str(sheet) in names:
        return str(sheet)
    raise InputError(f"the workbook has no sheet {sheet!r} (sheets: {names})", file=path, field="sheet",
                     hint="name one of its sheets (or its 0-based position) in the spec's sheet option")


def _read_excel(path: Path, sheet: str | int | None, text_columns: Sequence[str],
                missing_values: Sequence[str] | None) -> pd.DataFrame:
    name = _excel_sheet(path, sheet)
    frame = pd.read_excel(path, sheet_name=name, engine="openpyxl", header=None,
                          dtype=object, **_na_options(missing_values))
    frame = frame.dropna(how="all")
    if frame.empty:
        raise InputError(f"sheet {name!r} is empty", file=path, field="sheet",
                         hint="put a header row and one row per case on the sheet, or name another sheet")
    header, body = list(frame.iloc[0]), frame.iloc[1:].reset_index(drop=True)
    body.columns = range(body.shape[1])
    drop = _check_header(header, path, body)
    keep = [i for i in range(len(header)) if i not in drop]
    body = body[keep]
    body.columns = [str(header[i]).strip() for i in keep]
    for col in body.columns:
        if col in text_columns:
            body[col] = [_cell_text(v) for v in body[col]]
        else:
            body[col] = _infer(body[col])
    return body


def _cell_text(value: object) -> object:
    """An Excel cell as text: integral numbers without '.0' (an id typed as 7 is '7'); blank stays None."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _infer(column: pd.Series) -> pd.Series:
    """A column read as objects -> numbers when every non-blank cell is a number or a text cell holding one
    (as CSV reads it: a number stored as text is still a number), else kept as is."""
    values = column.dropna()
    if len(values) and all(isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in values):
        return _numbers_if_all(column).infer_objects()
    return column.infer_objects()


def _numbers_if_all(column: pd.Series) -> pd.Series:
    """A text column whose every non-blank value is a number, as numbers; otherwise unchanged."""
    parsed = pd.to_numeric(column, errors="coerce")
    return parsed if parsed.notna().sum() == column.notna().sum() else column


def _read_parquet(path: Path, text_columns: Sequence[str], missing_values: Sequence[str] | None) -> pd.DataFrame:
    try:
        frame = pd.read_parquet(path)
    except ImportError as exc:
        raise InputError("reading Parquet files needs pyarrow", file=path, hint="pip install pyarrow") from exc
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError for a damaged or non-Parquet file
        raise InputError(f"cannot be read as Parquet ({type(exc).__name__}: {exc})", file=path,
                         hint="write the table again with pandas.DataFrame.to_parquet, or as CSV") from exc
    _check_header(list(frame.columns), path, frame)
    markers = set(missing_values or ())
    for col in frame.columns:
        if markers and frame[col].dtype == object and col not in text_columns:
            is_marker = frame[col].isin(markers)
            if is_marker.any():  # as CSV reads it: without its markers, a column of numbers is numeric
                frame[col] = _numbers_if_all(frame[col].where(~is_marker))
        if col in text_columns:
            frame[col] = [None if pd.isna(v) else _cell_text(v) for v in frame[col]]
    return frame


def read_table(path: str | Path, *, sheet: str | int | None = None, sep: str | None = None,
               text_columns: Sequence[str] = (), missing_values: Sequence[str] | None = None,
               allow_empty: bool = False) -> pd.DataFrame:
    """A table from any supported file, read and checked as the module docstring says."""
    path = Path(path)
    if not path.is_file():
        raise InputError("table does not exist", file=path, hint=f"give a {SUPPORTED} file")
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InputError("the old Excel format (.xls) is not read", file=path,
                         hint="open it in a spreadsheet program and save it as .xlsx (or as CSV)")
    if suffix in PARQUET_SUFFIXES:
        frame = _read_parquet(path, text_columns, missing_values)
    elif suffix in EXCEL_SUFFIXES:
        frame = _read_excel(path, sheet, text_columns, missing_values)
    elif suffix in TEXT_SUFFIXES + TAB_SUFFIXES:
        frame = _read_delimited(path, sep, text_columns, missing_values)
    else:
        raise InputError(f"unsupported table format {suffix or '(no extension)'!r}", file=path,
                         hint=f"give a {SUPPORTED} file")
    if sheet is not None and suffix not in EXCEL_SUFFIXES:
        raise InputError(f"a sheet ({sheet!r}) is named, but the file is not an Excel workbook", file=path,
                         field="sheet", hint="remove the sheet option, or give the .xlsx file")
    if frame.empty and not allow_empty:
        raise InputError("the table has a header but no rows", file=path, hint="add one row per case")
    return frame


def read_header(path: str | Path, *, sheet: str | int | None = None, sep: str | None = None) -> list[str]:
    """The column names of a table (for checks that need no values). Excel and Parquet are read whole."""
    path = Path(path)
    if path.suffix.lower() in TEXT_SUFFIXES + TAB_SUFFIXES and path.is_file():
        text = read_text(path)
        if not text.strip():
            raise InputError("the file is empty", file=path, hint="export the table with a header row")
        names = header_of(text, _sniffed(text, sep, path))
        drop = _check_header(names, path)
        return [n for i, n in enumerate(names) if i not in drop]  # as pandas names them (blank: dropped)
    return [str(c) for c in read_table(path, sheet=sheet, allow_empty=True).columns]
