"""One preflight: every input check `run` makes, in one pass, every problem listed at once.

`preflight(spec)` returns a list of `InputProblem` (case, file, field, message, hint, severity). Errors are
what `run` would refuse later (so `run_study` refuses them before its first long stage, and
`hccrad validate` exits nonzero on them); warnings are what `run` accepts but reports (a case left out of an
outcome's analyses, complete-case drops in the Cox model). The checks, in order:

1. files and columns the spec names (`hccrad.config.load.check_inputs`, with close-match hints; the columns
   `data.columns` renames and `data.recode` recodes), then every value a `data.recode` table does not cover
   (`hccrad.config.columns.recode_problems`: file, column and the values with their counts);
2. duplicated ids in each manifest and in the clinical table;
3. the joined study table (`Study.table`: clinical rows for every case, cohorts, derived columns);
4. outcome coding: the response by its declared levels (cases outside them are left out, a warning each;
   fewer than two classes among the analysed training cases is an error), survival events 0/1 or
   `event_codes` (anything else an error), survival times numeric and >= 0;
5. column types against their use: model predictors and Cox covariates numeric without blanks (the first
   bad row named), or categorical (`data.categorical`, or a text column: a warning names the inferred
   levels; values outside declared levels listed with their counts, `hccrad.clinical.categorical`), staging
   columns (`compare_with`) numeric, ordered categories, or text with ordered levels declared in
   `data.categorical` (values outside them listed), derived-score inputs numeric;
6. per case, the images and masks (`hccrad.preprocess.inspect.inspect_case_images`: readable to the last voxel,
   geometry within tolerance, binary non-empty masks), two cases at a time in worker processes. Under
   `data.on_case_error: leave_out` (the default) a failing case is a warning ("left out of the run: ...")
   and `run` leaves it out with its reason in the left-out table; more than 20 % failing cases stay errors;
   without `preprocess.registration`, a phase that looks shifted from the reference phase around the tumour
   is a warning naming case and phase, suggesting `preprocess: {registration: rigid}`
   (`hccrad.preprocess.inspect`); in a run (`inspections` given) each case's findings are cached under
   out/cache/inspection/ by its files' content digests, so a rerun re-inspects only the cases whose files
   changed (`hccrad.pipeline.inspection_cache`);
7. the resampling and intensity steps (`hccrad.pipeline.preprocess_checks`): a liver intensity region
   without liver masks, a unit that contradicts the modality, a spacing_mm that empties a tumour mask, N4
   on negative intensities (per-case errors follow `data.on_case_error` like those of step 6);
8. `validation.scheduler`, when set: the Dask scheduler accepts a TCP connection within a few seconds
   (`hccrad.core.cluster.check_scheduler`), else an error naming the field with a hint.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, replace
from functools import partial

import pandas as pd

from hccrad.clinical.categorical import Coding, as_levels, coding_of, codings_for, values_outside
from hccrad.clinical.derive import _input_fields
from hccrad.cohort.outcomes import code_levels, leave_out_reason, level_key, undeclared_values
from hccrad.cohort.study import Study, case_files
from hccrad.config.columns import read_raw_table as _read_table, recode_problems
from hccrad.config.load import check_inputs
from hccrad.config.spec import StudySpec
from hccrad.core.cluster import check_scheduler
from hccrad.core.errors import ClusterError, HccradError
from hccrad.pipeline.inspection_cache import InspectionCache, cached_case_problems
from hccrad.pipeline.preprocess_checks import preprocess_problems
from hccrad.preprocess.inspect import InputProblem, inspect_case_images

# derived-score inputs that are measurements (numbers); the others (Child–Pugh class, ascites grade,
# invasion yes/no) may be labels, which the score functions themselves check
_NUMERIC_INPUTS = {"bilirubin", "albumin", "platelets", "inr", "number", "largest_diameter", "neutrophils",
                   "lymphocytes", "afp", "crp", "ps"}


def render(problem: InputProblem) -> str:
    """One problem as text: severity, case, file, field, message and the hint on its own line."""
    where = [f"case {problem.case_id!r}" if problem.case_id else "", f"file {problem.file}" if problem.file else "",
             f"field {problem.field!r}" if problem.field else ""]
    text = f"{problem.severity}: " + (", ".join(w for w in where if w) + ": " if any(where) else "") + problem.message
    return text + (f"\n    how to fix: {problem.hint}" if problem.hint else "")


class PreflightError(HccradError):
    """The preflight found errors: `problems` holds all of them (and the warnings)."""

    def __init__(self, problems: list[InputProblem]) -> None:
        self.problems = list(problems)
        errors = [p for p in self.problems if p.severity == "error"]
        body = f"{len(errors)} input problem(s) found before the run started:\n" + "\n".join(
            "  - " + render(p).replace("\n", "\n  ") for p in errors)
        super().__init__(body, hint="fix them and check again with `hccrad validate study.yaml`")


def errors_of(problems: Iterable[InputProblem]) -> list[InputProblem]:
    return [p for p in problems if p.severity == "error"]


def refuse_on_errors(problems: list[InputProblem]) -> list[InputProblem]:
    """Raise `PreflightError` when any problem is an error; otherwise return the warnings."""
    if errors_of(problems):
        raise PreflightError(problems)
    return [p for p in problems if p.severity != "error"]


def problems_as_records(problems: Iterable[InputProblem]) -> list[dict]:
    """JSON-able rows (for run.json)."""
    return [asdict(p) for p in problems]


def preflight(spec: StudySpec, *, workers: int = 2, inspections: InspectionCache | None = None) -> list[InputProblem]:
    """Every input problem of `spec` (errors and warnings), found in one pass; see the module docstring.
    `inspections`: a run's cache of the per-case image checks, keyed by the files' digests."""
    return _input_problems(spec, workers=workers, inspections=inspections) + scheduler_problems(spec)


def scheduler_problems(spec: StudySpec) -> list[InputProblem]:
    """An error when `validation.scheduler` names a Dask scheduler that cannot be reached (a TCP connect)."""
    if spec.validation.scheduler is None:
        return []
    try:
        check_scheduler(spec.validation.scheduler, field="validation.scheduler")
    except ClusterError as exc:
        return [InputProblem(None, "study spec", "validation.scheduler", exc.message, exc.hint or "")]
    return []


def _input_problems(spec: StudySpec, *, workers: int, inspections: InspectionCache | None = None) -> list[InputProblem]:
    problems = [InputProblem(None, None, None, text) for text in check_inputs(spec)]
    if problems:  # a file or column the spec names is missing: the table cannot be built from it
        return problems
    problems += recode_value_problems(spec)
    problems += duplicate_id_problems(spec)
    if problems:
        return problems
    table, table_problems = _study_table(spec)
    problems += table_problems
    if table is None:
        return problems
    problems += outcome_problems(spec, table)
    problems += column_type_problems(spec, table)
    problems += case_errors_left_out(spec, image_problems(spec, table, workers=workers, inspections=inspections)
                                     + preprocess_problems(spec, table), n_cases=len(table))
    return problems


MAX_LEFT_OUT_FRACTION = 0.2  # above it, failing cases are a systematic problem: refused whatever the policy
LEFT_OUT_PREFIX = "left out of the run: "


def case_errors_left_out(spec: StudySpec, problems: list[InputProblem], *, n_cases: int) -> list[InputProblem]:
    """Per-case image/mask errors as warnings ("left out of the run: ...") under `data.on_case_error:
    leave_out`, unless more than `MAX_LEFT_OUT_FRACTION` of the cases fail (then they stay errors, with one
    more error saying why)."""
    bad = {p.case_id for p in problems if p.severity == "error" and p.case_id is not None}
    if spec.data.on_case_error != "leave_out" or not bad:
        return problems
    if len(bad) > MAX_LEFT_OUT_FRACTION * n_cases:
        return problems + [InputProblem(None, "manifest", "cases", (
            f"{len(bad)} of {n_cases} cases have unusable images or masks (more than "
            f"{MAX_LEFT_OUT_FRACTION:.0%}): too many to leave out"), "a systematic problem (wrong folder, "
            "export or mask convention?): fix the inputs listed above")]
    return [replace(p, severity="warning", message=LEFT_OUT_PREFIX + p.message)
            if p.severity == "error" and p.case_id is not None else p for p in problems]


def cases_left_out_by_preflight(problems: Iterable[InputProblem]) -> pd.DataFrame:
    """The left-out table rows (case_id, stage, error, message) of the cases `case_errors_left_out` left out,
    one per case (its problems joined)."""
    rows: dict[str, list[str]] = {}
    for p in problems:
        if p.severity == "warning" and p.case_id is not None and p.message.startswith(LEFT_OUT_PREFIX):
            rows.setdefault(p.case_id, []).append(f"{p.file} ({p.field}): {p.message[len(LEFT_OUT_PREFIX):]}")
    return pd.DataFrame([{"case_id": c, "stage": "inputs", "error": "InputProblem", "message": "; ".join(m)}
                         for c, m in rows.items()], columns=["case_id", "stage", "error", "message"])


def recode_value_problems(spec: StudySpec) -> list[InputProblem]:
    """Values of a `data.recode` column that its value table does not cover (file, column, every value)."""
    return [InputProblem(None, file, column, message, hint) for file, column, message, hint in recode_problems(spec)]


def duplicate_id_problems(spec: StudySpec) -> list[InputProblem]:
    """Ids that occur more than once in a manifest, across manifests, or in the clinical table."""
    idc, problems = spec.data.id_column, []
    seen: dict[str, str] = {}
    for path in spec.data.manifests.values():
        ids = _read_table(path, spec.data, "manifest")[idc].astype(str)
        dup = sorted(set(ids[ids.duplicated()]) | {i for i in ids if i in seen})
        if dup:
            problems.append(InputProblem(", ".join(dup[:20]), str(path), idc,
                                         f"duplicated case id(s) in the manifest(s): {dup[:20]}",
                                         "each manifest row must be one case (lesion) with a unique id across "
                                         "cohorts"))
        seen.update({i: str(path) for i in ids})
    if spec.data.clinical is not None:
        ids = _read_table(spec.data.clinical, spec.data, "clinical")[idc].astype(str)
        dup = sorted(set(ids[ids.duplicated()]))
        if dup:
            problems.append(InputProblem(", ".join(dup[:20]), str(spec.data.clinical), idc,
                                         f"duplicated id(s) in the clinical table: {dup[:20]}",
                                         "keep one row per patient in the clinical table"))
    return problems


def _study_table(spec: StudySpec) -> tuple[pd.DataFrame | None, list[InputProblem]]:
    """The joined table with the event column as read (its coding is checked here, not raised there)."""
    try:
        return Study(spec, decode_events=False).table, []
    except HccradError as exc:
        problems = getattr(exc, "problems", None) or [exc.message]
        return None, [InputProblem(exc.case, exc.file, exc.field, str(p), exc.hint or "") for p in problems]
    except (TypeError, ValueError, KeyError) as exc:  # e.g. a derived score fed a column it cannot read
        return None, [InputProblem(None, str(spec.data.clinical or ""), "derive" if spec.derive else None,
                                   f"the study table cannot be built: {type(exc).__name__}: {exc}",
                                   "check the column types of the clinical table against their use")]


def _file_of(spec: StudySpec, column: str) -> str | None:
    return str(spec.data.clinical) if spec.data.clinical is not None else \
        ", ".join(str(p) for p in spec.data.manifests.values()) or None


def outcome_problems(spec: StudySpec, table: pd.DataFrame) -> list[InputProblem]:
    return _response_problems(spec, table) + _survival_problems(spec, table)


def _response_problems(spec: StudySpec, table: pd.DataFrame) -> list[InputProblem]:
    r = spec.outcome.response
    if r is None or r.column not in table.columns:
        return []
    file, field = _file_of(spec, r.column), f"outcome.response ({r.column})"
    values = table[r.column].astype(object)
    y = code_levels(table[r.column], r.coding)
    problems = []
    for case_id in y.index[y.isna()]:
        problems.append(InputProblem(str(case_id), file, r.column,
                                     f"{leave_out_reason(values.loc[case_id], r.coding)}: left out of the "
                                     f"{r.label} analyses", severity="warning"))
    undeclared = undeclared_values(table[r.column], r.coding)
    found = undeclared.astype(str).value_counts().to_dict()
    train = y[table["cohort"] == spec.cohorts.training].dropna()
    n_pos, n_neg = int((train == 1).sum()), int((train == 0).sum())
    if n_pos == 0 or n_neg == 0:
        seen = sorted({str(v) for v in values if level_key(v) is not None})[:10]
        problems.append(InputProblem(
            None, file, field,
            f"coded by the declared levels {r.coding}, the training cohort has {n_pos} positive and {n_neg} "
            f"negative case(s) (values found: {seen}; undeclared: {found})",
            "declare the levels as written in the table, e.g. outcome.response.levels: "
            + "{" + ", ".join(f'"{v}": 0 or 1' for v in list(found)[:4]) + "}" if found else
            "check the outcome column and its positive/negative values"))
    if spec.deep is not None and y.isna().any():
        problems.append(InputProblem(", ".join(map(str, y.index[y.isna()][:20])), file, field,
                                     f"the deep stage needs a {r.label} for every case; {int(y.isna().sum())} "
                                     "case(s) have none",
                                     "fill the outcome or remove those cases from the manifest"))
    return problems


def _survival_problems(spec: StudySpec, table: pd.DataFrame) -> list[InputProblem]:
    sv = spec.outcome.survival
    if sv is None:
        return []
    file, problems = _file_of(spec, sv.event), []
    if sv.event in table.columns:
        bad = undeclared_values(table[sv.event], sv.event_coding)
        if len(bad):
            codes = sorted({str(v) for v in bad})
            r_style = {level_key(v) for v in table[sv.event].dropna()} <= {1.0, 2.0}
            problems.append(InputProblem(
                ", ".join(map(str, bad.index[:20])), file, f"outcome.survival.event ({sv.event})",
                f"event value(s) {codes} are not declared event codes {sv.event_coding} "
                f"({len(bad)} case(s), first {bad.index[0]!r})",
                "declare outcome.survival.event_codes: {1: 0, 2: 1} (R's 1 = censored, 2 = event)" if r_style
                else "code events 0 = censored, 1 = event, or declare outcome.survival.event_codes"))
        for case_id in table.index[table[sv.event].isna()]:
            problems.append(InputProblem(str(case_id), file, sv.event,
                                         f"blank event: left out of the {sv.label} analyses", severity="warning"))
    if sv.time in table.columns:
        problems += _numeric_problems(table, sv.time, f"outcome.survival.time ({sv.time})", file)
        time = pd.to_numeric(table[sv.time], errors="coerce")
        if (time < 0).any():
            first = time.index[time < 0][0]
            problems.append(InputProblem(str(first), file, sv.time,
                                         f"{int((time < 0).sum())} negative survival time(s), first {time[first]}",
                                         "times are >= 0: from the index date to the event or last follow-up"))
        for case_id in table.index[table[sv.time].isna()]:
            problems.append(InputProblem(str(case_id), file, sv.time,
                                         f"blank time: left out of the {sv.label} analyses", severity="warning"))
    return problems


def _numeric_problems(table: pd.DataFrame, column: str, use: str, file: str | None, *,
                      blanks: str | None = None) -> list[InputProblem]:
    """A non-numeric value in `column` (an error naming the first bad row); blanks as `blanks` severity."""
    col = table[column]
    if isinstance(col.dtype, pd.CategoricalDtype):
        col = col.astype(object)
    num = pd.to_numeric(col, errors="coerce")
    bad = col.notna() & num.isna()
    problems = []
    if bad.any():
        first = bad.index[bad][0]
        problems.append(InputProblem(str(first), file, column,
                                     f"{use}: column {column!r} is not numeric ({int(bad.sum())} value(s), first "
                                     f"{col[first]!r} in row {first!r})",
                                     "code it as numbers (e.g. 0/1 for yes/no), declare it categorical "
                                     "(data.categorical), or derive an ordered category with derive:"))
    if blanks is not None and col.isna().any():
        missing = col.index[col.isna()]
        problems.append(InputProblem(", ".join(map(str, missing[:20])), file, column,
                                     f"{use}: {len(missing)} blank value(s) in {column!r}, first row {missing[0]!r}"
                                     + ("" if blanks == "error" else "; those cases are left out (complete case)"),
                                     "fill them, or remove the cases from the manifest" if blanks == "error" else "",
                                     severity=blanks))
    return problems


def _model_predictors(spec: StudySpec, table: pd.DataFrame) -> list[tuple[str, str]]:
    """(column, use) of every clinical predictor and explicit feature column that is a table column."""
    out = []
    for m in spec.models:
        explicit = m.features if isinstance(m.features, list) else []
        for col in [*m.clinical, *[f for f in explicit if f not in ("habitat", "radiomics")]]:
            if col in table.columns:
                out.append((col, f"model {m.name!r} predictor"))
    return out


def column_type_problems(spec: StudySpec, table: pd.DataFrame) -> list[InputProblem]:
    """Columns whose type does not fit their use (see the module docstring, item 5)."""
    sv = spec.outcome.survival
    clinical = [c for m in spec.models for c in m.clinical]  # dummy-coded in the models; feature columns are not
    codings = codings_for(clinical + (sv.covariates if sv else []), table, spec.data.categorical)
    problems, done = _predictor_problems(spec, table, codings)
    if sv is not None:
        problems += _covariate_problems(spec, table, codings, done)
        for col in sv.compare_with:
            if col in table.columns:
                problems += _staging_column_problems(spec, table, col)
    problems += [InputProblem(None, _file_of(spec, col), f"data.categorical.{col}",
                              f"data.categorical declares {col!r}, which is not a column of the study table",
                              "check the name (after data.columns renames it)")
                 for col in spec.data.categorical if col not in table.columns]
    problems += _derive_input_problems(spec, table)
    return problems


def _predictor_problems(spec: StudySpec, table: pd.DataFrame, codings) -> tuple[list[InputProblem], set[str]]:
    """Model predictors: categorical ones against their levels, the others as numbers; blanks are errors.
    Also the columns checked (a column used by two models is reported once)."""
    problems: list[InputProblem] = []
    done: set[str] = set()
    for col, use in _model_predictors(spec, table):
        if col not in done:
            done.add(col)
            problems += _categorical_problems(table, codings[col], use, _file_of(spec, col), blanks="error",
                                              training=spec.cohorts.training) \
                if col in codings else _numeric_problems(table, col, use, _file_of(spec, col), blanks="error")
    return problems, done


def _covariate_problems(spec: StudySpec, table: pd.DataFrame, codings, done: set[str]) -> list[InputProblem]:
    """Cox covariates (blanks leave the case out of the Cox model: a warning)."""
    problems: list[InputProblem] = []
    for col in spec.outcome.survival.covariates:
        if col in codings and col not in done:
            problems += _categorical_problems(table, codings[col], "Cox covariate", _file_of(spec, col),
                                              blanks="warning", training=spec.cohorts.training)
        elif col in table.columns and col not in codings:
            problems += _numeric_problems(table, col, "Cox covariate", _file_of(spec, col), blanks="warning")
    return problems


def _staging_column_problems(spec: StudySpec, table: pd.DataFrame, col: str) -> list[InputProblem]:
    """A staging column compared with the model (compare_with) must be ordered: declared ordered levels,
    an ordered category, or numbers."""
    dtype = table[col].dtype
    declared = spec.data.categorical.get(col)
    if declared is not None:  # a text stage with declared ordered levels (data.categorical)
        problems = _categorical_problems(table, coding_of(col, table[col], declared),
                                         "staging column (compare_with)", _file_of(spec, col), blanks=None)
        if not declared.ordered:
            problems.append(InputProblem(None, _file_of(spec, col), f"data.categorical.{col}",
                                         f"staging column {col!r} (compare_with) is declared categorical "
                                         "without an order", "add ordered: true (levels from least to "
                                         "most advanced)"))
        return problems
    if isinstance(dtype, pd.CategoricalDtype):
        if dtype.ordered:
            return []
        return [InputProblem(None, _file_of(spec, col), col,
                             f"staging column {col!r} (compare_with) is an unordered category",
                             "give an ordered stage column")]
    return _numeric_problems(table, col, "staging column (compare_with)", _file_of(spec, col))


def _levels_without_training_cases(table: pd.DataFrame, coding: Coding, use: str, file: str | None,
                                   training: str, severity: str) -> list[InputProblem]:
    """Levels of `coding` that no training case holds: the model has no coefficient for them, so it cannot
    be fitted (a declared level) or cannot score the other cohorts' cases that hold them."""
    text = as_levels(table[coding.column])
    in_training = set(text[table["cohort"] == training].dropna())
    absent = [lv for lv in coding.levels if lv not in in_training]
    if not absent:
        return []
    cases = text.index[text.isin(absent)]
    return [InputProblem(", ".join(map(str, cases[:20])) or None, file, coding.column, (
        f"{use}: level(s) {absent} of {coding.column!r} have no case in the training cohort "
        + (f"({len(cases)} case(s) of other cohorts hold them, first {cases[0]!r}): the model cannot score them"
           if len(cases) else "(declared, found in no case): their OR/HR cannot be estimated")),
        "merge the level with another (data.recode), or drop it from data.categorical levels",
        severity=severity)]


