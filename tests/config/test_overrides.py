"""`--set key.path=value` overrides: applied before validation, so a bad value is reported like a bad file."""

from __future__ import annotations

import pytest

from hccrad.config.load import apply_overrides
from hccrad.core.errors import SpecError


def test_overrides_set_nested_keys_lists_and_yaml_values():
    raw = {"validation": {"bootstrap": 1000}, "models": [{"name": "a", "kind": "logistic"}]}
    apply_overrides(raw, ["validation.bootstrap=50", "models.0.kind=svm", "habitat.k_range=[2, 5]",
                          "report.paper=seed000", "deep.epochs=2"])
    assert raw["validation"]["bootstrap"] == 50
    assert raw["models"][0]["kind"] == "svm"
    assert raw["habitat"]["k_range"] == [2, 5]
    assert raw["report"] == {"paper": "seed000"}
    assert raw["deep"]["epochs"] == 2


@pytest.mark.parametrize("bad, words", [("validation.bootstrap", "key.path=value"), ("=3", "key.path=value"),
                                        ("models.7.kind=svm", "models.7.kind"),
                                        ("models.x.kind=svm", "models.x.kind")])
def test_bad_overrides_name_the_override(bad, words):
    raw = {"models": [{"name": "a"}]}
    with pytest.raises(SpecError, match=words.replace(".", r"\.")):
        apply_overrides(raw, [bad])


def test_load_spec_validates_overridden_values(tmp_path):
    from hccrad.config import load_spec

    (tmp_path / "s.yaml").write_text("name: t\ndata: {clinical: c.csv}\noutcome: {response: {column: y}}\n")
    spec = load_spec(tmp_path / "s.yaml", check_files=False, overrides=["validation.bootstrap=7"])
    assert spec.validation.bootstrap == 7
    with pytest.raises(SpecError, match="bootstrap"):
        load_spec(tmp_path / "s.yaml", check_files=False, overrides=["validation.bootstrap=many"])


def test_unknown_published_model_is_a_spec_error(tmp_path):
    from hccrad.config import load_spec

    (tmp_path / "s.yaml").write_text("name: t\ndata: {clinical: c.csv}\noutcome: {response: {column: y}}\n")
    spec = load_spec(tmp_path / "s.yaml", check_files=False, overrides=["report.published=[seed004_clinical_radiomics]"])
    assert spec.report.published == ["seed004_clinical_radiomics"]
    with pytest.raises(SpecError, match="wu2025_combined"):  # the message lists the shipped names
        load_spec(tmp_path / "s.yaml", check_files=False, overrides=["report.published=[seed009]"])
