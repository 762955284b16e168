"""The layer table of a network (seed 003 fig. 3, the architecture diagram, as a table).

`layer_table` runs one zero input of the given shape through the network with a forward hook on every
leaf module (a module without children: convolution, batch norm, activation, pooling, linear, dropout, …)
and records, in call order, its name (the dotted attribute path), type, output shape for that one input
and its own trainable parameters (`sum(p.numel())` of the module's direct parameters, so the column adds
up to the network's total). A module called more than once gets one row per call (parameters counted on
the first row only).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from hccrad.core.errors import DataError
from hccrad.deep.networks import Network

log = logging.getLogger(__name__)

__all__ = ["layer_table"]


def _shape(out) -> str:
    if isinstance(out, torch.Tensor):
        return "×".join(str(int(v)) for v in out.shape[1:])
    if isinstance(out, dict):
        return "; ".join(f"{k}: {_shape(v)}" for k, v in out.items())
    if isinstance(out, (tuple, list)):
        return "; ".join(_shape(v) for v in out)
    return type(out).__name__


def layer_table(network: Network, input_shape: Sequence[int]) -> pd.DataFrame:
    """One row per leaf-layer call: layer (name), type, output_shape (without the batch axis), parameters.

    input_shape: one item's (C, *spatial), e.g. (3, 64, 64). Eval mode, no gradients, weights untouched.
    """
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != network.spatial_dims + 1 or min(shape) < 1:
        raise DataError(f"input_shape {shape} must be (C, *spatial) with {network.spatial_dims} spatial dims",
                        field="input_shape", hint="e.g. (2, 64, 64) for a 2-D network with 2 channels")
    rows: list[dict] = []
    seen: set[int] = set()
    handles = []
    for name, mod in network.named_modules():
        if any(True for _ in mod.children()):
            continue

        def hook(m, _inp, out, name=name):
            own = sum(p.numel() for p in m.parameters(recurse=False) if p.requires_grad)
            first = id(m) not in seen
            seen.add(id(m))
            rows.append({"layer": name, "type": type(m).__name__, "output_shape": _shape(out),
                         "parameters": int(own) if first else 0})

        handles.append(mod.register_forward_hook(hook))
    was_training = network.training
    network.eval()
    device = next(network.parameters()).device
    try:
        with torch.no_grad():
            network(torch.zeros((1, *shape), device=device))
    finally:
        for h in handles:
            h.remove()
        network.train(was_training)
    table = pd.DataFrame(rows, columns=["layer", "type", "output_shape", "parameters"])
    total = int(sum(p.numel() for p in network.parameters() if p.requires_grad))
    if int(np.sum(table["parameters"])) != total:  # a parameter outside the leaf layers
        log.warning("layer table accounts for %d of %d parameters", int(table["parameters"].sum()), total)
    return table
