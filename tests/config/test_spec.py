"""Study spec validation: every problem reported at once, with YAML line numbers and field names."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from hccrad.config import load_spec, parse_spec
from hccrad.core.errors import SpecError


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "study.yaml"
    p.write_text(textwrap.dedent(text))
    return p


def test_malformed_yaml_reports_every_problem_with_lines(tmp_path):
    path = _write(tmp_path, """\
        schema_version: 1
        name: bad
        data:
          manifest: nothere.csv
          refrence_phase: portal
        outcome:
          response: {column: resp}
        habitat:
          k_range: [1, 3]
        models:
          - name: m1
            kind: logstic
        """)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    problems = info.value.problems
    assert len(problems) == 3, problems
    assert any(p.startswith("line 5: data.refrence_phase: unknown field") for p in problems), problems
    assert any(p.startswith("line 9: habitat.k_range") for p in problems), problems
    assert any(p.startswith("line 12: models[0].kind") for p in problems), problems
    assert str(path) in str(info.value)


def test_missing_files_and_columns_listed_together(tmp_path):
    (tmp_path / "manifest.csv").write_text("case_id,image_pre\nA,a.nii.gz\n")
    path = _write(tmp_path, """\
        name: s
        data: {manifest: manifest.csv, clinical: clin.csv}
        outcome: {response: {column: resp}}
        """)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    text = "\n".join(info.value.problems)
    assert "missing column 'image_arterial'" in text
    assert "missing column 'mask_tumor'" in text
    assert "clin.csv does not exist" in text


def test_cross_checks_and_unknown_keys_in_python_kwargs():
    with pytest.raises(SpecError) as info:
        parse_spec({"name": "x", "data": {"manifest": "m.csv", "phases": ["pre", "portal"]},
                    "outcome": {"response": {"column": "y"}},
                    "models": [{"name": "a", "fuse": "zzz"}]})
    assert "uses phase(s) ['arterial'] not in data.phases" in str(info.value)
    assert "fuses unknown model 'zzz'" in str(info.value)
    with pytest.raises(SpecError, match="unknown field"):
        parse_spec({"name": "x", "data": {"manifest": "m.csv"}, "outcome": {"response": {"column": "y"}},
                    "sed": 3})


def test_demo_spec_is_valid():
    import yaml

    from hccrad.pipeline.run import demo_spec_text

    spec = parse_spec(yaml.safe_load(demo_spec_text()))
    assert [m.name for m in spec.models] == ["habitat", "clinical", "combined"]
    assert spec.habitat.order_descriptor == "AE"


def test_shipped_examples_are_valid_specs():
    from hccrad.config import load_spec

    root = Path(__file__).resolve().parents[2] / "examples"
    specs = sorted(root.glob("*/study.yaml"))
    assert specs, "no example studies found"
    for path in specs:
        spec = load_spec(path, check_files=False)
        survival_only = spec.outcome.response is None and spec.outcome.survival is not None
        assert spec.models or survival_only, path
