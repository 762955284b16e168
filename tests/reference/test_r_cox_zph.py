"""Proportional-hazards test against R survival's cox.zph(fit) (transform "km", GLOBAL test) on `veteran`.

Reference numbers: tests/reference/r/results/cox_zph_veteran.csv, written by tests/reference/r/cox_zph.R
(`make references`): terms = TRUE (celltype's three dummies as one 3-df term) and terms = FALSE (one row
per design column). The model is refitted here (lifelines, Efron ties, coefficients ~1e-9 from coxph).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hccrad.survival import cox_regression
from hccrad.survival.zph import cox_zph
from hccrad.testing import assert_close

RESULTS = Path(__file__).resolve().parent / "r" / "results"
VETERAN = pd.read_csv(RESULTS / "veteran.csv")
REF = pd.read_csv(RESULTS / "cox_zph_veteran.csv")
MODELS = {"full": ["trt", "celltype", "karno", "diagtime", "age", "prior"], "numeric": ["age", "karno", "diagtime"]}
TOL = {"rtol": 1e-6, "atol": 1e-9}


def _fit(model: str):
    return cox_regression(VETERAN, "time", "status", MODELS[model], categorical={"celltype": "squamous"})


def _check(table: pd.DataFrame, ref: pd.DataFrame, what: str) -> None:
    assert table["covariate"].tolist() == ref["term"].tolist()
    assert table["df"].tolist() == ref["df"].tolist()
    assert_close(table["chisq"].to_numpy(), ref["chisq"].to_numpy(), **TOL, what=f"{what}: chi-square")
    assert_close(table["p"].to_numpy(), ref["p"].to_numpy(), **TOL, what=f"{what}: p")


@pytest.mark.parametrize("model", list(MODELS))
def test_cox_regression_ph_test_equals_cox_zph(model):
    ref = REF[(REF["model"] == model) & REF["terms"]]
    _check(_fit(model).ph_test, ref, f"{model}, terms = TRUE")


def test_per_column_test_equals_cox_zph_terms_false():
    res = _fit("full")
    ref = REF[(REF["model"] == "full") & ~REF["terms"]]
    cols = list(res.covariates)
    x = pd.get_dummies(VETERAN["celltype"], prefix="celltype", prefix_sep="=", dtype=float)
    x = pd.concat([VETERAN[["trt", "karno", "diagtime", "age", "prior"]], x], axis=1)[cols]
    beta = res.multivariable.set_index("covariate").loc[cols, "coef"].to_numpy()
    table = cox_zph(VETERAN["time"], VETERAN["status"], x, beta)
    table["covariate"] = table["covariate"].str.replace("celltype=", "celltype", regex=False)
    order = ref["term"].tolist()
    _check(table.set_index("covariate").loc[order].reset_index(), ref, "full, terms = FALSE")
