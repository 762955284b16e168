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
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [0.3, 0.1, -0.1, -0.4], atol=1e-12)
    plt.close(fig)
    with pytest.raises(DataError):
        plot_waterfall(ax, [0.1, np.nan], [0, 1])
