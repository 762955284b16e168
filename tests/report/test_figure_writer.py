"""Figures saved by forked processes (`Report(..., jobs=2)`, issue 24) are byte-identical to a serial save,
SVGs are reproducible, and a child's warnings and errors reach this process."""

from __future__ import annotations

import multiprocessing
import warnings

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402

from hccrad.core.errors import HccradError  # noqa: E402
from hccrad.report.document import Report  # noqa: E402

needs_fork = pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork here")


class _WarnsWhenDrawn(Artist):
    def draw(self, renderer):
        warnings.warn("drawn by the test artist", RuntimeWarning)


class _FailsWhenDrawn(Artist):
    def draw(self, renderer):
        raise ValueError("the test artist cannot be drawn")


def _figure(seed: int, extra: Artist | None = None) -> plt.Figure:
    rng = np.random.default_rng(seed)
    fig, axes = plt.subplots(1, 2, figsize=(3, 1.5), layout="constrained")
    axes[0].plot(rng.normal(size=20), label="a")
    axes[0].legend()
    axes[1].scatter(rng.normal(size=30), rng.normal(size=30))
    axes[1].set_title(f"figure {seed}")
    if extra is not None:
        fig.add_artist(extra)
    return fig


def _report(path, jobs: int, n: int = 3) -> Report:
    rep = Report(path, "t", jobs=jobs)
    s = rep.section("S")
    for seed in range(n):  # 3 > jobs: the third waits for the first
        rep.add_figure(s, _figure(seed), f"figure {seed}", key=f"k{seed}")
    rep.write({})
    return rep


@needs_fork
def test_forked_saves_equal_serial_saves_byte_for_byte(tmp_path):
    serial, forked = _report(tmp_path / "serial", 1), _report(tmp_path / "forked", 2)
    names = sorted(p.name for p in (tmp_path / "serial" / "figures").iterdir())
    assert len(names) == 6 and names == sorted(p.name for p in (tmp_path / "forked" / "figures").iterdir())
    for name in names:
        serial_bytes = (tmp_path / "serial/figures" / name).read_bytes()
        assert serial_bytes == (tmp_path / "forked/figures" / name).read_bytes(), name
    bodies = [[it.body for it in r.sections[0].items] for r in (serial, forked)]
    assert bodies[0] == bodies[1] and all(bodies[0])  # the PNGs embedded, in order
    assert (tmp_path / "serial/index.html").read_bytes() == (tmp_path / "forked/index.html").read_bytes()


def test_svg_has_no_date_and_the_same_bytes_each_time(tmp_path):
    _report(tmp_path / "a", 1, n=1)
    _report(tmp_path / "b", 1, n=1)
    svg = (tmp_path / "a/figures/s--figure-0.svg").read_text()
    assert "<dc:date>" not in svg
    assert svg == (tmp_path / "b/figures/s--figure-0.svg").read_text()


@needs_fork
def test_a_childs_warning_is_raised_here(tmp_path):
    rep = Report(tmp_path, "t", jobs=2)
    rep.add_figure(rep.section("S"), _figure(0, _WarnsWhenDrawn()), "warns")
    with pytest.warns(RuntimeWarning, match="drawn by the test artist"):
        rep.wait_for_figures()


@needs_fork
def test_a_childs_error_is_raised_here_and_no_figure_is_left_waiting(tmp_path):
    rep = Report(tmp_path, "t", jobs=2)
    s = rep.section("S")
    rep.add_figure(s, _figure(0, _FailsWhenDrawn()), "fails")
    rep.add_figure(s, _figure(1), "fine")
    with pytest.raises(ValueError, match="cannot be drawn"):
        rep.write({})
    rep.wait_for_figures()  # nothing pending any more


@needs_fork
def test_a_child_that_dies_is_an_error_naming_the_figure(tmp_path, monkeypatch):
    import os

    import hccrad.report.figure_writer as fw

    monkeypatch.setattr(fw, "save_figure", lambda fig, png, svg: os._exit(3))
    rep = Report(tmp_path, "t", jobs=2)
    rep.add_figure(rep.section("S"), _figure(0), "dies")
    with pytest.raises(HccradError, match=r"'S / dies' ended without a result \(exit code 3\)"):
        rep.wait_for_figures()


def test_saving_jobs_are_capped_by_the_idle_cpus():
    from hccrad.report.figure_writer import idle_cpus, usable_jobs

    assert usable_jobs(2, lambda: 0.2) == 1 and usable_jobs(2, lambda: 1.6) == 2 and usable_jobs(4, lambda: 2.4) == 2
    assert usable_jobs(1, lambda: 8.0) == 1 and usable_jobs(3, lambda: None) >= 1
    free = idle_cpus(0.02)
    assert free is None or free >= 0.0
