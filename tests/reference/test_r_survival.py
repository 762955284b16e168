"""Kaplan–Meier, log-rank, Cox and concordance against R survival 3.8-6 on its lung and veteran data.

Reference values: ../shared/data/stats_reference/PROVENANCE.md §B and the saved R outputs in
../shared/data/stats_reference/survival_lung_veteran/ (survival_tests_cancer.Rout.save,
survival-Ex.Rout.save). The survfit summary table is parsed from the .Rout.save file itself, so every
printed value is checked; the tolerance of each value is half a unit in its last printed digit.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccrad.survival import cox_regression, harrell_c, kaplan_meier, logrank_test
from hccrad.testing import assert_close

REF_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "stats_reference" / "survival_lung_veteran"


def _half_ulp(text: str) -> float:
    """Half a unit in the last printed digit of a number as R printed it."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return 0.5 * 10.0**-decimals + 1e-12


def _parse_survfit_summary() -> list[tuple[str, float, str, str]]:
    """(group, time, column, printed value) for summary(survfit(Surv(time,status) ~ ph.ecog, lung), times=...)."""
    text = (REF_DIR / "survival_tests_cancer.Rout.save").read_text()
    block = text.split("summary(temp, times=c(30*1:11, 365*1:3))")[1].split("> print(temp[2:3])")[0]
    rows, group = [], None
    cols = ["n_risk", "n_event", "survival", "std_err", "lower", "upper"]
    for line in block.splitlines():
        m = re.match(r"\s+ph\.ecog=(\d)\s*$", line)
        if m:
            group = m.group(1)
            continue
        parts = line.split()
        if group is not None and len(parts) == 7 and re.fullmatch(r"\d+", parts[0]):
            for col, value in zip(cols, parts[1:]):
                rows.append((group, float(parts[0]), col, value))
    return rows


KM_ROWS = _parse_survfit_summary() if REF_DIR.is_dir() else []


@pytest.fixture(scope="module")
def lung(shared_data) -> pd.DataFrame:
    df = pd.read_csv(shared_data / "stats_reference" / "survival_lung_veteran" / "lung.csv")
    df["event"] = df["status"] - 1  # R codes 1 = censored, 2 = dead
    return df


@pytest.fixture(scope="module")
def veteran(shared_data) -> pd.DataFrame:
    return pd.read_csv(shared_data / "stats_reference" / "survival_lung_veteran" / "veteran.csv")


@pytest.fixture(scope="module")
def km_ecog(lung):
    return kaplan_meier(lung["time"], lung["event"], lung["ph.ecog"])


@pytest.fixture(scope="module")
def km_table(km_ecog):
    return km_ecog.survival_at([30 * i for i in range(1, 12)] + [365, 730, 1095])


def test_survfit_table_parsed():
    assert len(KM_ROWS) == 6 * (13 + 13 + 13 + 3), "the R survfit summary was not parsed completely"


@pytest.mark.parametrize("group, time, column, printed", KM_ROWS,
                         ids=[f"ecog{g}-t{t:g}-{c}" for g, t, c, _ in KM_ROWS])
def test_survfit_summary(km_table, group, time, column, printed):
    row = km_table[(km_table["group"] == group) & (km_table["time"] == time)]
    assert len(row) == 1, f"no KM row for ph.ecog={group} at t={time} (R prints one)"
    assert_close(row[column].iloc[0], float(printed), rtol=0.0, atol=_half_ulp(printed),
                 what=f"survfit ph.ecog={group} t={time:g} {column}")


def test_survfit_omits_times_beyond_follow_up(km_table):
    # R prints only 30, 60, 90 for ph.ecog=3 (single patient, died at day 118); 1095 days for nobody
    assert km_table.loc[km_table["group"] == "3", "time"].tolist() == [30.0, 60.0, 90.0]
    assert 1095.0 not in km_table["time"].tolist()


# survival-Ex.Rout.save, survfit(Surv(time, status) ~ ph.ecog, data=lung) and quantile(fit)
MEDIANS = [("0", 63, 37, 394, 348, 574), ("1", 113, 82, 306, 268, 429), ("2", 50, 44, 199, 156, 288),
           ("3", 1, 1, 118, np.nan, np.nan)]


@pytest.mark.parametrize("group, n, events, median, lower, upper", MEDIANS)
def test_survfit_median(km_ecog, group, n, events, median, lower, upper):
    row = km_ecog.summary().set_index("group").loc[group]
    assert (row["n"], row["events"]) == (n, events)
    assert_close(row["median"], median, rtol=0.0, atol=1e-9, what=f"median ph.ecog={group}")
    assert_close(row["median_lower"], lower, rtol=0.0, atol=1e-9, what=f"median LCL ph.ecog={group}")
    assert_close(row["median_upper"], upper, rtol=0.0, atol=1e-9, what=f"median UCL ph.ecog={group}")


