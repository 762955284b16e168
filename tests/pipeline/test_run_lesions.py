"""Several lesions per patient: manifest rows sharing a patient id are combined by the declared rule into
one patient row before modelling; run.json records which lesions were kept."""

from __future__ import annotations

import json

import pandas as pd
import yaml

from hccrad.config import load_spec
from hccrad.pipeline.run import run_study
from hccrad.synth import generate_cohort


def test_two_lesions_per_patient(tmp_path):
    generate_cohort(tmp_path / "cohort", n=40, seed=6)
    man = pd.read_csv(tmp_path / "cohort" / "manifest.csv")
    clin = pd.read_csv(tmp_path / "cohort" / "clinical.csv").set_index("case_id")
    paired = {}
    for cohort, grp in man.groupby("cohort"):  # pair consecutive cases of a cohort into one patient
        ids = list(grp["case_id"])
        for a, b in zip(ids[0::2], ids[1::2]):
            paired[b] = a
    for b, a in paired.items():
        man.loc[man["case_id"] == b, "patient_id"] = man.loc[man["case_id"] == a, "patient_id"].iloc[0]
        clin.loc[b] = clin.loc[a]
    man.to_csv(tmp_path / "cohort" / "manifest.csv", index=False)
    clin.reset_index().to_csv(tmp_path / "cohort" / "clinical.csv", index=False)
    spec = {
        "name": "lesions", "seed": 0, "output_dir": "results",
        "data": {"manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv"},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"}},
        "habitat": {"n_habitats": 3},
        "features": {"icc_min": None},
        "lesions": {"rule": "all", "combine": "volume_weighted_mean"},
        "models": [{"name": "habitat", "features": "habitat", "selection_steps": ["scale", "lasso"],
                    "lasso_cv": 3}],
        "validation": {"bootstrap": 0},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec))
    res = run_study(load_spec(tmp_path / "study.yaml"))
    n_patients = man["patient_id"].nunique()
    assert int(res.metrics.groupby("cohort")["n"].first().sum()) == n_patients
    run = json.loads((res.out_dir / "run.json").read_text())
    assert run["lesions"] is not None and run["n_cases_analysed"] == n_patients
    feats = pd.read_csv(res.out_dir / "features" / "habitat_features.csv", index_col=0)
    assert len(feats) == len(man), "per-lesion features are kept on disk"
