"""Figures of the habitat stability analysis (issue 23; `hccrad.habitat.stability`): the distribution of the
adjusted Rand index of the resample refits against the full fit, and how often each k was chosen."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes


def plot_stability_ari(ax: Axes, ari, title: str = "") -> Axes:
    """Histogram of the ARI (unitless, −0.5..1; 1 = the full fit's partition) over the resamples, with the
    median as a dashed line."""
    ari = np.asarray(ari, dtype=float)
    lo = min(0.0, float(np.floor(ari.min() * 10) / 10)) if ari.size else 0.0
    ax.hist(ari, bins=np.linspace(lo, 1.0, 21), color="#4c72b0", edgecolor="white")
    if ari.size:
        ax.axvline(float(np.median(ari)), color="#333333", linestyle="--", linewidth=1,
                   label=f"median {np.median(ari):.2f}")
        ax.legend(loc="upper left", frameon=False)
    ax.set_xlabel("ARI vs full-fit habitats (unitless)")
    ax.set_ylabel("resamples (count)")
    if title:
        ax.set_title(title)
    return ax


def plot_k_frequency(ax: Axes, frequency: pd.DataFrame, k_full: int, title: str = "") -> Axes:
    """Bars: resamples choosing each k (``HabitatStability.k_frequency()``); the full fit's k in red."""
    ks = frequency["k"].astype(int).to_numpy()
    colours = ["#c44e52" if k == k_full else "#8c8c8c" for k in ks]
    ax.bar(ks, frequency["resamples"].to_numpy(), color=colours, width=0.6)
    ax.set_xticks(ks)
    ax.set_xlim(float(ks.min()) - 1, float(ks.max()) + 1)
    ax.set_xlabel(f"k chosen in the resample (full fit: k = {k_full})")
    ax.set_ylabel("resamples (count)")
    ax.yaxis.get_major_locator().set_params(integer=True)
    if title:
        ax.set_title(title)
    return ax