QUANTILES = [("0", 0.25, 285, 189, 350), ("1", 0.25, 181, 156, 223), ("2", 0.25, 105, 61, 163),
             ("0", 0.75, 655, 558, np.nan), ("1", 0.75, 550, 460, 689), ("2", 0.75, 351, 285, 654)]


@pytest.mark.parametrize("group, p, est, lower, upper", QUANTILES)
def test_survfit_quantiles(km_ecog, group, p, est, lower, upper):
    got = km_ecog.curve(group).quantile(p)
    assert_close(np.array(got), np.array([est, lower, upper], dtype=float), rtol=0.0, atol=1e-9,
                 what=f"quantile {p} ph.ecog={group} (estimate, lower, upper)")


def test_dropped_row_counted(km_ecog):
    assert km_ecog.n_dropped == 1  # "1 observation deleted due to missingness"


# coxph(Surv(time, status) ~ age + sex, lung): survival-Ex.Rout.save, summary.coxph example
COX_AGE_SEX = [
    ("age", "coef", 0.017045, 5e-7), ("age", "hr", 1.017191, 5e-7), ("age", "se", 0.009223, 5e-7),
    ("age", "z", 1.848, 5e-4), ("age", "p", 0.06459, 5e-6),
    ("age", "hr_lower", 0.9990, 5e-5), ("age", "hr_upper", 1.0357, 5e-5),
    ("sex", "coef", -0.513219, 5e-6), ("sex", "hr", 0.598566, 5e-6), ("sex", "se", 0.167458, 5e-7),
    ("sex", "z", -3.065, 5e-4), ("sex", "p", 0.00218, 5e-6),
    ("sex", "hr_lower", 0.4311, 5e-5), ("sex", "hr_upper", 0.8311, 5e-5),
]


@pytest.fixture(scope="module")
def cox_age_sex(lung):
    return cox_regression(lung, "time", "event", ["age", "sex"])


@pytest.mark.parametrize("covariate, column, ref, atol", COX_AGE_SEX,
                         ids=[f"{c}-{k}" for c, k, _, _ in COX_AGE_SEX])
def test_coxph_age_sex(cox_age_sex, covariate, column, ref, atol):
    # PROVENANCE: lifelines gives sex -0.513217 vs R -0.513219 (convergence tolerance): atol 5e-6 there
    tab = cox_age_sex.summary().set_index("covariate")
    assert_close(tab.loc[covariate, column], ref, rtol=0.0, atol=atol, what=f"coxph {covariate} {column}")


@pytest.mark.parametrize("field, ref, atol", [("n", 228, 0), ("n_events", 165, 0), ("concordance", 0.603, 5e-4)])
def test_coxph_age_sex_counts(cox_age_sex, field, ref, atol):
    assert_close(getattr(cox_age_sex, field), ref, rtol=0.0, atol=atol, what=f"coxph {field}")


@pytest.mark.parametrize("test, ref", [("lr_test", 14.12), ("wald_test", 13.47)])
def test_coxph_global_tests(cox_age_sex, test, ref):
    stat, df, _ = getattr(cox_age_sex, test)
    assert df == 2
    assert_close(stat, ref, rtol=0.0, atol=5e-3, what=f"coxph {test} statistic")


def test_coxph_loglik_difference(cox_age_sex):
    # 2 (l(beta) - l(0)) is the LR statistic 14.12 printed by R
    assert_close(2 * (cox_age_sex.log_likelihood - cox_age_sex.log_likelihood_null), 14.12, rtol=0.0,
                 atol=5e-3, what="2 * loglik difference")


def test_concordance_se_matches_r(lung, cox_age_sex):
    # R: Concordance= 0.603 (se = 0.025); our U-statistic SE (Pencina & D'Agostino / Kang 2015)
    lp = cox_age_sex.linear_predictor(lung)
    res = harrell_c(lung["time"], lung["event"], lp)
    assert_close(res.c_index, 0.603, rtol=0.0, atol=5e-4, what="Harrell's C")
    assert_close(res.se, 0.025, rtol=0.0, atol=5e-4 + 1e-3, what="SE of C (R prints 2 digits)")


# coxph(Surv(time, status) ~ ph.ecog + age, lung): survival-Ex.Rout.save, pspline example fit0
FIT0 = [("ph.ecog", "coef", 0.443485, 5e-6), ("ph.ecog", "hr", 1.558128, 5e-6),
        ("ph.ecog", "se", 0.115831, 5e-6), ("ph.ecog", "p", 0.000129, 5e-7),
        ("age", "coef", 0.011281, 5e-6), ("age", "hr", 1.011345, 5e-6), ("age", "se", 0.009319, 5e-6),
        ("age", "p", 0.226082, 5e-6)]


