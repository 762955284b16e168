"""Deep-learning figures: training/validation loss curves (seed 003 fig. 2) and Grad-CAM overlays
(seed 003 fig. 5, seed 002 fig. 4), feature-map panels by predicted class (seed 002 fig. 4) and the loss
curves of competing architectures (seed 003 fig. 2 B–C). Functions take an ax (or a figure for grids)
and return it.

The CNN stage keeps the data behind each figure, not the figure (`LossCurvesFigure`, `ArchComparisonFigure`,
`CamOverlayFigure`, `ActivationFigure`: arrays, tables and text, recorded under OUT/results by
`hccrad.pipeline.records`); `draw()` builds the figure from them, at `hccrad run` and again at
`hccrad report OUT`, so the rebuilt report redraws the same figures from the same numbers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hccrad.core.errors import DataError

__all__ = ["ActivationFigure", "ArchComparisonFigure", "CamOverlayFigure", "CamPanel", "LossCurvesFigure",
           "plot_activation_panels", "plot_arch_loss_curves", "plot_cam_overlay", "plot_loss_curves"]


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


# ------------------------------------------------------------------------------- figure data (recordable)


@dataclass(frozen=True)
class LossCurvesFigure:
    """Loss curves of the CV fold networks (left) and of the final network (right), seed 003 fig. 2."""
    cv_history: pd.DataFrame            # `CVResult.histories` (a fold column)
    final_history: pd.DataFrame         # `TrainResult.history`
    best_epoch: int | None              # the final network's kept epoch
    cv_title: str

    def draw(self) -> Figure:
        fig = Figure(figsize=(9, 3.5))
        plot_loss_curves(fig.add_subplot(1, 2, 1), self.cv_history, title=self.cv_title)
        plot_loss_curves(fig.add_subplot(1, 2, 2), self.final_history, best_epoch=self.best_epoch,
                         title="final network (training cohort)")
        fig.tight_layout()
        return fig


@dataclass(frozen=True)
class ArchComparisonFigure:
    """Mean training / validation loss by epoch of each compared architecture (seed 003 fig. 2 B–C)."""
    histories: dict[str, pd.DataFrame]  # architecture -> `CVResult.histories`

    def draw(self) -> Figure:
        fig = Figure(figsize=(9, 3.5))
        plot_arch_loss_curves(fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2), self.histories)
        fig.tight_layout()
        return fig


@dataclass(frozen=True)
class CamPanel:
    """One Grad-CAM overlay: the reference phase's slice, the map on it and the tumour mask (or None)."""
    image: np.ndarray
    cam: np.ndarray
    mask: np.ndarray | None
    title: str


@dataclass(frozen=True)
class CamOverlayFigure:
    """Grad-CAM overlays of one cohort's first cases, side by side (seed 003 fig. 5)."""
    panels: tuple[CamPanel, ...]

    def draw(self) -> Figure:
        fig = Figure(figsize=(3.2 * len(self.panels), 3.2))
        for j, p in enumerate(self.panels):
            plot_cam_overlay(fig.add_subplot(1, len(self.panels), j + 1), p.image, p.cam, mask=p.mask,
                             title=p.title)
        fig.tight_layout()
        return fig


@dataclass(frozen=True)
class ActivationFigure:
    """Feature-map panels by predicted class (`hccrad.deep.activation.ActivationPanels` without its
    per-case intensities): what `plot_activation_panels` reads."""
    rows: str
    cols: str | None
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    cells: dict[tuple[int, int], tuple[str, np.ndarray, np.ndarray] | None]
    table: pd.DataFrame

    @classmethod
    def of(cls, panels) -> ActivationFigure:
        return cls(rows=panels.rows, cols=panels.cols, row_labels=tuple(panels.row_labels),
                   col_labels=tuple(panels.col_labels), cells=dict(panels.cells), table=panels.table)

    def draw(self) -> Figure:
        n_r, n_c = len(self.row_labels), len(self.col_labels)
        fig = Figure(figsize=(2.6 * n_c + 1.2, 2.4 * n_r + 0.4))
        plot_activation_panels(fig, self)
        return fig
