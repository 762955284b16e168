"""The CNN stage inside a study: its out-of-fold score becomes a column a model can use (fused with
clinical variables, seed 003), and the report shows its own AUC, loss curves and Grad-CAM; `hccrad report`
rebuilds that section from the recorded results."""

from __future__ import annotations

import json

import yaml

from hccrad.config import load_spec
from hccrad.pipeline.run import run_study
from hccrad.synth import generate_cohort

from .rebuild_check import rebuilt_report_is_the_same


def test_deep_stage_in_a_study(tmp_path):
    generate_cohort(tmp_path / "cohort", n=20, seed=2)
    spec = {
        "name": "deep", "seed": 0, "output_dir": "results",
        "data": {"manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv"},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"}},
        "habitat": {"n_habitats": 3},
        "features": {"icc_min": None},
        # 2 epochs, no step budget: too few to learn, so the (unlearned) score is kept explicitly for this smoke run
        "deep": {"size": [32, 32], "epochs": 2, "n_splits": 2, "width": 8, "gradcam_cases": 1, "min_steps": 0,
                 "warmup_steps": 0, "keep_unlearned_score": True},
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
    deep = run["deep"]   # issue 27: whether it learned and how it was trained, in run.json and the report
    assert isinstance(deep["learned"], bool) and any(n.startswith("final network: about") for n in deep["notes"])
    assert "min_val_cases" in html and ("no architecture learned" in html) == (not deep["learned"])
    # issue 27 item 5: the Grad-CAM randomisation check and tumour share tables are in the deep section
    assert "cnn gradcam randomisation" in html and "cnn gradcam tumour share" in html
    assert "spearman" in html and "share_in_tumour" in html
    # `hccrad report OUT` rebuilds the CNN section from the recorded data: same tables, figures redrawn
    rebuilt_report_is_the_same(res.out_dir, "deep")
