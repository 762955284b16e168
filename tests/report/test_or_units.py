"""`report.or_units`: validated in the spec, and a unit for a variable the OR table lacks is refused."""

import pytest
from pydantic import ValidationError

from hccrad.config.spec import ReportSpec
from hccrad.core.errors import HccradError
from hccrad.pipeline.results import _or_units


def test_or_units_accepts_numbers_and_log10_and_refuses_the_rest():
    assert ReportSpec(or_units={"afp": 100, "alt": "log10"}).or_units == {"afp": 100.0, "alt": "log10"}
    for bad in ({"afp": 0}, {"afp": -1}, {"afp": "ln"}):
        with pytest.raises(ValidationError):
            ReportSpec(or_units=bad)
    with pytest.raises(ValidationError):
        ReportSpec(or_unit={"afp": 100})  # extra="forbid": a misspelt option is an error


def test_a_unit_for_a_variable_not_in_the_table_is_named():
    class _Spec:
        report = ReportSpec(or_units={"afp": 100, "bilirubin": 10})

    assert _or_units(_Spec(), ["afp", "bilirubin", "sex"]) == {"afp": 100.0, "bilirubin": 10.0}
    with pytest.raises(HccradError, match="bilirubin") as err:
        _or_units(_Spec(), ["afp", "sex"])
    assert err.value.field == "report.or_units"


def test_study_spec_refuses_or_units_for_a_variable_no_model_uses():
    from hccrad.config import parse_spec
    from hccrad.core.errors import SpecError

    base = {"name": "x", "data": {"manifest": "m.csv"}, "outcome": {"response": {"column": "y"}},
            "models": [{"name": "clin", "features": "none", "clinical": ["afp", "age"]}]}
    assert parse_spec({**base, "report": {"or_units": {"afp": 100}}}).report.or_units == {"afp": 100.0}
    with pytest.raises(SpecError, match=r"report.or_units names \['afpp'\]"):
        parse_spec({**base, "report": {"or_units": {"afpp": 100}}})
