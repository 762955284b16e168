"""Comparing models: radar chart of metrics, AUC bar chart across models/cohorts, feature-importance
bubble chart (seed 000 fig. 6d, seed 001 fig. D)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from hccrad.core.errors import DataError

__all__ = ["plot_radar", "plot_auc_bars", "plot_feature_bubbles"]


def _need(df: pd.DataFrame, cols: set[str], what: str) -> None:
    missing = cols - set(df.columns)
    if missing:
        raise DataError(f"{what} table lacks columns {sorted(missing)}", field=what,
                        hint=f"pass a DataFrame with columns {sorted(cols)}")


def plot_radar(ax: Axes, metrics: pd.DataFrame, *, title: str | None = None) -> Axes:
    """Radar chart: one polygon per model (row index), one spoke per metric column (values in [0, 1]).
    `ax` must be polar: `fig.add_subplot(projection="polar")`."""
    if getattr(ax, "name", "") != "polar":
        raise DataError("the radar chart needs a polar axes", field="ax",
                        hint='create it with fig.add_subplot(projection="polar")')
    vals = metrics.to_numpy(dtype=float)
    if vals.shape[1] < 3:
        raise DataError("a radar chart needs at least 3 metrics", field="metrics", hint="add columns")
    angles = np.linspace(0, 2 * np.pi, vals.shape[1], endpoint=False)
    closed = np.append(angles, angles[0])
    for i, (name, row) in enumerate(zip(metrics.index, vals)):
        r = np.append(row, row[0])
        ax.plot(closed, r, color=f"C{i}", label=str(name))
        ax.fill(closed, r, color=f"C{i}", alpha=0.15)
    ax.set_xticks(angles, labels=[str(c) for c in metrics.columns])
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1), fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_auc_bars(ax: Axes, table: pd.DataFrame, *, title: str | None = None) -> Axes:
    """Grouped bars of AUC with CI error bars. Columns: model, auc, lower, upper, optional cohort."""
    _need(table, {"model", "auc", "lower", "upper"}, "auc")
    t = table.copy()
    if "cohort" not in t.columns:
        t["cohort"] = ""
    models = list(dict.fromkeys(t["model"]))
    cohorts = list(dict.fromkeys(t["cohort"]))
    width = 0.8 / len(cohorts)
    for j, coh in enumerate(cohorts):
        sub = t[t["cohort"] == coh].set_index("model").reindex(models)
        x = np.arange(len(models)) + (j - (len(cohorts) - 1) / 2) * width
        err = np.vstack([sub["auc"] - sub["lower"], sub["upper"] - sub["auc"]])
        bars = ax.bar(x, sub["auc"], width, yerr=err, capsize=3, color=f"C{j}", label=coh or None)
        ax.bar_label(bars, labels=[f"{v:.3f}" if np.isfinite(v) else "" for v in sub["auc"]],
                     fontsize="x-small", padding=2)
    long_names = sum(len(str(m)) for m in models) > 48  # would run into each other side by side
    ax.set_xticks(np.arange(len(models)), labels=models, rotation=90 if long_names else 0)
    ax.set_ylim(0, 1.1)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8)
    ax.set_ylabel("AUC (95% CI)")
    if len(cohorts) > 1:
        ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_feature_bubbles(ax: Axes, table: pd.DataFrame, *, x: str = "importance", size: str | None = None,
                         color: str | None = None, title: str | None = None) -> Axes:
    """Bubble chart of features (rows sorted by `x`): position = `x`, bubble area ∝ |`size`| (default
    |x|), colour = `color` column (e.g. −log10 p or coefficient sign). Needs a `feature` column."""
    _need(table, {"feature", x} | ({size} if size else set()) | ({color} if color else set()), "importance")
    t = table.sort_values(x)
    s = np.abs(t[size if size else x].to_numpy(float))
    area = 30 + 400 * s / (s.max() or 1.0)
    c = t[color].to_numpy(float) if color else np.where(t[x].to_numpy(float) >= 0, 1.0, 0.0)
    sc = ax.scatter(t[x], np.arange(len(t)), s=area, c=c, cmap="viridis" if color else "coolwarm",
                    alpha=0.8, edgecolors="black", linewidths=0.5)
    ax.set_yticks(np.arange(len(t)), labels=list(t["feature"]), fontsize="x-small")
    ax.axvline(0, color="grey", linewidth=0.8)
    ax.set_xlabel(x)
    if color:
        ax.figure.colorbar(sc, ax=ax, label=color)
    if title:
        ax.set_title(title)
    return ax
