"""Per-habitat summary table (seed 000, Wu et al. 2025 section 3.2 and Fig. 2d-e).

For each habitat h = 1..k, pooled over the given cases: the number of voxels, the volume (sum over cases of
voxels x that case's voxel volume, mm3), the proportion of all tumour voxels, and for each descriptor the
mean and the sample SD (ddof = 1) of its voxel values. Seed 000 reports e.g. habitat 3
AE = 54.2 +/- 20.8 HU, VE = 64.1 +/- 16.2 HU and population proportions 34.6 / 47.7 / 17.7 %.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from hccrad.core.errors import FeatureError


def habitat_summary(
    X_list: Sequence[np.ndarray],
    labels_list: Sequence[np.ndarray],
    descriptor_names: Sequence[str],
    voxel_volume_mm3_list: Sequence[float],
) -> pd.DataFrame:
    """One row per habitat: habitat, n_voxels, volume_mm3, proportion, ``{name}_mean``, ``{name}_sd``.

    X_list: per-case (n_i, d) descriptor matrices; labels_list: per-case labels 1..k (same voxel order);
    voxel_volume_mm3_list: per-case voxel volume. A habitat with < 2 voxels has SD NaN (undefined).
    """
    if not (len(X_list) == len(labels_list) == len(voxel_volume_mm3_list)) or len(X_list) == 0:
        raise FeatureError(
            "X_list, labels_list and voxel_volume_mm3_list must be non-empty and of equal length",
            field="habitat_summary",
        )
    names = list(descriptor_names)
    Xs, labs, vols = [], [], []
    for i, (X, lab, v) in enumerate(zip(X_list, labels_list, voxel_volume_mm3_list)):
        X = np.asarray(X, dtype=float)
        lab = np.asarray(lab).ravel()
        if X.ndim != 2 or X.shape[1] != len(names) or X.shape[0] != lab.shape[0]:
            raise FeatureError(
                f"case {i}: X shape {X.shape} does not match {len(names)} descriptors "
                f"and {lab.shape[0]} labels",
                field="habitat_summary",
            )
        Xs.append(X)
        labs.append(lab.astype(int))
        vols.append(np.full(lab.shape[0], float(v)))
    X = np.concatenate(Xs)
    lab = np.concatenate(labs)
    vol = np.concatenate(vols)
    if lab.min() < 1:
        raise FeatureError("habitat labels must be 1..k inside the tumour", field="labels_list")
    k = int(lab.max())
    rows = []
    for h in range(1, k + 1):
        sel = lab == h
        n = int(sel.sum())
        row: dict = {"habitat": h, "n_voxels": n, "volume_mm3": float(vol[sel].sum()),
                     "proportion": n / lab.shape[0]}
        for j, name in enumerate(names):
            vals = X[sel, j]
            row[f"{name}_mean"] = float(vals.mean()) if n else float("nan")
            row[f"{name}_sd"] = float(vals.std(ddof=1)) if n > 1 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)
