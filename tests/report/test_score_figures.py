"""Waterfall: one bar per patient, sorted, centred on the cut-off, coloured by outcome."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hccrad.core.errors import DataError  # noqa: E402
from hccrad.report.figures.scores import plot_waterfall  # noqa: E402


def test_waterfall_bars():
    s = np.array([0.2, 0.9, 0.5, 0.7])
    y = np.array([0, 1, 0, 1])
    fig, ax = plt.subplots()
    plot_waterfall(ax, s, y, threshold=0.6)
    bars = ax.collections[0].get_paths()  # one rectangle per patient, sorted by score, centred on the cut-off
    heights = [p.vertices[1, 1] - p.vertices[0, 1] for p in bars]
    np.testing.assert_allclose(heights, [0.3, 0.1, -0.1, -0.4], atol=1e-12)
    np.testing.assert_allclose([p.vertices[0, 0] for p in bars], np.arange(4) - 0.45, atol=1e-12)
    colours = ax.collections[0].get_facecolors()[:, :3]
    np.testing.assert_allclose(colours[0], matplotlib.colors.to_rgb("#c0392b"))   # 0.9: observed positive
    np.testing.assert_allclose(colours[2], matplotlib.colors.to_rgb("#2471a3"))   # 0.5: observed negative
    lo, hi = ax.get_ylim()
    assert lo <= -0.4 and hi >= 0.3
    plt.close(fig)
    with pytest.raises(DataError):
        plot_waterfall(ax, [0.1, np.nan], [0, 1])


def test_patient_flow_counts_must_add_up():
    from hccrad.report.figures.flow import plot_patient_flow

    fig, ax = plt.subplots()
    plot_patient_flow(ax, 10, {"left out at descriptors": 2}, {"training": 5, "test": 3})
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "n = 10" in texts and "n = 8" in texts and "left out at descriptors: 2" in texts
    with pytest.raises(DataError, match="do not add up"):
        plot_patient_flow(ax, 10, {}, {"training": 5})
    plt.close(fig)


def test_habitat_3d_view():
    from hccrad.core.errors import FeatureError
    from hccrad.report.figures.habitat import plot_habitat_3d

    labels = np.zeros((4, 6, 6), dtype=int)
    labels[1:3, 1:5, 1:5] = 1
    labels[1:3, 2:4, 2:4] = 3
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    plot_habitat_3d(ax, labels, 3, spacing=(3.0, 1.5, 1.5))
    assert sum(c.get_offsets().shape[0] for c in ax.collections) == int((labels > 0).sum())
    with pytest.raises(FeatureError):
        plot_habitat_3d(fig.add_subplot(2, 2, 1), labels, 3)
    plt.close(fig)
