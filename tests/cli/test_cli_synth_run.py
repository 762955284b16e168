"""`hccrad run STUDY --synth N` makes the synthetic cohort where the spec's manifest should be, then
leaves an existing manifest alone."""

from __future__ import annotations

import textwrap

from hccrad.pipeline.run import synth_for_spec


def test_synth_for_spec_creates_then_keeps(tmp_path):
    study = tmp_path / "study.yaml"
    study.write_text(textwrap.dedent("""\
        name: t
        data: {manifest: cohort/manifest.csv, clinical: cohort/clinical.csv}
        outcome: {response: {column: response}}
        """))
    made = synth_for_spec(study, 10)
    assert made == (tmp_path / "cohort" / "manifest.csv") and made.is_file()
    assert (tmp_path / "cohort" / "truth.json").is_file()
    stamp = made.stat().st_mtime_ns
    assert synth_for_spec(study, 10) is None
    assert made.stat().st_mtime_ns == stamp


def test_run_set_override_is_validated_like_the_file(tmp_path):
    from typer.testing import CliRunner

    from hccrad.cli import app

    study = tmp_path / "study.yaml"
    study.write_text("name: t\ndata: {clinical: c.csv}\noutcome: {response: {column: y}}\n")
    res = CliRunner().invoke(app, ["run", str(study), "--set", "validation.bootstrap=many"])
    assert res.exit_code != 0
    assert "validation.bootstrap" in res.output and "Traceback" not in res.output


def test_synth_for_spec_writes_expression_counts_for_a_radiogenomics_study(tmp_path):
    import pandas as pd

    study = tmp_path / "study.yaml"
    study.write_text(textwrap.dedent("""\
        name: t
        data: {manifest: cohort/manifest.csv, clinical: cohort/clinical.csv}
        outcome: {response: {column: response}}
        models: [{name: clinical, features: none, clinical: [age]}]
        radiogenomics: {counts: cohort/expression_counts.csv, id_column: patient_id}
        """))
    synth_for_spec(study, 12)
    counts = pd.read_csv(tmp_path / "cohort" / "expression_counts.csv", index_col=0)
    manifest = pd.read_csv(tmp_path / "cohort" / "manifest.csv")
    assert set(counts.columns) <= set(manifest["patient_id"]) and len(counts.columns) >= 8  # 80 % of 12
    assert (tmp_path / "cohort" / "immune_signatures.gmt").is_file()
