"""Multiregional spatial interaction (MSI) features of a habitat map.

Reference: Wu J, Cao G, Sun X, et al. "Intratumoral spatial heterogeneity at perfusion MR imaging predicts
recurrence-free survival in locally advanced breast cancer treated with neoadjuvant chemotherapy."
Radiology 2018;288:26-35, and the lab's reference MATLAB code (Aminu, Chen, Wu, 2023), which this module
reproduces (ARCHITECTURE.md section 5):

* every tumour voxel (label 1..k) is a centre; each of its neighbours (8 in-plane for ``"2d"``, 26 for
  ``"3d"``) adds one count to ``M[label(centre), label(neighbour)]``; neighbours outside the array or
  outside the tumour are label 0 (or, with ``background`` = a liver shell mask, only neighbours inside the
  shell are label 0 and all other non-tumour neighbours are ignored);
* then row 0 is set equal to column 0 and ``M[0, 0] = 0`` (not ``M + M.T``), so ``M[i, i]`` counts every
  same-label pair twice and, without ``background``, row i sums to 8 (26) x the voxel count of habitat i;
* second order on ``P = M / sum(M)`` with indices 0..k (MATLAB ``graycoprops``): contrast
  ``sum |i-j|^2 P``, homogeneity ``sum P / (1 + |i-j|)``, correlation
  ``sum (i-mu_i)(j-mu_j) P / (sigma_i sigma_j)``, energy ``sum P^2``, plus entropy ``-sum P log2 P``
  (seed 000 uses entropy; base 2 as in PyRadiomics);
* first order: the diagonal ``M[i, i]`` (i >= 1) and the strict lower triangle (borders, row 0 = the
  outside / liver) multiplied by the voxel volume, and the same entries divided by ``sum(M)``.

Two output layouts (names documented in docs/habitat.md):

``"reference"`` (default): ``msi_contrast``, ``msi_homogeneity``, ``msi_correlation``, ``msi_energy``,
``msi_entropy``, ``msi_within_{i}_mm3`` (diagonal), ``msi_border_{i}_{j}_mm3`` (i > j >= 0),
``msi_within_{i}_frac``, ``msi_border_{i}_{j}_frac`` (divided by sum M), and the voxel-count habitat
volumes ``habitat{i}_volume_mm3`` and proportions ``habitat{i}_fraction``.

``"wu2025"``: the 41-feature layout of seed 000 (Wu et al. 2025, Fig. 3b, k = 3; 12 absolute, 25 relative,
4 second order) with its names: ``habitat{i}`` (voxel volume, mm3), ``{i}border{j}`` (M[i, j] x voxel
volume, i >= 1, 0 <= j <= i), ``habitat{i}.1`` (voxel proportion), ``b{j}{i}`` (M[i, j] / sum M, same
entries), ``{i}b{j}r`` (M[i, j] / sum_{j' != i} M[i, j'], every row i = 0..k, j != i: share of the borders
of region i that touch region j), ``border.1`` (all borders between different labels / sum M), and
``contrast``, ``homogeneity``, ``energy``, ``entropy``. The paper does not list the names of all 41; the
names it prints (``habitat3.1``, ``habitat1.1``, ``b01``, ``2b3r``, ``2border0``) are reproduced with the
meaning its discussion gives them, the rest is our documented reconstruction.

`habit_msi_matrix` / `habit_msi_features` reproduce the HABIT toolkit's different rule (habitat-analysis
1.0.2) for users who migrate; they are not the reference.
"""

from __future__ import annotations

import itertools
import logging
from typing import Literal

import numpy as np
from scipy import ndimage

from hccrad.core.errors import FeatureError

logger = logging.getLogger(__name__)

_IGNORE = -1


def _offsets(connectivity: str) -> list[tuple[int, int, int]]:
    if connectivity == "2d":
        return [(0, dy, dx) for dy, dx in itertools.product((-1, 0, 1), repeat=2) if (dy, dx) != (0, 0)]
    if connectivity == "3d":
        return [o for o in itertools.product((-1, 0, 1), repeat=3) if o != (0, 0, 0)]
    raise FeatureError(
        f"unknown connectivity {connectivity!r}", field="connectivity", hint="use '2d' (8) or '3d' (26)"
    )


def _as_3d(labels: np.ndarray) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim == 2:
        arr = arr[np.newaxis]
    if arr.ndim != 3:
        raise FeatureError(
            f"habitat labels must be a 2-D or 3-D (z, y, x) array; got shape {arr.shape}",
            field="labels",
            hint="pass the habitat map volume (0 outside the tumour, 1..k inside)",
        )
    return arr


