"""Saving a report's figures (PNG, then SVG) in this process or in forked child processes (issue 24).

Saving is most of a report's time: each `savefig(..., bbox_inches="tight")` draws the figure twice (once to
measure the tight box, once to write), and every figure is written twice (PNG at 110 dpi, SVG). The figure
is complete once the report writer hands it over, so with ``jobs > 1`` each figure is saved by a child
process forked at that moment (`multiprocessing`'s "fork" context: the child holds a copy of the figure and
of matplotlib's state, nothing is pickled), while this process goes on building the next one; at most
``jobs`` children run at once. A child does exactly what this process would do (the same calls on the same
figure, PNG before SVG), so the files are byte-for-byte those of a serial save.

A forked child costs more CPU time than the same save in this process (its caches start from this process's
state, and the pages it touches are copied): measured ~1.3x. Parallel saving therefore pays only where the
CPUs are idle; `usable_jobs` caps the jobs by the CPUs idle right now (`/proc/stat` over 0.1 s; this process
sleeps meanwhile, so a study's own finished workers do not count as busy), and a busy machine saves serially.
The choice changes no byte of the output.

Nothing is silent: a warning a child raises while saving is re-raised here (same category, message and
origin), an exception in a child is raised here (naming the figure) when its result is collected, and a
child that dies without a result is an error too. Where "fork" does not exist (Windows) or ``jobs <= 1``,
figures are saved in this process, as before.

SVG output is made reproducible: no creation date (``metadata={"Date": None}``) and element ids hashed with a
fixed salt (``svg.hashsalt``) instead of a random one, so the same run writes the same SVG bytes.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt

from hccrad.core.errors import HccradError

PNG_DPI = 110
SVG_HASH_SALT = "hccrad"  # fixed salt: SVG element ids depend on the figure only

__all__ = ["FigureWriter", "save_figure", "PNG_DPI", "usable_jobs", "idle_cpus"]

# Per origin file, the registry `warnings` keeps of warnings shown once (what a module's __warningregistry__
# is to `warnings.warn`), for the warnings children send back.
_REGISTRIES: dict[str, dict] = {}


def save_figure(fig: plt.Figure, png: Path, svg: Path) -> None:
    """Write `fig` as PNG (110 dpi) and then SVG, both cropped to the tight bounding box."""
    fig.savefig(png, dpi=PNG_DPI, bbox_inches="tight")
    with mpl.rc_context({"svg.hashsalt": SVG_HASH_SALT}):
        fig.savefig(svg, bbox_inches="tight", metadata={"Date": None})


def idle_cpus(sample_s: float = 0.1) -> float | None:
    """How many CPUs were idle over the next `sample_s` seconds (idle + iowait time of the first line of
    /proc/stat, times the number of CPU lines); None where /proc/stat cannot be read (not Linux)."""
    try:
        before = _cpu_times()
        time.sleep(sample_s)
        after = _cpu_times()
    except (OSError, ValueError, IndexError):
        return None
    (idle0, total0, n), (idle1, total1, _) = before, after
    return n * (idle1 - idle0) / max(total1 - total0, 1)


def _cpu_times() -> tuple[int, int, int]:
    """(idle + iowait jiffies, all jiffies, number of CPUs) from /proc/stat."""
    with open("/proc/stat", encoding="ascii") as fh:
        lines = fh.read().splitlines()
    values = [int(v) for v in lines[0].split()[1:]]
    return values[3] + values[4], sum(values), sum(1 for ln in lines[1:] if ln.startswith("cpu"))


def usable_jobs(requested: int, idle: Callable[[], float | None] = idle_cpus) -> int:
    """`requested` saving processes, fewer when fewer CPUs are idle now (module docstring); at least 1."""
    if requested <= 1:
        return 1
    free = idle()
    if free is None:
        free = float(os.cpu_count() or 1)
    return max(1, min(requested, int(free + 0.5)))


@dataclass
class _Pending:
    title: str
    process: multiprocessing.process.BaseProcess
    result: Connection
    on_done: Callable[[], None]


class FigureWriter:
    """Saves figures now (``jobs <= 1``) or in at most ``jobs`` forked children; `finish` waits for them all."""

    def __init__(self, jobs: int = 1) -> None:
        self.jobs = jobs if jobs > 1 and "fork" in multiprocessing.get_all_start_methods() else 1
        self._pending: deque[_Pending] = deque()

    def save(self, fig: plt.Figure, png: Path, svg: Path, title: str, on_done: Callable[[], None]) -> None:
        """Save `fig` to `png` and `svg`, close it here, and call `on_done()` once both files are written
        (at once in serial mode, otherwise when the child's result is collected)."""
        if self.jobs == 1:
            try:
                save_figure(fig, png, svg)
            finally:
                plt.close(fig)
            on_done()
            return
        while len(self._pending) >= self.jobs:
            self._collect(self._pending.popleft())
        receive, send = multiprocessing.Pipe(duplex=False)
        process = multiprocessing.get_context("fork").Process(target=_child_save, args=(fig, png, svg, send),
                                                              daemon=True)
        process.start()
        send.close()
        plt.close(fig)
        self._pending.append(_Pending(title, process, receive, on_done))

    def finish(self) -> None:
        """Wait for every child (in the order the figures came); raise the first failure."""
        while self._pending:
            self._collect(self._pending.popleft())

    def _collect(self, job: _Pending) -> None:
        try:
            outcome = job.result.recv()
        except EOFError:
            outcome = None
        finally:
            job.result.close()
            job.process.join()
        if outcome is None:
            self.finish_quietly()
            raise HccradError(f"the process saving the figure {job.title!r} ended without a result (exit code "
                              f"{job.process.exitcode})", field="report",
                              hint="rerun `hccrad report OUT` to redraw the report from the saved results")
        caught, error = outcome
        for category, message, filename, lineno in caught:  # once per place, as `warnings.warn` would
            warnings.warn_explicit(message, category, filename, lineno,
                                   registry=_REGISTRIES.setdefault(filename, {}))
        if error is not None:
            self.finish_quietly()
            raise error
        job.on_done()

    def finish_quietly(self) -> None:
        """Wait for the other children without collecting their results (after a failure)."""
        while self._pending:
            job = self._pending.popleft()
            job.result.close()
            job.process.join()


def _child_save(fig: plt.Figure, png: Path, svg: Path, send: Connection) -> None:
    """In the child: save, and send back (warnings raised, exception or None)."""
    error: BaseException | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            save_figure(fig, png, svg)
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent, which raises it
            error = exc
    records = [(_category(w.category), str(w.message), w.filename, w.lineno) for w in caught]
    try:
        send.send((records, error))
    except Exception:  # noqa: BLE001 - an exception that cannot be pickled: send its traceback as text
        text = "".join(traceback.format_exception(error)) if error is not None else "unpicklable warning"
        send.send(([], RuntimeError(f"saving the figure failed:\n{text}")))
    send.close()


def _category(category: type[Warning]) -> type[Warning]:
    """The warning's class when it can be sent to the parent (pickled by its import name), else UserWarning."""
    try:
        pickle.dumps(category)
    except Exception:  # noqa: BLE001 - a class defined where the parent cannot import it
        return UserWarning
    return category
