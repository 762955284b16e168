"""A study's tables as the spec declares them: read, columns renamed, missing markers, value tables.

Every manifest and the clinical table go through `read_study_table`, in this order:

1. read by `hccrad.io.tables.read_table` (CSV/TSV/Parquet/Excel; the sheet `data.clinical_sheet` /
   `data.manifest_sheet`; the markers `data.missing_values` read as blank; the id column read as text);
2. for a clinical-only study with `data.row_ids`, the id column added: ``row<N>``, N = 1 for the first data
   row (the table has no id of its own);
3. columns renamed by `data.columns` ({name in the file: name hccrad uses}); a new name that is already a
   column of the same table, or that two columns of one table are renamed to, is an error (ambiguous);
4. values recoded by `data.recode` ({column: {value in the file: value hccrad uses}}), matching values as
   `hccrad.cohort.outcomes.level_key` does (numbers as numbers: 1, 1.0 and "1" are one value; text
   stripped, case-sensitive). A blank stays blank. A non-blank value the table does not cover is an error
   naming the file, the column and every uncovered value with its count (`recode_problems` lists them for
   `hccrad validate`): nothing is silently turned into NaN or 0. A column whose new values are all numbers
   becomes numeric.

`mapping_header_problems` lists, from the headers alone, the renamed and recoded columns that no table has;
`column_record` is what run.json records.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pandas as pd

from hccrad.clinical.coding import level_key
from hccrad.core.errors import HccradError, InputError, did_you_mean
from hccrad.io.tables import read_header, read_table

if TYPE_CHECKING:
    from hccrad.config.spec import DataSpec, StudySpec

Role = Literal["clinical", "manifest"]


def source_name(data: DataSpec, name: str) -> str:
    """The name in the file of the column hccrad calls `name` (its `data.columns` source, else itself)."""
    return next((src for src, new in data.columns.items() if new == name), name)


def _sheet(data: DataSpec, role: Role) -> str | int | None:
    return data.clinical_sheet if role == "clinical" else data.manifest_sheet


def _row_ids(frame: pd.DataFrame, data: DataSpec, path: Path) -> pd.DataFrame:
    idc = source_name(data, data.id_column)
    if idc in frame.columns:
        raise InputError(f"data.row_ids is set, but the table has an id column {idc!r}", file=path, field=idc,
                         hint="remove data.row_ids to use the table's own ids")
    frame = frame.copy()
    frame.insert(0, idc, [f"row{i}" for i in range(1, len(frame) + 1)])
    return frame


def rename_columns(frame: pd.DataFrame, columns: Mapping[str, str], path: Path | str) -> pd.DataFrame:
    """`frame` with the columns of `columns` renamed ({old: new}); a new name already in the table is an error."""
    present = {old: new for old, new in columns.items() if old in frame.columns}
    targets = list(present.values())
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        sources = [old for old, new in present.items() if new in twice]
        raise InputError(f"data.columns renames several columns of this table ({sources}) to {twice}", file=path,
                         field=", ".join(twice), hint="rename each column of a table to its own name")
    clash = sorted(new for new in present.values() if new in frame.columns and new not in present)
    if clash:
        raise InputError(f"data.columns renames a column to {clash}, but the table already has a column of that "
                         "name", file=path, field=", ".join(clash),
                         hint="rename that column too, or drop it from data.columns")
    return frame.rename(columns=present)


def uncovered_values(values: pd.Series, table: Mapping[object, object]) -> dict[str, int]:
    """{value as text: count} of the non-blank values that `table` does not cover."""
    keys = {level_key(k) for k in table}
    out: dict[str, int] = {}
    for v in values.astype(object):
        key = level_key(v)
        if key is not None and key not in keys:
            shown = _as_written(v)
            out[shown] = out.get(shown, 0) + 1
    return out


def _as_written(value: object) -> str:
    """A value as the table shows it: 3.0 read into a column with blanks is 3."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def recode_column(values: pd.Series, table: Mapping[object, object]) -> pd.Series:
    """`values` mapped through `table` (blank stays NaN); numeric when every new value is a number. The caller
    has checked that `table` covers every non-blank value."""
    keyed = {level_key(k): v for k, v in table.items()}
    out = pd.Series([keyed[level_key(v)] if level_key(v) is not None else None for v in values.astype(object)],
                    index=values.index, name=values.name, dtype=object)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in table.values()):
        return pd.to_numeric(out)
    return out


def _describe_uncovered(column: str, found: dict[str, int], table: Mapping[object, object]) -> str:
    shown = ", ".join(f"{v!r} ({n}x)" for v, n in list(found.items())[:20])
    return (f"data.recode.{column} does not cover {len(found)} value(s) found in the table: {shown}"
            f"{' …' if len(found) > 20 else ''} (the value table covers {[k for k in table]})")


def _recode_hint(data: DataSpec) -> str:
    markers = "data.missing_values" if data.missing_values is not None else "data.missing_values (e.g. [\"?\"])"
    return (f"add the values to data.recode (quoted as written in the table), or declare a missing marker in "
            f"{markers}")


