"""Habitat figures: the k-selection ("elbow rule") plot of seed 000 Fig. 2c and habitat overlays (Fig. 4).

Functions take a matplotlib Axes (or Figure) and return it; they never call ``plt.show``.
Seed 000 Fig. 4 colours: high enhancement red, moderate green, low blue, i.e. habitat 1 (lowest
``order_by`` value) blue, 2 green, 3 red; other k use evenly spaced colours of the ``jet`` map (blue -> red).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from hccrad.core.errors import FeatureError
from hccrad.habitat.kselect import KSelection


def habitat_colours(n_habitats: int) -> list[tuple[float, float, float, float]]:
    """RGBA colour of habitats 1..k (k = 3: blue, green, red as in seed 000 Fig. 4)."""
    if n_habitats == 3:
        return [(0.0, 0.0, 1.0, 1.0), (0.0, 0.8, 0.0, 1.0), (1.0, 0.0, 0.0, 1.0)]
    cmap = colormaps["jet"]
    return [tuple(cmap(v)) for v in np.linspace(0.1, 0.9, n_habitats)]


def habitat_colour_legend(n_habitats: int) -> str:
    """The colours of habitats 1..k in words, for captions (from `habitat_colours`)."""
    if n_habitats == 3:
        return "blue, green, red = habitats 1, 2, 3"
    return f"habitats 1–{n_habitats} coloured from blue (1) to red ({n_habitats}) along the jet colour map"


def with_unit(name: str, units: Mapping[str, str] | None) -> str:
    """'AE (HU)' when `units` gives the descriptor's unit, else the name."""
    unit = (units or {}).get(name)
    return f"{name} ({unit})" if unit else str(name)


LIVER_WINDOW_HU = (-65.0, 185.0)  # level 60 HU, width 250 HU: liver, enhancing tumour and vessels in range


def tumour_zoom(image2d: np.ndarray, labels2d: np.ndarray, margin: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The slice and its labels cropped to the labelled region's bounding box grown by `margin` voxels."""
    ys, xs = np.nonzero(np.asarray(labels2d))
    if not ys.size:
        return image2d, labels2d
    box = (slice(max(int(ys.min()) - margin, 0), int(ys.max()) + margin + 1),
           slice(max(int(xs.min()) - margin, 0), int(xs.max()) + margin + 1))
    return np.asarray(image2d)[box], np.asarray(labels2d)[box]


def plot_k_selection(axes_or_fig: Axes | Figure | Sequence[Axes], ks: KSelection):
    """Inertia with the Kneedle elbow marked, and the silhouette coefficient (and, under the "consensus"
    rule, the bootstrap stability: each k's share of the resamples' votes), against k.

    Figure -> two new side-by-side axes (returns the figure); two Axes -> one curve each (returns them);
    one Axes -> inertia on it and silhouette on a twin y axis (returns the Axes).
    """
    s = ks.summary()
    if isinstance(axes_or_fig, Figure):
        ax_i, ax_s = axes_or_fig.subplots(1, 2)
        ret = axes_or_fig
    elif isinstance(axes_or_fig, Axes):
        ax_i = axes_or_fig
        ax_s = axes_or_fig.twinx()
        ret = axes_or_fig
    else:
        ax_i, ax_s = axes_or_fig
        ret = axes_or_fig
    ax_i.plot(s["k"], s["inertia"], "o-", color="tab:blue", label="inertia")
    if ks.elbow_k is not None:
        y = float(s.loc[s["k"] == ks.elbow_k, "inertia"].iloc[0])
        ax_i.axvline(ks.elbow_k, color="grey", ls="--", lw=1)
        ax_i.plot([ks.elbow_k], [y], "s", color="tab:red", ms=9, label=f"elbow k = {ks.elbow_k}")
    ax_i.set_xlabel("number of clusters k")
    ax_i.set_ylabel("inertia (within-cluster SS)")
    ax_s.plot(s["k"], s["silhouette"], "^-", color="tab:orange", label="silhouette")
    ax_s.set_ylabel("silhouette coefficient")
    if ks.stability is not None:  # rule "consensus": share of bootstrap votes per k (same 0..1 axis)
        ax_s.plot(s["k"], s["stability"], "s--", color="tab:green",
                  label=f"stability (share of {ks.n_bootstrap} bootstrap votes)")
        ax_s.set_ylabel("silhouette coefficient / stability")
    if ax_s is not ax_i and not isinstance(axes_or_fig, Axes):
        ax_s.set_xlabel("number of clusters k")
    rule = "" if ks.rule == "elbow" else f"{ks.rule}; "
    ax_i.set_title(f"Choice of k: {ks.k} ({rule}elbow {ks.elbow_k}, silhouette {ks.silhouette_k})")
    ax_i.legend(loc="upper right", fontsize="small")
    ax_s.legend(loc="center right", fontsize="small")
    return ret


def plot_habitat_overlay(
    ax: Axes,
    image2d: np.ndarray,
    labels2d: np.ndarray,
    n_habitats: int,
    alpha: float = 0.5,
    window: tuple[float, float] | None = None,
    unit: str | None = None,
) -> Axes:
    """A grey image slice (e.g. the portal phase) with habitats 1..k overlaid in colour (0 transparent).

    window: (low, high) grey levels; default the 1st and 99th percentiles of the slice. unit: when given
    (e.g. "HU"), a grey colour bar labelled with it shows the window.
    """
    image2d = np.asarray(image2d, dtype=float)
    labels2d = np.asarray(labels2d)
    if image2d.ndim != 2 or image2d.shape != labels2d.shape:
        raise FeatureError(
            f"image {image2d.shape} and labels {labels2d.shape} must be 2-D slices of one shape",
            field="plot_habitat_overlay",
        )
    if labels2d.size and (labels2d.min() < 0 or labels2d.max() > n_habitats):
        raise FeatureError(f"labels must lie in 0..{n_habitats}", field="plot_habitat_overlay")
    lo, hi = window if window is not None else np.percentile(image2d, [1, 99])
    grey = ax.imshow(image2d, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest")
    if unit:
        ax.figure.colorbar(grey, ax=ax, fraction=0.046, pad=0.04, label=unit)
    colours = habitat_colours(n_habitats)
    cmap = ListedColormap([(0.0, 0.0, 0.0, 0.0)] + [c[:3] + (alpha,) for c in colours])
    ax.imshow(labels2d, cmap=cmap, vmin=-0.5, vmax=n_habitats + 0.5, interpolation="nearest")
    ax.legend(
        handles=[Patch(color=c, label=f"habitat {i + 1}") for i, c in enumerate(colours)],
        loc="lower right",
        fontsize="x-small",
    )
    ax.set_axis_off()
    return ax


def plot_voxel_scatter(ax: Axes, X: np.ndarray, labels: np.ndarray, names: Sequence[str],
                       n_habitats: int, max_points: int = 5000, units: Mapping[str, str] | None = None) -> Axes:
    """Training voxels in the space of the first two descriptors, coloured by habitat (seed 000 fig. 2f);
    `units` (descriptor -> unit, e.g. HU) labels the axes."""
    X = np.asarray(X, dtype=float)
    labels = np.asarray(labels)
    if X.ndim != 2 or X.shape[1] < 2 or X.shape[0] != labels.size:
        raise FeatureError("voxel scatter needs an (n, >= 2) descriptor matrix and n labels", field="X")
    idx = np.arange(X.shape[0])
    if idx.size > max_points:
        idx = np.sort(np.random.default_rng(0).choice(idx, size=max_points, replace=False))
    colours = habitat_colours(n_habitats)
    for h in range(1, n_habitats + 1):
        sel = idx[labels[idx] == h]
        ax.scatter(X[sel, 0], X[sel, 1], s=3, alpha=0.4, color=colours[h - 1], label=f"habitat {h}")
    ax.set_xlabel(with_unit(names[0], units))
    ax.set_ylabel(with_unit(names[1], units))
    ax.legend(markerscale=4, fontsize="small")
    return ax


def plot_habitat_descriptors(ax: Axes, summary, names: Sequence[str], units: Mapping[str, str] | None = None) -> Axes:
    """Mean ± SD of each descriptor per habitat, as grouped bars (seed 000 fig. 2d–e);
    `summary` is `habitat_summary`'s table (columns habitat, `<name>_mean`, `<name>_sd`); `units`
    (descriptor -> unit) labels the y axis when all descriptors share one unit, else each bar's legend."""
    k = len(summary)
    width = 0.8 / max(len(names), 1)
    shared = {(units or {}).get(n) for n in names}
    for j, name in enumerate(names):
        if f"{name}_mean" not in summary.columns:
            raise FeatureError(f"habitat summary has no column {name}_mean", field=name)
        x = np.arange(k) + (j - (len(names) - 1) / 2) * width
        ax.bar(x, summary[f"{name}_mean"], width, yerr=summary[f"{name}_sd"], capsize=3,
               label=with_unit(name, units) if len(shared) != 1 else name)
    ax.set_xticks(np.arange(k), labels=[f"habitat {int(h)}" for h in summary["habitat"]])
    ax.set_ylabel(f"mean ± SD ({next(iter(shared))})" if len(shared) == 1 and None not in shared else "mean ± SD")
    ax.legend(fontsize="small")
    return ax


def plot_habitat_3d(ax, labels: np.ndarray, n_habitats: int, spacing: Sequence[float] = (1.0, 1.0, 1.0),
                    max_points: int = 6000):
    """3-D view of one tumour's habitat map (seed 001 fig. 2E): voxels as points in mm, coloured by habitat.
    `ax` must be a 3-D axes (`projection="3d"`); large tumours are subsampled to `max_points` voxels."""
    if getattr(ax, "name", "") != "3d":
        raise FeatureError("the 3-D habitat view needs a 3-D axes", field="ax",
                           hint='create it with fig.add_subplot(projection="3d")')
    labels = np.asarray(labels)
    if labels.ndim != 3:
        raise FeatureError(f"habitat map must be 3-D (z, y, x), got shape {labels.shape}", field="labels")
    z, y, x = np.nonzero(labels)
    if z.size == 0:
        raise FeatureError("habitat map is empty", field="labels")
    keep = np.arange(z.size)
    if keep.size > max_points:
        keep = np.sort(np.random.default_rng(0).choice(keep, size=max_points, replace=False))
    colours = habitat_colours(n_habitats)
    lab = labels[z, y, x]
    for h in range(1, n_habitats + 1):
        sel = keep[lab[keep] == h]
        ax.scatter(x[sel] * spacing[2], y[sel] * spacing[1], z[sel] * spacing[0], s=2, alpha=0.5,
                   color=colours[h - 1], label=f"habitat {h}")
    ax.set_xlabel("x (mm)")
    ax.set_ylabel("y (mm)")
    ax.set_zlabel("z (mm)")
    ax.legend(markerscale=4, fontsize="small")
    return ax


def plot_example_maps(fig, example: dict, units: Mapping[str, str] | None = None, *,
                      phase_window: tuple[float, float] | None = None, intensity_unit: str | None = None):
    """One tumour on its largest slice: each phase (grey, tumour contour) then each descriptor map inside
    the tumour (seed 000 fig. 2a–b "AE"/"VE" maps; seed 001 fig. 2A–D phases). `example` is
    `ImagingResult.example_slices`: {"case_id", "phases": {name: 2-D}, "descriptors": {name: 2-D}, "mask"};
    `units` (descriptor -> unit, e.g. HU) labels the descriptor maps' colour bars. The phases are shown in
    `phase_window` (e.g. the liver window `LIVER_WINDOW_HU` for CT; default each slice's 1st to 99th
    percentile, e.g. for MRI), with a grey colour bar labelled `intensity_unit` when given."""
    phases, descs = dict(example.get("phases", {})), dict(example.get("descriptors", {}))
    panels = [(f"{n} phase", a, "gray", "") for n, a in phases.items()] + [
        (f"{n} map", a, "magma", with_unit(n, units)) for n, a in descs.items()]
    if not panels:
        raise FeatureError("no phase or descriptor slice to draw", field="example_slices")
    mask = np.asarray(example["mask"], dtype=float)
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, arr, cmap, bar_label) in zip(axes, panels):
        arr = np.asarray(arr, dtype=float)
        lo, hi = (None, None) if cmap != "gray" else (
            phase_window if phase_window is not None else tuple(np.nanpercentile(arr, [1, 99])))
        shown = ax.imshow(arr, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        if mask.any():
            ax.contour(mask, levels=[0.5], colors="cyan" if cmap == "gray" else "white", linewidths=0.8)
        if cmap != "gray" or intensity_unit:
            fig.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label=bar_label or intensity_unit)
        ax.set_title(title, fontsize="small")
        ax.set_axis_off()
    fig.suptitle(f"{example.get('case_id', '')}: largest tumour slice", fontsize="small")
    return fig


def plot_msi_matrix(ax: Axes, matrix: np.ndarray, *, title: str | None = None) -> Axes:
    """The (k+1) × (k+1) MSI count matrix as an annotated heatmap (seed 000 fig. 3a); row/column 0 is the
    region around the tumour, 1..k the habitats (`hccrad.features.msi.msi_matrix`)."""
    m = np.asarray(matrix, dtype=float)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise FeatureError(f"MSI matrix must be square, got shape {m.shape}", field="matrix")
    shown = ax.imshow(m, cmap="Blues")
    labels = ["0 (around)"] + [f"habitat {h}" for h in range(1, m.shape[0])]
    ax.set_xticks(range(m.shape[0]), labels=labels, rotation=45, ha="right", fontsize="small")
    ax.set_yticks(range(m.shape[0]), labels=labels, fontsize="small")
    top = m.max() or 1.0
    for i in range(m.shape[0]):
        for j in range(m.shape[1]):
            ax.text(j, i, f"{int(m[i, j])}", ha="center", va="center", fontsize="x-small",
                    color="white" if m[i, j] > top / 2 else "black")
    ax.figure.colorbar(shown, ax=ax, fraction=0.046, pad=0.04, label="neighbour pairs")
    if title:
        ax.set_title(title)
    return ax
