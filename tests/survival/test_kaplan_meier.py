"""Kaplan–Meier: CI types, quantile rule, numbers at risk, input errors (R parity is in tests/reference)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter

from hccrad.core.errors import DataError
from hccrad.survival import kaplan_meier, years_to
from hccrad.testing import assert_close


def test_log_log_ci_matches_lifelines(lung):
    res = kaplan_meier(lung["time"], lung["event"], conf_type="log-log")
    kmf = KaplanMeierFitter().fit(lung["time"], lung["event"])
    ci = kmf.confidence_interval_
    tab = res.curve("all").table.set_index("time")
    times = tab.index[tab["survival"] > 0]
    assert_close(tab.loc[times, "lower"].to_numpy(), ci.iloc[:, 0].reindex(times).to_numpy(), rtol=0, atol=1e-9,
                 what="log-log lower vs lifelines")
    assert_close(tab.loc[times, "upper"].to_numpy(), ci.iloc[:, 1].reindex(times).to_numpy(), rtol=0, atol=1e-9,
                 what="log-log upper vs lifelines")


def test_plain_ci_and_level(lung):
    wide = kaplan_meier(lung["time"], lung["event"], conf_type="plain", conf_level=0.99).survival_at([365])
    narrow = kaplan_meier(lung["time"], lung["event"], conf_type="plain", conf_level=0.90).survival_at([365])
    s, se = wide["survival"].iloc[0], wide["std_err"].iloc[0]
    assert_close(wide["upper"].iloc[0] - s, 2.5758293035489 * se, rtol=1e-9, atol=0, what="99% plain half-width")
    assert narrow["upper"].iloc[0] < wide["upper"].iloc[0]


def test_median_on_exact_plateau_is_midpoint():
    # 4 subjects, deaths at 1, 2, 3, 4: S = 0.75, 0.5, 0.25, 0 -> S(t) = 0.5 on [2, 3): median (2 + 3) / 2
    res = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1])
    assert res.summary()["median"].iloc[0] == 2.5


def test_median_not_reached_is_nan_and_flagged():
    res = kaplan_meier([1, 2, 3, 4, 5, 6], [1, 0, 0, 0, 0, 0])
    assert np.isnan(res.summary()["median"].iloc[0])


def test_numbers_at_risk():
    res = kaplan_meier([1, 2, 2, 5, 7, 9], [1, 0, 1, 1, 0, 1], ["a", "a", "b", "b", "b", "a"])
    tab = res.numbers_at_risk([0, 2, 6])
    assert tab.loc["a"].tolist() == [3, 2, 1] and tab.loc["b"].tolist() == [3, 3, 1]


def test_missing_rows_dropped_and_logged(caplog):
    with caplog.at_level(logging.WARNING):
        res = kaplan_meier([1, 2, np.nan, 4, 5], [1, 0, 1, np.nan, 1], [0, 0, 1, 1, None])
    assert res.n_dropped == 3
    assert "dropped 3 of 5 rows" in caplog.text


@pytest.mark.parametrize("time, event, match", [
    ([1, 2, 3], [1, 2, 2], "not 0/1"),
    ([1, -2, 3], [1, 0, 1], "negative"),
    ([1, 2], [1, 0, 1], "time has 2 values"),
])
def test_bad_input(time, event, match):
    with pytest.raises(DataError, match=match):
        kaplan_meier(time, event)


def test_r_status_coding_hint(lung):
    with pytest.raises(DataError, match="status - 1"):
        kaplan_meier(lung["time"], lung["status"])


def test_bad_conf_type():
    with pytest.raises(DataError, match="conf_type"):
        kaplan_meier([1, 2], [1, 1], conf_type="arcsine")


def test_years_to():
    assert years_to("months") == [12.0, 36.0, 60.0]
    assert years_to("days", [1]) == [365.25]
    with pytest.raises(DataError, match="time unit"):
        years_to("fortnights")


def test_sample_order_invariance(lung):
    a = kaplan_meier(lung["time"], lung["event"], lung["sex"]).survival_at([180, 365])
    perm = np.random.default_rng(3).permutation(len(lung))
    shuffled = lung.iloc[perm]
    b = kaplan_meier(shuffled["time"], shuffled["event"], shuffled["sex"]).survival_at([180, 365])
    pd.testing.assert_frame_equal(a, b)
