"""Binner: declared cut-points (seed 001 table 3), closed ends, reference levels, no data-driven fitting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from hccrad.clinical.binning import SEED001_BINS, Binner, parse_interval
from hccrad.core.errors import DataError, SpecError


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "AFP": [5, 20, 200, 200.01, np.nan],
        "PIVKA_II": [40, 40.1, 300, 301, 10],
        "NLR": [2.99, 3, 10, 1, 3.5],
    })


def test_seed001_bins_closed_ends():
    out = Binner(SEED001_BINS).fit(_table()).transform(_table())
    as_list = lambda s: s.astype(object).where(s.notna(), None).tolist()  # noqa: E731
    assert as_list(out.AFP) == ["<20", "[20,200]", "[20,200]", ">200", None]
    assert as_list(out.PIVKA_II) == ["<=40", "(40,300]", "(40,300]", ">300", "<=40"]
    assert as_list(out.NLR) == ["<3", ">=3", ">=3", "<3", ">=3"]
    assert out.AFP.cat.ordered


def test_indicator_output_drops_reference_and_keeps_missing():
    b = Binner({"AFP": ["<20", "[20,200]", ">200"]}, labels={"AFP": ["low", "mid", "high"]},
               reference={"AFP": "low"}, output="indicator").fit(_table())
    out = b.transform(_table())
    assert list(out.columns) == ["AFP[mid]", "AFP[high]"] == list(b.get_feature_names_out())
    assert out["AFP[mid]"].tolist()[:4] == [0, 1, 1, 0] and out["AFP[high]"].tolist()[:4] == [0, 0, 0, 1]
    assert out.iloc[4].isna().all()
    assert b.record()["AFP"]["reference"] == "low"
    assert b.record()["AFP"]["bins"][1] == {"label": "mid", "interval": "[20, 200]"}


@pytest.mark.parametrize("bins,problem", [
    (["<20", "(20,200]", ">200"], "neither"),      # 20 in no bin
    (["<=20", "[20,200]", ">200"], "both"),        # 20 in two bins
    (["<20", "[30,200]", ">200"], "gap"),
    (["[20,200]", "<20", ">200"], "overlap"),
    (["20-200", ">200"], "interval notation"),
])
def test_bad_declarations_are_spec_errors(bins, problem):
    with pytest.raises(SpecError, match=problem):
        Binner({"AFP": bins}).fit(_table())


def test_reference_must_be_a_bin():
    with pytest.raises(SpecError, match="reference"):
        Binner({"AFP": ["<20", ">=20"]}, reference={"AFP": "high"}).fit(_table())


def test_out_of_range_values():
    X = pd.DataFrame({"AFP": [-1.0, 5.0]}, index=["p1", "p2"])
    b = Binner({"AFP": ["[0,20)", "[20,inf)"]})
    with pytest.raises(DataError, match="'p1'"):
        b.fit(X).transform(X)
    out = Binner({"AFP": ["[0,20)", "[20,inf)"]}, out_of_range="missing").fit(X).transform(X)
    assert out.AFP.isna().tolist() == [True, False]


def test_fit_ignores_values_so_cohorts_cannot_leak():
    train = pd.DataFrame({"AFP": [1.0, 2.0, 3.0]})
    allc = pd.DataFrame({"AFP": [1.0, 500.0, 10000.0, 30.0]})
    test = pd.DataFrame({"AFP": [15.0, 25.0, 250.0]})
    a = Binner({"AFP": SEED001_BINS["AFP"]}).fit(train).transform(test)
    b = clone(Binner({"AFP": SEED001_BINS["AFP"]})).fit(allc).transform(test)
    pd.testing.assert_frame_equal(a, b)
    pipe = Pipeline([("bin", Binner({"AFP": SEED001_BINS["AFP"]}, output="indicator"))]).fit(train)
    assert pipe.transform(test).to_numpy().tolist() == [[0, 0], [1, 0], [0, 1]]


def test_parse_interval():
    iv = parse_interval("(40, 300]")
    assert (iv.lower, iv.upper, iv.closed_left, iv.closed_right) == (40.0, 300.0, False, True)
    assert parse_interval("≥3").closed_left and parse_interval("≤40").closed_right
