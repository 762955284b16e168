"""Pretrained weights from a user's checkpoint file (e.g. MedicalNet-style 3-D ResNet weights), never downloaded.

The file is read with ``torch.load(path, map_location="cpu", weights_only=True)``: only tensors and plain
containers are unpickled, never code or arbitrary classes. Accepted layouts: a state_dict (name → tensor), or
a dict holding one under ``"state_dict"`` or ``"model"`` (what `torch.save({"state_dict": ...})` and
hccrad's own `cnn_final.pt` write).

Key mapping: ``key_map`` is an ordered {old prefix: new prefix} applied to every checkpoint key, first
matching prefix only, before matching — e.g. ``{"module.": ""}`` strips the prefix `torch.nn.DataParallel`
adds, ``{"module.": "backbone."}`` maps a bare backbone saved under DataParallel onto hccrad's
``backbone.*`` names.

Strict matching, after mapping:
* every key of the network's backbone (``backbone.*``) must be in the checkpoint, and every checkpoint key
  must be a key of the network — otherwise an error lists the unmatched keys (the first ten);
* the task heads (``head.*``) are loaded when the checkpoint has them (e.g. hccrad's own checkpoint for the
  same tasks); when it has none of them they keep their seeded random initialisation (a pretrained
  backbone has no head for this study's tasks);
* a tensor whose shape differs from the network's is refused, naming the key and both shapes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import torch

from hccrad.core.errors import InputError
from hccrad.deep.networks import Network

log = logging.getLogger(__name__)

__all__ = ["load_pretrained", "map_keys", "read_state_dict"]


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file (weights_only=True), unwrapped from a "state_dict"/"model" entry."""
    p = Path(path)
    if not p.is_file():
        raise InputError("pretrained checkpoint not found", file=p, field="deep.pretrained",
                         hint="give the path of a local .pt/.pth file (nothing is downloaded)")
    try:
        ck = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle with code/classes, or not a torch file
        raise InputError(f"cannot read the checkpoint with weights_only=True: {exc}".splitlines()[0][:300],
                         file=p, field="deep.pretrained",
                         hint="save plain tensors: torch.save(model.state_dict(), path)") from exc
    if isinstance(ck, Mapping):
        for wrapper in ("state_dict", "model"):
            if isinstance(ck.get(wrapper), Mapping):
                ck = ck[wrapper]
                break
    if not isinstance(ck, Mapping) or not ck or not all(isinstance(v, torch.Tensor) for v in ck.values()):
        raise InputError("the checkpoint is not a state_dict (a dict of name -> tensor)", file=p,
                         field="deep.pretrained", hint="save it with torch.save(model.state_dict(), path)")
    return {str(k): v for k, v in ck.items()}


def map_keys(state: Mapping[str, torch.Tensor], key_map: Mapping[str, str]) -> dict[str, torch.Tensor]:
    """Rename keys by the first matching prefix of `key_map` ({old prefix: new prefix}); others unchanged."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        new = key
        for old, repl in key_map.items():
            if key.startswith(old):
                new = repl + key[len(old):]
                break
        if new in out:
            raise InputError(f"key mapping {dict(key_map)} sends two checkpoint keys to {new!r}",
                             field="deep.pretrained_key_map", hint="map prefixes that do not collide")
        out[new] = value
    return out


def _unmatched(keys: list[str]) -> str:
    return ", ".join(keys[:10]) + (f" (+{len(keys) - 10} more)" if len(keys) > 10 else "")


def load_pretrained(network: Network, path: str | Path, key_map: Mapping[str, str] | None = None) -> dict:
    """Load the checkpoint's tensors into `network` (strict, see the module docstring); returns a record
    {file, n_loaded, heads} where heads is "loaded" or "random"."""
    p = Path(path)
    state = map_keys(read_state_dict(p), key_map or {})
    own = network.state_dict()
    extra = sorted(k for k in state if k not in own)
    if extra:
        raise InputError(f"checkpoint keys not in the {network.arch} network: {_unmatched(extra)}", file=p,
                         field="deep.pretrained_key_map",
                         hint=f"map them onto the network's names (e.g. {next(iter(own))!r}) with "
                              "deep.pretrained_key_map, e.g. {'module.': ''}; check deep.arch and deep.width")
    missing = sorted(k for k in own if k.startswith("backbone.") and k not in state)
    if missing:
        raise InputError(f"checkpoint lacks {len(missing)} backbone key(s): {_unmatched(missing)}", file=p,
                         field="deep.pretrained_key_map", hint="check deep.arch, deep.width and the key mapping")
    head = sorted(k for k in own if k.startswith("head."))
    head_given = [k for k in head if k in state]
    if head_given and len(head_given) != len(head):
        raise InputError(f"checkpoint has only some head keys: lacks {_unmatched(sorted(set(head) - set(head_given)))}",
                         file=p, field="deep.pretrained", hint="give all the head's tensors or none")
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise InputError(f"checkpoint tensor {k!r} has shape {tuple(v.shape)}, the network needs "
                             f"{tuple(own[k].shape)}", file=p, field="deep.pretrained",
                             hint="use weights of the same architecture, width, phases (channels) and mode")
    own.update({k: v.to(own[k].dtype) for k, v in state.items()})
    network.load_state_dict(own, strict=True)
    record = {"file": str(p), "n_loaded": len(state), "heads": "loaded" if head_given else "random"}
    log.info("pretrained weights: %d tensors from %s (heads %s)", len(state), p.name, record["heads"])
    return record
