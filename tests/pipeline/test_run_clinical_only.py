"""A clinical-only study on real HCC data (asaur hepatoCellular, 227 resected patients) runs through the
study spec's column mapping, unedited: Table 1, a stepwise logistic model, KM/log-rank/Cox and the
comparison with BCLC and TNM stage."""

from __future__ import annotations

import textwrap

import pandas as pd

from hccrad.config import load_spec
from hccrad.pipeline.run import run_study


def test_asaur_hepatocellular_through_the_spec(tmp_path, shared_data):
    csv = shared_data / "hcc_clinical" / "asaur_hepatoCellular" / "hepatoCellular.csv"
    (tmp_path / "study.yaml").write_text(textwrap.dedent(f"""\
        name: "asaur hepatoCellular: recurrence and OS"
        seed: 0
        output_dir: results
        data: {{clinical: {csv}, id_column: Number}}
        cohorts: {{column: null, split_test_fraction: 0.3}}
        outcome:
          response: {{column: Recurrence, positive: 1, label: recurrence}}
          survival: {{time: OS, event: Death, unit: months, horizons: [24, 48],
                     compare_with: [BCLC, TNM], model: clinical}}
        models:
          - name: clinical
            features: none
            clinical: [Age, Cirrhosis, AFP, Tumorsize, Vascularinvasion, Tumormultiplicity]
            clinical_selection: stepwise
        validation: {{bootstrap: 20}}
        """))
    res = run_study(load_spec(tmp_path / "study.yaml"))
    html = res.report.read_text()
    for title in ("Table 1. Baseline characteristics", "Discrimination", "Survival", "Model vs staging systems"):
        assert title in html, title
    assert "Tumour habitats" not in html
    assert set(res.metrics["cohort"]) == {"training", "test"}
    assert int(res.metrics.groupby("cohort")["n"].first().sum()) == len(pd.read_csv(csv))
    patients = pd.read_csv(res.out_dir / "patients.csv", index_col="case_id", dtype={"case_id": str})
    assert len(patients) == len(pd.read_csv(csv)) and list(patients.index) == sorted(patients.index)
    assert {"cohort", "split", "Recurrence", "outcome_positive", "OS", "Death", "clinical_score",
            "clinical_probability", "clinical_predicted"} <= set(patients.columns)
    assert patients["clinical_probability"].between(0, 1).all()
    from hccrad.pipeline.results import load_results  # the saved results `hccrad report` rebuilds from

    saved = load_results(res.out_dir)
    assert saved.imaging is None and saved.survival.staging and list(saved.models.models) == ["clinical"]
    pd.testing.assert_frame_equal(saved.evaluation.metrics, res.metrics)
