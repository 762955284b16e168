"""One shape for every stage of a study run: ``Stage.run(context) -> result``, and one runner that times each
stage, reports its progress, collects the cases it left out into the error table and its entry for run.json.

A stage is a small object with a ``name`` (the key of its timing in run.json's ``timings_s`` and of its
result in the context) and a ``run(context)`` that reads the spec, the study and earlier stages' results
from the :class:`StageContext` and returns a typed result (a frozen or plain dataclass of
`hccrad.pipeline`: `ImagingResult`, `RadiomicsResult`, `FittedModels`, `Evaluation`, `SurvivalResult`,
`DeepStageResult`, ...). The runner (:func:`run_stage`):

- times the stage with ``time.perf_counter`` (one clock per stage: a stage's time never includes
  another's) and stores it in ``context.timings[name]``;
- logs the stage's start and its time (stages with many cases report their progress themselves through
  ``context.progress``, the CLI's bars or plain lines);
- appends the result's ``errors`` table (cases the stage left out: case_id, stage, error, message) to
  ``context.errors``, from which run.json's ``cases_left_out`` and the report's table are built;
- stores the result under ``context.results[name]`` for the later stages and the report.

Per-case caching stays inside the stages that work per case (`hccrad.pipeline.cache`: imaging, radiomics,
registration), because only they know a case's inputs. The report layer only reads results.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, TypeVar

import pandas as pd

from hccrad.cohort.study import Study
from hccrad.config.spec import StudySpec

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]
R = TypeVar("R", covariant=True)
ERROR_COLUMNS = ["case_id", "stage", "error", "message"]


@dataclass
class StageContext:
    """What the stages of one run share: the inputs, the results so far, timings and left-out cases."""

    spec: StudySpec
    study: Study
    out: Path
    progress: Progress | None = None
    results: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    errors: list[pd.DataFrame] = field(default_factory=list)

    def result(self, name: str) -> Any:
        """The result of an earlier stage, None when that stage did not run in this study."""
        return self.results.get(name)

    def error_table(self) -> pd.DataFrame:
        """Every case left out so far, one row per (case, stage, reason)."""
        kept = [e for e in self.errors if len(e)]
        return pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=ERROR_COLUMNS)


class Stage(Protocol[R]):
    """A step of the study run (see the module docstring)."""

    name: str

    def run(self, context: StageContext) -> R: ...


def run_stage(context: StageContext, stage: Stage[R]) -> R:
    """Run one stage through the common runner: progress line, timing, left-out cases, result by name."""
    log.debug("stage %s: start", stage.name)
    start = time.perf_counter()
    result = stage.run(context)
    context.timings[stage.name] = time.perf_counter() - start
    errors = getattr(result, "errors", None)
    if isinstance(errors, pd.DataFrame) and len(errors):
        context.errors.append(errors)
    context.results[stage.name] = result
    log.debug("stage %s: %.2f s", stage.name, context.timings[stage.name])
    return result
