"""Per-case cache of the habitat descriptor values (issue 24): a rerun with unchanged inputs and settings reads
each case's descriptor matrices instead of recomputing its descriptor maps.

What is cached: for one case, the descriptor values at the tumour voxels ``X`` (n_tumour, d) and, with a
reader-2 mask, at its voxels ``X2`` — the rows of `hccrad.habitat.voxel_matrix` in ``np.argwhere(mask)``
order, as float32 — in an NPZ (`CaseCache.put_arrays`, read with ``allow_pickle=False``).

When it is used: only when both parts of the key match.
* the case's input digest (`InputDigests.case_digest`: BLAKE2b of the bytes of every image and mask file by
  manifest role), so one changed voxel of one phase, or a changed mask, recomputes that case;
* `descriptor_cache_key`: a hash over everything else the values depend on — the descriptor definitions,
  the whole `data` and `preprocess` sections (phases, reference phase, mask names, registration and any
  resampling/intensity settings), the seed (registration is seeded) and the hccrad version.
A cached entry whose shapes do not match the case's masks and descriptors is never used (recomputed), and
writing an entry removes the case's entries for other keys or inputs (`CaseCache`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from hccrad import __version__
from hccrad.config.spec import StudySpec
from hccrad.pipeline.cache import CaseCache, config_hash

STAGE = "descriptors"  # out/cache/descriptors/


def descriptor_cache_key(spec: StudySpec) -> str:
    """The configuration part of the cache key (see module docstring)."""
    return config_hash({"descriptors": [d.model_dump(mode="json") for d in spec.habitat.descriptors],
                        "data": spec.data.model_dump(mode="json"),
                        "preprocess": spec.preprocess.model_dump(mode="json"),
                        "seed": spec.seed, "version": __version__})


def _fits(arrays: dict[str, np.ndarray], tumor: np.ndarray, reader2: np.ndarray | None, d: int) -> bool:
    """Whether a cached entry has one row per mask voxel and d columns for both masks."""
    X = arrays.get("X")
    if X is None or X.shape != (int(tumor.sum()), d):
        return False
    if reader2 is None:
        return "X2" not in arrays
    X2 = arrays.get("X2")
    return X2 is not None and X2.shape == (int(reader2.sum()), d)


def cached_descriptor_matrices(
    cache: CaseCache, case_id: str, inputs: str, tumor: np.ndarray, reader2: np.ndarray | None, d: int,
    compute: Callable[[], tuple[np.ndarray, np.ndarray | None]],
) -> tuple[np.ndarray, np.ndarray | None]:
    """(X, X2) of one case from the cache when its entry matches (key, inputs, shapes), else from
    ``compute()``, which is then written to the cache. ``cache.hits`` / ``cache.misses`` count them."""
    arrays = cache.get_arrays(case_id, inputs) if inputs else None
    if arrays is not None and _fits(arrays, tumor, reader2, d):
        cache.hits += 1
        return arrays["X"].astype(np.float32), (arrays["X2"].astype(np.float32) if "X2" in arrays else None)
    cache.misses += 1
    X, X2 = compute()
    if inputs:  # no digest, no caching
        cache.put_arrays(case_id, {"X": X} if X2 is None else {"X": X, "X2": X2}, inputs)
    return X, X2