def _validate_labels(labels: np.ndarray, n_habitats: int) -> np.ndarray:
    arr = _as_3d(labels)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise FeatureError("habitat labels must be integers", field="labels", hint="cast to int16")
        arr = arr.astype(np.int64)
    if int(n_habitats) < 1:
        raise FeatureError(f"n_habitats must be >= 1, got {n_habitats}", field="n_habitats")
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi > n_habitats:
        raise FeatureError(
            f"habitat labels must lie in 0..{n_habitats}; found {lo}..{hi}",
            field="labels",
            hint="check n_habitats matches the habitat model that made the map",
        )
    if hi == 0:
        raise FeatureError(
            "habitat map is empty (no voxel labelled 1..k)",
            field="labels",
            hint="the tumour mask is empty or the habitat step was skipped",
        )
    return arr


def msi_matrix(
    labels: np.ndarray,
    n_habitats: int,
    connectivity: Literal["2d", "3d"] = "2d",
    background: np.ndarray | None = None,
) -> np.ndarray:
    """The (k+1) x (k+1) MSI count matrix of Wu et al. 2018 (see module docstring for the exact rule).

    labels: (z, y, x) (or 2-D) integer habitat map, 0 outside the tumour, 1..k inside.
    background: optional boolean mask (same shape) of the liver shell; when given, only neighbours inside
    it count as label 0 and other non-tumour neighbours are ignored.
    Vectorised: one gather of the padded label volume per neighbour offset.
    """
    lab = _validate_labels(labels, n_habitats)
    k = int(n_habitats)
    # crop to the tumour bounding box + 1 voxel: neighbours beyond it are outside the tumour anyway
    sl = _box_plus_one(lab > 0)
    crop = lab[sl]
    # neighbour codes: 0 = ignored (not tumour, not in the shell), 1 = label 0, 1 + i = habitat i; one
    # bincount over (centre, neighbour code) pairs per offset, the ignored column dropped at the end
    # (counts identical to masking the ignored neighbours out; issue 24)
    small = np.int16 if k < 32_000 else np.int64
    if background is not None:
        bg = _as_3d(np.asarray(background)).astype(bool)
        if bg.shape != lab.shape:
            raise FeatureError(
                f"background mask shape {bg.shape} differs from habitat map shape {lab.shape}",
                field="background",
                hint="pass the liver shell on the same grid as the habitat map",
            )
        nb = np.where(crop > 0, crop.astype(small) + 1, bg[sl].astype(small))
    else:
        nb = crop.astype(small) + 1
    padded = np.pad(nb, 1, mode="constant", constant_values=0 if background is not None else 1)
    flat = padded.ravel()
    idx = np.flatnonzero(padded > 1)
    base = (flat[idx].astype(np.intp) - 1) * (k + 2)
    strides = np.array(padded.strides) // padded.itemsize
    counts = np.zeros((k + 1) * (k + 2), dtype=np.int64)
    for off in _offsets(connectivity):
        counts += np.bincount(base + flat[idx + int(np.dot(off, strides))], minlength=(k + 1) * (k + 2))
    counts = counts.reshape(k + 1, k + 2)[:, 1:].ravel()
    m = counts.reshape(k + 1, k + 1).astype(float)
    m[0, :] = m[:, 0]
    m[0, 0] = 0.0
    return m


def _box_plus_one(inside: np.ndarray) -> tuple[slice, ...]:
    """The bounding box of ``inside`` grown by one voxel per side, clipped to the array (from the projections
    on each axis, not from the coordinates of every voxel)."""
    box = []
    for axis in range(inside.ndim):
        other = tuple(a for a in range(inside.ndim) if a != axis)
        idx = np.flatnonzero(inside.any(axis=other))
        box.append(slice(max(int(idx[0]) - 1, 0), int(idx[-1]) + 2))
    return tuple(box)


def _second_order(m: np.ndarray) -> dict[str, float]:
    """graycoprops contrast/homogeneity/correlation/energy and entropy on P = M / sum(M)."""
    total = m.sum()
    if total <= 0:
        raise FeatureError(
            "MSI matrix is empty: no tumour voxel has a counted neighbour",
            field="background",
            hint="the liver shell does not touch this one-voxel tumour; check the liver mask",
        )
    p = m / total
    n = m.shape[0]
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    contrast = float(np.sum((i - j) ** 2 * p))
    homogeneity = float(np.sum(p / (1.0 + np.abs(i - j))))
    mu_i = float(np.sum(i * p))
    mu_j = float(np.sum(j * p))
    sd_i = float(np.sqrt(np.sum((i - mu_i) ** 2 * p)))
    sd_j = float(np.sqrt(np.sum((j - mu_j) ** 2 * p)))
    if sd_i == 0 or sd_j == 0:
        raise FeatureError(
            "MSI correlation is undefined: the matrix has a single label",
            field="labels",
            hint="the habitat map must contain tumour voxels with a border",
        )
    correlation = float(np.sum((i - mu_i) * (j - mu_j) * p) / (sd_i * sd_j))
    energy = float(np.sum(p**2))
    nzp = p[p > 0]
    entropy = float(-np.sum(nzp * np.log2(nzp)))
    return {
        "contrast": contrast,
        "homogeneity": homogeneity,
        "correlation": correlation,
        "energy": energy,
        "entropy": entropy,
    }