def _categorical_problems(table: pd.DataFrame, coding: Coding, use: str, file: str | None, *,
                          blanks: str | None, training: str = "training") -> list[InputProblem]:
    """A categorical predictor: values outside its declared levels (an error listing them with their counts),
    blanks (`blanks` severity), and, when inferred from a text column, a warning naming the levels."""
    col, problems = coding.column, []
    if not coding.declared:
        problems.append(InputProblem(None, file, col, (
            f"{use}: text column {col!r} is taken as categorical with levels {list(coding.levels)} (sorted), "
            f"reference {coding.reference!r}: dummy-coded, one OR/HR per level against the reference"),
            f"to choose the levels or the reference, declare data.categorical: {{{col}: {{levels: [...], "
            "reference: ...}}", severity="warning"))
    if coding.reference not in coding.levels:  # a declared reference without declared levels, not in the data
        problems.append(InputProblem(None, file, f"data.categorical.{col}", (
            f"{use}: reference {coding.reference!r} of {col!r} is not among its levels {list(coding.levels)}"),
            "name one of the levels as reference (as written in the table)"))
    outside = values_outside(table[col], coding)
    if len(outside):
        counts = as_levels(outside).value_counts().to_dict()
        problems.append(InputProblem(", ".join(map(str, outside.index[:20])), file, col, (
            f"{use}: value(s) outside the declared levels {list(coding.levels)} of {col!r}: {counts} "
            f"({len(outside)} case(s), first {outside.index[0]!r})"),
            "add the level to data.categorical, or recode the value with data.recode"))
    if "cohort" in table.columns and blanks is not None:
        problems += _levels_without_training_cases(table, coding, use, file, training,
                                                   "error" if blanks == "error" else "warning")
    missing = table.index[table[col].isna()] if blanks is not None else []
    if len(missing):
        problems.append(InputProblem(", ".join(map(str, missing[:20])), file, col,
                                     f"{use}: {len(missing)} blank value(s) in {col!r}, first row {missing[0]!r}"
                                     + ("" if blanks == "error" else "; those cases are left out (complete case)"),
                                     "fill them, or remove the cases" if blanks == "error" else "",
                                     severity=blanks))
    return problems


