"""Dummy coding of categorical predictors (hccrad.models.dummies) against statsmodels' formula API
(patsy's C(BCLC, Treatment('A'))), the external reference; unseen levels refused with case and value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from hccrad.core.errors import DataError, ModelError
from hccrad.models.dummies import DummyEncoder
from hccrad.models.factory import build_model_pipeline

LEVELS = ["A", "B", "C", "D"]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(21)
    n = 200
    bclc = rng.choice(LEVELS, n, p=[0.3, 0.3, 0.25, 0.15])
    age = rng.normal(62, 9, n)
    eta = -0.5 + 0.03 * (age - 62) + pd.Series(bclc).map({"A": 0.0, "B": 0.6, "C": 1.1, "D": 1.8}).to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return pd.DataFrame({"age": age, "BCLC": bclc, "y": y}, index=[f"p{i:03d}" for i in range(n)])


def _check(name: str, value: np.ndarray, reference: np.ndarray, atol: float) -> None:
    diff = np.abs(np.asarray(value, float) - np.asarray(reference, float))
    assert np.all(diff <= atol), f"{name}: hccrad {value} vs statsmodels {reference}, |diff| {diff} > {atol}"


@pytest.mark.parametrize("reference", ["A", "C"])
def test_logistic_on_dummies_equals_statsmodels_formula(table: pd.DataFrame, reference: str) -> None:
    pipe = build_model_pipeline(["age", "BCLC"], steps=["logistic"], categorical={"BCLC": (LEVELS, reference)})
    pipe.fit(table[["age", "BCLC"]], table["y"].to_numpy())
    ours = pipe[-1].summary()
    ref = smf.logit(f"y ~ age + C(BCLC, Treatment('{reference}'))", data=table).fit(disp=0, tol=1e-12)
    others = [lv for lv in LEVELS if lv != reference]
    names = ["const", "age", *[f"BCLC[{lv}]" for lv in others]]
    ref_names = ["Intercept", "age", *[f"C(BCLC, Treatment('{reference}'))[T.{lv}]" for lv in others]]
    assert list(ours.index) == names
    _check("coefficients", ours["coef"].to_numpy(), ref.params[ref_names].to_numpy(), 1e-8)
    _check("odds ratios", ours["OR"].to_numpy(), np.exp(ref.params[ref_names].to_numpy()), 1e-8)
    _check("standard errors", ours["se"].to_numpy(), ref.bse[ref_names].to_numpy(), 1e-8)
    _check("p-values", ours["p"].to_numpy(), ref.pvalues[ref_names].to_numpy(), 1e-8)
    _check("probabilities", pipe.predict_proba(table[["age", "BCLC"]])[:, 1], ref.predict(table), 1e-8)


def test_unseen_level_at_predict_names_case_and_value(table: pd.DataFrame) -> None:
    pipe = build_model_pipeline(["age", "BCLC"], steps=["logistic"], categorical={"BCLC": (LEVELS, "A")})
    pipe.fit(table[["age", "BCLC"]], table["y"].to_numpy())
    new = table[["age", "BCLC"]].iloc[:5].copy()
    new.loc["p003", "BCLC"] = "E"
    with pytest.raises(DataError) as err:
        pipe.predict_proba(new)
    assert err.value.case == "p003" and err.value.field == "BCLC" and "'E'" in err.value.message


def test_level_without_training_case_and_blank_are_refused(table: pd.DataFrame) -> None:
    no_d = table[table["BCLC"] != "D"]
    with pytest.raises(ModelError, match=r"\['D'\].*no case"):
        DummyEncoder({"BCLC": (LEVELS, "A")}).fit(no_d[["BCLC"]])
    blank = table[["BCLC"]].copy()
    blank.loc["p010", "BCLC"] = None
    with pytest.raises(DataError) as err:
        DummyEncoder({"BCLC": (LEVELS, "A")}).fit(blank)
    assert err.value.case == "p010"


def test_numbers_match_declared_levels_as_text() -> None:
    df = pd.DataFrame({"ecog": [0, 1.0, 2, "1", 0]}, index=list("abcde"))
    out = DummyEncoder({"ecog": (["0", "1", "2"], "0")}).fit(df).transform(df)
    assert list(out.columns) == ["ecog[1]", "ecog[2]"]
    assert out.to_numpy().tolist() == [[0, 0], [1, 0], [0, 1], [1, 0], [0, 0]]


def test_stepwise_moves_a_categorical_variable_as_one_block(table: pd.DataFrame) -> None:
    noise = np.random.default_rng(3).normal(size=len(table))
    data = table.assign(noise=noise)
    groups = {"BCLC": [f"BCLC[{lv}]" for lv in LEVELS[1:]]}
    pipe = build_model_pipeline(["noise", "BCLC"], steps=["stepwise", "logistic"],
                                params={"stepwise": {"groups": groups}}, categorical={"BCLC": (LEVELS, "A")})
    pipe.fit(data[["noise", "BCLC"]], data["y"].to_numpy())
    assert list(pipe[-1].feature_names_in_) == groups["BCLC"]
    full = smf.logit("y ~ C(BCLC, Treatment('A'))", data=data).fit(disp=0, tol=1e-12)
    joint = float(full.wald_test(np.eye(4)[1:], scalar=True).pvalue)  # Intercept, then the three levels
    uni = pipe.named_steps["stepwise"].result_.univariable
    assert abs(uni.loc["BCLC", "p"] - joint) <= 1e-8, (uni.loc["BCLC", "p"], joint)


def test_odds_ratio_table_levels_and_joint_test_equal_statsmodels(table: pd.DataFrame) -> None:
    from hccrad.evaluate.descriptive import odds_ratio_table

    data = table.assign(BCLC=pd.Categorical(table["BCLC"], categories=["B", "A", "C", "D"]))  # reference B
    res = odds_ratio_table(data, "y", ["age", "BCLC"], multivariable=["age", "BCLC"]).summary().set_index("term")
    ref = smf.logit("y ~ age + C(BCLC, Treatment('B'))", data=table).fit(disp=0, tol=1e-12)
    uni = smf.logit("y ~ C(BCLC, Treatment('B'))", data=table).fit(disp=0, tol=1e-12)
    for lv in "ACD":
        name = f"C(BCLC, Treatment('B'))[T.{lv}]"
        _check(f"multivariable OR {lv}", res.loc[f"BCLC: {lv}", "or_mv"], np.exp(ref.params[name]), 1e-6)
        _check(f"univariable OR {lv}", res.loc[f"BCLC: {lv}", "or_uv"], np.exp(uni.params[name]), 1e-6)
    def levels_of(fit) -> np.ndarray:  # restriction matrix picking the BCLC terms (patsy puts them first)
        return np.eye(len(fit.params))[[i for i, n in enumerate(fit.params.index) if n.startswith("C(BCLC")]]

    joint_mv = float(ref.wald_test(levels_of(ref), scalar=True).pvalue)
    joint_uv = float(uni.wald_test(levels_of(uni), scalar=True).pvalue)
    _check("joint Wald p (multivariable)", res.loc["BCLC: A", "p_variable_mv"], joint_mv, 1e-8)
    _check("joint Wald p (univariable)", res.loc["BCLC: D", "p_variable_uv"], joint_uv, 1e-8)
    _check("age's own p", res.loc["age", "p_variable_mv"], res.loc["age", "p_mv"], 1e-15)


def test_nomogram_has_one_axis_per_categorical_variable(table: pd.DataFrame) -> None:
    from hccrad.survival.nomogram import nomogram_points

    pipe = build_model_pipeline(["age", "BCLC"], steps=["logistic"], categorical={"BCLC": (LEVELS, "B")})
    X = table[["age", "BCLC"]]
    pipe.fit(X, table["y"].to_numpy())
    design = pipe[:-1].transform(X)
    nomo = nomogram_points(pipe[-1], design, categorical=pipe.named_steps["dummies"].level_columns())
    axis = nomo.scales[nomo.scales["variable"] == "BCLC"]
    assert list(nomo.scales["variable"].unique()) == ["age", "BCLC"] and list(axis["label"]) == LEVELS
    b = dict(zip(LEVELS, [pipe[-1].summary().loc[f"BCLC[{lv}]", "coef"] if lv != "B" else 0.0 for lv in LEVELS]))
    expected = (np.array(list(b.values())) - min(b.values())) / nomo.lp_per_point
    _check("points per level", axis["points"].to_numpy(), expected, 1e-9)
    _check("probability from total points", nomo.predict(nomo.total_points(design)),
           pipe.predict_proba(X)[:, 1], 1e-12)


def test_fused_model_dummy_codes_its_clinical_columns(table: pd.DataFrame) -> None:
    from hccrad.models.factory import ScoreFusion

    rng = np.random.default_rng(8)
    data = table.assign(h1=rng.normal(size=len(table)) + table["y"], h2=rng.normal(size=len(table)))
    fused = ScoreFusion(build_model_pipeline(None, ["logistic"]), ["h1", "h2"], ["age", "BCLC"],
                        score_name="img_score", categorical={"BCLC": (LEVELS, "A")})
    fused.fit(data, data["y"].to_numpy())
    assert list(fused.fusion_model_.feature_names_in_) == ["age", "BCLC[B]", "BCLC[C]", "BCLC[D]", "img_score"]
    design = fused.fusion_inputs(data).assign(BCLC=data["BCLC"], y=data["y"])
    ref = smf.logit("y ~ age + C(BCLC, Treatment('A')) + img_score", data=design).fit(disp=0, tol=1e-12)
    _check("fused probabilities", fused.predict_proba(data)[:, 1], ref.predict(design), 1e-8)
    with pytest.raises(DataError) as err:
        fused.predict_proba(data.iloc[:3].assign(BCLC=["A", "Z", "B"]))
    assert err.value.case == data.index[1] and "'Z'" in err.value.message