def msi_features(
    labels: np.ndarray,
    n_habitats: int,
    spacing: tuple[float, float, float],
    connectivity: Literal["2d", "3d"] = "2d",
    layout: Literal["reference", "wu2025"] = "reference",
    background: np.ndarray | None = None,
) -> dict[str, float]:
    """MSI features of one habitat map as an ordered dict name -> value (layouts in the module docstring).

    spacing: (z, y, x) voxel size in mm (only its product, the voxel volume, is used).
    Raises FeatureError for empty maps, labels outside 0..k, or fewer tumour voxels than k.
    """
    lab = _validate_labels(labels, n_habitats)
    k = int(n_habitats)
    n_tumour = int(np.count_nonzero(lab))
    if n_tumour < k:
        raise FeatureError(
            f"tumour has {n_tumour} voxel(s), fewer than the {k} habitats",
            field="labels",
            hint="exclude lesions this small or lower n_habitats",
        )
    if len(spacing) != 3 or min(float(s) for s in spacing) <= 0:
        raise FeatureError(f"spacing must be 3 positive numbers (mm); got {spacing}", field="spacing")
    vox = float(np.prod([float(s) for s in spacing]))
    m = msi_matrix(lab, k, connectivity=connectivity, background=background)
    second = _second_order(m)
    total = m.sum()
    n_per = np.bincount(lab[lab > 0].astype(np.int64), minlength=k + 1)[1:].astype(float)
    out: dict[str, float] = {}
    if layout == "reference":
        # the reference code's order: graycoprops, diag(M)(2:end), M(tril(-1)) (column-major), normalised
        lower = [(i, j) for j in range(k) for i in range(j + 1, k + 1)]
        for name in ("contrast", "homogeneity", "correlation", "energy", "entropy"):
            out[f"msi_{name}"] = second[name]
        for i in range(1, k + 1):
            out[f"msi_within_{i}_mm3"] = float(m[i, i] * vox)
        for i, j in lower:
            out[f"msi_border_{i}_{j}_mm3"] = float(m[i, j] * vox)
        for i in range(1, k + 1):
            out[f"msi_within_{i}_frac"] = float(m[i, i] / total)
        for i, j in lower:
            out[f"msi_border_{i}_{j}_frac"] = float(m[i, j] / total)
        for i in range(1, k + 1):
            out[f"habitat{i}_volume_mm3"] = float(n_per[i - 1] * vox)
        for i in range(1, k + 1):
            out[f"habitat{i}_fraction"] = float(n_per[i - 1] / n_tumour)
        return out
    if layout == "wu2025":
        # 12 absolute (k = 3)
        for i in range(1, k + 1):
            out[f"habitat{i}"] = float(n_per[i - 1] * vox)
        for i in range(1, k + 1):
            for j in range(i + 1):
                out[f"{i}border{j}"] = float(m[i, j] * vox)
        # 25 relative (k = 3)
        for i in range(1, k + 1):
            out[f"habitat{i}.1"] = float(n_per[i - 1] / n_tumour)
        for i in range(1, k + 1):
            for j in range(i + 1):
                out[f"b{j}{i}"] = float(m[i, j] / total)
        for i in range(k + 1):
            row_borders = m[i].sum() - m[i, i]
            for j in range(k + 1):
                if j != i:
                    out[f"{i}b{j}r"] = float(m[i, j] / row_borders) if row_borders > 0 else 0.0
        out["border.1"] = float((total - np.trace(m)) / total)
        # 4 second order (no correlation in this layout)
        for name in ("contrast", "homogeneity", "energy", "entropy"):
            out[name] = second[name]
        return out
    raise FeatureError(
        f"unknown MSI layout {layout!r}", field="layout", hint="use 'reference' or 'wu2025'"
    )


