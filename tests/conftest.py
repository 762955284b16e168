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

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ../shared/data (read-only published references; never copied into the repo)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"reference data not found at {SHARED_DATA}: clone hccrad beside shared/")
    return SHARED_DATA


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)
