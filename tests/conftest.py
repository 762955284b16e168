"""Shared fixtures: the reference data folder (../shared/data) and a fixed seed."""

from __future__ import annotations

import os

# One BLAS/OpenMP thread per test worker: pytest-xdist already runs one worker per core, and k-means with
# OpenMP under oversubscription runs ~10x slower. Set before numpy/scikit-learn are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from hccrad.core.image import Image  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data (read-only published references; never copied into the repo)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"reference data not found at {SHARED_DATA}: clone hccrad beside shared/")
    return SHARED_DATA


@pytest.fixture(scope="session")
def repo_tool():
    """``load(name)``: the script tools/<name>.py of this repository as a module, loaded once. It is registered
    in ``sys.modules`` before it runs (its dataclasses look their module up)."""
    import importlib.util
    import sys

    def load(name: str):
        key = f"hccrad_tools_{name}"
        if key not in sys.modules:
            spec = importlib.util.spec_from_file_location(key, REPO / "tools" / f"{name}.py")
            module = sys.modules.setdefault(key, importlib.util.module_from_spec(spec))
            spec.loader.exec_module(module)
        return sys.modules[key]

    return load


@pytest.fixture(scope="session")
def habitat_like_study():
    """``make(seed, n, p)``: (X, y, feature names) -- p standard-normal "habitat" features and an age column,
    the response logistic in h00, h01 and age (a small study for the modelling tests)."""
    import pandas as pd

    def make(seed: int, n: int, p: int):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(n, p))
        age = rng.normal(60, 8, n)
        y = (rng.random(n) < 1 / (1 + np.exp(-(X[:, 0] - 0.8 * X[:, 1] + 0.03 * (age - 60))))).astype(int)
        feats = [f"h{i:02d}" for i in range(p)]
        return pd.DataFrame(X, columns=feats).assign(age=age), y, feats

    return make


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


# Small synthetic images for the io and preprocess tests (written into tmp_path, a few KB each).
def blob_image(shape=(8, 20, 24), spacing=(2.5, 0.8, 0.8), origin=(-10.0, -8.0, 30.0), name="portal",
               seed=0, direction=(1.0, 0, 0, 0, 1.0, 0, 0, 0, 1.0)) -> Image:
    """An int16 CT-like volume: -1000 background, a 60 HU body and a 120 HU blob, plus noise."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    arr = np.full(shape, -1000.0)
    arr[(y - shape[1] / 2) ** 2 / (shape[1] / 2.2) ** 2 + (x - shape[2] / 2) ** 2 / (shape[2] / 2.2) ** 2 < 1] = 60
    arr[(z - shape[0] / 2) ** 2 / 9 + (y - shape[1] / 2) ** 2 / 16 + (x - shape[2] / 2) ** 2 / 16 < 1] = 120
    arr += rng.normal(0, 5, shape)
    return Image(np.round(arr).astype(np.int16), spacing, origin, direction, name)


def blob_mask(image: Image) -> Image:
    return image.with_array((image.array > 100).astype(np.uint8), name="tumor")


@pytest.fixture
def small_image() -> Image:
    return blob_image()


@pytest.fixture
def make_image():
    """Factory: make_image(shape=..., spacing=..., origin=..., name=..., seed=...) -> Image."""
    return blob_image


@pytest.fixture
def make_mask():
    """Factory: make_mask(image) -> the blob's label image (1 inside)."""
    return blob_mask


@pytest.fixture(scope="session")
def dask_cluster():
    """One `dask.distributed.LocalCluster` of 2 separate worker processes (1 thread each) for the session's
    cluster tests (resample scheduling, per-case imaging): started once, since each start costs seconds."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  worker_dashboard_address=None) as cluster:
        yield cluster