def _derive_input_problems(spec: StudySpec, table: pd.DataFrame) -> list[InputProblem]:
    if spec.derive is None:
        return []

    problems = []
    for s in spec.derive.scores:
        for key, col in _input_fields(s).items():
            if key in _NUMERIC_INPUTS and col in table.columns:
                problems += _numeric_problems(table, col, f"derive {s.score} input {key}", _file_of(spec, col))
    for b in spec.derive.bins:
        if b.column in table.columns:
            problems += _numeric_problems(table, b.column, "derive bin input", _file_of(spec, b.column))
    return problems


def image_problems(spec: StudySpec, table: pd.DataFrame, *, workers: int = 2,
                   inspections: InspectionCache | None = None) -> list[InputProblem]:
    """Per-case image and mask checks (`hccrad.preprocess.inspect.inspect_case_images`: every file read in full,
    geometry against the reference phase, binary non-empty masks), `workers` cases at a time; with a
    cache of a run's output folder (`inspections`), only the cases whose files changed since they were checked
    (`hccrad.pipeline.inspection_cache`)."""
    if not spec.data.has_imaging:
        return []
    jobs = [(str(case_id), *case_files(spec, row)) for case_id, row in table.iterrows()]
    options = {"reference": f"image_{spec.data.reference_phase}",
               "multilabel_masks": (f"mask_{spec.data.liver_mask}",) if spec.data.liver_mask else (),
               "alignment_mask": f"mask_{spec.data.tumor_mask}" if spec.preprocess.registration == "none" else None}
    found = cached_case_problems(jobs, options, partial(_inspect_cases, options=options, workers=workers),
                                 inspections)  # issue 24: a warm rerun reads no file here
    return [p for case in found for p in case]


def _inspect_cases(jobs: list[tuple[str, dict, dict]], *, options: dict, workers: int) -> list[list[InputProblem]]:
    if workers <= 1 or len(jobs) < 2 * workers:
        return [_inspect_case(job, options) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_inspect_case, jobs, [options] * len(jobs), chunksize=max(1, len(jobs) // (8 * workers))))


def _inspect_case(job: tuple[str, dict, dict], options: dict) -> list[InputProblem]:
    case_id, images, masks = job
    return inspect_case_images(case_id, images, masks, **options)


def format_problems(problems: list[InputProblem]) -> str:
    return "\n".join(render(p) for p in problems)


__all__ = ["InputProblem", "PreflightError", "preflight", "refuse_on_errors", "problems_as_records",
           "format_problems", "errors_of", "case_errors_left_out", "cases_left_out_by_preflight"]
