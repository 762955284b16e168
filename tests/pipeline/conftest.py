"""Helpers shared by the pipeline tests: a small study spec written to disk and a tiny synthetic cohort."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from hccrad.config import load_spec
from hccrad.config.spec import StudySpec
from hccrad.synth import cohort as synth_cohort
from hccrad.synth.phantom import PhantomSpec


def write_small_study(root: Path, name: str, *, habitat: dict | None = None, **sections) -> StudySpec:
    """`root/study.yaml` for the cohort in `root/cohort` (no reader-2 masks, ICC filter off, one clinical
    model, no bootstrap), with `habitat` settings merged over 3 habitats / 1,000 voxels and any other top-level
    section given (e.g. preprocess={...}); loaded with its file checks."""
    spec = {
        "name": name, "seed": 0, "output_dir": "results",
        "data": {"manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv", "reader2_mask": None},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"}},
        "habitat": {"n_habitats": 3, "max_voxels_fit": 1000, **(habitat or {})},
        "features": {"icc_min": None},
        "models": [{"name": "clinical", "features": "none", "clinical": ["vp4"], "clinical_selection": "all"}],
        "validation": {"bootstrap": 0},
        **sections,
    }
    (root / "study.yaml").write_text(yaml.safe_dump(spec))
    return load_spec(root / "study.yaml")


def tiny_cohort(folder: Path, *, n: int, seed: int, shape=(12, 32, 32), spacing=(2.5, 1.5, 1.5),
                noise_hu: float = 4.0) -> Path:
    """A synthetic cohort of `n` small phantoms (shape z, y, x voxels; spacing mm) written to `folder`."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(synth_cohort, "PhantomSpec", lambda: PhantomSpec(shape=shape, spacing=spacing))
        synth_cohort.generate_cohort(folder, n=n, seed=seed, noise_hu=noise_hu)
    return folder
