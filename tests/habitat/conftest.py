"""Tiny synthetic multi-phase cases with planted habitats (smooth contiguous blobs + noise)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from threadpoolctl import threadpool_limits

from hccrad.core.image import Image


@pytest.fixture(scope="session", autouse=True)
def _single_threaded_blas_openmp():
    """k-means' OpenMP threads spin-wait on a loaded 2-core CI box (10x slower); one thread is enough."""
    with threadpool_limits(limits=1):
        yield

# planted (AE, VE) centres in HU: low / moderate / high enhancement, a few noise SDs apart
CENTRES = np.array([[15.0, 35.0], [40.0, 55.0], [75.0, 80.0]])


def make_case(seed: int, shape=(6, 28, 28), noise: float = 5.0, centres=CENTRES):
    """Return (images by phase, tumour mask, planted truth volume 0/1..k) for one case."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    c = (np.array(shape) - 1) / 2
    mask = ((z - c[0]) / (shape[0] / 2)) ** 2 + ((y - c[1]) / 11) ** 2 + ((x - c[2]) / 11) ** 2 <= 1
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma=3)
    k = len(centres)
    props = rng.dirichlet(np.full(k, 4.0))
    cuts = np.quantile(field[mask], np.cumsum(props)[:-1])
    truth = (np.digitize(field, cuts) + 1).astype(np.int16)
    truth[~mask] = 0
    ae = np.where(mask, centres[np.maximum(truth, 1) - 1, 0], 30.0)
    ve = np.where(mask, centres[np.maximum(truth, 1) - 1, 1], 60.0)
    pre = 40.0 + rng.normal(0, noise, shape)
    art = pre + ae + rng.normal(0, noise, shape)
    por = pre + ve + rng.normal(0, noise, shape)
    sp = (2.0, 0.8, 0.8)
    images = {
        "pre": Image(pre, sp, name="pre"),
        "arterial": Image(art, sp, name="arterial"),
        "portal": Image(por, sp, name="portal"),
    }
    return images, mask, truth


@pytest.fixture(scope="session")
def cohort():
    """Six cases: list of (images, mask, truth)."""
    return [make_case(100 + i) for i in range(6)]


@pytest.fixture(scope="session")
def cohort_X(cohort):
    """(X per case (AE, VE), truth labels per case in np.nonzero(mask) order)."""
    from hccrad.habitat import SEED000_DESCRIPTORS, descriptor_maps, voxel_matrix

    Xs, ts = [], []
    for i, (images, mask, truth) in enumerate(cohort):
        maps = descriptor_maps(images, mask, SEED000_DESCRIPTORS, case_id=f"c{i}")
        Xs.append(voxel_matrix(maps, mask, ["AE", "VE"]))
        ts.append(truth[mask])
    return Xs, ts
