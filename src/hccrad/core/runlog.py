"""What a long run prints: plain progress lines off a terminal, and repeated messages counted, not repeated.

- `PlainProgress` is the progress display when the output is not a terminal (a batch job, a log file): one
  line per step at most every `interval_s` seconds or every 10 % of the step, and always at its end:
  ``bootstrap: 74/200 (37%), elapsed 13m20s, ETA 22m42s``. ETA = elapsed × (total − done) / (done − done₀)
  (the average rate since the step's first call, which reported done₀); no ETA until some work has been
  timed (a first call at 10/1000 said "ETA 0s" before).
- `RepeatCounter` is a logging filter on the output handlers: the first record of each distinct message
  (logger, level, text) is shown, later identical ones are counted, and `summary_lines()` gives
  ``470× py.warnings: scipy.stats UserWarning: ...`` for the end of the run. A record logged inside
  `log_context("resample 17")` (set per bootstrap/CV resample) is shown with "(in resample 17)"; it is
  counted with the other records of the same text, and the summary names the first contexts.
- `repeats_summarised()` installs both the filter and the capture of Python warnings (scipy's, numpy's) into
  logging for the duration of a command, and logs the summary at its end.

Nothing is dropped silently: every suppressed record is counted, and every count above one is printed.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import re
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TextIO

_CONTEXT: contextvars.ContextVar[str] = contextvars.ContextVar("hccrad_log_context", default="")
log = logging.getLogger("hccrad")


@contextlib.contextmanager
def log_context(label: str) -> Iterator[None]:
    """Records logged inside are tagged with `label` (e.g. "resample 17") by `RepeatCounter`."""
    token = _CONTEXT.set(label)
    try:
        yield
    finally:
        _CONTEXT.reset(token)


def current_log_context() -> str:
    """The label set by the innermost `log_context` ("" outside any)."""
    return _CONTEXT.get()


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


class PlainProgress:
    """`progress(step, done, total)` callback writing plain lines (see the module docstring)."""

    def __init__(self, stream: TextIO | None = None, interval_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.interval_s = interval_s
        self.clock = clock
        self._start: dict[str, tuple[float, int]] = {}  # step -> (time, done) of its first call
        self._last: dict[str, tuple[float, int, int]] = {}  # step -> (time, tenth, done) of its last line

    def line(self, step: str, done: int, total: int, now: float) -> str:
        started, done_at_start = self._start[step]
        elapsed = now - started
        text = f"{step}: {done}/{total}"
        if total > 0:
            text += f" ({100 * done / total:.0f}%)"
        text += f", elapsed {_duration(elapsed)}"
        if done < total and done > done_at_start and elapsed > 0:
            text += f", ETA {_duration(elapsed * (total - done) / (done - done_at_start))}"
        return text

    def __call__(self, step: str, done: int, total: int) -> None:
        now = self.clock()
        last = self._last.get(step)
        if last is not None and done < last[2]:  # the same step started again (e.g. another cohort)
            last = None
            self._last.pop(step)
            self._start.pop(step, None)
        self._start.setdefault(step, (now, done))
        if last is not None and last[1] >= 10:  # the step's final line was already written
            return
        tenth = 10 if done >= total else (int(10 * done / total) if total > 0 else 0)
        if last is None or tenth > last[1] or now - last[0] >= self.interval_s:
            self._last[step] = (now, tenth, done)
            print(self.line(step, done, total, now), file=self.stream, flush=True)


class RepeatCounter(logging.Filter):
    """Lets the first record of each distinct message through and counts the repeats."""

    def __init__(self, max_contexts: int = 5) -> None:
        super().__init__()
        self.counts: Counter[tuple[str, int, str]] = Counter()
        self.contexts: dict[tuple[str, int, str], list[str]] = {}
        self.max_contexts = max_contexts

    def filter(self, record: logging.LogRecord) -> bool:
        decided = getattr(record, "_hccrad_shown", None)  # one record, several handlers: count it once
        if decided is not None:
            return decided
        record._hccrad_shown = self._decide(record)
        return record._hccrad_shown

    def _decide(self, record: logging.LogRecord) -> bool:
        context = _CONTEXT.get()
        key = (record.name, record.levelno, record.getMessage())
        self.counts[key] += 1
        if context:
            seen = self.contexts.setdefault(key, [])
            if len(seen) < self.max_contexts:
                seen.append(context)
        if self.counts[key] > 1:
            return False
        if context:
            record.msg, record.args = f"{key[2]} (in {context})", None
        return True

    def summary_lines(self) -> list[str]:
        """'N× logger: message [in c1, c2, … and M more]' for every message seen more than once."""
        lines = []
        for key, n in self.counts.items():
            if n < 2:
                continue
            name, _, message = key
            text = f"{n}× {name}: {message}"
            ctx = self.contexts.get(key)
            if ctx:
                text += f" [in {', '.join(ctx)}" + (" …]" if n > len(ctx) else "]")
            lines.append(text)
        return lines


def _short_module(filename: str) -> str:
    """'scipy.stats' for …/site-packages/scipy/stats/_morestats.py; the file stem otherwise."""
    parts = re.split(r"[\\/]", filename)
    if "site-packages" in parts:
        rest = parts[parts.index("site-packages") + 1:-1]
        return ".".join(rest[:2]) or parts[-1]
    return parts[-1].removesuffix(".py")


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    logging.getLogger("py.warnings").warning("%s %s: %s", _short_module(str(filename)), category.__name__,
                                             str(message).strip())


@contextlib.contextmanager
def repeats_summarised(logger: logging.Logger | None = None) -> Iterator[RepeatCounter]:
    """Count repeated log records (and Python warnings, routed to logging) on the root handlers; at the end
    log one summary line per repeated message."""
    counter = RepeatCounter()
    handlers = list(logging.getLogger().handlers)
    for h in handlers:
        h.addFilter(counter)
    saved = warnings.showwarning
    warnings.showwarning = _show_warning
    try:
        yield counter
    finally:
        warnings.showwarning = saved
        for h in handlers:
            h.removeFilter(counter)
        lines = counter.summary_lines()
        if lines:
            out = logger or log
            out.warning("%d message(s) repeated (each shown once above; counts below):\n%s", len(lines),
                        "\n".join(lines))
