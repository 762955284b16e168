"""A study with PyRadiomics features per habitat (seed-001 style) runs end to end; features are named
`<phase>_<region>_<pyradiomics name>`, cached per case, and a second run reuses the cache."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from hccrad.config import load_spec
from hccrad.pipeline.run import run_study
from hccrad.synth import generate_cohort

PARAMS = {"imageType": {"Original": {}}, "featureClass": {"firstorder": ["Mean", "Entropy", "Skewness"]},
          "setting": {"binWidth": 25, "minimumROIDimensions": 1}}


@pytest.fixture(scope="module")
def study_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("rad")
    generate_cohort(root / "cohort", n=20, seed=5)
    (root / "params.yaml").write_text(yaml.safe_dump(PARAMS))
    spec = {
        "name": "radiomics per habitat", "seed": 2, "output_dir": "results",
        "data": {"manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv"},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"}},
        "habitat": {"n_habitats": 3, "descriptors": [
            {"name": "AE", "phases": ["arterial", "pre"], "smooth_mm": 1.0},
            {"name": "VE", "phases": ["portal", "pre"], "smooth_mm": 1.0}]},
        "features": {"radiomics": {"enabled": True, "params": "params.yaml", "phases": ["portal"]},
                     "icc_min": 0.5},
        "models": [{"name": "radiomics", "features": "radiomics",
                    "selection_steps": ["univariate", "scale", "lasso"], "univariate_p": 0.5,
                    "lasso_cv": 3}],
        "validation": {"bootstrap": 5, "n_jobs": 1},
    }
    path = root / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_radiomics_study_runs_and_caches(study_file):
    spec = load_spec(study_file)
    first = run_study(spec)
    feats = pd.read_csv(first.out_dir / "features" / "radiomics_features.csv", index_col=0)
    for region in ("tumor", "habitat1", "habitat2", "habitat3"):
        assert f"portal_{region}_original_firstorder_Mean" in feats.columns
    assert len(feats) >= 18
    stab = pd.read_csv(first.out_dir / "features" / "stability.csv")
    assert "portal_tumor_original_firstorder_Mean" in set(stab["feature"])
    cached = list((first.out_dir / "cache" / "radiomics_reader1").rglob("*.json"))
    assert len(cached) == len(feats)
    mtimes = {p: p.stat().st_mtime_ns for p in cached}
    second = run_study(spec)
    assert {p: p.stat().st_mtime_ns for p in cached} == mtimes, "a rerun must reuse the per-case cache"
    pd.testing.assert_frame_equal(first.metrics, second.metrics)
    cache = json.loads((second.out_dir / "run.json").read_text())["cache"]  # issue 19 item 5: said in run.json
    assert cache["radiomics"] == {"from_cache": len(feats), "computed": 0}
    assert cache["imaging"]["computed"] == 0 and cache["imaging"]["from_cache"] >= len(feats)
