"""`data.segment_missing_liver`: cases without a liver mask get one from a U-Net trained on the labelled
cases (Dice reported), so their MSI label 0 is liver parenchyma, not a dilation ring."""

from __future__ import annotations

import json

import pandas as pd
import yaml

from hccrad.config import load_spec
from hccrad.pipeline.run import run_study
from hccrad.synth import generate_cohort


def test_missing_liver_masks_are_segmented(tmp_path):
    generate_cohort(tmp_path / "cohort", n=10, seed=12)
    man = pd.read_csv(tmp_path / "cohort" / "manifest.csv")
    man.loc[:1, "mask_liver"] = None
    man.to_csv(tmp_path / "cohort" / "manifest.csv", index=False)
    spec = {
        "name": "liver", "seed": 0, "output_dir": "results",
        "data": {"manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv",
                 "segment_missing_liver": True},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"}},
        "habitat": {"n_habitats": 3},
        "features": {"icc_min": None},
        "models": [{"name": "clinical", "features": "none", "clinical": ["vp4"], "clinical_selection": "all"}],
        "validation": {"bootstrap": 0},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec))
    res = run_study(load_spec(tmp_path / "study.yaml"))
    html = res.report.read_text()
    assert "have no liver mask" not in html and "Liver segmentation" in html
    rec = json.loads((res.out_dir / "run.json").read_text())["liver_segmentation"]
    assert rec["predicted_cases"] == sorted(man.case_id[:2]) and rec["mean_dice"] >= 0.8
    assert len(list((res.out_dir / "liver_masks").glob("*_liver_pred.nii.gz"))) == 2
