"""Score distribution by outcome (violin or box, with the Mann–Whitney p-value) and correlation heat map."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from scipy import stats
from scipy.cluster.hierarchy import leaves_list, linkage

from hccrad.core.errors import DataError
from hccrad.evaluate import _checks

__all__ = ["plot_score_distribution", "plot_correlation_heatmap"]


def plot_score_distribution(ax: Axes, y: Sequence | np.ndarray, score: Sequence | np.ndarray, *,
                            kind: str = "violin", labels: tuple[str, str] = ("Non-responder", "Responder"),
                            score_name: str = "Score", title: str | None = None) -> Axes:
    """Distribution of a score in each outcome group with jittered points and the two-sided
    Mann–Whitney U p-value (scipy) annotated above the groups."""
    yy = _checks.binary_outcome(y)
    ss = _checks.scores(score, yy.size)
    groups = [ss[yy == 0], ss[yy == 1]]
    if kind == "violin":
        parts = ax.violinplot(groups, positions=[0, 1], showmedians=True)
        for i, body in enumerate(parts["bodies"]):
            body.set_facecolor(f"C{i}")
            body.set_alpha(0.5)
    elif kind == "box":
        ax.boxplot(groups, positions=[0, 1], widths=0.5)
    else:
        raise DataError(f"unknown plot kind {kind!r}", field="kind", hint='use "violin" or "box"')
    jit = np.random.default_rng(0)
    for i, g in enumerate(groups):
        ax.scatter(i + jit.uniform(-0.08, 0.08, g.size), g, s=6, color=f"C{i}", alpha=0.6, zorder=3)
    p = stats.mannwhitneyu(groups[0], groups[1], alternative="two-sided").pvalue
    top, span = ss.max(), np.ptp(ss) or 1.0
    ax.plot([0, 0, 1, 1], [top + 0.05 * span, top + 0.08 * span, top + 0.08 * span, top + 0.05 * span],
            color="black", linewidth=0.8)
    ax.text(0.5, top + 0.1 * span, ("p < 0.001" if p < 0.001 else f"p = {p:.3f}") + " (Mann–Whitney U)", ha="center",
            va="bottom", fontsize="small")
    ax.set_ylim(ss.min() - 0.05 * span, top + 0.2 * span)
    ax.set_xticks([0, 1], labels=[f"{labels[0]}\n(n={groups[0].size})", f"{labels[1]}\n(n={groups[1].size})"])
    ax.set_ylabel(score_name)
    ax.set_title(title or "Mann–Whitney U test")
    return ax


def plot_correlation_heatmap(ax: Axes, df: pd.DataFrame, *, method: str = "spearman", annotate: bool | None = None,
                             cmap: str = "RdBu_r", title: str | None = None) -> Axes:
    """Pairwise correlation (pandas `corr`, Spearman by default) of the numeric columns, colour −1…1."""
    if method not in ("pearson", "spearman", "kendall"):
        raise DataError(f"unknown correlation {method!r}", field="method", hint='use "spearman" or "pearson"')
    num = df.select_dtypes(include="number")
    if num.shape[1] < 2:
        raise DataError("need at least two numeric columns for a correlation heat map", field="df",
                        hint="pass the feature table")
    c = num.corr(method=method).to_numpy()
    im = ax.imshow(c, cmap=cmap, vmin=-1, vmax=1)
    k = c.shape[0]
    ax.set_xticks(range(k), labels=list(num.columns), rotation=90, fontsize="x-small")
    ax.set_yticks(range(k), labels=list(num.columns), fontsize="x-small")
    if annotate if annotate is not None else k <= 12:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{c[i, j]:.2f}", ha="center", va="center", fontsize="x-small",
                        color="white" if abs(c[i, j]) > 0.6 else "black")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=f"{method.capitalize()} r")
    if title:
        ax.set_title(title)
    return ax


def plot_clustered_heatmap(ax: Axes, df: pd.DataFrame, *, row_colors: Sequence | None = None,
                           cmap: str = "RdBu_r", title: str | None = None) -> Axes:
    """Patients × features, z-scored per feature, rows and columns ordered by average-linkage hierarchical
    clustering (Euclidean) — the "heatmap of hierarchical clustering of selected features" of seed 000
    fig. 5e. `row_colors` (e.g. the outcome) is drawn as a strip on the left."""
    if df.shape[0] < 2 or df.shape[1] < 1:
        raise DataError(f"clustered heatmap needs >= 2 rows and >= 1 column, got {df.shape}", field="df")
    x = df.astype(float)
    if x.isna().any().any():
        raise DataError("clustered heatmap: the table has missing values", field="df",
                        hint="drop or impute them first")
    sd = x.std(ddof=0).replace(0, 1.0)
    z = ((x - x.mean()) / sd).to_numpy()
    rows = leaves_list(linkage(z, "average"))
    cols = leaves_list(linkage(z.T, "average")) if z.shape[1] > 1 else np.array([0])
    z = np.clip(z[np.ix_(rows, cols)], -3, 3)
    im = ax.imshow(z, aspect="auto", cmap=cmap, vmin=-3, vmax=3, interpolation="nearest")
    ax.set_xticks(np.arange(len(cols)), labels=[str(df.columns[c]) for c in cols], rotation=90, fontsize="x-small")
    ax.set_yticks([])
    ax.set_ylabel("patients (clustered)")
    if row_colors is not None:
        strip = np.asarray(row_colors)[rows].astype(float)[:, None]
        lo, hi = float(strip.min()), float(strip.max())
        ax.imshow(strip, aspect="auto", cmap="Greys", extent=(-2.5, -1.5, len(rows) - 0.5, -0.5),
                  vmin=lo, vmax=hi if hi > lo else lo + 1.0)
        ax.set_xlim(-2.5, len(cols) - 0.5)
    ax.figure.colorbar(im, ax=ax, fraction=0.04, label="z-score")
    if title:
        ax.set_title(title)
    return ax
