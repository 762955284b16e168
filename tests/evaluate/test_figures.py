"""Smoke tests of the figure functions: each returns its Axes with the expected artists (Agg)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from hccrad.core.errors import DataError  # noqa: E402
from hccrad.evaluate import confusion_counts, decision_curve  # noqa: E402
from hccrad.report.figures.calibration import plot_calibration  # noqa: E402
from hccrad.report.figures.classification import plot_alluvial, plot_confusion_matrix  # noqa: E402
from hccrad.report.figures.decision import plot_decision_curve  # noqa: E402
from hccrad.report.figures.descriptive import plot_correlation_heatmap, plot_score_distribution  # noqa: E402
from hccrad.report.figures.discrimination import plot_roc  # noqa: E402
from hccrad.report.figures.models_compare import plot_auc_bars, plot_feature_bubbles, plot_radar  # noqa: E402


@pytest.fixture
def data(rng):
    y = rng.integers(0, 2, 80)
    lp = 1.5 * (y - 0.5) + rng.normal(size=80)
    return y, {"habitat": 1 / (1 + np.exp(-lp)), "clinical": 1 / (1 + np.exp(-0.3 * lp - rng.normal(size=80)))}


@pytest.fixture
def ax():
    fig, a = plt.subplots()
    yield a
    plt.close(fig)


def test_roc_legend_has_auc_ci(ax, data):
    y, probs = data
    assert plot_roc(ax, y, probs) is ax
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(texts) == 2 and all("AUC" in t and "–" in t for t in texts)
    assert len(ax.lines) == 3


def test_calibration_and_decision(ax, data):
    y, probs = data
    assert plot_calibration(ax, y, probs) is ax
    assert len(ax.lines) >= 3
    fig, ax2 = plt.subplots()
    dca = decision_curve(y, probs, np.arange(0, 0.9, 0.05))
    assert plot_decision_curve(ax2, dca) is ax2
    assert [t.get_text() for t in ax2.get_legend().get_texts()] == ["Treat all", "Treat none", "habitat", "clinical"]
    with pytest.raises(DataError):
        plot_decision_curve(ax2, dca.drop(columns="net_benefit"))
    plt.close(fig)


def test_confusion_and_alluvial(ax, data):
    y, probs = data
    pred = (probs["habitat"] >= 0.5).astype(int)
    c = confusion_counts(y, pred)
    assert plot_confusion_matrix(ax, c) is ax
    assert len(ax.images) == 1 and len(ax.texts) == 4
    fig, ax2 = plt.subplots()
    assert plot_alluvial(ax2, y, pred) is ax2
    assert len(ax2.patches) == 4 and len(ax2.collections) == sum(v > 0 for v in (c.tp, c.fp, c.tn, c.fn))
    plt.close(fig)


def test_confusion_matrix_names_the_outcome_levels(ax, data):
    """The axes name the study's groups (as the alluvial does), long names wrapped, not Negative/Positive."""
    y, probs = data
    plot_confusion_matrix(ax, confusion_counts(y, (probs["habitat"] >= 0.5).astype(int)),
                          labels=("no complete or partial response", "responder"))
    for ticks in (ax.get_xticklabels(), ax.get_yticklabels()):
        assert [t.get_text() for t in ticks] == ["no complete or\npartial\nresponse", "responder"]


def test_distribution_and_heatmap(ax, data, rng):
    y, probs = data
    assert plot_score_distribution(ax, y, probs["habitat"], kind="box") is ax
    assert any(t.get_text().startswith("p") for t in ax.texts)
    fig, ax2 = plt.subplots()
    df = pd.DataFrame(rng.normal(size=(30, 4)), columns=list("abcd"))
    assert plot_correlation_heatmap(ax2, df) is ax2
    assert len(ax2.images) == 1 and len(ax2.texts) == 16
    plt.close(fig)


def test_model_comparison_figures(rng):
    fig = plt.figure()
    pax = fig.add_subplot(1, 3, 1, projection="polar")
    m = pd.DataFrame({"AUC": [0.86, 0.76], "SEN": [0.8, 0.7], "SPE": [0.75, 0.7], "ACC": [0.78, 0.7]},
                     index=["habitat", "clinical"])
    assert plot_radar(pax, m) is pax and len(pax.lines) == 2
    bax = fig.add_subplot(1, 3, 2)
    t = pd.DataFrame({"model": ["a", "b", "a", "b"], "cohort": ["train", "train", "test", "test"],
                      "auc": [0.8, 0.7, 0.75, 0.65], "lower": [0.7, 0.6, 0.6, 0.5], "upper": [0.9, 0.8, 0.9, 0.8]})
    assert plot_auc_bars(bax, t) is bax and len(bax.patches) == 4
    fax = fig.add_subplot(1, 3, 3)
    imp = pd.DataFrame({"feature": ["f1", "f2", "f3"], "importance": [0.7, -0.5, 0.1]})
    assert plot_feature_bubbles(fax, imp) is fax and len(fax.collections) == 1
    with pytest.raises(DataError):
        plot_radar(bax, m)
    plt.close(fig)


def test_clustered_heatmap_orders_rows_and_columns():
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd

    from hccrad.report.figures.descriptive import plot_clustered_heatmap

    rng = np.random.default_rng(0)
    base = rng.normal(size=(30, 1))
    df = pd.DataFrame(np.hstack([base, base + 0.01 * rng.normal(size=(30, 1)), rng.normal(size=(30, 2))]),
                      columns=["a", "a_twin", "b", "c"])
    fig, ax = plt.subplots()
    plot_clustered_heatmap(ax, df, row_colors=rng.integers(0, 2, 30))
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert sorted(labels) == sorted(df.columns)
    assert abs(labels.index("a") - labels.index("a_twin")) == 1, labels  # near-identical features adjacent
    plt.close(fig)


def test_clustered_heatmap_with_one_feature_clusters_patients_only():
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    import pytest

    from hccrad.core.errors import DataError
    from hccrad.report.figures.descriptive import plot_clustered_heatmap

    x = np.r_[np.zeros(5), np.ones(5) * 3]
    fig, ax = plt.subplots()
    plot_clustered_heatmap(ax, pd.DataFrame({"only": x}))
    shown = ax.images[0].get_array()
    assert shown.shape == (10, 1)
    assert np.all(np.diff(np.sign(shown[:, 0] - shown[:, 0].mean()))[[0, 1, 2, 3, 5, 6, 7, 8]] == 0)  # groups kept together
    with pytest.raises(DataError, match=">= 2 rows"):
        plot_clustered_heatmap(ax, pd.DataFrame({"only": [1.0]}))
    plt.close(fig)
