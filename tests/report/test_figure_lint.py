"""Figure lint: tick labels with more than 4 significant digits, overlapping texts within an axes and across
panels, legend entries naming no series — the lint itself on figures built to fail, and the report's figures
that used to fail it (nomogram, KM, the confusion-matrix grid). The lint of every figure of a whole demo run
is in tests/pipeline/test_run_demo.py (it reuses that module's run)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hccrad.report.document import Report  # noqa: E402
from hccrad.report.lint import collecting, lint_figure, significant_digits  # noqa: E402


@pytest.mark.parametrize("token,digits", [("2.47411", 6), ("2.474", 4), ("0.0120", 2), ("123500", 4),
                                          ("100", 1), ("0", 1), ("0.05", 1)])
def test_significant_digits(token, digits):
    assert significant_digits(token) == digits


def test_lint_finds_long_ticks_overlaps_and_stray_legend_entries():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="model a")
    ax.set_xticks([0.0, 0.5, 1.0], labels=["0", "\u22122.47411", "1"])
    ax.text(0.2, 0.5, "first label here")
    ax.text(0.22, 0.5, "second label here")
    ax.legend(["model b"])  # an entry that is not the series's label
    problems = [str(f) for f in lint_figure(fig, "bad")]
    plt.close(fig)
    assert any("'\u22122.47411' has more than 4 significant digits" in p for p in problems), problems
    assert any("'first label here' overlaps text 'second label here'" in p for p in problems), problems
    assert any("legend entry 'model b' names no plotted series" in p for p in problems), problems


def test_lint_finds_texts_running_into_the_next_panel():
    """Issue 26: a panel's tick labels over its neighbour's area (the confusion-matrix grid), a title over the
    next panel's title; an inset's texts over its parent's area are not a finding."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(4, 2))
    a.imshow(np.eye(2))
    b.imshow(np.eye(2))
    b.set_yticks([0, 1], labels=["a very long class name", "another long name"])
    a.set_title("first model — training cohort")
    b.set_title("second model — training cohort")
    problems = [str(f) for f in lint_figure(fig, "grid")]
    plt.close(fig)
    assert any("y tick 'a very long class name' runs into the area of axes 0" in p for p in problems), problems
    assert any("overlaps title 'second model — training cohort' of axes 1" in p for p in problems), problems
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3), layout="constrained")
    for ax in (a, b):
        ax.imshow(np.eye(2))
        ax.set_yticks([0, 1], labels=["a very long class name", "another long name"])
        ax.set_title("model — cohort")
    inset = a.inset_axes((0.5, 0.5, 0.4, 0.4))
    inset.plot([0, 1], [0, 1])
    inset.set_ylabel("inset")
    assert lint_figure(fig, "clean grid") == []
    plt.close(fig)


def test_lint_passes_a_clean_figure():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="model a")
    ax.set_xlabel("false positive rate")
    ax.set_title("ROC")
    ax.legend()
    assert lint_figure(fig) == []
    plt.close(fig)


def test_report_add_figure_runs_the_installed_checks(tmp_path):
    rep = Report(tmp_path, "t")
    s = rep.section("S")
    with collecting() as found:
        fig, ax = plt.subplots()
        ax.set_yticks([0.123456, 1.0], labels=["0.123456", "1"])
        rep.add_figure(s, fig, "F")
    assert len(found) == 1 and found[0].figure == "S / F" and "0.123456" in found[0].problem
    fig, ax = plt.subplots()
    ax.set_yticks([0.123456, 1.0], labels=["0.123456", "1"])
    rep.add_figure(s, fig, "G")  # outside `collecting`: no check installed
    assert len(found) == 1


def test_logistic_nomogram_ticks_are_short_and_apart():
    from hccrad.models.logistic import LogisticModel
    from hccrad.report.figures.survival import plot_nomogram
    from hccrad.survival.nomogram import nomogram_points

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"afp_log10": rng.normal(2.1234567, 1.3, 80), "size_cm": rng.normal(5.4321, 2.2, 80)})
    y = (rng.random(80) < 1 / (1 + np.exp(-(X["afp_log10"] - 2)))).astype(int)
    nomo = nomogram_points(LogisticModel().fit(X, y), X)
    fig, ax = plt.subplots(figsize=(8, 3.8))
    plot_nomogram(ax, nomo)
    problems = lint_figure(fig, "nomogram")
    plt.close(fig)
    assert problems == [], [str(p) for p in problems]


def test_km_time_axis_is_ticked_at_round_steps():
    from hccrad.report.figures.survival import plot_km_with_risk_table
    from hccrad.survival.kaplan_meier import kaplan_meier

    rng = np.random.default_rng(2)
    t = rng.exponential(120, 60).clip(1, 284.3)
    e = rng.integers(0, 2, 60)
    km = kaplan_meier(t, e, np.where(np.arange(60) < 30, "low", "high"), time_unit="weeks")
    fig = plt.figure(figsize=(6, 5))
    ax_km, _ = plot_km_with_risk_table(fig, km)
    ticks = list(ax_km.get_xticks())
    assert ticks == [0, 50, 100, 150, 200, 250], ticks
    assert ax_km.get_xlim()[1] >= t.max()  # round ticks never cut off the last times
    problems = lint_figure(fig, "km")
    plt.close(fig)
    assert problems == [], [str(p) for p in problems]


def test_legend_colours_must_match_the_series():
    from matplotlib.patches import Patch

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(6, 3))
    a1.plot([0, 1], [0, 1], color="C0", label="model a")
    a1.plot([0, 1], [1, 0], color="C1", label="model b")
    a1.legend(handles=[plt.Line2D([], [], color="C1", label="model a")])  # model a shown in b's colour
    a2.bar([0, 1], [1, 2], color=["#c0392b", "#2471a3"])
    a2.legend(handles=[Patch(color="#c0392b", label="responder"), Patch(color="#00ff00", label="other")])
    problems = [str(f) for f in lint_figure(fig, "legend")]
    plt.close(fig)
    assert len(problems) == 2, problems
    assert "legend entry 'model a' is drawn in" in problems[0]
    assert "legend entry 'other': colour" in problems[1]


def test_score_distribution_names_its_test_and_passes_the_lint():
    from hccrad.report.figures.descriptive import plot_score_distribution

    rng = np.random.default_rng(3)
    y = np.r_[np.zeros(20), np.ones(20)].astype(int)
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    plot_score_distribution(ax, y, np.clip(0.3 + 0.3 * y + rng.normal(0, 0.1, 40), 0, 1),
                            score_name="model: predicted probability", title="training")
    assert any("(Mann–Whitney U)" in t.get_text() for t in ax.texts)
    problems = lint_figure(fig, "violin")
    plt.close(fig)
    assert problems == [], [str(p) for p in problems]


def test_a_model_keeps_its_colour_across_figures(tmp_path):
    rep = Report(tmp_path, "t")
    s = rep.section("S")
    with collecting() as found:
        for order in (["clinical", "habitat"], ["habitat", "clinical"]):  # e.g. one figure sorts the models
            fig, ax = plt.subplots()
            for i, name in enumerate(order):
                ax.plot([0, 1], [i, i + 1], color=f"C{i}", label=name)
            ax.legend()
            rep.add_figure(s, fig, "/".join(order))
    assert list(found) == []
    problems = found.inconsistent_colours()
    assert len(problems) == 2 and problems[0].startswith("legend label 'clinical' has 2 colours"), problems
