"""Grad-CAM heatmaps for 2-D and 3-D networks (Selvaraju et al., ICCV 2017), via forward/gradient hooks.

For the logit y_c of class c of one task and the feature maps A_k of the target layer (default: the
network's last convolutional block, `Network.cam_layer`):

    α_k = mean over voxels of ∂y_c/∂A_k,      L = ReLU(Σ_k α_k A_k),

then L is resized to the input size (linear/bilinear/trilinear interpolation, align_corners=False) and
min–max scaled per sample to [0, 1] — the same definition as MONAI's `monai.visualize.GradCAM` and the
pytorch-grad-cam package seed 003 used; tests check the maps against MONAI's. `cam_to_image` puts a map
back on the case's voxel grid (the patch's source box), so it can be written as NIfTI aligned with the
input (`hccrad.io.volume.write_image`).
"""

from __future__ import annotations

import logging

import numpy as np
import torch
import torch.nn.functional as F
from scipy import ndimage
from torch import nn

from hccrad.core.errors import DataError, ModelError
from hccrad.core.image import Image
from hccrad.deep.networks import Network

log = logging.getLogger(__name__)

__all__ = ["cam_to_image", "grad_cam"]


def grad_cam(network: Network, x: torch.Tensor | np.ndarray, *, task: str | None = None,
             class_index: int | None = None, layer: nn.Module | None = None, normalise: bool = True
             ) -> np.ndarray:
    """Grad-CAM maps (N, *spatial of x) for `task`'s class `class_index` (default: each item's predicted class).

    The network is put in eval mode (dropout off, BatchNorm running statistics) and its weights are not
    changed; gradients of the parameters are left untouched.
    """
    xt = torch.as_tensor(np.asarray(x, dtype=np.float32) if isinstance(x, np.ndarray) else x).float()
    if xt.ndim != network.spatial_dims + 2:
        raise DataError(f"x must be (N, C, ...) with {network.spatial_dims} spatial dims, got {tuple(xt.shape)}",
                        field="x", hint="add the batch axis: x[None]")
    names = [t.name for t in network.tasks]
    task = task or names[0]
    if task not in names:
        raise ModelError(f"unknown task {task!r}", field="task", hint=f"use one of {names}")
    target = layer if layer is not None else network.cam_layer
    device = next(network.parameters()).device
    xt = xt.to(device).detach().requires_grad_(True)  # so the hook sees a graph even with frozen weights
    store: dict[str, torch.Tensor] = {}

    def fwd_hook(_mod, _inp, out):
        store["acts"] = out
        out.register_hook(lambda g: store.__setitem__("grads", g))

    was_training = network.training
    network.eval()
    handle = target.register_forward_hook(fwd_hook)
    try:
        with torch.enable_grad():
            logits = network(xt)[task]
            idx = logits.argmax(dim=1) if class_index is None else torch.full(
                (logits.shape[0],), int(class_index), dtype=torch.long, device=device)
            if int(idx.max()) >= logits.shape[1] or int(idx.min()) < 0:
                raise ModelError(f"class_index {class_index} out of range for {logits.shape[1]} classes",
                                 field="class_index", hint=f"use 0..{logits.shape[1] - 1}")
            score = logits.gather(1, idx[:, None]).sum()
            grads = torch.autograd.grad(score, store["acts"], retain_graph=False)[0]
    finally:
        handle.remove()
        network.train(was_training)
    acts = store["acts"].detach()
    b, c = grads.shape[:2]
    weights = grads.reshape(b, c, -1).mean(dim=2).reshape(b, c, *([1] * (grads.ndim - 2)))
    cam = F.relu((weights * acts).sum(dim=1, keepdim=True))
    mode = "trilinear" if cam.ndim == 5 else "bilinear"
    cam = F.interpolate(cam, size=tuple(xt.shape[2:]), mode=mode, align_corners=False)[:, 0]
    if normalise:
        flat = cam.reshape(b, -1)
        lo = flat.min(dim=1).values.reshape(b, *([1] * (cam.ndim - 1)))
        hi = flat.max(dim=1).values.reshape(b, *([1] * (cam.ndim - 1)))
        cam = torch.where(hi > lo, (cam - lo) / (hi - lo).clamp_min(1e-12), torch.zeros_like(cam))
    return cam.cpu().numpy()


def cam_to_image(cam: np.ndarray, reference: Image, box: np.ndarray, *, name: str = "gradcam") -> Image:
    """Place one map (2-D or 3-D, the patch's size) into its source box on the grid of `reference`.

    `box` is the item's (2, 3) [start, stop) in (z, y, x) voxels (`PatchSet.boxes[i]`); the map is resized
    to the box (linear interpolation, for `fit="resize"` patches) and voxels outside the box or the volume
    are 0. The result shares the reference's spacing, origin and direction.
    """
    c = np.asarray(cam, dtype=np.float32)
    b = np.asarray(box, dtype=int)
    if b.shape != (2, 3) or (b[1] <= b[0]).any():
        raise DataError(f"box must be (2, 3) with stop > start, got {b.tolist()}", field="box",
                        hint="pass PatchSet.boxes[i]")
    size = b[1] - b[0]
    if c.ndim == 2:
        if size[0] != 1:
            raise DataError("a 2-D map needs a one-slice box", field="box", hint="pass the box of a 2-D item")
        c = c[None]
    elif c.ndim != 3:
        raise DataError(f"cam must be 2-D or 3-D, got shape {c.shape}", field="cam", hint="pass one item's map")
    if tuple(c.shape) != tuple(size):
        c = ndimage.zoom(c, [s / n for s, n in zip(size, c.shape)], order=1, mode="nearest", grid_mode=True)
    out = np.zeros(reference.shape, dtype=np.float32)
    lo = np.maximum(b[0], 0)
    hi = np.minimum(b[1], reference.shape)
    if (hi <= lo).any():
        raise DataError("the box lies outside the reference image", field="box",
                        hint="use the reference image the patch was cut from")
    src = tuple(slice(a - s, e - s) for a, e, s in zip(lo, hi, b[0]))
    out[tuple(slice(a, e) for a, e in zip(lo, hi))] = c[src]
    return reference.with_array(out, name=name)
