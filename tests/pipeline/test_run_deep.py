"""The CNN stage inside a study: its out-of-fold score becomes a column a model can use (fused with
clinical variables, seed 003), and the report shows its own AUC, loss curves and Grad-CAM."""

from __future__ import annotations

import json

import yaml

from hccrad.config import load_spec
from hccrad.pipeline.run import run_study
from hccrad.synth import generate_cohort


def test_deep_stage_in_a_study(tmp_path):
    generate_cohort(tmp_path / "cohort", n=20, seed=2)
    spec = {
        "name": "deep", "seed": 0, "output_dir": "results",
        "data": {"manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv"},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"}},
        "habitat": {"n_habitats": 3},
        "features": {"icc_min": None},
        "deep": {"size": [32, 32], "epochs": 2, "n_splits": 2, "width": 8, "gradcam_cases": 1},
        "models": [{"name": "cnn_clinical", "features": "none", "clinical": ["cnn_score", "vp4"],
                    "clinical_selection": "all"}],
        "validation": {"bootstrap": 0},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec))
    res = run_study(load_spec(tmp_path / "study.yaml"))
    html = res.report.read_text()
    assert "Deep learning: CNN score" in html
    run = json.loads((res.out_dir / "run.json").read_text())
    assert "cnn_score" in run["models"]["cnn_clinical"]["selected"]
    assert list((res.out_dir / "deep" / "gradcam").glob("*_gradcam.nii.gz"))
    assert "deep" in run["timings_s"]
