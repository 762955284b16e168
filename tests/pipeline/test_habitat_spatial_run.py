"""Issue 23: the habitat spec's k rule and two-step SLIC supervoxel settings reach the fitted model, and the
imaging stage passes each case's voxel indices and spacing to the spatial model (fit and predict)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
import yaml
from pydantic import ValidationError

from hccrad.cohort.study import Study
from hccrad.config import load_spec
from hccrad.config.spec import HabitatSpec
from hccrad.pipeline.imaging import habitat_path, run_imaging
from hccrad.synth import generate_cohort

HABITAT = {"strategy": "two_step", "n_habitats": "auto", "k_range": [2, 4], "max_voxels_fit": 5000,
           "k_rule": "consensus", "n_bootstrap": 3, "supervoxels": "slic", "n_supervoxels": 12,
           "compactness": 0.2}


def _spec(root: Path):
    spec = {
        "name": "spatial", "seed": 0, "output_dir": "results",
        "data": {"manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv", "reader2_mask": None},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"}},
        "habitat": HABITAT,
        "features": {"icc_min": None},
        "models": [{"name": "clinical", "features": "none", "clinical": ["vp4"], "clinical_selection": "all"}],
        "validation": {"bootstrap": 0},
    }
    (root / "study.yaml").write_text(yaml.safe_dump(spec))
    return load_spec(root / "study.yaml")


def test_spec_parameters_reach_the_spatial_two_step_model(tmp_path):
    generate_cohort(tmp_path / "cohort", n=12, seed=21)
    spec = _spec(tmp_path)
    result = run_imaging(Study(spec), tmp_path / "results")
    doc = json.loads((tmp_path / "results" / "models" / "habitat_model.json").read_text())
    assert doc["class"] == "TwoStepHabitats"
    for key in ("k_rule", "n_bootstrap", "supervoxels", "n_supervoxels", "compactness"):
        assert doc["params"][key] == HABITAT[key], key
    ks = result.k_selection
    assert ks is not None and ks.rule == "consensus" and ks.n_bootstrap == 3 and len(ks.stability) == 3
    assert result.n_habitats == ks.k
    cid = result.features.index[0]
    vol = sitk.GetArrayFromImage(sitk.ReadImage(str(habitat_path(tmp_path / "results", cid))))
    assert set(np.unique(vol)) - {0} <= set(range(1, ks.k + 1)) and vol.max() >= 1


def test_slic_only_for_two_step():
    with pytest.raises(ValidationError, match="two_step"):
        HabitatSpec(strategy="population", supervoxels="slic")
    with pytest.raises(ValidationError):
        HabitatSpec(k_rule="gap")
    assert HabitatSpec().k_rule == "elbow" and HabitatSpec().strategy.kind == "population"
