"""Table 1 of a study run: which variables, in which order, with which levels and labels.

Variables: `report.table_one` when given; otherwise the models' clinical variables, then the survival
covariates, KM groups and staging columns (`outcome.survival.covariates/groups/compare_with`), in that
order; when none of these exists (an imaging-only study), every clinical column, with a note asking for
`report.table_one`. Never shown: the response column, the survival time and event, reader calls, image
features, ids and image/mask paths. Levels: as declared in `data.categorical` (which also makes a numeric
column categorical), else the order of `data.recode` values for a recoded column, else as read; the response
groups are named by `cohort.outcomes.response_group_names` (declared level names or the outcome's polarity).
Each table is also written as report/table1_<name>.csv and .html (`hccrad.report.table_one_export`).
"""

from __future__ import annotations

import re

import pandas as pd

from hccrad.cohort.outcomes import response_group_names, response_labels
from hccrad.config.spec import StudySpec
from hccrad.core.errors import HccradError
from hccrad.evaluate.descriptive import TableOneResult, table_one
from hccrad.pipeline.result_types import TableOneEntry, TableOneRecord
from hccrad.report.document import Report
from hccrad.report.table_one_export import table_one_for_paper, write_table_one

__all__ = ["table_one_columns", "table_one_record", "section_table_one"]

CAPTION = ("Mean ± SD or median [Q1, Q3] by a Shapiro–Wilk test; n (%) of the patients with a known value; "
           "the test is named per row; missing = patients without the value.")


def _never_shown(spec: StudySpec, exclude: set[str]) -> set[str]:
    skip = {"cohort", "patient_id", spec.data.id_column} | exclude | {r.column for r in spec.readers}
    if spec.outcome.response:
        skip.add(spec.outcome.response.column)
    if spec.outcome.survival:
        skip |= {spec.outcome.survival.time, spec.outcome.survival.event}
    return skip


def table_one_columns(spec: StudySpec, data: pd.DataFrame, exclude: set[str]) -> tuple[list[str], str]:
    """(Table 1's variables, a note saying where they come from)."""
    skip = _never_shown(spec, exclude)
    if spec.report.table_one is not None:
        missing = [c for c in spec.report.table_one if c not in data.columns]
        if missing:
            raise HccradError(f"report.table_one: column(s) {missing} are not in the clinical table",
                              field="report.table_one", hint="check the names (case matters; after data.columns)")
        return [c for c in spec.report.table_one if c not in skip], "Variables: report.table_one."
    declared: list[str] = [c for m in spec.models for c in m.clinical]
    if spec.outcome.survival:
        sv = spec.outcome.survival
        declared += [*sv.covariates, *sv.groups, *sv.compare_with]
    cols = [c for c in dict.fromkeys(declared) if c in data.columns and c not in skip]
    if cols:
        return cols, "Variables: the models' clinical variables and the survival covariates/groups/staging columns."
    every = [c for c in data.columns if c not in skip and not str(c).startswith(("image_", "mask_"))]
    return every, ("No model or survival variable is declared: every clinical column is shown; list the baseline "
                   "variables in report.table_one (post-treatment columns do not belong in Table 1).")


def _split(df: pd.DataFrame, columns: list[str], categorical: set[str]) -> tuple[list[str], list[str]]:
    """Continuous: numeric with more than 5 distinct values and not declared categorical; the rest categorical."""
    cont = [c for c in columns if c not in categorical and pd.api.types.is_numeric_dtype(df[c])
            and df[c].nunique(dropna=True) > 5]
    return cont, [c for c in columns if c not in cont]


MAX_LEVELS = 20  # a text column with more distinct values is an id, a date or free text, not a baseline category


def _many_levels(df: pd.DataFrame, categorical: list[str]) -> dict[str, int]:
    counts = {c: int(df[c].nunique(dropna=True)) for c in categorical}
    return {c: k for c, k in counts.items() if k > MAX_LEVELS}


def _declared_categorical(spec: StudySpec) -> dict[str, list[object] | None]:
    """{column: its declared levels or None} of `data.categorical` (issue 21 item 1; absent before that merge)."""
    declared = getattr(spec.data, "categorical", None) or {}
    return {col: (list(c.levels) if getattr(c, "levels", None) else None) for col, c in declared.items()}


