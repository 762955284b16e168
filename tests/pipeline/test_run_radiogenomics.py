"""The radiogenomics section of a study spec: the study's model score and its training cut-off split the
patients, the user's counts are analysed offline, and the report gets its tables (CSV) and figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import yaml

from hccrad.config import load_spec
from hccrad.pipeline.run import run_study
from hccrad.synth import generate_cohort

from .rebuild_check import rebuilt_report_is_the_same


def test_radiogenomics_section_end_to_end(tmp_path):
    generate_cohort(tmp_path / "cohort", n=20, seed=9)
    manifest = pd.read_csv(tmp_path / "cohort" / "manifest.csv")
    rng = np.random.default_rng(0)
    genes = [f"GENE{i:03d}" for i in range(300)]
    counts = pd.DataFrame(rng.negative_binomial(5, 0.05, size=(300, len(manifest))),
                          index=pd.Index(genes, name="gene_id"), columns=manifest["patient_id"])
    counts.to_csv(tmp_path / "counts.csv")
    (tmp_path / "sets.gmt").write_text("".join(
        f"SET{j}\tna\t" + "\t".join(genes[j * 20:(j + 1) * 20]) + "\n" for j in range(10)))
    spec = {
        "name": "rg", "seed": 1, "output_dir": "results",
        "data": {"manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv"},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"},
                    "survival": {"time": "os_months", "event": "os_event", "horizons": [18],
                                 "compare_with": ["ecog_ps", "tumor_number"], "model": "habitat"}},
        "habitat": {"n_habitats": 3},
        "features": {"icc_min": None},
        "models": [{"name": "habitat", "features": "habitat", "selection_steps": ["scale", "lasso"],
                    "lasso_cv": 3}],
        "validation": {"bootstrap": 0},
        "radiogenomics": {"counts": "counts.csv", "id_column": "patient_id", "cutoff": "model",
                          "gene_sets": ["sets.gmt"],
                          "settings": {"sample_types": None, "gsea_permutations": 50, "ora_min_size": 5,
                                       "gsea_min_size": 5}},
    }
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(spec))
    res = run_study(load_spec(tmp_path / "study.yaml"))
    html = res.report.read_text()
    assert "Radiogenomics: gene expression by score group" in html
    staging = pd.read_csv(next((res.out_dir / "report" / "tables").glob("*model-vs-staging-systems*training.csv")))
    assert list(staging["score"]) == ["habitat risk", "ecog_ps", "tumor_number"]
    assert staging["c_index"].between(0, 1).all() and staging["c_p_vs_reference"].iloc[1:].notna().all()
    tables = res.out_dir / "report" / "tables"
    de = pd.read_csv(next(tables.glob("*deseq2-results.csv")))
    assert len(de) > 100 and {"log2FoldChange", "padj"} <= set(de.columns)
    samples = pd.read_csv(next(tables.glob("*radiogenomics-samples.csv")))
    threshold = yaml.safe_load((res.out_dir / "run.json").read_text())["models"]["habitat"]["threshold"]
    high = samples["score"] > threshold
    assert (samples.loc[high, "group"] == "high").all() and (samples.loc[~high, "group"] == "low").all()
    rebuilt_report_is_the_same(res.out_dir, "radiogenomics")

