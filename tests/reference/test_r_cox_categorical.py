"""Cox regression with a categorical covariate (dummies against a chosen reference) against R survival's
coxph with a factor, and against lifelines fitted on the same dummy columns.

Reference numbers: tests/reference/r/results/cox_categorical.csv, written by tests/reference/r/cox_categorical.R
from the cohort it writes beside them (cox_categorical_input.csv), which is what these tests read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter

from hccrad.core.errors import DataError
from hccrad.survival.cox import cox_regression
from hccrad.testing import assert_close

RESULTS = Path(__file__).resolve().parent / "r" / "results"
DATA = pd.read_csv(RESULTS / "cox_categorical_input.csv", index_col="id")
REF = pd.read_csv(RESULTS / "cox_categorical.csv")
TOL = {"rtol": 1e-6, "atol": 1e-8}
REFERENCE = str(REF["reference"].iloc[0])


@pytest.fixture(scope="module")
def fit():
    return cox_regression(DATA, "time", "status", ["age", "BCLC"], categorical={"BCLC": REFERENCE})


def _ref(model: str) -> pd.DataFrame:
    return REF[(REF["model"] == model) & REF["coef"].notna()].set_index("term")


@pytest.mark.parametrize("model", ["univariable", "multivariable"])
def test_per_level_hazard_ratios_equal_r_coxph(fit, model):
    ours = (fit.univariable if model == "univariable" else fit.multivariable).set_index("covariate")
    ref = _ref(model)
    for term, r in ref.iterrows():
        for ours_col, ref_col in (("coef", "coef"), ("se", "se"), ("hr", "hr"), ("p", "p")):
            assert_close(ours.loc[term, ours_col], r[ref_col], **TOL, what=f"{model} {term} {ours_col}")
    assert not any(str(t).startswith(f"BCLC={REFERENCE}") for t in ours.index), "the reference has no row"


def test_joint_tests_equal_r(fit):
    joint = fit.joint_tests.set_index("covariate").loc["BCLC"]
    lr = REF.set_index("term").loc["LR BCLC"]
    wald = REF.set_index("term").loc["Wald BCLC"]
    assert joint["df"] == lr["df"] == wald["df"] == 3
    assert_close(joint["lr_uv"], lr["stat"], **TOL, what="univariable LR test of BCLC")
    assert_close(joint["p_uv"], lr["p"], **TOL, what="univariable LR p of BCLC")
    assert_close(joint["wald_mv"], wald["stat"], **TOL, what="multivariable Wald test of BCLC")
    assert_close(joint["p_mv"], wald["p"], **TOL, what="multivariable Wald p of BCLC")


def test_hazard_ratios_equal_lifelines_on_the_same_dummies(fit):
    dummies = {f"BCLC={lv}": (DATA["BCLC"] == lv).astype(float) for lv in "ACD"}
    frame = DATA[["time", "status", "age"]].assign(**dummies)
    ref = CoxPHFitter().fit(frame, "time", "status", fit_options={"precision": 1e-11, "r_precision": 1e-15})
    ours = fit.multivariable.set_index("covariate")
    for term in ["age", *dummies]:
        assert_close(ours.loc[term, "hr"], float(np.exp(ref.params_[term])), rtol=1e-6, atol=1e-10,
                     what=f"lifelines HR {term}")


def test_unseen_level_at_prediction_names_case_and_value(fit):
    new = DATA.iloc[:4].copy()
    new.loc[new.index[2], "BCLC"] = "E"
    with pytest.raises(DataError) as err:
        fit.predict_survival(new, [12.0])
    assert err.value.case == new.index[2] and err.value.field == "BCLC" and "'E'" in err.value.message
