"""A row of equally sized panels, the layout of most multi-cohort report figures."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["panel_row"]


def panel_row(n: int, width: float = 4.6, height: float = 4.2, polar: bool = False, *,
              layout: str | None = None) -> tuple[Figure, list[Axes]]:
    """A figure of `n` panels side by side, each `width` × `height` inches (polar axes when `polar`);
    `layout="constrained"` keeps one panel's long axis labels, titles and colour bars clear of the next (the
    figure lint's cross-axes check, `hccrad.report.lint`) at the cost of narrower axes."""
    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False, layout=layout,
                             subplot_kw={"projection": "polar"} if polar else None)
    return fig, list(axes[0])
