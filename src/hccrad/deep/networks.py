"""Small, randomly initialised CNNs for 2-D slices and 3-D patches, with a multitask head.

Backbones (each built for ``spatial_dims`` 2 or 3; channel widths scale with ``width``):

* ``resnet``: He et al. 2016 basic residual blocks (two 3×3(×3) convolutions + identity/1×1 shortcut),
  three stages with strides 1, 2, 2.
* ``mobilenet``: Howard et al. 2017 (MobileNetV1, seed 002's "3D MobileNetV1"): a standard convolution then
  depthwise separable blocks (depthwise 3×3 conv, groups = channels, + pointwise 1×1 conv, each BN + ReLU).
* ``alexnet``: Krizhevsky et al. 2012 shape: large-kernel strided conv, max-pools, three 3×3 convs, then
  a fully connected layer with dropout (seed 003's AlexNet candidate). Every convolution is followed by
  batch normalisation (Ioffe & Szegedy 2015), as in the other three networks: without it the network barely
  moved under SGD lr 0.01 (loss 0.693 for 60 epochs even on a planted easy signal, issue 27), started at
  exactly ln 2 and so "won" an architecture choice by lowest validation cross-entropy without learning.
* ``inception``: Szegedy et al. (Inception-v4 / Inception-ResNet, seed 003): a stem, Inception-A blocks
  (1×1 | 1×1→3×3 | 1×1→3×3→3×3 | avg-pool→1×1 branches concatenated, added to the block input as a
  residual after a 1×1 projection) and a Reduction-A block (strided 3×3 | 1×1→3×3→strided 3×3 | max-pool).

Every network is ``Network(backbone, MultitaskHead)``: ``embed(x)`` gives the penultimate feature vector
(global average pool of the last feature map, or AlexNet's FC layer) that `hccrad.deep.features` exports,
``forward(x)`` gives ``{task: logits}``, and ``cam_layer`` names the last convolutional block for Grad-CAM.

The multitask loss (seed 002: MTM subtype + 1-, 2-, 3-, >3-year survival classes from one extractor) is
L = Σ_t w_t · L_t, L_t = (1/|K_t|) Σ_{i∈K_t} −log softmax(z_{t,i})[y_{t,i}], where K_t are the items of
the batch whose label for task t is known (label −1 = missing, e.g. MTM known only for resected patients,
survival class unknown for early censoring — see `survival_interval_classes`). A task with no known label
in the batch adds nothing. (Seed 003's CEL sums a binary cross-entropy per softmax output; for two classes
that is twice this cross-entropy, so model ranking is the same.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from hccrad.core.errors import ModelError

__all__ = ["ARCHITECTURES", "MultitaskHead", "Network", "Task", "build_network", "multitask_loss"]


@dataclass(frozen=True)
class Task:
    """One classification output: ``name`` and its number of classes (2 for a binary response)."""

    name: str
    n_classes: int = 2


def _conv(d: int, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> nn.Module:
    cls = nn.Conv3d if d == 3 else nn.Conv2d
    return cls(cin, cout, k, stride=stride, padding=k // 2, groups=groups, bias=False)


def _bn(d: int, c: int) -> nn.Module:
    return nn.BatchNorm3d(c) if d == 3 else nn.BatchNorm2d(c)


def _cbr(d: int, cin: int, cout: int, k: int = 3, stride: int = 1, groups: int = 1) -> nn.Sequential:
    return nn.Sequential(_conv(d, cin, cout, k, stride, groups), _bn(d, cout), nn.ReLU(inplace=True))


def _gap(d: int) -> nn.Module:
    return nn.Sequential(nn.AdaptiveAvgPool3d(1) if d == 3 else nn.AdaptiveAvgPool2d(1), nn.Flatten())


def _maxpool(d: int, k: int = 3, stride: int = 2) -> nn.Module:
    return (nn.MaxPool3d if d == 3 else nn.MaxPool2d)(k, stride=stride, padding=k // 2)


class _BasicBlock(nn.Module):
    def __init__(self, d: int, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_cbr(d, cin, cout, 3, stride), _conv(d, cout, cout), _bn(d, cout))
        self.short = (nn.Identity() if stride == 1 and cin == cout
                      else nn.Sequential(_conv(d, cin, cout, 1, stride), _bn(d, cout)))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.body(x) + self.short(x))


class _Backbone(nn.Module):
    """conv trunk (`trunk`, ending in the Grad-CAM layer) then `pool` to an (N, n_features) vector."""

    trunk: nn.Sequential
    pool: nn.Module
    n_features: int

    @property
    def cam_layer(self) -> nn.Module:
        return self.trunk[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.trunk(x))


class ResNetBackbone(_Backbone):
    def __init__(self, d: int, in_channels: int, width: int = 16, blocks: Sequence[int] = (1, 1, 1)) -> None:
        super().__init__()
        widths = [width, 2 * width, 4 * width]
        layers: list[nn.Module] = [_cbr(d, in_channels, width)]
        cin = width
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                layers.append(_BasicBlock(d, cin, w, 2 if (i > 0 and j == 0) else 1))
                cin = w
        self.trunk = nn.Sequential(*layers)
        self.pool = _gap(d)
        self.n_features = cin


class MobileNetBackbone(_Backbone):
    def __init__(self, d: int, in_channels: int, width: int = 16,
                 plan: Sequence[tuple[int, int]] = ((2, 1), (4, 2), (8, 2), (8, 1))) -> None:
        super().__init__()
        layers: list[nn.Module] = [_cbr(d, in_channels, 2 * width, 3, 2 if d == 3 else 1)]
        cin = 2 * width
        for mult, stride in plan:
            cout = mult * width
            layers.append(nn.Sequential(_cbr(d, cin, cin, 3, stride, groups=cin), _cbr(d, cin, cout, 1)))
            cin = cout
        self.trunk = nn.Sequential(*layers)
        self.pool = _gap(d)
        self.n_features = cin


class AlexNetBackbone(_Backbone):
    def __init__(self, d: int, in_channels: int, width: int = 16, dropout: float = 0.2) -> None:
        super().__init__()
        w = width
        self.trunk = nn.Sequential(
            _cbr(d, in_channels, 2 * w, 5, 2),
            _maxpool(d),
            _cbr(d, 2 * w, 4 * w),
            _maxpool(d),
            nn.Sequential(_cbr(d, 4 * w, 6 * w), _cbr(d, 6 * w, 4 * w)),
            _cbr(d, 4 * w, 4 * w),
        )
        self.pool = nn.Sequential(_gap(d), nn.Dropout(dropout), nn.Linear(4 * w, 8 * w), nn.ReLU(inplace=True))
        self.n_features = 8 * w


class _InceptionA(nn.Module):
    def __init__(self, d: int, cin: int, b: int) -> None:
        super().__init__()
        pool = (nn.AvgPool3d if d == 3 else nn.AvgPool2d)(3, stride=1, padding=1, count_include_pad=False)
        self.b1 = _cbr(d, cin, b, 1)
        self.b3 = nn.Sequential(_cbr(d, cin, b, 1), _cbr(d, b, b))
        self.b5 = nn.Sequential(_cbr(d, cin, b, 1), _cbr(d, b, b), _cbr(d, b, b))
        self.bp = nn.Sequential(pool, _cbr(d, cin, b, 1))
        self.project = nn.Sequential(_conv(d, 4 * b, cin, 1), _bn(d, cin))
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)
        return self.act(x + self.project(mixed))


class _ReductionA(nn.Module):
    def __init__(self, d: int, cin: int, b: int) -> None:
        super().__init__()
        self.b3 = _cbr(d, cin, b, 3, 2)
        self.b33 = nn.Sequential(_cbr(d, cin, b, 1), _cbr(d, b, b), _cbr(d, b, b, 3, 2))
        self.bp = _maxpool(d)
        self.n_out = cin + 2 * b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b3(x), self.b33(x), self.bp(x)], dim=1)


class InceptionBackbone(_Backbone):
    def __init__(self, d: int, in_channels: int, width: int = 16) -> None:
        super().__init__()
        w = width
        stem = nn.Sequential(_cbr(d, in_channels, w, 3, 2 if d == 3 else 1), _cbr(d, w, 2 * w))
        red = _ReductionA(d, 2 * w, w)
        self.trunk = nn.Sequential(stem, _InceptionA(d, 2 * w, w // 2 or 1), red,
                                   _InceptionA(d, red.n_out, w // 2 or 1))
        self.pool = _gap(d)
        self.n_features = red.n_out


ARCHITECTURES: dict[str, type[_Backbone]] = {
    "resnet": ResNetBackbone, "mobilenet": MobileNetBackbone, "alexnet": AlexNetBackbone,
    "inception": InceptionBackbone,
}


class MultitaskHead(nn.Module):
    """Dropout, then one linear layer per task: features (N, F) → {task: logits (N, n_classes)}."""

    def __init__(self, n_features: int, tasks: Sequence[Task], dropout: float = 0.2) -> None:
        super().__init__()
        if not tasks:
            raise ModelError("no tasks given", field="tasks", hint='e.g. [Task("response", 2)]')
        names = [t.name for t in tasks]
        if len(set(names)) != len(names):
            raise ModelError(f"duplicate task names {names}", field="tasks", hint="name every task once")
        self.tasks = tuple(tasks)
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.ModuleDict({t.name: nn.Linear(n_features, t.n_classes) for t in tasks})

    def forward(self, f: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.dropout(f)
        return {name: head(f) for name, head in self.heads.items()}


class Network(nn.Module):
    """Backbone + multitask head. forward → {task: logits}; embed → penultimate features (N, F)."""

    def __init__(self, backbone: _Backbone, head: MultitaskHead, arch: str = "", spatial_dims: int = 3) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self.arch = arch
        self.spatial_dims = spatial_dims

    @property
    def cam_layer(self) -> nn.Module:
        return self.backbone.cam_layer

    @property
    def tasks(self) -> tuple[Task, ...]:
        return self.head.tasks

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim != self.spatial_dims + 2:
            raise ModelError(f"{self.arch} expects {self.spatial_dims}-D inputs (N, C, ...), got shape "
                             f"{tuple(x.shape)}", field="x", hint="build patches with the matching mode")
        return self.head(self.backbone(x))


def build_network(arch: str, in_channels: int, tasks: Sequence[Task], *, spatial_dims: int = 3,
                  width: int = 16, dropout: float = 0.2) -> Network:
    """A randomly initialised `Network` ("resnet", "mobilenet", "alexnet", "inception"; 2-D or 3-D).

    Call `torch.manual_seed(seed)` first for reproducible initial weights (`hccrad.deep.train` does).
    """
    if arch not in ARCHITECTURES:
        raise ModelError(f"unknown architecture {arch!r}", field="arch", hint=f"use one of {sorted(ARCHITECTURES)}")
    if spatial_dims not in (2, 3):
        raise ModelError(f"spatial_dims must be 2 or 3, got {spatial_dims}", field="spatial_dims",
                         hint="2 for slices, 3 for patches")
    if in_channels < 1 or width < 2:
        raise ModelError("in_channels must be >= 1 and width >= 2", field="width", hint="e.g. width=16")
    cls = ARCHITECTURES[arch]
    backbone = cls(spatial_dims, in_channels, width, dropout=dropout) if arch == "alexnet" else \
        cls(spatial_dims, in_channels, width)
    return Network(backbone, MultitaskHead(backbone.n_features, tasks, dropout), arch, spatial_dims)


def multitask_loss(outputs: Mapping[str, torch.Tensor], targets: Mapping[str, torch.Tensor],
                   weights: Mapping[str, float] | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """L = Σ_t w_t · mean_{known i} CE(z_t,i, y_t,i) (labels −1 ignored); returns (L, {task: L_t or nan})."""
    total = None
    parts: dict[str, float] = {}
    for name, logits in outputs.items():
        if name not in targets:
            raise ModelError(f"no targets for task {name!r}", field=name, hint="give every task a label column")
        y = targets[name].to(logits.device).long()
        known = y >= 0
        if not bool(known.any()):
            parts[name] = float("nan")
            continue
        lt = F.cross_entropy(logits[known].float(), y[known], reduction="mean")
        parts[name] = float(lt.detach())
        w = 1.0 if weights is None else float(weights.get(name, 1.0))
        total = w * lt if total is None else total + w * lt
    if total is None:  # keep the graph connected when no label is known in this batch
        total = sum(z.sum() for z in outputs.values()) * 0.0
    return total, parts
