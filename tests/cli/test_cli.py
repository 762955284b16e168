"""The command line: help lists the stages; errors are one clear message per problem, exit code 2."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from hccrad.cli import app

runner = CliRunner()


def test_help_lists_stages_and_commands():
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    text = " ".join(res.output.split())
    for stage in ("ingest", "preprocess", "habitats", "features", "selection", "models", "evaluate", "report"):
        assert stage in text, stage
    for cmd in ("validate", "synth", "run", "demo", "predict", "validate-published", "serve"):
        assert cmd in text, cmd

    res = runner.invoke(app, ["report", "--help"])  # rebuild a finished run's report from its saved results
    assert res.exit_code == 0 and "recomputing nothing" in " ".join(res.output.split())


def test_validate_reports_each_problem(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text(textwrap.dedent("""\
        name: x
        data: {manifest: nope.csv, phases: [pre, arterial, portal], refrence: 1}
        outcome: {response: {column: y}}
        validation: {bootstrap: -5}
        """))
    res = runner.invoke(app, ["validate", str(p)])
    assert res.exit_code == 2
    out = " ".join(res.output.split())
    assert "2 problem(s)" in out
    assert "line 2: data.refrence" in out
    assert "line 4: validation.bootstrap" in out


def test_predict_with_a_published_bundle(tmp_path):
    from hccrad.models.published import load_published

    bundle = load_published("wu2025_clinical")
    names = bundle.input_features
    rng = np.random.default_rng(0)
    df = pd.DataFrame({n: rng.integers(0, 2, 5) for n in names})
    if "TBIL" in df:
        df["TBIL"] = rng.uniform(8, 40, 5)
    df.insert(0, "case_id", [f"P{i}" for i in range(5)])
    table = tmp_path / "cases.csv"
    df.to_csv(table, index=False)
    out = tmp_path / "pred.csv"
    folder = tmp_path / "bundle"
    bundle.save(folder)
    res = runner.invoke(app, ["predict", str(folder), str(table), "--out", str(out)])
    assert res.exit_code == 0, res.output
    pred = pd.read_csv(out)
    assert list(pred["case_id"]) == list(df["case_id"])
    assert pred["probability"].between(0, 1).all()


def test_predict_refuses_missing_column(tmp_path):
    from hccrad.models.published import load_published

    bundle = load_published("wu2025_clinical")
    folder = tmp_path / "bundle"
    bundle.save(folder)
    table = tmp_path / "cases.csv"
    pd.DataFrame({"case_id": ["A"], "unrelated": [1]}).to_csv(table, index=False)
    res = runner.invoke(app, ["predict", str(folder), str(table)])
    assert res.exit_code == 2
    assert "error" in res.output.lower()


def test_python_dash_m_runs_the_command_line():
    """`python -m hccrad` and `python -m hccrad.cli` run the CLI (the latter used to exit 0 doing nothing)."""
    import subprocess
    import sys

    for module in ("hccrad", "hccrad.cli"):
        out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, (module, out.stderr[-500:])
        assert "validate" in out.stdout and "run" in out.stdout, (module, out.stdout[:500])
        bad = subprocess.run([sys.executable, "-m", module, "no-such-command"], capture_output=True, text=True,
                             timeout=120)
        assert bad.returncode != 0, (module, "an unknown command must fail")
