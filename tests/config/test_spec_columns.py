"""The spec fields of issue 21 item 2–3 (`data.columns`, `missing_values`, `recode`, `row_ids`, sheets):
structure checks that need no file (pydantic, extra="forbid")."""

from __future__ import annotations

import pytest
import yaml

from hccrad.config.load import parse_spec
from hccrad.config.spec import DataSpec
from hccrad.core.errors import SpecError


def _spec(data_yaml: str):
    raw = yaml.safe_load(f"""
name: t
data: {data_yaml}
cohorts: {{column: null}}
outcome: {{response: {{column: y}}}}
""")
    return parse_spec(raw)


def test_fields_parse_with_their_types():
    spec = _spec('{clinical: c.xlsx, clinical_sheet: Baseline, columns: {"Patient ID": case_id}, '
                 'missing_values: ["?", "n.d."], '
                 'recode: {Cirrhosis: {"yes": 1, "no": 0}, PS: {0: "0-1", 1: "0-1", 2: "2+"}}}')
    d = spec.data
    assert d.clinical_sheet == "Baseline" and d.columns == {"Patient ID": "case_id"}
    assert d.missing_values == ["?", "n.d."]
    assert d.recode["Cirrhosis"] == {"yes": 1, "no": 0} and d.recode["PS"] == {0: "0-1", 1: "0-1", 2: "2+"}
    assert _spec("{clinical: c.xlsx, clinical_sheet: 2}").data.clinical_sheet == 2
    defaults = DataSpec(clinical="c.csv")
    assert defaults.columns == {} and defaults.recode == {} and defaults.missing_values is None
    assert defaults.row_ids is False and defaults.clinical_sheet is None and defaults.manifest_sheet is None


@pytest.mark.parametrize("data,match", [
    ("{clinical: c.csv, recode: {Cirrhosis: {yes: 1, no: 0}}}", "True is a YAML boolean"),
    ('{clinical: c.csv, recode: {Cirrhosis: {"yes": true}}}', "True is a YAML boolean"),
    ("{clinical: c.csv, recode: {Cirrhosis: {}}}", "an empty value table"),
    ('{clinical: c.csv, recode: {Cirrhosis: {" ": 0}}}', "a blank value cannot be recoded"),
    ('{clinical: c.csv, columns: {"Child Pugh": child_pugh}, recode: {"Child Pugh": {"A": 1}}}',
     "which data.columns renames to 'child_pugh': use the new name"),
    ('{clinical: c.csv, columns: {" ": x}}', "a blank column name"),
    ("{clinical: c.csv, manifest: m.csv, row_ids: true}", "only a clinical-only study"),
    ("{clinical: c.csv, missing_value: ['?']}", "unknown field"),
    ("{clinical: c.csv, recode: {Cirrhosis: {'yes': null}}}", "recode"),
])
def test_refused_with_the_field(data, match):
    with pytest.raises(SpecError, match=match):
        _spec(data)


def test_fields_are_described():
    for name in ("clinical_sheet", "manifest_sheet", "row_ids", "columns", "missing_values", "recode"):
        assert DataSpec.model_fields[name].description, name
