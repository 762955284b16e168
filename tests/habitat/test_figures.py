"""Habitat figures draw what they claim and return what they were given."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hccrad.core.errors import FeatureError  # noqa: E402
from hccrad.habitat import choose_k  # noqa: E402
from hccrad.report.figures.habitat import (  # noqa: E402
    habitat_colours,
    plot_habitat_overlay,
    plot_k_selection,
)


@pytest.fixture(scope="module")
def ks():
    rng = np.random.default_rng(0)
    X = np.concatenate([c + rng.normal(size=(200, 2)) for c in ([0, 0], [6, 0], [3, 6])])
    return choose_k(X, (2, 6), silhouette_sample=300)


def test_plot_k_selection_on_figure_axes_and_pair(ks):
    fig = plt.figure()
    assert plot_k_selection(fig, ks) is fig
    assert len(fig.axes) == 2
    inertia_line = fig.axes[0].lines[0]
    np.testing.assert_array_equal(inertia_line.get_xdata(), list(ks.ks))
    np.testing.assert_allclose(inertia_line.get_ydata(), ks.inertia)
    fig2, ax = plt.subplots()
    assert plot_k_selection(ax, ks) is ax
    fig3, pair = plt.subplots(1, 2)
    assert plot_k_selection(pair, ks) is pair
    np.testing.assert_allclose(pair[1].lines[0].get_ydata(), ks.silhouette)
    plt.close("all")


def test_overlay_colours_follow_seed000_figure4():
    assert habitat_colours(3)[0][:3] == (0.0, 0.0, 1.0)  # habitat 1, low enhancement: blue
    assert habitat_colours(3)[2][:3] == (1.0, 0.0, 0.0)  # habitat 3, high enhancement: red
    assert len(habitat_colours(5)) == 5
    fig, ax = plt.subplots()
    img = np.random.default_rng(1).normal(size=(16, 16))
    lab = np.zeros((16, 16), int)
    lab[4:8, 4:8], lab[8:12, 8:12] = 1, 3
    assert plot_habitat_overlay(ax, img, lab, 3) is ax
    assert len(ax.images) == 2
    rgba = ax.images[1].to_rgba(ax.images[1].get_array())
    assert rgba[0, 0, 3] == 0.0  # outside the tumour: transparent
    assert tuple(rgba[10, 10, :3]) == (1.0, 0.0, 0.0)
    with pytest.raises(FeatureError):
        plot_habitat_overlay(ax, img, lab[:8], 3)
    plt.close("all")


def test_voxel_scatter_and_descriptor_bars():
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from hccrad.report.figures.habitat import plot_habitat_descriptors, plot_voxel_scatter

    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 3, size=(50, 2)) for c in (0, 20, 40)])
    lab = np.repeat([1, 2, 3], 50)
    summary = pd.DataFrame({"habitat": [1, 2, 3], "AE_mean": [0, 20, 40], "AE_sd": [3, 3, 3],
                            "VE_mean": [1, 21, 41], "VE_sd": [2, 2, 2]})
    fig, (a, b) = plt.subplots(1, 2)
    plot_voxel_scatter(a, X, lab, ["AE", "VE"], 3)
    assert len(a.collections) == 3 and sum(c.get_offsets().shape[0] for c in a.collections) == 150
    plot_habitat_descriptors(b, summary, ["AE", "VE"])
    assert len(b.patches) == 6
    plt.close(fig)
