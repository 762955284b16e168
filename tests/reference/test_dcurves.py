"""Net benefit against R dcurves 0.5.1 tests on its simulated df_binary (PROVENANCE.md §C)."""

from __future__ import annotations

import pandas as pd
import pytest

from hccrad.evaluate.decision import decision_curve, marker_to_probability
from hccrad.testing import assert_close

TOL = {"rtol": 0.0, "atol": 1e-6}


@pytest.fixture(scope="module")
def df_binary(shared_data):
    return pd.read_csv(shared_data / "stats_reference" / "dcurves_dca" / "df_binary.csv")


def _nb(df_binary, column, threshold, as_probability=False):
    y = df_binary["cancer"].astype(bool).to_numpy()
    risk = df_binary[column].to_numpy()
    if as_probability:
        risk = marker_to_probability(y, risk)
    out = decision_curve(y, {column: risk}, [threshold])
    return out.set_index("model")["net_benefit"]


@pytest.mark.parametrize("strategy, ref", [("all", -0.1466667), ("none", 0.0), ("cancerpredmarker", 0.0640000)])
def test_cancerpredmarker_at_025(df_binary, strategy, ref):
    # dcurves test values are printed to 7 decimals: atol 1e-6 covers that rounding
    assert_close(_nb(df_binary, "cancerpredmarker", 0.25)[strategy], ref, **TOL, what=f"NB {strategy}")


@pytest.mark.parametrize("strategy, ref", [("all", -0.14666667), ("none", 0.0), ("age", 0.02444444)])
def test_age_as_probability_at_025(df_binary, strategy, ref):
    assert_close(_nb(df_binary, "age", 0.25, as_probability=True)[strategy], ref, **TOL, what=f"NB {strategy}")


@pytest.mark.parametrize("strategy, ref", [("all", 0.140), ("none", 0.0), ("famhistory", 0.032)])
def test_famhistory_at_zero(df_binary, strategy, ref):
    assert_close(_nb(df_binary, "famhistory", 0.0)[strategy], ref, **TOL, what=f"NB {strategy}")


def test_net_interventions_avoided_formula(df_binary):
    y = df_binary["cancer"].astype(bool).to_numpy()
    out = decision_curve(y, {"m": df_binary["cancerpredmarker"]}, [0.25], nper=100).set_index("model")
    expected = (out.loc["m", "net_benefit"] - out.loc["all", "net_benefit"]) / (0.25 / 0.75) * 100
    assert_close(out.loc["m", "net_interventions_avoided"], expected, rtol=1e-12, atol=0.0, what="NIA")
