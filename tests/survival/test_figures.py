"""Survival figures draw what the result objects hold (Agg backend, no files written)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hccrad.core.errors import DataError  # noqa: E402
from hccrad.report.figures.survival import (forest_plot, plot_km, plot_km_with_risk_table,  # noqa: E402
                                            plot_nomogram, plot_survival_calibration, plot_time_auc)
from hccrad.survival import (cox_regression, kaplan_meier, nomogram_points, survival_calibration,  # noqa: E402
                             time_dependent_auc)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_km_with_risk_table(lung):
    km = kaplan_meier(lung["time"], lung["event"], lung["sex"])
    fig = plt.figure()
    ax_km, ax_tab = plot_km_with_risk_table(fig, km, times=[0, 250, 500, 750], p_value=0.0013)
    assert len(ax_km.lines) >= 2 and len(ax_km.collections) == 2  # two curves, two CI bands
    texts = [t.get_text() for t in ax_tab.texts]
    assert texts[:4] == [str(v) for v in km.numbers_at_risk([0, 250, 500, 750]).iloc[0]]
    assert any("log-rank p" in t.get_text() for t in ax_km.texts)


def test_km_without_ci(lung):
    fig, ax = plt.subplots()
    assert plot_km(ax, kaplan_meier(lung["time"], lung["event"]), ci=False) is ax
    assert len(ax.collections) == 0


def test_forest_plot_hr_and_or(lung):
    fig, ax = plt.subplots()
    res = cox_regression(lung, "time", "event", ["age", "sex"])
    assert forest_plot(ax, res.summary()) is ax
    assert ax.get_xscale() == "log" and len(ax.get_yticklabels()) == 2
    ors = pd.DataFrame({"variable": ["VP4", "TBIL"], "or": [3.2, 0.95], "lo": [1.4, 0.9], "hi": [7.1, 1.0],
                        "p": [0.004, 0.04]})
    fig, ax = plt.subplots()
    forest_plot(ax, ors, estimate="or", lower="lo", upper="hi", label="variable", xlabel="odds ratio")
    assert "VP4  3.20 (1.40-7.10)  p=0.004" in [t.get_text() for t in ax.get_yticklabels()]
    with pytest.raises(DataError, match="missing"):
        forest_plot(ax, ors, estimate="hr")


def test_time_auc_calibration_nomogram(lung):
    d = lung.dropna(subset=["ph.ecog"])
    res = cox_regression(d, "time", "event", ["age", "sex", "ph.ecog"])
    lp = res.linear_predictor(d)
    tauc = time_dependent_auc(d["time"], d["event"], d["time"], d["event"], lp, [180, 365], n_boot=0)
    fig, axes = plt.subplots(1, 3)
    plot_time_auc(axes[0], {"Cox": tauc})
    assert np.allclose(axes[0].lines[0].get_ydata(), tauc.table["auc"])
    cal = survival_calibration(d["time"], d["event"], res.predict_survival(d, [365]).iloc[:, 0], 365)
    plot_survival_calibration(axes[1], cal)
    plot_nomogram(axes[2], nomogram_points(res, d, horizon=365))
    labels = [t.get_text() for t in axes[2].texts]
    assert {"Points", "age", "sex", "ph.ecog", "Total points", "Survival at 365"} <= set(labels)
