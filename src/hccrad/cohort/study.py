"""The `Study`: a validated spec, its manifest joined to the clinical table, named cohorts, lazy cases.

Cohorts come from the manifest/clinical column named in `cohorts.column`, or, when the data has no such
column, from a seeded stratified split (`cohorts.split_test_fraction`). The training cohort is the one every
data-driven step is fitted on; the others are only ever transformed with frozen state.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from hccrad.clinical.coding import is_positive  # noqa: F401  (re-exported: hccrad.cohort.study.is_positive)
from hccrad.clinical.derive import derive_columns
from hccrad.cohort.outcomes import code_levels, response_labels, undeclared_values
from hccrad.config.columns import Role, column_record, read_study_table
from hccrad.config.spec import CohortSpec, DataSpec, StudySpec
from hccrad.core.case import Case
from hccrad.core.errors import InputError, SpecError
from hccrad.core.ids import case_id_problem
from hccrad.preprocess.inspect import CaseInspection, inspect_and_load
from hccrad.io.volume import read_image

log = logging.getLogger(__name__)


def _read_table(path: Path, data: DataSpec | None = None, role: Role = "manifest") -> pd.DataFrame:
    """A manifest or the clinical table as the spec declares it (`hccrad.config.columns.read_study_table`:
    any supported format, sheet, missing markers, renamed columns, recoded values)."""
    return read_study_table(Path(path), data if data is not None else DataSpec(clinical=path), role)


def check_case_ids(frame: pd.DataFrame, id_column: str, path: Path | str | None) -> None:
    """Refuse ids that are blank, hold a path separator, '..', a leading '.' or a control character
    (`hccrad.core.ids.case_id_problem`), naming every offending row (row 1 = the first data row, which is
    line 2 of a CSV file with its header)."""
    bad = [f"row {i + 1} ({v!r}): {why}" for i, v in enumerate(frame[id_column].tolist())
           if (why := case_id_problem(v)) is not None]
    if bad:
        raise InputError(f"{len(bad)} invalid case id(s): " + "; ".join(bad[:20]) + (" …" if len(bad) > 20 else ""),
                         file=path, field=id_column,
                         hint="case ids name output files: use letters, digits, '-', '_' and '.', without '/', "
                              "'\\', '..' or a leading '.'")


def case_files(spec: StudySpec, row: pd.Series) -> tuple[dict[str, object], dict[str, object]]:
    """({"image_<phase>": path}, {"mask_<role>": path}) of one manifest row: every phase and the tumour mask
    (always: a blank cell is reported by the inspector), the second-reader and liver masks where the row
    names one. Used by `Study.image_files` and by the preflight, so both read the same files."""
    d = spec.data
    images = {f"image_{p}": row.get(f"image_{p}") for p in d.phases}
    masks = {f"mask_{d.tumor_mask}": row.get(f"mask_{d.tumor_mask}")}
    for role in (d.reader2_mask, d.liver_mask):
        value = row.get(f"mask_{role}") if role else None
        if isinstance(value, str) and value.strip():
            masks[f"mask_{role}"] = value
    return images, masks


def order_cohorts(cohort_of_case: pd.Series, cohorts: CohortSpec) -> list[str]:
    """Cohorts present among the cases, in report order: training, the test cohorts in the order the spec
    names them, then any other cohort in order of appearance."""
    present = list(dict.fromkeys(cohort_of_case))
    ordered = [cohorts.training] + [c for c in cohorts.tests if c in present]
    return ordered + [c for c in present if c not in ordered]


def _coded_events(table: pd.DataFrame, spec: StudySpec) -> pd.Series:
    """The survival event column coded 0/1 by `outcome.survival.event_codes` (blank stays NaN); an undeclared
    value is an InputError naming the cases (validate refuses it first)."""
    sv = spec.outcome.survival
    bad = undeclared_values(table[sv.event], sv.event_coding)
    if len(bad):
        raise InputError(f"event values {sorted(set(map(str, bad)))[:10]} are not declared event codes "
                         f"{sv.event_coding} (cases {bad.index.tolist()[:10]})", field=sv.event,
                         hint="code events 0 = censored, 1 = event, or declare outcome.survival.event_codes, "
                              "e.g. {1: 0, 2: 1} for R's 1/2 coding")
    return code_levels(table[sv.event], sv.event_coding)


@dataclass(frozen=True)
class Study:
    """A study ready to run. `table` has one row per case: manifest columns (absolute paths), clinical
    columns and a `cohort` column; it is indexed by case id."""

    spec: StudySpec
    decode_events: bool = True  # False: the survival event column as read (preflight checks its coding)
    left_out: tuple[str, ...] = ()  # cases the preflight left out (unusable images; reasons kept by the run)

    @cached_property
    def table(self) -> pd.DataFrame:
        """The cases the study analyses: `listed` without the cases the preflight left out."""
        listed = self.listed
        return listed.drop(index=[c for c in self.left_out if c in listed.index]) if self.left_out else listed

    @cached_property
    def listed(self) -> pd.DataFrame:
        """Every case of the manifest(s) (or of the clinical table of a clinical-only study)."""
        spec = self.spec
        idc = spec.data.id_column
        frames = []
        for cohort, path in spec.data.manifests.items():
            part = _read_table(path, spec.data, "manifest")
            if idc not in part.columns:
                raise InputError(f"manifest has no id column {idc!r}", file=path, field=idc,
                                 hint="set data.id_column to the column holding case ids")
            check_case_ids(part, idc, path)
            for col in part.columns:  # relative paths are relative to their own manifest's folder
                if col.startswith(("image_", "mask_")):
                    part[col] = [str((path.parent / p).resolve()) if isinstance(p, str) and not Path(p).is_absolute()
                                 else p for p in part[col]]
            if cohort is not None:
                column = spec.cohorts.column or "cohort"
                if column in part.columns and set(part[column].astype(str)) - {cohort}:
                    raise InputError(f"column {column!r} says {sorted(set(part[column].astype(str)))}, but this "
                                     f"manifest is declared as cohort {cohort!r}", file=path, field=column,
                                     hint="drop the column or fix data.cohort_manifests")
                part[column] = cohort
            frames.append(part)
        if not frames:  # clinical-only study: the clinical table is the case list
            clinical = _read_table(spec.data.clinical, spec.data, "clinical")
            if idc not in clinical.columns:
                raise InputError(f"clinical table has no id column {idc!r}", file=spec.data.clinical, field=idc,
                                 hint="set data.id_column to the column holding patient ids")
            check_case_ids(clinical, idc, spec.data.clinical)
            frames.append(clinical[[idc]].copy())
        manifest = pd.concat(frames, ignore_index=True)
        manifest[idc] = manifest[idc].astype(str)
        dup = manifest[idc][manifest[idc].duplicated()].tolist()
        if dup:
            raise InputError(f"duplicated case ids in the manifest(s): {dup[:10]}",
                             file=", ".join(str(p) for p in spec.data.manifests.values()), field=idc,
                             hint="each manifest row must be one case (lesion) with a unique id across cohorts")
        table = manifest.set_index(idc)
        if spec.data.clinical is not None:
            clinical = _read_table(spec.data.clinical, spec.data, "clinical")
            if idc not in clinical.columns:
                raise InputError(f"clinical table has no id column {idc!r}", file=spec.data.clinical,
                                 field=idc, hint="name the id column the same in manifest and clinical table")
            check_case_ids(clinical, idc, spec.data.clinical)
            clinical[idc] = clinical[idc].astype(str)
            dup_clinical = sorted(set(clinical[idc][clinical[idc].duplicated()]))
            if dup_clinical:
                raise InputError(f"duplicated case ids in the clinical table: {dup_clinical[:10]}",
                                 file=spec.data.clinical, field=idc,
                                 hint="keep one row per patient in the clinical table")
            clinical = clinical.set_index(idc)
            missing = sorted(set(table.index) - set(clinical.index))
            if missing:
                raise InputError(f"{len(missing)} case(s) of the manifest have no clinical row: {missing[:10]}",
                                 file=spec.data.clinical, field=idc,
                                 hint="add the cases to the clinical table or remove them from the manifest")
            overlap = [c for c in clinical.columns if c in table.columns]
            table = table.join(clinical.drop(columns=overlap), how="left")
            for c in overlap:  # prefer the clinical table's value when both name a column
                table[c] = clinical.loc[table.index, c]
        if spec.derive is not None:  # declared, not fitted: the same definitions in every cohort
            table, record = derive_columns(table, spec.derive)
            object.__setattr__(self, "_derive_record", record)
        if self.decode_events and spec.outcome.survival is not None and spec.outcome.survival.event in table.columns:
            table[spec.outcome.survival.event] = _coded_events(table, spec)
        table["cohort"] = self._cohorts(table)
        return table

    @property
    def column_record(self) -> dict | None:
        """What `data.columns` / `missing_values` / `recode` / `row_ids` / sheets did, for run.json."""
        return column_record(self.spec.data, self.table)

    @property
    def derive_record(self) -> dict | None:
        """What `derive:` added (columns, inputs, units, missing counts), for run.json."""
        _ = self.table
        return getattr(self, "_derive_record", None)

    def _cohorts(self, table: pd.DataFrame) -> pd.Series:
        c = self.spec.cohorts
        if c.column and c.column in table.columns:
            cohort = table[c.column].astype(str)
            known = {c.training, *c.tests}
            unknown = sorted(set(cohort) - known)
            if c.tests and unknown:
                log.warning("cohorts %s are not named in cohorts.tests; they are evaluated after the named "
                            "test cohorts", unknown)
            if c.training not in set(cohort):
                raise SpecError([f"cohorts.training: no case has cohort {c.training!r} in column {c.column!r} "
                                 f"(found {sorted(set(cohort))})"])
            if not c.tests:
                return cohort.where(cohort == c.training, other="test")
            return cohort
        if c.split_test_fraction is None:
            return pd.Series(c.training, index=table.index)
        rng = np.random.default_rng(self.spec.seed)
        labels = pd.Series(c.training, index=table.index)
        strat = None
        if self.spec.outcome.response and self.spec.outcome.response.column in table.columns:
            # by coded outcome; the cases left out of the outcome's analyses form a stratum of their own
            strat = response_labels(self.spec, table).fillna(-1.0)
        groups = [table.index] if strat is None else [table.index[strat == v] for v in sorted(strat.unique())]
        for idx in groups:
            n_test = int(round(len(idx) * c.split_test_fraction))
            labels.loc[rng.permutation(np.asarray(idx))[:n_test]] = "test"
        return labels

    @property
    def n_cases_listed(self) -> int:
        """Cases in the manifest(s), including those left out by the preflight (`left_out`)."""
        return len(self.listed)

    @property
    def cohort_names(self) -> list[str]:
        """The cohorts present, in report order (see `order_cohorts`)."""
        return order_cohorts(self.table["cohort"], self.spec.cohorts)

    def case_ids(self, cohort: str | None = None) -> list[str]:
        t = self.table
        return list(t.index if cohort is None else t.index[t["cohort"] == cohort])

    def outcome(self, case_ids: list[str] | None = None) -> np.ndarray:
        """Binary response (1 = positive, by the declared levels) for the cases, raising when one of them
        is blank or not a declared level (see `analysed_case_ids` for the cases that have one)."""
        r = self.spec.outcome.response
        if r is None:
            raise SpecError(["outcome.response is not declared"])
        col = self.table.loc[case_ids if case_ids is not None else self.table.index, r.column]
        y = code_levels(col, r.coding)
        bad = y.index[y.isna()].tolist()
        if bad:
            raise InputError(f"no declared outcome level for {len(bad)} case(s): {bad[:10]} "
                             f"(values {sorted(set(map(str, col.loc[bad])))[:10]})", field=r.column,
                             hint="fill the outcome, declare its levels (outcome.response.levels) or remove "
                                  "the cases from the manifest")
        return y.to_numpy(dtype=int)

    def analysed_case_ids(self, cohort: str | None = None) -> list[str]:
        """The cases (of a cohort) whose response is a declared level: those the response analyses use."""
        ids = self.case_ids(cohort)
        if self.spec.outcome.response is None:
            return ids
        y = response_labels(self.spec, self.table.loc[ids])
        return [c for c in ids if not np.isnan(y.loc[c])]

    def load_case(self, case_id: str, masks: tuple[str, ...] | None = None) -> Case:
        """Read a case's phases and masks (NIfTI/NRRD/MHA) into a `Case`."""
        row = self.table.loc[case_id]
        spec = self.spec.data
        images = {p: read_image(row[f"image_{p}"], name=p, case=case_id) for p in spec.phases}
        wanted = masks if masks is not None else tuple(
            m for m in (spec.tumor_mask, spec.liver_mask, spec.reader2_mask) if m
        )
        mask_imgs = {}
        for m in wanted:
            col = f"mask_{m}"
            if col in row.index and isinstance(row[col], str) and row[col]:
                mask_imgs[m] = read_image(row[col], name=m, case=case_id)
        clinical = {k: v for k, v in row.items() if not str(k).startswith(("image_", "mask_"))}
        return Case(case_id=case_id, images=images, masks=mask_imgs, clinical=clinical,
                    cohort=str(row["cohort"]), patient_id=str(row.get("patient_id", case_id)))

    def image_files(self, case_id: str) -> tuple[dict[str, str], dict[str, str]]:
        """(images, masks) of a case as manifest role → path: every `image_<phase>` of the spec, the tumour
        mask (always; blank is a problem) and the liver / second-reader masks when the manifest names one."""
        return case_files(self.spec, self.table.loc[case_id])

    def inspect_case(self, case_id: str, *, verify: bool = True) -> CaseInspection:
        """Read the case's files once and list every problem (`hccrad.preprocess.inspect`): readability with full
        decompression, grids against the reference phase, tumour-mask labels {0, data.mask_label} (the liver
        mask may hold any labels: every non-zero voxel is liver), empty masks, near-constant images. `verify=False`:
        no full-payload check (bytes verified before; `hccrad.preprocess.inspect.inspect_and_load`)."""
        spec = self.spec.data
        images, masks = self.image_files(case_id)
        return inspect_and_load(case_id, images, masks, reference=f"image_{spec.reference_phase}",
                                mask_label=spec.mask_label,
                                multilabel_masks={f"mask_{spec.liver_mask}"} if spec.liver_mask else set(),
                                verify=verify)

    def case_from_inspection(self, inspection: CaseInspection) -> Case:
        """The `Case` built from the volumes an inspection read (so the run reads no file twice)."""
        cid = inspection.case_id
        row = self.table.loc[cid]
        images = {role.removeprefix("image_"): img for role, img in inspection.images.items()}
        masks = {role.removeprefix("mask_"): img for role, img in inspection.masks.items()}
        clinical = {k: v for k, v in row.items() if not str(k).startswith(("image_", "mask_"))}
        return Case(case_id=cid, images=images, masks=masks, clinical=clinical, cohort=str(row["cohort"]),
                    patient_id=str(row.get("patient_id", cid)))
