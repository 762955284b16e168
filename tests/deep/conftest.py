"""Tiny synthetic multi-phase cases for the deep-learning tests (CPU only, one torch thread)."""

from __future__ import annotations

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from hccrad.core.case import Case  # noqa: E402
from hccrad.core.image import Image  # noqa: E402

torch.set_num_threads(1)

WINDOWS = {"pre": (-50.0, 250.0), "arterial": (-50.0, 250.0)}


def make_case(case_id: str, rng: np.random.Generator, *, blob: bool, shape=(10, 28, 28), radius=6.0,
              patient_id: str | None = None) -> tuple[Case, tuple[int, int, int]]:
    """A two-phase case: a spherical tumour at a random centre; with `blob`, an enhancing (arterial +120 HU)
    5×5×5 blob inside it. Returns the case and the blob centre."""
    z, y, x = np.indices(shape)
    c = np.array([shape[0] // 2, rng.integers(9, shape[1] - 9), rng.integers(9, shape[2] - 9)])
    tumour = ((z - c[0]) ** 2 * 4 + (y - c[1]) ** 2 + (x - c[2]) ** 2) <= radius ** 2
    pre = rng.normal(50, 10, shape).astype(np.float32)
    art = rng.normal(60, 10, shape).astype(np.float32)
    art[tumour] += 20
    b = c + np.array([0, rng.integers(-2, 3), rng.integers(-2, 3)])
    if blob:
        art[b[0] - 2:b[0] + 3, b[1] - 2:b[1] + 3, b[2] - 2:b[2] + 3] += 120
    sp = (2.0, 0.8, 0.8)
    images = {"pre": Image(pre, sp, name="pre"), "arterial": Image(art, sp, name="arterial")}
    masks = {"tumor": Image(tumour.astype(np.uint8), sp, name="tumor")}
    return Case(case_id, images, masks, patient_id=patient_id), tuple(int(v) for v in b)


def make_cohort(n: int, seed: int, prefix: str = "c"):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    out = [make_case(f"{prefix}{i:03d}", rng, blob=bool(y[i])) for i in range(n)]
    return [c for c, _ in out], y, [b for _, b in out]


@pytest.fixture(scope="session")
def cohort():
    return make_cohort(24, 1)


@pytest.fixture(scope="session")
def synth_cohort_root(tmp_path_factory):
    """A 20-case synthetic study cohort (seed 5) shared by the study-stage tests; root/cohort holds its files."""
    from hccrad.synth import generate_cohort

    root = tmp_path_factory.mktemp("deepstudy")
    generate_cohort(root / "cohort", n=20, seed=5)
    return root
