"""Off a terminal, progress is printed as plain lines with percentage and ETA; repeated log messages and
Python warnings are shown once and counted at the end, with the resample a note came from."""

from __future__ import annotations

import io
import logging
import warnings

import pytest
from sklearn.linear_model import LogisticRegression

from hccrad.core.runlog import PlainProgress, RepeatCounter, log_context, repeats_summarised


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_plain_progress_prints_every_tenth_or_interval_with_eta():
    out, clock = io.StringIO(), _Clock()
    bar = PlainProgress(out, interval_s=5.0, clock=clock)
    for done in range(0, 201):
        clock.t = done * 0.1  # 20 s in all: the 10 % steps come every 2 s, before the interval
        bar("bootstrap", done, 200)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("bootstrap: 0/200 (0%)")
    assert len(lines) == 11, lines  # 0 %, 10 %, …, 100 %: never one per resample
    assert "bootstrap: 20/200 (10%), elapsed 2s, ETA 18s" == lines[1]
    assert lines[-1] == "bootstrap: 200/200 (100%), elapsed 20s"


def test_plain_progress_prints_at_the_interval_within_a_slow_tenth():
    out, clock = io.StringIO(), _Clock()
    bar = PlainProgress(out, interval_s=5.0, clock=clock)
    for done in range(0, 11):
        clock.t = done * 3.0  # 3 s per case of 1000: 5 s pass before a tenth is done
        bar("cases", done, 1000)
    lines = out.getvalue().splitlines()
    assert [ln.split(",")[0] for ln in lines] == ["cases: 0/1000 (0%)", "cases: 2/1000 (0%)",
                                                   "cases: 4/1000 (0%)", "cases: 6/1000 (1%)",
                                                   "cases: 8/1000 (1%)", "cases: 10/1000 (1%)"]
    assert "ETA 49m" in lines[-1]


def test_plain_progress_eta_counts_only_work_it_has_timed():
    """A step first heard of at 10/1000 has timed nothing yet: no "ETA 0s"; then the rate since that call."""
    out, clock = io.StringIO(), _Clock()
    bar = PlainProgress(out, interval_s=5.0, clock=clock)
    clock.t = 100.0
    bar("bootstrap", 10, 1000)
    clock.t = 110.0
    bar("bootstrap", 110, 1000)  # 100 resamples in 10 s: 890 left take 89 s
    first, second = out.getvalue().splitlines()
    assert first == "bootstrap: 10/1000 (1%), elapsed 0s"
    assert second == "bootstrap: 110/1000 (11%), elapsed 10s, ETA 1m29s", second


@pytest.fixture
def captured_log():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    root.handlers, root.level = [handler], logging.WARNING
    yield stream
    root.handlers, root.level = saved


def test_repeated_messages_and_warnings_are_shown_once_and_counted(captured_log):
    lib = logging.getLogger("hccrad.models.logistic")
    with repeats_summarised():
        for _ in range(470):  # library code resets the once-per-location registry (catch_warnings)
            with warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.warn("Input data has range zero. The results may not be accurate.", UserWarning)
        for i in range(94):
            with log_context(f"resample {i}"):
                lib.warning("LogisticModel: perfect separation; refitting with Firth")
        lib.warning("a message seen once")
    text = captured_log.getvalue()
    assert text.count("Input data has range zero") == 2  # once when it happens, once in the summary
    assert "470× py.warnings: test_runlog UserWarning: Input data has range zero" in text
    assert "perfect separation; refitting with Firth (in resample 0)" in text
    assert "94× hccrad.models.logistic: LogisticModel: perfect separation; refitting with Firth " \
           "[in resample 0, resample 1, resample 2, resample 3, resample 4 …]" in text
    assert text.count("a message seen once") == 1
    assert len(text.splitlines()) < 12


def test_counter_passes_distinct_messages():
    counter = RepeatCounter()
    rec = [logging.LogRecord("x", logging.WARNING, __file__, 1, f"m{i % 3}", None, None) for i in range(9)]
    assert [counter.filter(r) for r in rec] == [True, True, True] + [False] * 6
    assert sorted(counter.summary_lines()) == ["3× x: m0", "3× x: m1", "3× x: m2"]


def test_cli_bars_print_plain_lines_off_a_terminal(capsys):
    from hccrad.cli import _Bars

    with _Bars() as bars:
        for i in range(11):
            bars("cases", i, 10)
    err = capsys.readouterr().err
    assert "cases: 5/10 (50%)" in err and "cases: 10/10 (100%)" in err


def test_bootstrap_reports_each_resample_and_tags_its_notes(captured_log):
    """The optimism bootstrap ticks progress once per resample (so a batch job sees percentage and ETA);
    a note logged while fitting a resample names it."""
    import numpy as np
    import pandas as pd

    from hccrad.models import optimism_bootstrap

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)})
    y = (X["a"] + rng.normal(size=40) > 0).astype(int).to_numpy()
    ticks: list[tuple[int, int]] = []
    with repeats_summarised():
        optimism_bootstrap(_NoisyLogit(), X, y, n_boot=5, seed=1, progress=lambda i, n: ticks.append((i, n)))
    assert ticks == [(1, 5), (2, 5), (3, 5), (4, 5), (5, 5)]
    text = captured_log.getvalue()
    assert text.startswith("test_runlog: note from fit\n")  # the first, from the fit on all patients
    assert "6× test_runlog: note from fit [in resample 0, resample 1, resample 2, resample 3, resample 4 …]" \
        in text  # five resamples and the fit on all patients (no resample)


class _NoisyLogit(LogisticRegression):
    def fit(self, X, y):
        logging.getLogger("test_runlog").warning("note from fit")
        return super().fit(X, y)
