"""Log-rank: agreement with lifelines without strata, stratification invariants, errors."""

from __future__ import annotations

import numpy as np
import pytest
from lifelines.statistics import logrank_test as ll_logrank
from lifelines.statistics import multivariate_logrank_test

from hccrad.core.errors import DataError
from hccrad.survival import logrank_test
from hccrad.testing import assert_close


def test_two_group_matches_lifelines(lung):
    a, b = lung[lung["sex"] == 1], lung[lung["sex"] == 2]
    ref = ll_logrank(a["time"], b["time"], a["event"], b["event"])
    res = logrank_test(lung["time"], lung["event"], lung["sex"])
    assert_close(res.chisq, ref.test_statistic, rtol=1e-10, atol=0, what="log-rank chisq")
    assert_close(res.p_value, ref.p_value, rtol=1e-8, atol=0, what="log-rank p")


def test_k_group_matches_lifelines(lung):
    d = lung.dropna(subset=["ph.ecog"])
    ref = multivariate_logrank_test(d["time"], d["ph.ecog"], d["event"])
    res = logrank_test(lung["time"], lung["event"], lung["ph.ecog"])
    assert res.df == 3 and res.n_dropped == 1
    assert_close(res.chisq, ref.test_statistic, rtol=1e-10, atol=0, what="k-group chisq")


def test_single_stratum_equals_unstratified(lung):
    plain = logrank_test(lung["time"], lung["event"], lung["sex"])
    one = logrank_test(lung["time"], lung["event"], lung["sex"], strata=np.ones(len(lung)))
    assert_close(one.chisq, plain.chisq, rtol=1e-12, atol=0, what="one stratum")
    assert one.stratified and not plain.stratified


def test_observed_sum_equals_expected_sum(lung):
    res = logrank_test(lung["time"], lung["event"], lung["ph.ecog"], strata=lung["sex"])
    assert_close(res.observed.sum(), res.expected.sum(), rtol=1e-12, atol=0, what="sum O = sum E")


def test_one_group_is_an_error(lung):
    with pytest.raises(DataError, match="two groups"):
        logrank_test(lung["time"], lung["event"], np.zeros(len(lung)))


def test_no_events_is_an_error():
    with pytest.raises(DataError, match="event"):
        logrank_test([1, 2, 3, 4], [0, 0, 0, 0], [0, 0, 1, 1])
