"""Deep-learning figures: training/validation loss curves (seed 003 fig. 2) and Grad-CAM overlays
(seed 003 fig. 5, seed 002 fig. 4). Functions take an ax and return it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from hccrad.core.errors import DataError

__all__ = ["plot_cam_overlay", "plot_loss_curves"]


def plot_loss_curves(ax: Axes, history: pd.DataFrame, *, best_epoch: int | None = None,
                     title: str | None = None) -> Axes:
    """Train (and validation, when present) cross-entropy by epoch; a dotted line marks the kept epoch.

    A history with a ``fold`` column (`CVResult.histories`) gets one thin pair of curves per fold.
    """
    if "epoch" not in history or "train_loss" not in history:
        raise DataError("history needs columns epoch and train_loss", field="history",
                        hint="pass TrainResult.history or CVResult.histories")
    groups = list(history.groupby("fold", sort=True)) if "fold" in history else [(None, history)]
    lw = 1.5 if len(groups) == 1 else 0.9
    for i, (_, h) in enumerate(groups):
        ax.plot(h["epoch"], h["train_loss"], color="C0", linewidth=lw, label="training" if i == 0 else "_")
        if "val_loss" in h and h["val_loss"].notna().any():
            ax.plot(h["epoch"], h["val_loss"], color="C1", linewidth=lw, label="validation" if i == 0 else "_")
    if best_epoch is not None and best_epoch >= 0:
        ax.axvline(best_epoch, linestyle=":", color="grey", label=f"kept (epoch {best_epoch})")
    ax.set_xlabel("Epoch")
    ax.set_ylabel("Cross-entropy loss")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_cam_overlay(ax: Axes, image: np.ndarray, cam: np.ndarray, *, mask: np.ndarray | None = None,
                     alpha: float = 0.45, cmap: str = "jet", title: str | None = None) -> Axes:
    """A 2-D image in grey with the Grad-CAM map (scaled to [0, 1]) on top and an optional mask contour."""
    img = np.asarray(image, dtype=float)
    c = np.asarray(cam, dtype=float)
    if img.ndim != 2 or c.shape != img.shape:
        raise DataError(f"image {img.shape} and cam {c.shape} must be the same 2-D shape", field="cam",
                        hint="pass one slice of each, e.g. cam[z] and image[channel, z]")
    ax.imshow(img, cmap="gray", interpolation="nearest")
    span = c.max() - c.min()
    shown = ax.imshow((c - c.min()) / span if span > 0 else np.zeros_like(c), cmap=cmap, alpha=alpha,
                      vmin=0.0, vmax=1.0, interpolation="bilinear")
    if mask is not None and np.asarray(mask).any():
        ax.contour(np.asarray(mask, dtype=float), levels=[0.5], colors="white", linewidths=0.8)
    ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="Grad-CAM")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax
