"""Figures and tables of the CNN stage beyond the score: architecture comparison (seed 003 fig. 2), the
layer table (seed 003 fig. 3) and feature-map panels by predicted class (seed 002 fig. 4).

Used by `hccrad.pipeline.deep_stage.run_deep_stage`; each function returns plain (name, Figure) / (name, DataFrame)
pieces so the report can iterate them.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from hccrad.deep.activation import activation_panels
from hccrad.deep.architecture import layer_table
from hccrad.deep.cv import ArchitectureSelection, select_architecture
from hccrad.deep.data import Augmentation, PatchSet
from hccrad.deep.networks import Network, Task
from hccrad.deep.spec import DeepSpec
from hccrad.deep.targets import RESPONSE, SUBTYPE, SURVIVAL, task_class_names
from hccrad.deep.train import NetworkSpec, Progress, TrainConfig
from hccrad.report.figures.deep import plot_activation_panels, plot_arch_loss_curves

log = logging.getLogger(__name__)

__all__ = ["activation_outputs", "architecture_outputs", "compare_architectures", "with_predicted_classes"]


def net_spec_for(spec: DeepSpec, arch: str, n_channels: int, tasks: tuple[Task, ...]) -> NetworkSpec:
    return NetworkSpec(arch, n_channels, tasks, spatial_dims=2 if spec.mode == "2d" else 3, width=spec.width,
                       dropout=spec.dropout, pretrained=spec.pretrained,
                       key_map=tuple(spec.pretrained_key_map.items()))


def compare_architectures(spec: DeepSpec, n_channels: int, tasks: tuple[Task, ...], patches: PatchSet,
                          targets: dict[str, np.ndarray], cfg: TrainConfig, val_fraction: float | None,
                          augmentation: Augmentation | None, progress: Progress | None
                          ) -> tuple[ArchitectureSelection, list[tuple[str, Figure]], list[tuple[str, pd.DataFrame]]]:
    """Seed 003: cross-validate each of `spec.compare_archs` on the training cohort (same folds, seed and
    settings) and choose the lowest mean held-out cross-entropy of the response among those that learned
    (`hccrad.deep.cv.select_architecture`)."""
    specs = {a: net_spec_for(spec, a, n_channels, tasks) for a in spec.compare_archs}
    sel = select_architecture(specs, patches, targets, cfg, task=RESPONSE, n_splits=spec.n_splits,
                              val_fraction=val_fraction, augmentation=augmentation,
                              augment_copies=spec.augment_copies, progress=progress, margin=spec.learned_margin)
    fig = Figure(figsize=(9, 3.5))
    plot_arch_loss_curves(fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2),
                          {a: sel.results[a].histories for a in spec.compare_archs})
    fig.tight_layout()
    table = sel.summary().assign(chosen=lambda t: t["model"] == sel.chosen)
    log.info("architecture comparison: %s", ", ".join(f"{r.model} {r.mean_val_ce:.4f}" for r in table.itertuples()))
    return sel, [("cnn_architecture_comparison", fig)], [("cnn_architecture_selection", table)]


def architecture_outputs(network: Network, patches: PatchSet) -> list[tuple[str, pd.DataFrame]]:
    """The final network's layer table for one input of the patches' shape (seed 003 fig. 3)."""
    return [("cnn_architecture", layer_table(network, patches.x.shape[1:]))]


def with_predicted_classes(probs: pd.DataFrame, tasks: tuple[Task, ...]) -> pd.DataFrame:
    """Per task: ``<task>_class`` (argmax) then ``<task>_p<j>``; index case_id."""
    cols = {}
    for t in tasks:
        p = probs[[f"{t.name}_p{j}" for j in range(t.n_classes)]].astype(float)
        cols[f"{t.name}_class"] = pd.Series(p.to_numpy().argmax(axis=1), index=probs.index)
        cols.update({c: p[c] for c in p.columns})
    out = pd.DataFrame(cols, index=probs.index)
    out.index.name = "case_id"
    return out


def activation_outputs(network: Network, patches: PatchSet, predictions: pd.DataFrame, spec: DeepSpec,
                       tasks: tuple[Task, ...]) -> tuple[list[tuple[str, Figure]], list[tuple[str, pd.DataFrame]]]:
    """Seed 002 fig. 4: feature maps of the final network, rows = predicted survival class (else response),
    columns = predicted subtype (else one column); and the mean activation per predicted group."""
    names = [t.name for t in tasks]
    rows = SURVIVAL if SURVIVAL in names else RESPONSE
    cols = SUBTYPE if SUBTYPE in names else None
    panels = activation_panels(network, patches, predictions, rows=rows, cols=cols,
                               row_labels=task_class_names(rows, spec),
                               col_labels=None if cols is None else task_class_names(cols, spec))
    n_r, n_c = len(panels.row_labels), len(panels.col_labels)
    fig = Figure(figsize=(2.6 * n_c + 1.2, 2.4 * n_r + 0.4))
    plot_activation_panels(fig, panels)
    return [("cnn_activation_panels", fig)], [("cnn_activation_by_group", panels.summary())]
