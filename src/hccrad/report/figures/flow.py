"""Patient-flow diagram (seed 000 fig. 1): cases in the manifest, cases left out with their reasons, and
the cases analysed in each cohort, drawn as boxes and arrows from the run's own counts."""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib.axes import Axes

from hccrad.core.errors import DataError

__all__ = ["plot_patient_flow"]


def _box(ax: Axes, x: float, y: float, text: str, colour: str = "#eef3fb") -> None:
    ax.text(x, y, text, ha="center", va="center", fontsize=9, wrap=True,
            bbox={"boxstyle": "round,pad=0.5", "facecolor": colour, "edgecolor": "#34495e"})


def _arrow(ax: Axes, x0: float, y0: float, x1: float, y1: float) -> None:
    ax.annotate("", xy=(x1, y1), xytext=(x0, y0), arrowprops={"arrowstyle": "->", "color": "#34495e"})


def plot_patient_flow(ax: Axes, n_total: int, excluded: Mapping[str, int], cohorts: Mapping[str, int],
                      *, title: str | None = None) -> Axes:
    """`excluded`: reason → number of cases left out; `cohorts`: cohort → number analysed.
    The counts must add up (total = excluded + analysed), or a DataError says by how much they do not."""
    n_out = int(sum(excluded.values()))
    n_in = int(sum(cohorts.values()))
    if n_total != n_out + n_in:
        raise DataError(f"flow counts do not add up: {n_total} cases, {n_out} excluded, {n_in} analysed",
                        field="cohorts", hint="pass the counts of one run")
    if not cohorts:
        raise DataError("no cohort to draw", field="cohorts")
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    _box(ax, 0.5, 0.9, f"Cases in the manifest\nn = {n_total}")
    if excluded:
        lines = "\n".join(f"{reason}: {n}" for reason, n in excluded.items())
        _box(ax, 0.82, 0.62, f"Excluded (n = {n_out})\n{lines}", colour="#fdecea")
        _arrow(ax, 0.5, 0.62, 0.66, 0.62)
    _box(ax, 0.5, 0.5, f"Analysed\nn = {n_in}")
    _arrow(ax, 0.5, 0.84, 0.5, 0.56)
    k = len(cohorts)
    for i, (name, n) in enumerate(cohorts.items()):
        x = (i + 0.5) / k
        _box(ax, x, 0.15, f"{name}\nn = {n}", colour="#eafaf1")
        _arrow(ax, 0.5, 0.44, x, 0.21)
    if title:
        ax.set_title(title)
    return ax