def habit_msi_matrix(labels: np.ndarray, n_habitats: int) -> np.ndarray:
    """HABIT-compatible interaction matrix (habitat-analysis 1.0.2, ``spatial_interaction_matrix``).

    Not Wu's rule: 6 face neighbours; every voxel of the label bounding box padded by one zero layer is a
    centre, background included, so M[0, 0] != 0; only pairs inside that padded box are counted.
    For users migrating from HABIT; the default `msi_matrix` is the reference.
    """
    lab = _validate_labels(labels, n_habitats)
    k = int(n_habitats)
    nz = np.nonzero(lab)
    sl = tuple(slice(int(a.min()), int(a.max()) + 1) for a in nz)
    box = np.pad(lab[sl].astype(np.int64), 1, mode="constant", constant_values=0)
    counts = np.zeros((k + 1) ** 2, dtype=np.int64)
    for axis in range(3):
        for shift in (-1, 1):
            centre = [slice(None)] * 3
            neigh = [slice(None)] * 3
            centre[axis] = slice(1, None) if shift < 0 else slice(None, -1)
            neigh[axis] = slice(None, -1) if shift < 0 else slice(1, None)
            codes = box[tuple(centre)].ravel() * (k + 1) + box[tuple(neigh)].ravel()
            counts += np.bincount(codes, minlength=(k + 1) ** 2)
    return counts.reshape(k + 1, k + 1).astype(float)


def habit_msi_features(labels: np.ndarray, n_habitats: int) -> dict[str, float]:
    """HABIT-compatible MSI features with HABIT's names (habitat-analysis 1.0.2,
    ``msi_features_from_matrix``): ``firstorder_{i}_and_{j}`` (i < j, row 0 included, then the diagonal
    i >= 1), the same divided by D = sum of the lower triangle incl. diagonal without row 0
    (``firstorder_normalized_...``), and on N = M / D (which does not sum to 1): contrast
    ``sum (i-j)^2 N``, homogeneity ``sum N / (1 + (i-j)^2)``, correlation from the marginals of N
    (1.0 when a marginal SD is 0, as HABIT does) and energy ``sum N^2``. Values are not Wu's."""
    m = habit_msi_matrix(labels, n_habitats)
    n = m.shape[0]
    out: dict[str, float] = {}
    upper = [(i, j) for i in range(n) for j in range(i + 1, n)]
    diag = [(i, i) for i in range(1, n)]
    for i, j in upper + diag:
        out[f"firstorder_{i}_and_{j}"] = float(m[i, j])
    lower = np.tril(m)
    lower[0] = 0.0
    denom = float(lower.sum())
    norm = m / denom if denom > 0 else np.zeros_like(m)
    for i, j in upper + diag:
        out[f"firstorder_normalized_{i}_and_{j}"] = float(norm[i, j])
    i_idx, j_idx = np.indices(norm.shape)
    sq = (i_idx - j_idx) ** 2
    out["contrast"] = float(np.sum(sq * norm))
    out["homogeneity"] = float(np.sum(norm / (1.0 + sq)))
    px, py, idx = norm.sum(axis=1), norm.sum(axis=0), np.arange(n)
    ux, uy = float(np.sum(px * idx)), float(np.sum(py * idx))
    sx = float(np.sqrt(np.sum(px * (idx - ux) ** 2)))
    sy = float(np.sqrt(np.sum(py * (idx - uy) ** 2)))
    out["correlation"] = (
        float((np.sum(norm * i_idx * j_idx) - ux * uy) / (sx * sy)) if sx > 0 and sy > 0 else 1.0
    )
    out["energy"] = float(np.sum(norm**2))
    return out


def habitat_components(
    labels: np.ndarray, n_habitats: int, connectivity: Literal["2d", "3d"] = "3d"
) -> dict[int, int]:
    """Number of connected components of each habitat 1..k (scipy.ndimage.label; 8-connected in-plane
    for ``"2d"``, counted slice by slice; 26-connected for ``"3d"``). Absent habitats have 0."""
    lab = _validate_labels(labels, n_habitats)
    if connectivity == "3d":
        structure = np.ones((3, 3, 3), dtype=bool)
    elif connectivity == "2d":
        structure = np.zeros((3, 3, 3), dtype=bool)
        structure[1] = True
    else:
        _offsets(connectivity)  # raises
    return {h: int(ndimage.label(lab == h, structure=structure)[1]) for h in range(1, int(n_habitats) + 1)}


def heterogeneity_score(
    labels: np.ndarray, n_habitats: int, connectivity: Literal["2d", "3d"] = "3d"
) -> float:
    """Intratumoral heterogeneity score: mean number of connected components per habitat present,
    ``sum_h C_h / #{h : C_h > 0}``. 1.0 means every habitat is one contiguous region; larger values mean
    habitats are fragmented into more islands (a more heterogeneous, intermixed tumour)."""
    comps = habitat_components(labels, n_habitats, connectivity)
    present = [c for c in comps.values() if c > 0]
    return float(sum(present) / len(present))
