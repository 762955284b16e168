"""Deep-learning figures: training/validation loss curves (seed 003 fig. 2) and Grad-CAM overlays
(seed 003 fig. 5, seed 002 fig. 4), feature-map panels by predicted class (seed 002 fig. 4) and the loss
curves of competing architectures (seed 003 fig. 2 B–C). Functions take an ax (or a figure for grids)
and return it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hccrad.core.errors import DataError

__all__ = ["plot_activation_panels", "plot_arch_loss_curves", "plot_cam_overlay", "plot_loss_curves"]


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


def plot_activation_panels(fig: Figure, panels, *, alpha: float = 0.5, cmap: str = "jet") -> Figure:
    """Grid of feature maps (`hccrad.deep.activation.ActivationPanels`): rows = predicted class of
    `panels.rows`, columns = predicted class of `panels.cols` (or one column). Each cell shows the most
    confidently predicted case, image in grey and its channel-mean activation on one colour scale shared by
    all cells (so the groups' intensities compare); an empty group says "no case"."""
    n_r, n_c = len(panels.row_labels), len(panels.col_labels)
    shown = [c for c in panels.cells.values() if c is not None]
    lo = min((float(m.min()) for _, _, m in shown), default=0.0)
    hi = max((float(m.max()) for _, _, m in shown), default=1.0)
    hi = hi if hi > lo else lo + 1.0
    table = panels.table.set_index(["row_class", "col_class"])
    im = None
    for i in range(n_r):
        for j in range(n_c):
            ax = fig.add_subplot(n_r, n_c, i * n_c + j + 1)
            ax.set_xticks([])
            ax.set_yticks([])
            cell = panels.cells.get((i, j))
            if cell is None:
                ax.text(0.5, 0.5, "no case", ha="center", va="center", transform=ax.transAxes, color="grey")
            else:
                cid, img, m = cell
                ax.imshow(img, cmap="gray", interpolation="nearest")
                im = ax.imshow(m, cmap=cmap, alpha=alpha, vmin=lo, vmax=hi, interpolation="bilinear")
                n = int(table.loc[(panels.row_labels[i], panels.col_labels[j]), "n_cases"])
                ax.set_title(f"{cid} (n={n})", fontsize="small")
            if j == 0:
                ax.set_ylabel(f"{panels.rows}: {panels.row_labels[i]}", fontsize="small")
            if i == 0 and panels.cols is not None:
                ax.annotate(f"{panels.cols}: {panels.col_labels[j]}", (0.5, 1.25), xycoords="axes fraction",
                            ha="center", fontsize="small", fontweight="bold")
    if im is not None:
        fig.colorbar(im, ax=fig.axes, fraction=0.03, pad=0.02, label="mean activation")
    return fig


def plot_arch_loss_curves(ax_train: Axes, ax_val: Axes, histories: dict[str, pd.DataFrame]) -> tuple[Axes, Axes]:
    """Training (left) and validation (right) loss by epoch of each architecture (seed 003 fig. 2 B–C).

    histories: architecture → `CVResult.histories` (a fold column); curves are the mean over folds.
    """
    if not histories:
        raise DataError("no architecture histories", field="histories", hint="pass {arch: CVResult.histories}")
    for k, (name, h) in enumerate(histories.items()):
        if "epoch" not in h or "train_loss" not in h:
            raise DataError(f"history of {name!r} needs epoch and train_loss", field="histories",
                            hint="pass CVResult.histories")
        mean = h.groupby("epoch", sort=True)[["train_loss", "val_loss"]].mean()
        ax_train.plot(mean.index, mean["train_loss"], color=f"C{k}", label=name)
        if mean["val_loss"].notna().any():
            ax_val.plot(mean.index, mean["val_loss"], color=f"C{k}", label=name)
    for ax, what in ((ax_train, "training"), (ax_val, "validation")):
        ax.set_xlabel("Epoch")
        ax.set_ylabel(f"{what} loss (sum of task cross-entropies)")
        ax.legend(fontsize="small")
        ax.set_title(f"{what} loss (mean over folds)")
    return ax_train, ax_val
