"""Per-case labels of the CNN stage's tasks: response, survival-interval classes, subtype (seed 002).

Seed 002 trains one MobileNet with several heads on a shared feature extractor: the MTM subtype and the
1-, 2-, 3- and > 3-year overall-survival classes. `stage_targets` builds those labels from a study:

* ``response`` (always; first task, the one CV is stratified on): the study's binary response;
* ``survival`` (when `DeepSpec.survival_intervals` is set): `survival_interval_classes` of the study's
  survival time/event with cuts c_1 < … < c_m (in `outcome.survival.unit`): class j < m = death in
  (c_j−1, c_j], class m = alive beyond c_m. **Censoring rule**: a patient censored at t ≥ c_m is known to
  be in class m; one censored at t < c_m has an unknown class — missing (NaN → label −1), masked in the
  multitask loss, never guessed. A missing time or event is also a missing label;
* ``subtype`` (when `DeepSpec.subtype` is set): 1 where the clinical column equals ``positive``, 0
  elsewhere, NaN (missing, masked) where the column is empty (seed 002: MTM is known only after resection).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from hccrad.clinical.coding import is_positive
from hccrad.core.errors import DataError, SpecError
from hccrad.deep.data import survival_interval_classes
from hccrad.deep.networks import Task
from hccrad.deep.spec import DeepSpec

log = logging.getLogger(__name__)

__all__ = ["RESPONSE", "SUBTYPE", "SURVIVAL", "stage_targets", "task_class_names"]

RESPONSE, SURVIVAL, SUBTYPE = "response", "survival", "subtype"


def task_class_names(task: str, spec: DeepSpec) -> list[str]:
    """Readable class names of a task, e.g. survival with cuts [12, 24, 36]: ≤12, 12–24, 24–36, >36."""
    if task == SURVIVAL and spec.survival_intervals:
        c = [f"{v:g}" for v in spec.survival_intervals]
        return [f"≤{c[0]}"] + [f"{a}–{b}" for a, b in zip(c, c[1:])] + [f">{c[-1]}"]
    if task == SUBTYPE and spec.subtype is not None:
        return [f"non-{spec.subtype.column}", f"{spec.subtype.column}"]
    return ["negative", "positive"] if task == RESPONSE else ["0", "1"]


def _survival(study, spec: DeepSpec, ids: list[str]) -> pd.Series:
    surv = study.spec.outcome.survival
    if surv is None:
        raise SpecError(["deep.survival_intervals needs outcome.survival (time and event columns) in the spec"])
    missing = [c for c in (surv.time, surv.event) if c not in study.table.columns]
    if missing:
        raise SpecError([f"deep.survival_intervals: survival column(s) {missing} are not in the clinical table"])
    t = pd.to_numeric(study.table.loc[ids, surv.time], errors="coerce").to_numpy(dtype=float)
    e = pd.to_numeric(study.table.loc[ids, surv.event], errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(t) & np.isfinite(e)
    cls = np.full(len(ids), np.nan)
    if known.any():
        try:
            cls[known] = survival_interval_classes(t[known], e[known].astype(int), spec.survival_intervals)
        except DataError as exc:
            raise DataError(exc.message, field=f"{surv.time}/{surv.event}", hint=exc.hint) from exc
    return pd.Series(cls, index=ids, name=SURVIVAL)


def _subtype(study, spec: DeepSpec, ids: list[str]) -> pd.Series:
    st = spec.subtype
    if st.column not in study.table.columns:
        raise SpecError([f"deep.subtype.column {st.column!r} is not a clinical column "
                         f"(have e.g. {list(study.table.columns)[:8]})"])
    col = study.table.loc[ids, st.column]
    y = is_positive(col, st.positive).astype(float)
    y[col.isna()] = np.nan
    return pd.Series(y.to_numpy(), index=ids, name=SUBTYPE)


def stage_targets(study, spec: DeepSpec, ids: list[str], train_ids: list[str]
                  ) -> tuple[pd.DataFrame, tuple[Task, ...]]:
    """Per-case labels (index case_id; columns response, [survival], [subtype]; NaN = missing) and tasks.

    Raises `SpecError` naming the deep.* key when a task's column is absent, and `DataError` when a task
    has no known label in the training cohort (the head could not learn anything).
    """
    table = pd.DataFrame({RESPONSE: study.outcome(ids).astype(float)}, index=pd.Index(ids, name="case_id"))
    tasks = [Task(RESPONSE, 2)]
    if spec.survival_intervals:
        table[SURVIVAL] = _survival(study, spec, ids)
        tasks.append(Task(SURVIVAL, len(spec.survival_intervals) + 1))
    if spec.subtype is not None:
        table[SUBTYPE] = _subtype(study, spec, ids)
        tasks.append(Task(SUBTYPE, 2))
    for t in tasks[1:]:
        known = table.loc[train_ids, t.name].dropna()
        key = "deep.survival_intervals" if t.name == SURVIVAL else "deep.subtype"
        if known.empty:
            raise DataError(f"task {t.name!r} has no known label in the training cohort", field=key,
                            hint="check the column, or remove the task from the deep section")
        counts = np.bincount(known.to_numpy(dtype=int), minlength=t.n_classes)
        log.info("task %s: %d of %d training cases labelled, classes %s", t.name, len(known), len(train_ids),
                 counts.tolist())
        if (counts == 0).any():
            log.warning("task %s: class(es) %s absent from the training cohort", t.name,
                        np.flatnonzero(counts == 0).tolist())
    return table, tuple(tasks)
