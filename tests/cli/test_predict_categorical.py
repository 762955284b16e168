"""`hccrad predict` with a categorical variable in a hand-written JSON linear bundle (format 2): the level text
is scored as its dummy (score = 0.5 + 1.0 a + b_level, reference A = 0); an unknown level exits with code 2 naming
the field, the value and the case."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from hccrad.cli import app
from hccrad.models.bundle import FORMAT, ModelBundle

runner = CliRunner()


def _bundle(tmp_path):
    spec = {"format": FORMAT, "format_version": 2, "name": "abclc", "kind": "linear", "link": "logit",
            "score_name": "score", "intercept": 0.5, "range_tolerance": 0.5,
            "variables": [{"name": "a", "coefficient": 1.0, "center": 0.0, "scale": 1.0, "range": [0.0, 3.0]},
                          {"name": "BCLC", "kind": "categorical", "levels": ["A", "B", "C"], "reference": "A",
                           "coefficients": {"B": 0.75, "C": -1.25}}]}
    return ModelBundle(spec).save(tmp_path / "bundle")


def test_level_text_is_scored_as_its_dummy(tmp_path):
    (tmp_path / "cases.csv").write_text("case_id,a,BCLC\nP1,1.5,A\nP2,2.0,B\nP3,0.5,C\n")
    res = runner.invoke(app, ["predict", str(_bundle(tmp_path)), str(tmp_path / "cases.csv")])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(io.StringIO(res.output))["score"].to_numpy()
    np.testing.assert_allclose(got, [0.5 + 1.5, 0.5 + 2.0 + 0.75, 0.5 + 0.5 - 1.25], rtol=0, atol=1e-12)


def test_unknown_level_is_refused_naming_field_value_and_case(tmp_path):
    (tmp_path / "cases.csv").write_text("case_id,a,BCLC\nP1,1.5,A\nP2,2.0,D\n")
    res = runner.invoke(app, ["predict", str(_bundle(tmp_path)), str(tmp_path / "cases.csv")])
    text = " ".join(res.output.split())
    assert res.exit_code == 2 and "Traceback" not in text, text
    assert "BCLC" in text and "'D'" in text and "P2" in text, text
