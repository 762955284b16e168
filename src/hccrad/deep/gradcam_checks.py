"""Sanity checks of Grad-CAM maps: model-parameter randomisation and the share of attribution in the tumour.

**Cascading model-parameter randomisation** (Adebayo et al., "Sanity checks for saliency maps", NeurIPS
2018): on a deep copy of the trained network the layers are re-initialised one after another from the top
(the output head first, then the trunk's blocks from the last to the first), with a fixed seed; after each
step the Grad-CAM map of the same input is recomputed and compared with the original map by Spearman's rank
correlation ρ (scipy.stats.spearmanr over all voxels of all items). A map that stays highly correlated
(ρ ≥ `similar`, default 0.5) after its weights were randomised does not depend on what the network learned,
and is flagged in the table's `note`. A map that becomes constant (e.g. all zero after the ReLU) has no rank
order: ρ is NaN and the note says so.

**Attribution share** of a non-negative map L and a tumour mask T over the same patch:

    share_in_tumour = Σ_{v∈T} L_v / Σ_v L_v,      tumour_share = |T| / |patch|,
    ratio = share_in_tumour / tumour_share        (> 1: attention concentrated on the tumour).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch
from scipy.stats import spearmanr
from torch import nn

from hccrad.core.errors import DataError
from hccrad.deep.gradcam import grad_cam
from hccrad.deep.networks import Network

__all__ = ["attribution_share", "randomisation_check", "randomisation_layers"]

UNCHANGED_NOTE = "map barely changed after randomising: it may not depend on the learned weights (Adebayo 2018)"
CONSTANT_NOTE = "map constant after randomising: no rank correlation"


def randomisation_layers(network: Network) -> list[str]:
    """Names of the blocks re-initialised in cascade, top first: "head", then backbone.trunk.<k> (k descending),
    skipping blocks without parameters (pooling)."""
    names = ["head"] if _has_params(network.head) else []
    trunk = network.backbone.trunk
    names += [f"backbone.trunk.{k}" for k in reversed(range(len(trunk))) if _has_params(trunk[k])]
    return names


def randomisation_check(network: Network, patch: torch.Tensor | np.ndarray, *, task: str | None = None,
                        class_index: int | None = 1, seed: int = 0, similar: float = 0.5) -> pd.DataFrame:
    """Cascading randomisation table: one row per step (step, layer, spearman, note); see the module docstring.

    `patch` is (N, C, *spatial); the original network is never modified (a deep copy is randomised), and the
    global torch random state is restored afterwards.
    """
    original = grad_cam(network, patch, task=task, class_index=class_index).ravel()
    model = copy.deepcopy(network)
    modules = dict(model.named_modules())
    rows = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for step, name in enumerate(randomisation_layers(model), start=1):
            _reinitialise(modules[name])
            cam = grad_cam(model, patch, task=task, class_index=class_index).ravel()
            rho = _spearman(original, cam)
            note = CONSTANT_NOTE if np.isnan(rho) else (UNCHANGED_NOTE if rho >= similar else "")
            rows.append({"step": step, "layer": name, "spearman": rho, "note": note})
    return pd.DataFrame(rows, columns=["step", "layer", "spearman", "note"])


def attribution_share(cam: np.ndarray, tumour_mask: np.ndarray) -> dict[str, float]:
    """Share of the map's total inside the tumour, the tumour's share of the patch and their ratio.

    The share (and ratio) is NaN when the map is all zero (nothing to share). Raises `DataError` for a map
    with negative values, shapes that differ, or an empty tumour mask.
    """
    c = np.asarray(cam, dtype=float)
    m = np.asarray(tumour_mask).astype(bool)
    if c.shape != m.shape:
        raise DataError(f"map shape {c.shape} differs from the tumour mask's {m.shape}", field="tumour_mask",
                        hint="pass the mask cut to the same patch as the map")
    if not np.isfinite(c).all() or (c < 0).any():
        raise DataError("the map has negative or non-finite values", field="cam",
                        hint="pass a Grad-CAM map (non-negative after its ReLU)")
    if not m.any():
        raise DataError("the tumour mask is empty in this patch", field="tumour_mask",
                        hint="pass a patch that contains the tumour")
    total = float(c.sum())
    share = float(c[m].sum()) / total if total > 0 else float("nan")
    volume = float(m.mean())
    return {"share_in_tumour": share, "tumour_share": volume, "ratio": share / volume}


def _has_params(module: nn.Module) -> bool:
    return any(True for _ in module.parameters())


def _reinitialise(block: nn.Module) -> None:
    for sub in block.modules():
        reset = getattr(sub, "reset_parameters", None)
        if callable(reset):
            reset()


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)
