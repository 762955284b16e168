"""ROC figures: overlay of ROC curves with AUC (95% CI, DeLong) in the legend (seed 000 fig. 6a)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from hccrad.evaluate.discrimination import auc_ci, roc_curve_points

__all__ = ["plot_roc"]


def plot_roc(ax: Axes, y: Sequence | np.ndarray, scores: Mapping[str, Sequence | np.ndarray], *,
             ci_method: str = "delong", n_boot: int = 2000, seed: int = 0, level: float = 0.95,
             title: str | None = None) -> Axes:
    """Draw one empirical ROC curve per named score and the chance diagonal; legend 'name AUC (CI)'."""
    for name, s in scores.items():
        pts = roc_curve_points(y, s)
        res = auc_ci(y, s, ci_method, n_boot=n_boot, seed=seed, level=level)
        ax.step(pts.fpr, pts.tpr, where="post",
                label=f"{name}: AUC {res.auc:.3f} ({res.lower:.3f}–{res.upper:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="_chance")
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("1 − specificity")
    ax.set_ylabel("Sensitivity")
    method = "DeLong" if ci_method == "delong" else "bootstrap"
    ax.legend(loc="lower right", fontsize="small", title=f"AUC ({level:.0%} CI, {method})",
              title_fontsize="small")
    if title:
        ax.set_title(title)
    return ax
