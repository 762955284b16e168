"""Rules and paper layouts in the study spec are named by what they do; the seed paper ids are accepted as
documented aliases and normalised to those names (issue 25)."""

from __future__ import annotations

from typing import get_args

import pytest
from pydantic import ValidationError

from hccrad.cohort.lesions import COMBINE_RULES, LesionRule, largest_n
from hccrad.config.spec import LESION_RULES, RULE_ALIASES
from hccrad.cohort.multilesion import RULE_PRESETS, resolve_rule
from hccrad.config.spec import PAPER_ALIASES, LesionsSpec, ReportSpec


@pytest.mark.parametrize(("alias", "name"), [("seed000", "two_largest_over_20mm"), ("seed003", "two_largest")])
def test_lesion_rule_alias_and_name_give_the_same_rule(alias, name):
    assert LesionsSpec(rule=alias).rule == name
    assert LesionsSpec(rule=name).rule == name
    assert resolve_rule(alias) == resolve_rule(name) == RULE_PRESETS[name]


def test_lesion_rules_do_what_their_names_say():
    assert resolve_rule("two_largest_over_20mm") == largest_n(2, 20.0)
    assert resolve_rule("two_largest") == LesionRule("largest_n", 2, 0.0, True, "inplane", "error")
    assert set(RULE_ALIASES.values()) <= set(RULE_PRESETS)
    with pytest.raises(ValidationError, match="two_largest_over_20mm"):
        LesionsSpec(rule="seed001")


def test_the_spec_offers_exactly_the_lesion_rules_and_combinations_the_cohort_code_defines():
    assert get_args(LesionsSpec.model_fields["rule"].annotation) == LESION_RULES
    assert set(LESION_RULES) == set(RULE_PRESETS)
    assert set(get_args(LesionsSpec.model_fields["combine"].annotation)) == set(COMBINE_RULES)
    for name in LESION_RULES:
        assert LesionsSpec(rule=name).rule == name


@pytest.mark.parametrize(("alias", "name"), sorted(PAPER_ALIASES.items()))
def test_paper_alias_and_name(alias, name):
    assert ReportSpec(paper=alias).paper == name
    assert ReportSpec(paper=name).paper == name
    assert ReportSpec(paper=name).model_dump() == ReportSpec(paper=alias).model_dump()


def test_paper_layout_lookup_accepts_both_spellings():
    from hccrad.report.paper import PAPERS, paper_id

    assert set(PAPERS) == set(PAPER_ALIASES)
    for alias, name in PAPER_ALIASES.items():
        assert paper_id(name) == paper_id(alias) == alias
    with pytest.raises(ValidationError, match="wu2025_cect_habitat"):
        ReportSpec(paper="seed009")
