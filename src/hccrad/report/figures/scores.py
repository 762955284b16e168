"""Per-patient score figures: the waterfall of model scores coloured by outcome (seed 004 fig. 3C/D)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.patches import Patch

from hccrad.core.errors import DataError

__all__ = ["plot_waterfall"]


def plot_waterfall(ax: Axes, score: Sequence[float] | np.ndarray, y: Sequence[int] | np.ndarray, *,
                   threshold: float | None = None, labels: tuple[str, str] = ("non-responder", "responder"),
                   score_name: str = "score", title: str | None = None) -> Axes:
    """One bar per patient, sorted by score, centred on `threshold` (the training cut-off; default the
    median) so bars above/below it read as predicted positive/negative; colour = observed outcome."""
    s = np.asarray(score, dtype=float)
    yy = np.asarray(y)
    if s.shape != yy.shape or s.size == 0:
        raise DataError(f"waterfall: {s.size} scores and {yy.size} outcomes", field="score",
                        hint="pass one score and one outcome per patient")
    if not np.all(np.isfinite(s)):
        raise DataError("waterfall: scores contain NaN/inf", field="score")
    centre = float(np.median(s)) if threshold is None else float(threshold)
    order = np.argsort(-s, kind="stable")
    colours = np.where(yy[order] == 1, "#c0392b", "#2471a3")
    ax.bar(np.arange(s.size), s[order] - centre, color=colours, width=0.9)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks([])
    ax.set_xlabel("patients (sorted by score)")
    ax.set_ylabel(f"{score_name} − cut-off ({centre:.3g})")
    ax.legend(handles=[Patch(color="#c0392b", label=labels[1]), Patch(color="#2471a3", label=labels[0])],
              fontsize="small", loc="upper right")
    if title:
        ax.set_title(title)
    return ax
