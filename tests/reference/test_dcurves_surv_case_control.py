"""Survival and case-control decision curves against the reference implementation's output: Python dcurves
1.1.7 (tests/reference/python/dcurves_reference.py writes tests/reference/python/results/*.csv; this test
needs neither dcurves nor its generator). Inputs: dcurves' simulated df_surv / df_case_control
(../shared/data/stats_reference/dcurves_dca, PROVENANCE.md §C). Tolerance atol 1e-9, rtol 0: the CSVs keep
full double precision, and both sides compute the same products of counts and KM factors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import DataError
from hccrad.evaluate.decision import decision_curve
from hccrad.evaluate.decision_survival import survival_decision_curve
from hccrad.testing import assert_close

RESULTS = Path(__file__).parent / "python" / "results"
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "stats_reference" / "dcurves_dca"
TOL = {"rtol": 0.0, "atol": 1e-9}
MODELS = ["cancerpredmarker", "famhistory"]
COMPARED = {"test_pos_rate": "test_pos_rate", "tp_rate": "tp_rate", "fp_rate": "fp_rate",
            "net_benefit": "net_benefit", "net_interventions_avoided": "net_intervention_avoided",
            "prevalence": "prevalence"}


def _input(name: str) -> pd.DataFrame:
    if not DATA.is_dir():
        pytest.skip(f"reference input data not found at {DATA}")
    return pd.read_csv(DATA / name)


def _compare(ours: pd.DataFrame, ref: pd.DataFrame, what: str, columns: dict[str, str] = COMPARED) -> None:
    merged = ref.merge(ours, on=["model", "threshold"], suffixes=("_ref", ""), validate="one_to_one")
    assert len(merged) == len(ref), f"{what}: {len(merged)} of {len(ref)} reference rows matched"
    # at p_t = 0 interventions avoided divide by 0: dcurves writes ±inf or NaN, hccrad NaN (undefined)
    merged.loc[merged["threshold"] == 0, "net_intervention_avoided"] = np.nan
    for model, rows in merged.groupby("model"):
        for ours_col, ref_col in columns.items():
            ref_values = rows[ref_col + ("_ref" if ref_col == ours_col else "")]
            assert_close(rows[ours_col].to_numpy(), ref_values.to_numpy(), **TOL,
                         what=f"{what} {model} {ours_col}")


@pytest.fixture(scope="module")
def df_surv() -> pd.DataFrame:
    return _input("df_surv.csv")


@pytest.mark.parametrize("horizon", [1.5, 4.5])
def test_survival_net_benefit_matches_dcurves(df_surv, horizon):
    ref = pd.read_csv(RESULTS / "dcurves_surv.csv")
    ref = ref[ref["time"] == horizon]
    assert (ref["dcurves_version"] == "1.1.7").all()
    ours = survival_decision_curve(df_surv["ttcancer"], df_surv["cancer"],
                                   {m: df_surv[m] for m in MODELS}, horizon)
    _compare(ours, ref, f"survival DCA at t={horizon}")


def test_survival_nan_where_test_positives_end_before_horizon(df_surv):
    # a guard that the 4.5 reference really exercises the undefined-KM rows, not only finite ones
    ref = pd.read_csv(RESULTS / "dcurves_surv.csv")
    assert ref.loc[(ref["time"] == 4.5) & (ref["threshold"] > 0), "net_benefit"].isna().any()


def test_survival_horizon_after_last_follow_up_is_refused(df_surv):
    with pytest.raises(DataError, match="after the last follow-up"):
        survival_decision_curve(df_surv["ttcancer"], df_surv["cancer"], {"m": df_surv["cancerpredmarker"]},
                                float(df_surv["ttcancer"].max()) + 1.0)


def test_case_control_net_benefit_matches_dcurves():
    df_cc = _input("df_case_control.csv")
    ref = pd.read_csv(RESULTS / "dcurves_case_control.csv")
    assert (ref["dcurves_version"] == "1.1.7").all()
    prevalence = float(ref["given_prevalence"].iloc[0])
    ours = decision_curve(df_cc["casecontrol"], {m: df_cc[m] for m in MODELS}, nper=1, prevalence=prevalence)
    # hccrad's binary curve has no test_pos_rate column; the rates and net benefits are compared
    _compare(ours, ref, "case-control DCA", {k: v for k, v in COMPARED.items() if k != "test_pos_rate"})


def test_case_control_prevalence_outside_unit_interval_is_refused():
    with pytest.raises(DataError, match="prevalence must lie in"):
        decision_curve([0, 1, 0, 1], {"m": [0.1, 0.8, 0.3, 0.6]}, prevalence=1.2)
