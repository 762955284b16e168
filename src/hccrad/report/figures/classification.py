"""Confusion matrix heat map and alluvial (Sankey) diagram of actual vs predicted class."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from hccrad.evaluate.classification import ConfusionCounts, confusion_counts

__all__ = ["plot_confusion_matrix", "plot_alluvial"]


def plot_confusion_matrix(ax: Axes, counts: ConfusionCounts, *, labels: tuple[str, str] = ("Negative", "Positive"),
                          normalize: bool = False, cmap: str = "Blues", title: str | None = None) -> Axes:
    """2×2 heat map (rows actual, columns predicted) annotated with counts (and row %)."""
    m = counts.matrix().astype(float)
    row = m.sum(axis=1, keepdims=True)
    frac = np.divide(m, row, out=np.zeros_like(m), where=row > 0)
    ax.imshow(frac if normalize else m, cmap=cmap, vmin=0)
    top = (frac if normalize else m).max() or 1.0
    for i in range(2):
        for j in range(2):
            val = (frac if normalize else m)[i, j]
            ax.text(j, i, f"{int(m[i, j])}\n({100 * frac[i, j]:.1f}%)", ha="center", va="center",
                    color="white" if val > top / 2 else "black")
    wrapped = ["\n".join(textwrap.wrap(str(name), 14, break_on_hyphens=False)) or str(name) for name in labels]
    ax.set_xticks([0, 1], labels=wrapped)
    ax.set_yticks([0, 1], labels=wrapped)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("Actual")
    if title:
        ax.set_title(title)
    return ax


def _band(ax: Axes, x0: float, x1: float, y0: tuple[float, float], y1: tuple[float, float], color: str) -> None:
    t = np.linspace(0, 1, 50)
    s = 3 * t ** 2 - 2 * t ** 3  # smoothstep: S-shaped ribbon
    xs = x0 + (x1 - x0) * t
    lo = y0[0] + (y1[0] - y0[0]) * s
    hi = y0[1] + (y1[1] - y0[1]) * s
    ax.fill_between(xs, lo, hi, color=color, alpha=0.45, linewidth=0)


def plot_alluvial(ax: Axes, y: Sequence | np.ndarray, predicted: Sequence | np.ndarray, *,
                  labels: tuple[str, str] = ("Negative", "Positive"), title: str | None = None) -> Axes:
    """Alluvial diagram: actual classes (left) flow to predicted classes (right), widths ∝ patients."""
    c = confusion_counts(y, predicted)
    n = c.n
    flows = {(0, 0): c.tn, (0, 1): c.fp, (1, 0): c.fn, (1, 1): c.tp}
    gap = 0.04
    left = {0: (0.0, (c.tn + c.fp) / n), 1: ((c.tn + c.fp) / n + gap, 1.0 + gap)}
    right = {0: (0.0, (c.tn + c.fn) / n), 1: ((c.tn + c.fn) / n + gap, 1.0 + gap)}
    w = 0.12
    for side, x, blocks in (("Actual", 0.0, left), ("Predicted", 1.0 - w, right)):
        for k, (a, b) in blocks.items():
            ax.add_patch(Rectangle((x, a), w, b - a, color=f"C{k}"))
            if round((b - a) * n) == 0:  # an empty class has no block to label (its count shows in the table)
                continue
            ax.text(x + w / 2, (a + b) / 2, f"{labels[k]}\n{round((b - a) * n)}", ha="center", va="center",
                    fontsize="small", rotation=90)
    lo_cursor = {k: left[k][0] for k in (0, 1)}
    ro_cursor = {k: right[k][0] for k in (0, 1)}
    for (a, p), cnt in flows.items():
        if cnt == 0:
            continue
        h = cnt / n
        _band(ax, w, 1.0 - w, (lo_cursor[a], lo_cursor[a] + h), (ro_cursor[p], ro_cursor[p] + h), f"C{a}")
        lo_cursor[a] += h
        ro_cursor[p] += h
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(-0.02, 1.0 + gap + 0.02)
    ax.set_xticks([w / 2, 1 - w / 2], labels=["Actual", "Predicted"])
    ax.set_yticks([])
    for sp in ("top", "right", "left"):
        ax.spines[sp].set_visible(False)
    if title:
        ax.set_title(title)
    return ax
