"""Reader comparators (seed 003): radiologists' calls from the clinical table are reported beside the
models per cohort, and their sensitivity/specificity equal hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from hccrad.config import load_spec
from hccrad.pipeline.run import run_study
from hccrad.synth import generate_cohort


def test_reader_section(tmp_path):
    generate_cohort(tmp_path / "cohort", n=24, seed=4)
    clin = pd.read_csv(tmp_path / "cohort" / "clinical.csv")
    rng = np.random.default_rng(1)
    flip = rng.random(len(clin)) < 0.25
    clin["reader_a"] = np.where(flip, 1 - clin["response"], clin["response"])
    clin["ki67"] = rng.uniform(0, 60, len(clin)).round(1)                 # pathology markers for the
    clin["differentiation"] = rng.choice(["well", "moderate", "poor"], len(clin))  # association section
    clin.to_csv(tmp_path / "cohort" / "clinical.csv", index=False)
    man = pd.read_csv(tmp_path / "cohort" / "manifest.csv")
    man.loc[:1, "mask_liver"] = None  # two cases without a liver mask: MSI label 0 becomes a dilation ring
    man.to_csv(tmp_path / "cohort" / "manifest.csv", index=False)
    spec = {
        "name": "readers", "seed": 0, "output_dir": "results",
        "data": {"manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv"},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"}},
        "habitat": {"n_habitats": 3},
        "features": {"icc_min": None},
        "models": [{"name": "habitat", "features": "habitat", "selection_steps": ["scale", "lasso"],
                    "lasso_cv": 3}],
        "readers": [{"name": "radiologist A", "column": "reader_a"}],
        "associations": {"markers": ["ki67", "differentiation"]},
        "validation": {"bootstrap": 0},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec))
    res = run_study(load_spec(tmp_path / "study.yaml"))
    html = res.report.read_text()
    assert "Comparison with radiologists" in html
    assert "2 case(s) have no liver mask" in html
    assert "Associations of habitat features with pathology and laboratory markers" in html
    assoc = pd.read_csv(next((res.out_dir / "report" / "tables").glob("*feature-marker-tests.csv")))
    assert set(assoc["marker"]) == {"ki67", "differentiation"}
    assert set(assoc["test"]) == {"Spearman", "Kruskal–Wallis"} and assoc["q_bh"].between(0, 1).all()
    table = pd.read_csv(next((res.out_dir / "report" / "tables").glob("*readers-and-models-internal-test.csv")))
    row = table[table.iloc[:, 0] == "radiologist A"].iloc[0]
    manifest = pd.read_csv(tmp_path / "cohort" / "manifest.csv")
    test = clin[clin["case_id"].isin(manifest.loc[manifest["cohort"] == "internal_test", "case_id"])]
    y, call = test["response"].to_numpy(), test["reader_a"].to_numpy()
    sens = ((call == 1) & (y == 1)).sum() / (y == 1).sum()
    spec_ = ((call == 0) & (y == 0)).sum() / (y == 0).sum()
    assert np.isclose(row["sensitivity"], sens, rtol=0, atol=1e-12), (row["sensitivity"], sens)
    assert np.isclose(row["specificity"], spec_, rtol=0, atol=1e-12), (row["specificity"], spec_)
