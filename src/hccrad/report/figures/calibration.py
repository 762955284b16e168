"""Calibration plot: binned observed rates with CIs and LOWESS curves per model, ideal diagonal, and
optionally the bootstrap optimism-corrected curve (seed 000 fig. 6b, seed 002 fig. 2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes

from hccrad.evaluate.calibration import OptimismCalibration, calibration_curve_binned, calibration_curve_smoothed

__all__ = ["plot_calibration"]


def plot_calibration(ax: Axes, y: Sequence | np.ndarray, probs: Mapping[str, Sequence | np.ndarray], *,
                     n_bins: int = 10, smoothed: bool = True, frac: float = 2 / 3,
                     corrected: Mapping[str, OptimismCalibration] | None = None,
                     title: str | None = None) -> Axes:
    """Observed vs predicted probability for each model."""
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=0.8, label="Ideal")
    for i, (name, p) in enumerate(probs.items()):
        color = f"C{i}"
        b = calibration_curve_binned(y, p, n_bins=n_bins)
        yerr = np.vstack([b["observed"] - b["lower"], b["upper"] - b["observed"]])
        ax.errorbar(b["mean_predicted"], b["observed"], yerr=yerr, fmt="o", color=color, markersize=4,
                    capsize=2, linewidth=0.8, label=f"{name} (bins)" if smoothed else name)
        if smoothed:
            s = calibration_curve_smoothed(y, p, frac=frac)
            ax.plot(s["predicted"], s["observed"], color=color, label=f"{name} (LOWESS)")
        if corrected and name in corrected:
            c = corrected[name].curve
            ax.plot(c["predicted"], c["corrected"], color=color, linestyle=":",
                    label=f"{name} (bias-corrected, B={corrected[name].n_boot})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel("Predicted probability")
    ax.set_ylabel("Observed proportion")
    ax.legend(loc="upper left", fontsize="small")
    if title:
        ax.set_title(title)
    return ax