@pytest.fixture(scope="module")
def fit0(lung):
    return cox_regression(lung, "time", "event", ["ph.ecog", "age"])


@pytest.mark.parametrize("covariate, column, ref, atol", FIT0, ids=[f"{c}-{k}" for c, k, _, _ in FIT0])
def test_coxph_ecog_age(fit0, covariate, column, ref, atol):
    res = fit0
    assert (res.n, res.n_events, res.n_dropped) == (227, 164, 1)
    assert_close(res.summary().set_index("covariate").loc[covariate, column], ref, rtol=0.0, atol=atol,
                 what=f"coxph ph.ecog+age {covariate} {column}")


def test_coxph_ecog_age_lr(fit0):
    assert_close(fit0.lr_test[0], 19.06, rtol=0.0, atol=5e-3, what="LR test ph.ecog+age")


def test_coxph_veteran_karno(veteran):
    # survSplit example: coef(coxph(Surv(time, status) ~ karno + age + trt, veteran))[1] = -0.034443897
    res = cox_regression(veteran, "time", "status", ["karno", "age", "trt"])
    assert_close(res.coefficients["karno"], -0.034443897, rtol=1e-6, atol=0.0, what="veteran karno coef")


# survdiff(Surv(time, status) ~ inst, lung, rho=.5): survival_tests_cancer.Rout.save, printed to 6 digits
SURVDIFF_RHO = [("1", 21.190058, 17.455181), ("2", 3.173330, 1.964395), ("3", 10.663476, 11.958755),
                ("4", 2.245347, 3.559344), ("5", 5.010883, 4.500982), ("6", 8.862602, 7.078516),
                ("7", 4.445647, 4.416133), ("10", 2.901923, 2.223283), ("11", 7.807867, 9.525163),
                ("12", 14.009656, 12.216768), ("13", 9.140983, 11.863298), ("15", 3.170744, 3.558447),
                ("16", 8.870360, 9.992612), ("21", 9.263733, 4.460746), ("22", 8.278566, 11.971473),
                ("26", 1.627074, 3.542694), ("32", 1.792468, 2.679904), ("33", 0.929177, 0.416202)]


@pytest.fixture(scope="module")
def survdiff_rho(lung):
    return logrank_test(lung["time"], lung["event"], lung["inst"], rho=0.5).summary().set_index("group")


@pytest.mark.parametrize("inst, observed, expected", SURVDIFF_RHO)
def test_survdiff_rho_half(survdiff_rho, inst, observed, expected):
    assert_close(survdiff_rho.loc[inst, "observed"], observed, rtol=0.0, atol=5e-7, what=f"O inst={inst}")
    assert_close(survdiff_rho.loc[inst, "expected"], expected, rtol=0.0, atol=5e-7, what=f"E inst={inst}")


def test_survdiff_rho_half_chisq(survdiff_rho):
    attrs = survdiff_rho.attrs
    assert attrs["df"] == 17
    assert_close(attrs["chisq"], 15.1, rtol=0.0, atol=0.05, what="survdiff rho=0.5 chisq")
    assert_close(attrs["p_value"], 0.5904, rtol=0.0, atol=5e-5, what="survdiff rho=0.5 p")


# survdiff(Surv(time, status) ~ pat.karno + strata(inst), data=lung): survival-Ex.Rout.save
STRAT = [("30", 2, 1, 0.692), ("40", 2, 1, 1.099), ("50", 4, 4, 1.166), ("60", 30, 27, 16.298),
         ("70", 41, 31, 26.358), ("80", 50, 38, 41.938), ("90", 60, 38, 47.242), ("100", 35, 21, 26.207)]


@pytest.fixture(scope="module")
def survdiff_strat(lung):
    return logrank_test(lung["time"], lung["event"], lung["pat.karno"], strata=lung["inst"])


@pytest.mark.parametrize("level, n, observed, expected", STRAT)
def test_survdiff_stratified(survdiff_strat, level, n, observed, expected):
    tab = survdiff_strat.summary().set_index("group")
    assert tab.loc[level, "n"] == n
    assert_close(tab.loc[level, "observed"], observed, rtol=0.0, atol=1e-9, what=f"O pat.karno={level}")
    assert_close(tab.loc[level, "expected"], expected, rtol=0.0, atol=5e-4, what=f"E pat.karno={level}")


def test_survdiff_stratified_chisq(survdiff_strat):
    # survdiff prints Chisq= 21.4 on 7 df; the equal coxph score test prints 21.368
    assert survdiff_strat.df == 7 and survdiff_strat.n_dropped == 4
    assert_close(survdiff_strat.chisq, 21.368, rtol=0.0, atol=5e-4, what="stratified log-rank chisq")
    assert_close(survdiff_strat.p_value, 0.003, rtol=0.0, atol=5e-4, what="stratified log-rank p")