def recode_table(frame: pd.DataFrame, data: DataSpec, path: Path | str) -> pd.DataFrame:
    """`frame` with every `data.recode` column it has recoded; an uncovered value is an InputError."""
    frame = frame.copy()
    for column, table in data.recode.items():
        if column not in frame.columns:
            continue
        found = uncovered_values(frame[column], table)
        if found:
            raise InputError(_describe_uncovered(column, found, table), file=path, field=column,
                             hint=_recode_hint(data))
        frame[column] = recode_column(frame[column], table)
    return frame


def read_raw_table(path: Path, data: DataSpec, role: Role) -> pd.DataFrame:
    """Steps 1–3 of the module docstring: the table read, ids numbered if declared, columns renamed."""
    frame = read_table(path, sheet=_sheet(data, role), missing_values=data.missing_values,
                       text_columns=(source_name(data, data.id_column),))
    if role == "clinical" and data.row_ids:
        frame = _row_ids(frame, data, path)
    return rename_columns(frame, data.columns, path)


def read_study_table(path: Path, data: DataSpec, role: Role) -> pd.DataFrame:
    """A manifest or the clinical table as the spec declares it (the module docstring, steps 1–4)."""
    return recode_table(read_raw_table(path, data, role), data, path)


def study_columns(path: Path, data: DataSpec, role: Role) -> list[str]:
    """The column names of a table as hccrad names them (after `data.row_ids` and `data.columns`)."""
    names = read_header(path, sheet=_sheet(data, role))
    if role == "clinical" and data.row_ids:
        names = list(_row_ids(pd.DataFrame(columns=names), data, path).columns)
    return [str(c) for c in rename_columns(pd.DataFrame(columns=names), data.columns, path).columns]


def _tables(spec: StudySpec) -> list[tuple[Path, Role]]:
    out: list[tuple[Path, Role]] = [(p, "manifest") for p in spec.data.manifests.values()]
    if spec.data.clinical is not None:
        out.append((spec.data.clinical, "clinical"))
    return out


def mapping_header_problems(spec: StudySpec) -> list[str]:
    """Renamed columns (`data.columns`) and recoded columns (`data.recode`) that no table of the study has
    (read from the headers; an unreadable table is a problem too)."""
    data, raw, renamed, problems = spec.data, set(), set(), []
    files = []
    for path, role in _tables(spec):
        if not path.is_file():
            continue
        files.append(path.name)
        try:
            names = read_header(path, sheet=_sheet(data, role))
        except HccradError as exc:
            problems.append(f"{path.name}: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
            continue
        raw |= set(names)
        renamed |= {data.columns.get(n, n) for n in names}
    if problems or not files:
        return problems
    if data.row_ids:
        renamed.add(data.id_column)
    for old in data.columns:
        if old not in raw:
            problems.append(f"data.columns: column {old!r} is in none of the tables ({', '.join(files)})"
                            f"{did_you_mean(old, raw)}")
    for column in data.recode:
        if column not in renamed:
            problems.append(f"data.recode: column {column!r} is in none of the tables ({', '.join(files)})"
                            f"{did_you_mean(column, renamed)}")
    return problems


def recode_problems(spec: StudySpec) -> list[tuple[str, str, str, str]]:
    """(file, column, message, hint) for every recoded column, in every table, holding a value its table does
    not cover (all of them, for `hccrad validate`). Tables that cannot be read are left to the other checks."""
    data, out = spec.data, []
    if not data.recode:
        return out
    for path, role in _tables(spec):
        try:
            frame = read_raw_table(path, data, role)
        except HccradError:
            continue
        for column, table in data.recode.items():
            if column in frame.columns and (found := uncovered_values(frame[column], table)):
                out.append((str(path), column, _describe_uncovered(column, found, table), _recode_hint(data)))
    return out


def column_record(data: DataSpec, table: pd.DataFrame) -> dict | None:
    """What the spec did to the tables as they were read, for run.json (None when it declares nothing):
    renamed columns, missing markers, and per recoded column its value table and the count per new value."""
    if not (data.columns or data.recode or data.missing_values is not None or data.row_ids
            or data.clinical_sheet is not None or data.manifest_sheet is not None):
        return None
    recoded = {}
    for column, tab in data.recode.items():
        if column in table.columns:
            counts = table[column].astype(object).where(table[column].notna(), "(blank)").astype(str).value_counts()
            recoded[column] = {"values": {str(k): v for k, v in tab.items()},
                               "counts": {str(k): int(n) for k, n in counts.sort_index().items()}}
    return {"renamed": dict(data.columns),
            "missing_values": list(data.missing_values) if data.missing_values is not None else "pandas defaults",
            "row_ids": data.row_ids, "clinical_sheet": data.clinical_sheet, "manifest_sheet": data.manifest_sheet,
            "recoded": recoded}
