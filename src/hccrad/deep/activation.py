"""Learned feature maps of a CNN, grouped by predicted class (seed 002 fig. 4).

Seed 002 shows "learned feature maps for 1-, 2-, 3-, > 3-year OS" of patients predicted MTM and non-MTM,
and observes that the whole intensity of the feature map in the predicted non-MTM group was lower. We
visualise a layer's activations the plain way (Zeiler & Fergus, ECCV 2014, "Visualizing and understanding
convolutional networks": look at the feature maps a layer produces for an input): for the feature maps
A_k (k = 1..K channels) of the target layer (default: the network's last convolutional block,
`Network.cam_layer`, the layer Grad-CAM uses),

    M = (1/K) Σ_k A_k,

upsampled to the input's spatial size by linear / bilinear / trilinear interpolation (align_corners=False,
as `grad_cam`). Unlike Grad-CAM, M is *not* rescaled per case, so intensities are comparable between
cases and groups. `activation_panels` picks, for each (row class, column class) of the predicted classes
of two tasks, the case predicted with the highest confidence p(row class) · p(column class), and tabulates
the mean activation intensity (mean of M over the input, averaged over a case's items) per group.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from hccrad.core.errors import DataError, ModelError
from hccrad.deep.data import PatchSet
from hccrad.deep.networks import Network

log = logging.getLogger(__name__)

__all__ = ["ActivationPanels", "activation_maps", "activation_panels"]


def activation_maps(network: Network, x: torch.Tensor | np.ndarray, *, layer: nn.Module | None = None,
                    batch_size: int = 16) -> np.ndarray:
    """Channel-mean feature map of `layer` (default `network.cam_layer`) per item, at the input size.

    Returns (N, *spatial of x) float32; eval mode, no gradients, weights untouched.
    """
    xa = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float32)
    if xa.ndim != network.spatial_dims + 2:
        raise DataError(f"x must be (N, C, ...) with {network.spatial_dims} spatial dims, got {tuple(xa.shape)}",
                        field="x", hint="add the batch axis: x[None]")
    target = layer if layer is not None else network.cam_layer
    if not any(m is target for m in network.modules()):
        raise ModelError("layer is not a module of the network", field="layer",
                         hint="pass a submodule, e.g. network.cam_layer")
    device = next(network.parameters()).device
    store: list[torch.Tensor] = []
    handle = target.register_forward_hook(lambda _m, _i, out: store.append(out.detach()))
    was_training = network.training
    network.eval()
    maps = []
    try:
        with torch.no_grad():
            for s in range(0, xa.shape[0], batch_size):
                store.clear()
                xb = torch.from_numpy(np.ascontiguousarray(xa[s:s + batch_size], dtype=np.float32)).to(device)
                network(xb)
                m = store[0].float().mean(dim=1, keepdim=True)
                mode = "trilinear" if m.ndim == 5 else "bilinear"
                maps.append(F.interpolate(m, size=tuple(xb.shape[2:]), mode=mode, align_corners=False)[:, 0]
                            .cpu().numpy())
    finally:
        handle.remove()
        network.train(was_training)
    return np.concatenate(maps).astype(np.float32)


@dataclass(frozen=True, eq=False)
class ActivationPanels:
    """Feature-map panels by predicted class: one shown case per (row class, column class) cell.

    rows / cols: task names (cols None = one column); row_labels / col_labels: class names; cells: (i, j) →
    (case_id, image 2-D, activation 2-D) or None; table: one row per cell (row_task, row_class, col_task,
    col_class, n_cases, mean_intensity, sd_intensity, shown_case, confidence), then, with `cols`, one row
    per column class over all rows (row_class "all"); intensity: case_id → mean activation.
    """

    rows: str
    cols: str | None
    row_labels: tuple[str, ...]
    col_labels: tuple[str, ...]
    cells: dict[tuple[int, int], tuple[str, np.ndarray, np.ndarray] | None] = field(repr=False)
    table: pd.DataFrame
    intensity: pd.Series

    def summary(self) -> pd.DataFrame:
        return self.table.copy()


def _classes(predictions: pd.DataFrame, task: str) -> tuple[pd.Series, pd.DataFrame]:
    pcols = sorted((c for c in predictions.columns if c.startswith(f"{task}_p") and c[len(task) + 2:].isdigit()),
                   key=lambda c: int(c[len(task) + 2:]))
    if not pcols:
        raise DataError(f"predictions have no {task}_p<j> columns", field=task,
                        hint=f"pass DeepStageResult.predictions with the task {task!r}")
    probs = predictions[pcols].to_numpy(dtype=float)
    return pd.Series(probs.argmax(axis=1), index=predictions.index), pd.DataFrame(probs, index=predictions.index)


def _display(x: np.ndarray, m: np.ndarray, channel: int) -> tuple[np.ndarray, np.ndarray]:
    if x.ndim == 4:  # (C, z, y, x): the middle slice
        z = x.shape[1] // 2
        return x[channel, z], m[z]
    return x[channel], m


def activation_panels(network: Network, patches: PatchSet, predictions: pd.DataFrame, *, rows: str,
                      cols: str | None = None, row_labels: list[str] | None = None,
                      col_labels: list[str] | None = None, channel: int = 0,
                      layer: nn.Module | None = None) -> ActivationPanels:
    """Group cases by their predicted classes of `rows` (and `cols`) and pick the most confident per cell.

    predictions: index case_id, columns ``<task>_p<j>`` (e.g. `DeepStageResult.predictions`); only cases
    present in `patches` are used. The shown image is channel `channel` of the case's first item (the
    largest tumour slice in 2-D; the middle slice of a 3-D patch).
    """
    ids = [c for c in dict.fromkeys(patches.case_ids) if c in predictions.index]
    if not ids:
        raise DataError("no case of the patches has a prediction", field="predictions",
                        hint="index predictions by the case ids of the patches")
    if not 0 <= channel < patches.x.shape[1]:
        raise DataError(f"channel {channel} out of range for {patches.x.shape[1]} channels", field="channel",
                        hint=f"use 0..{patches.x.shape[1] - 1}")
    pred = predictions.loc[ids]
    r_cls, r_p = _classes(pred, rows)
    if cols is not None:
        c_cls, c_p = _classes(pred, cols)
    else:
        c_cls, c_p = pd.Series(0, index=pred.index), pd.DataFrame(np.ones((len(ids), 1)), index=pred.index)
    n_r, n_c = r_p.shape[1], c_p.shape[1]
    rl = tuple(row_labels) if row_labels is not None else tuple(str(j) for j in range(n_r))
    cl = tuple(col_labels) if col_labels is not None else (
        tuple(str(j) for j in range(n_c)) if cols is not None else ("all",))
    if len(rl) != n_r or len(cl) != n_c:
        raise DataError(f"labels {rl} / {cl} do not match {n_r} × {n_c} classes", field="row_labels",
                        hint="give one label per class")
    maps = activation_maps(network, patches.x, layer=layer)
    item_int = maps.reshape(maps.shape[0], -1).mean(axis=1)
    case_of = np.asarray(patches.case_ids)
    intensity = pd.Series({c: float(item_int[case_of == c].mean()) for c in ids}, name="mean_activation")
    first = {c: int(np.flatnonzero(case_of == c)[0]) for c in ids}
    conf = pd.Series(r_p.to_numpy()[np.arange(len(ids)), r_cls.to_numpy()]
                     * c_p.to_numpy()[np.arange(len(ids)), c_cls.to_numpy()], index=pred.index)
    cells, rows_out = {}, []
    for i in range(n_r):
        for j in range(n_c):
            members = pred.index[(r_cls == i) & (c_cls == j)]
            row = {"row_task": rows, "row_class": rl[i], "col_task": cols or "", "col_class": cl[j],
                   "n_cases": len(members), "mean_intensity": np.nan, "sd_intensity": np.nan,
                   "shown_case": "", "confidence": np.nan}
            if len(members):
                best = str(conf.loc[members].idxmax())
                v = intensity.loc[members]
                row.update(mean_intensity=float(v.mean()), sd_intensity=float(v.std(ddof=1)) if len(v) > 1 else np.nan,
                           shown_case=best, confidence=float(conf.loc[best]))
                img, m = _display(patches.x[first[best]], maps[first[best]], channel)
                cells[(i, j)] = (best, img, m)
            else:
                cells[(i, j)] = None
            rows_out.append(row)
    if cols is not None:  # the column groups over all rows (seed 002: whole intensity, MTM vs non-MTM)
        for j in range(n_c):
            v = intensity.loc[pred.index[c_cls == j]]
            rows_out.append({"row_task": rows, "row_class": "all", "col_task": cols, "col_class": cl[j],
                             "n_cases": len(v), "mean_intensity": float(v.mean()) if len(v) else np.nan,
                             "sd_intensity": float(v.std(ddof=1)) if len(v) > 1 else np.nan,
                             "shown_case": "", "confidence": np.nan})
    log.info("activation panels: %d cases in %d × %d groups", len(ids), n_r, n_c)
    return ActivationPanels(rows, cols, rl, cl, cells, pd.DataFrame(rows_out), intensity)