def _declared_levels(spec: StudySpec) -> dict[str, list[object]]:
    """{column: its levels in order}: `data.categorical` levels, else the values of its data.recode table in the
    order listed."""
    levels: dict[str, list[object]] = {col: list(dict.fromkeys(table.values()))
                                       for col, table in spec.data.recode.items()}
    levels.update({col: lv for col, lv in _declared_categorical(spec).items() if lv})
    return levels


def _entry(result: TableOneResult, title: str, key: str, name: str) -> TableOneEntry:
    return TableOneEntry(title=title, key=key, name=name, result=result)


def table_one_record(spec: StudySpec, data: pd.DataFrame, exclude: set[str], order: list[str]) -> TableOneRecord:
    """Table 1 by cohort, by the response (training cohort, analysed cases) and by each `report.table_one_by`,
    computed in the study run (`pipeline.results`); a table that cannot be computed ends the list with its
    message (`error`), the report showing the tables before it."""
    tables: list[TableOneEntry] = []
    note = ""
    try:
        note = _table_one_tables(spec, data, exclude, order, tables)
    except HccradError as exc:
        return TableOneRecord(note=note, tables=tuple(tables), error=str(exc))
    return TableOneRecord(note=note, tables=tuple(tables), error=None)


def _table_one_tables(spec: StudySpec, data: pd.DataFrame, exclude: set[str], order: list[str],
                      tables: list[TableOneEntry]) -> str:
    cols, note = table_one_columns(spec, data, exclude)
    cont, cat = _split(data, cols, set(_declared_categorical(spec)))
    wide = _many_levels(data, cat)
    if wide and spec.report.table_one is not None:
        raise HccradError(f"report.table_one: {wide} (column: distinct values) have more than {MAX_LEVELS} text "
                          "values: an id, a date or free text, not a baseline category", field="report.table_one",
                          hint="leave it out, or recode it into a few categories with data.recode")
    if wide:
        cat = [c for c in cat if c not in wide]
        note += (f" Not shown: {', '.join(f'{c} ({k} distinct text values)' for c, k in wide.items())} — an id, "
                 "a date or free text; recode it (data.recode) and list it in report.table_one to show it.")
    opts = {"levels": _declared_levels(spec), "labels": spec.report.table_one_labels, "smd": spec.report.table_one_smd,
            "order": cols}
    if len(order) > 1:
        df = data.assign(cohort=pd.Categorical(data["cohort"], categories=order))
        tables.append(_entry(table_one(df, "cohort", cont, cat, **opts), "By cohort", "table1_cohort", "cohort"))
    if spec.outcome.response:
        r = spec.outcome.response
        y = response_labels(spec, data)
        train = data[(data["cohort"] == spec.cohorts.training) & y.notna()]  # the analysed cases only
        negative, positive = response_group_names(r)
        grp = pd.Categorical(y.loc[train.index].map({1.0: positive, 0.0: negative}), categories=[positive, negative])
        by = r.label if r.label not in train.columns or r.label == r.column else f"{r.label} (outcome)"
        tables.append(_entry(table_one(train.assign(**{by: grp}), by, cont, cat, **opts),
                             f"Training cohort by {r.label}", "table1_outcome", "outcome"))
    for col in spec.report.table_one_by:  # e.g. seed 002 table 1: by MTM subtype (patients with it known)
        if col not in data.columns:
            raise HccradError(f"report.table_one_by: {col!r} is not a column of the clinical table",
                              field="report.table_one_by", hint="name a clinical column, e.g. mtm")
        known = data[data[col].notna()]
        tables.append(_entry(table_one(known, col, [c for c in cont if c != col], [c for c in cat if c != col], **opts),
                             f"By {spec.report.table_one_labels.get(col, col)} (all cohorts, {len(known)} patients "
                             "with it known)", "table1_group", "by_" + re.sub(r"[^A-Za-z0-9_-]+", "_", str(col))))
    return note


def section_table_one(rep: Report, record: TableOneRecord) -> None:
    """The Table 1 section from its record (`table_one_record`); each table also written as
    report/table1_<name>.csv and .html."""
    s = rep.section("Table 1. Baseline characteristics", CAPTION)
    for t in record.tables:
        paths = write_table_one(t.result, f"Table 1. {t.title}", rep.dir / f"table1_{t.name}")
        rep.add_table(s, table_one_for_paper(t.result), t.title, index=False, key=t.key,
                      caption=f"{record.note} Journal layout: {', '.join(p.name for p in paths)}.")
    if record.error:
        raise HccradError(record.error)
