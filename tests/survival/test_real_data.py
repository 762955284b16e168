"""Real HCC tables run through KM, log-rank, Cox, C-index, cut-points and time-dependent AUC unedited.

asaur hepatoCellular (227 resected HCC patients; OS/RFS in months, Death/Recurrence 0/1, BCLC, immune
markers with 126 missing values) and the UCI HCC Survival table (165 patients, 10% missing, outcome only
as 1-year survival `Class` 1 = alive, 0 = dead: it has no follow-up time, so it supports logistic models of
1-year death, not time-to-event analysis; asking for one is a clear error).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from hccrad.core.errors import DataError
from hccrad.survival import (apply_cutpoint, compare_cindex, compare_prognostic_scores, complete_cases,
                             cox_regression, harrell_c, kaplan_meier, logrank_test, maxstat_cutpoint,
                             nomogram_points, risk_groups_by_cohort, time_dependent_auc)


@pytest.fixture(scope="module")
def hepato(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "hcc_clinical" / "asaur_hepatoCellular" / "hepatoCellular.csv")


@pytest.fixture(scope="module")
def uci(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "hcc_clinical" / "uci_hcc_survival" / "hcc-data_with_header.csv")


def test_hepato_km_and_logrank_by_bclc(hepato):
    km = kaplan_meier(hepato["OS"], hepato["Death"], hepato["BCLC"], time_unit="months")
    s = km.summary()
    assert s["n"].sum() == 227 and s["events"].sum() == int(hepato["Death"].sum()) == 97
    at = km.survival_at([12, 36, 60])
    assert at["survival"].between(0, 1).all() and at["lower"].notna().all()
    lr = logrank_test(hepato["OS"], hepato["Death"], hepato["BCLC"])
    assert lr.df == hepato["BCLC"].nunique() - 1 and 0 <= lr.p_value <= 1
    # advanced stage does worse: observed deaths exceed expected in the highest BCLC group
    top = lr.summary().iloc[-1]
    assert top["observed"] > top["expected"]


def test_hepato_cox_with_missing_marker(hepato, caplog):
    covs = ["Age", "Gender", "Tumorsize", "Vascularinvasion", "CD8T"]
    with caplog.at_level(logging.WARNING):
        res = cox_regression(hepato, "OS", "Death", covs, time_unit="months")
    assert res.n == 101 and res.n_dropped == 126
    assert "dropped 126 of 227" in caplog.text
    uni = res.univariable.set_index("covariate")
    assert uni.loc["Age", "n"] == 227 and uni.loc["CD8T", "n"] == 101
    assert np.isfinite(res.summary()[["hr", "hr_lower", "hr_upper", "p"]].to_numpy()).all()
    assert res.ph_test["covariate"].tolist() == [*covs, "GLOBAL"]


def test_hepato_rfs_cutpoint_train_test(hepato):
    train, test = hepato.iloc[::2], hepato.iloc[1::2]  # fixed split; cut-point from training only
    cut = maxstat_cutpoint(train["RFS"], train["Recurrence"], train["CXCL17T"])
    assert 0 < cut.p_value <= 1 and cut.n_low >= 0.1 * len(train)
    groups = apply_cutpoint(test["CXCL17T"], cut.cutpoint)
    lr = logrank_test(test["RFS"], test["Recurrence"], groups)
    assert set(lr.groups) == {"low", "high"}


def test_hepato_cindex_and_time_auc(hepato):
    c = compare_cindex(hepato["OS"], hepato["Death"], hepato["BCLC"], hepato["TNM"])
    assert 0.5 < harrell_c(hepato["OS"], hepato["Death"], hepato["BCLC"]).c_index < 1
    assert np.isfinite(c.p_value)
    tauc = time_dependent_auc(hepato["OS"], hepato["Death"], hepato["OS"], hepato["Death"], hepato["BCLC"],
                              [12.0, 36.0], n_boot=50, seed=0, time_unit="months")
    assert tauc.table["auc"].between(0.5, 1).all()


def test_uci_has_no_follow_up_time(uci):
    assert not {"time", "OS", "Survival", "Time"} & set(uci.columns)
    with pytest.raises(DataError, match="not in the table"):
        cox_regression(uci, "OS", "Class", ["Age"])


def test_uci_logistic_one_year_death_with_missing_values(uci, caplog):
    cols = ["Class", "Age", "Albumin", "Total_Bil", "AFP"]
    with caplog.at_level(logging.WARNING):
        cc, dropped = complete_cases(uci, cols, what="UCI 1-year death model")
    assert dropped == int(uci[cols].isna().any(axis=1).sum()) > 0
    assert f"dropped {dropped} of 165" in caplog.text
    cc = cc.assign(death_1y=1 - cc["Class"], log_afp=np.log10(cc["AFP"]))
    X = sm.add_constant(cc[["Age", "Albumin", "Total_Bil", "log_afp"]])
    fit = sm.Logit(cc["death_1y"], X).fit(disp=0)
    nomo = nomogram_points(fit, cc)
    np.testing.assert_allclose(nomo.predict(nomo.total_points(cc)), fit.predict(X), rtol=1e-10)


def test_hepato_model_vs_staging_table(hepato):
    # seed 002 table 3 layout on real data: a Cox model score vs BCLC and TNM, paired tests vs the model
    train, test = hepato.iloc[::2], hepato.iloc[1::2].copy()
    model = cox_regression(train, "OS", "Death", ["Tumorsize", "Vascularinvasion", "BCLC", "CXCL17T"])
    test["model"] = model.linear_predictor(test)
    res = compare_prognostic_scores(test, time="OS", event="Death", scores=["model", "BCLC", "TNM"],
                                    reference="model", horizons=[12.0, 36.0], train_time=train["OS"],
                                    train_event=train["Death"], n_boot=60, seed=1)
    tab = res.summary().set_index("score")
    assert list(tab.index) == ["model", "BCLC", "TNM"] and res.n == len(test)
    assert np.isnan(tab.loc["model", "c_p_vs_reference"])
    assert tab.loc[["BCLC", "TNM"], ["c_p_vs_reference", "auc_12_p_vs_reference", "auc_36_p_vs_reference"]] \
        .apply(lambda v: v.between(0, 1)).all().all()
    assert (tab["c_lower"] < tab["c_index"]).all() and (tab["auc_36_lower"] < tab["auc_36"]).all()


def test_hepato_risk_groups_by_cohort(hepato):
    train, internal = hepato.iloc[::2], hepato.iloc[1::2]
    cohorts = {"training": (train["OS"], train["Death"], train["CXCL17T"]),
               "internal_test": (internal["OS"], internal["Death"], internal["CXCL17T"])}
    res = risk_groups_by_cohort(cohorts, time_unit="months")
    alone = maxstat_cutpoint(train["OS"], train["Death"], train["CXCL17T"])
    assert res.cutpoint.cutpoint == alone.cutpoint  # chosen on training only
    tab = res.summary()
    assert set(tab["cohort"]) == {"training", "internal_test"} and set(tab["group"]) == {"low", "high"}
    assert tab.groupby("cohort")["n"].sum().to_dict() == {"internal_test": len(internal), "training": len(train)}
    # the test cohort's outcomes cannot move the cut-point
    shuffled = (internal["OS"].to_numpy()[::-1], internal["Death"].to_numpy()[::-1], internal["CXCL17T"])
    assert risk_groups_by_cohort({**cohorts, "internal_test": shuffled}).cutpoint.cutpoint == alone.cutpoint
