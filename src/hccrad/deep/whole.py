"""Whole axial slices as 2-D network inputs, without manual segmentation (seed 003).

Seed 003 feeds whole MRI slices to the CNN ("no manual segmentation"), every image resized to 450 × 320.
`whole_slices` cuts, for each case, ``k`` axial slices (all of y and x), windows each phase as
`build_patches` does, and resizes the (C, Y, X) slice to ``size`` = (H, W) by linear interpolation
(scipy.ndimage.zoom, grid_mode=True: the pixel areas, not the centres, are mapped onto each other, so any
aspect ratio works). Which slices:

1. ``"mask"``: the case has the tumour mask → its ``k`` largest-area slices (`largest_slices`);
2. ``"column"``: no mask, a slice index per case is given (`slice_index`, from `DeepSpec.slice_column`)
   → that slice and its ``k − 1`` nearest neighbours inside the volume;
3. ``"central"``: otherwise the ``k`` central slices of the volume.

The rule used is logged and recorded (`WholeSlices.rule`) so the patches summary can say it.
Each item's box is [z, 0, 0] – [z + 1, Y, X], so a Grad-CAM map goes back onto the full slice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from hccrad.core.errors import DataError, GeometryError, InputError
from hccrad.deep.data import PatchSet, _normalise_channels, largest_slices

log = logging.getLogger(__name__)

__all__ = ["WholeSlices", "choose_slices", "whole_slices"]


def choose_slices(n_slices: int, k: int, *, mask: np.ndarray | None = None, slice_index: float | None = None,
                  case_id: str | None = None, column: str | None = None) -> tuple[np.ndarray, str]:
    """Slice indices (k) and the rule used ("mask", "column" or "central"); see the module docstring."""
    if mask is not None and np.asarray(mask).any():
        try:
            return largest_slices(mask, k), "mask"
        except DataError as exc:
            raise DataError(exc.message, case=case_id, field="k_slices", hint=exc.hint) from exc
    if k > n_slices:
        raise DataError(f"asked for {k} slices of a volume with {n_slices}", case=case_id, field="k_slices",
                        hint=f"use k_slices <= {n_slices}")
    if slice_index is not None and not (isinstance(slice_index, float) and np.isnan(slice_index)):
        z = float(slice_index)
        if z != round(z) or not 0 <= z < n_slices:
            raise InputError(f"slice index {slice_index!r} is not an axial slice of a volume with {n_slices}",
                             case=case_id, field=column,
                             hint=f"give a whole number 0..{n_slices - 1} (0-based, axis 0 of the image)")
        order = np.argsort(np.abs(np.arange(n_slices) - z), kind="stable")
        return np.sort(order[:k]), "column"
    start = (n_slices - k) // 2
    return np.arange(start, start + k), "central"


@dataclass(frozen=True, eq=False)
class WholeSlices:
    """Whole-slice items of one case and the slice rule used."""

    patches: PatchSet
    rule: str


def whole_slices(case, phases: Sequence[str], size: Sequence[int], *, k: int = 1, mask_name: str | None = "tumor",
                 slice_index: float | None = None, column: str | None = None,
                 windows: Mapping[str, tuple[float, float]] | None = None, normalise: str = "window"
                 ) -> WholeSlices:
    """``k`` whole axial slices of a case (`hccrad.core.Case`) resized to ``size`` (H, W)."""
    if len(size) != 2 or min(size) < 1:
        raise DataError(f"whole-slice size needs 2 positive numbers, got {tuple(size)}", field="size",
                        hint="e.g. (320, 450)")
    if not phases:
        raise InputError("no phases given", case=case.case_id, field="phases", hint='e.g. ["arterial", "portal"]')
    arrays = [np.asarray(case.image(p).array, dtype=np.float32) for p in phases]
    shape = arrays[0].shape
    for p, a in zip(phases, arrays):
        if a.shape != shape:
            raise GeometryError(f"phase {p!r} has shape {a.shape}, phase {phases[0]!r} {shape}",
                                case=case.case_id, field=f"image_{p}",
                                hint="resample all phases onto one grid (hccrad.preprocess)")
    mask = case.mask(mask_name) if mask_name and mask_name in case.masks else None
    if mask is not None and mask.shape != shape:
        raise GeometryError(f"mask {mask_name!r} has shape {mask.shape}, images {shape}", case=case.case_id,
                            field=f"mask_{mask_name}", hint="resample the mask onto the image grid")
    zs, rule = choose_slices(shape[0], k, mask=mask, slice_index=slice_index, case_id=case.case_id, column=column)
    vol = _normalise_channels(np.stack(arrays), phases, windows, normalise)
    items, boxes = [], []
    for z in zs:
        sl = vol[:, int(z)]
        zoom = (1.0, size[0] / sl.shape[1], size[1] / sl.shape[2])
        items.append(ndimage.zoom(sl, zoom, order=1, mode="nearest", grid_mode=True).astype(np.float32))
        boxes.append([[int(z), 0, 0], [int(z) + 1, shape[1], shape[2]]])
    pid = case.patient_id if case.patient_id is not None else case.case_id
    log.debug("case %s: whole slices %s (rule %s)", case.case_id, [int(z) for z in zs], rule)
    ps = PatchSet(np.stack(items), (case.case_id,) * len(zs), (pid,) * len(zs), tuple(phases), "2d",
                  np.asarray(boxes, dtype=int))
    return WholeSlices(ps, rule)
