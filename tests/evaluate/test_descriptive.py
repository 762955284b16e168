"""Table 1 test choice (named per row) and odds ratios against closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hccrad.core.errors import DataError
from hccrad.evaluate.descriptive import odds_ratio_table, table_one
from hccrad.testing import assert_close


@pytest.fixture
def df(rng):
    n = 120
    g = np.repeat([0, 1], n // 2)
    d = pd.DataFrame({
        "group": g,
        "normal_eq": rng.normal(50, 5, n) + 3 * g,
        "normal_uneq": np.where(g == 1, rng.normal(50, 20, n), rng.normal(50, 2, n)),
        "skewed": rng.lognormal(2, 1.2, n),
        "sex": rng.choice(["F", "M"], n),
        "rare": np.where(np.arange(n) < 3, "yes", "no"),
        "cohort": np.tile(["train", "internal", "external"], n // 3),
    })
    d.loc[5, "skewed"] = np.nan
    return d


def _row(t, var):
    return t.table.set_index("variable").loc[var]


def test_test_choice_is_named(df):
    t = table_one(df, "group", ["normal_eq", "normal_uneq", "skewed"], ["sex", "rare"])
    assert _row(t, "normal_eq")["test"].startswith("Student t-test")
    assert _row(t, "normal_uneq")["test"].startswith("Welch t-test")
    assert _row(t, "skewed")["test"] == "Mann–Whitney U"
    assert _row(t, "skewed")["summary"] == "median [Q1, Q3]" and _row(t, "skewed")["missing"] == 1
    assert "±" in _row(t, "normal_eq")["Overall"]
    cat = t.table[(t.table.variable == "rare") & (t.table.level == "")].iloc[0]
    assert cat["test"] == "Fisher exact"
    sex = t.table[(t.table.variable == "sex") & (t.table.level == "")].iloc[0]
    assert sex["test"] == "Pearson χ² (Yates)"
    # the p-value is scipy's for the named test
    x = df["skewed"]
    p = stats.mannwhitneyu(x[df.group == 0].dropna(), x[df.group == 1].dropna()).pvalue
    assert _row(t, "skewed")["p"] == ("< 0.001" if p < 0.001 else f"{p:.3f}")


def test_three_groups_use_omnibus_tests(df):
    t = table_one(df, "cohort", ["normal_eq", "skewed"], ["sex"], variance_test="bartlett")
    assert _row(t, "skewed")["test"] == "Kruskal–Wallis"
    assert "ANOVA" in _row(t, "normal_eq")["test"] and "Bartlett" in _row(t, "normal_eq")["test"]
    assert list(t.groups) == ["external", "internal", "train"]


def test_categorical_percentages(df):
    t = table_one(df, None, [], ["sex"])
    f = t.table[(t.table.variable == "sex") & (t.table.level == "F")].iloc[0]
    k = int((df.sex == "F").sum())
    assert f["Overall"] == f"{k} ({100 * k / len(df):.1f})"


def test_univariable_or_equals_cross_product_ratio(df, rng):
    d = df.copy()
    d["y"] = (rng.random(len(d)) < np.where(d.sex == "M", 0.6, 0.35)).astype(int)
    res = odds_ratio_table(d, "y", ["sex", "normal_eq"], multivariable=["sex", "normal_eq"])
    tab = pd.crosstab(d.sex, d.y)
    cpr = (tab.loc["M", 1] * tab.loc["F", 0]) / (tab.loc["M", 0] * tab.loc["F", 1])
    row = res.summary().set_index("term").loc["sex: M"]
    assert_close(row["or_uv"], cpr, rtol=1e-6, atol=0, what="univariable OR = ad/bc")
    assert np.isfinite(row["or_mv"]) and row["lower_uv"] < row["or_uv"] < row["upper_uv"]
    assert res.n_multivariable == len(d)


def test_missing_column_is_named(df):
    with pytest.raises(DataError) as err:
        table_one(df, "group", ["nope"], [])
    assert "nope" in str(err.value)


def test_rxc_fisher_is_seeded_table_one_identical_twice(df):
    """Issue 19 (7): scipy's r×c Fisher p-value is Monte Carlo; unseeded it changes from run to run."""
    d = df.assign(stage=np.where(np.arange(len(df)) % 17 == 0, "C", np.where(np.arange(len(df)) % 5 == 0, "B", "A")))
    first = table_one(d, "cohort", [], ["stage"])
    row = first.table[(first.table.variable == "stage") & (first.table.level == "")].iloc[0]
    assert row["test"].startswith("Fisher exact (Monte Carlo") and "seed 0" in row["test"]
    for _ in range(2):
        again = table_one(d, "cohort", [], ["stage"])
        assert again.table.to_csv() == first.table.to_csv()


def test_rxc_fisher_p_value_bit_identical():
    from hccrad.evaluate.descriptive import _categorical_test

    tab = np.array([[3, 1, 4], [1, 5, 2], [2, 2, 0]])
    p = [_categorical_test(tab)[0] for _ in range(3)]
    assert p[0] == p[1] == p[2] and 0 < p[0] < 1


@pytest.fixture
def afp_df(rng):
    n = 150
    afp = rng.lognormal(4, 1.5, n)  # ng/mL, 5..10^4
    y = (rng.random(n) < 1 / (1 + np.exp(-(-1 + 0.004 * afp)))).astype(int)
    return pd.DataFrame({"afp": afp, "y": y, "sex": rng.choice(["F", "M"], n)})


def test_or_per_declared_unit_equals_the_fit_on_rescaled_values(afp_df):
    """OR per 100 ng/mL = exp(100·β), CI exp(100·(β ± z·SE)): the same as fitting afp/100 (β' = 100·β)."""
    scaled = odds_ratio_table(afp_df, "y", ["afp", "sex"], ["afp", "sex"], units={"afp": 100}).summary()
    refit = odds_ratio_table(afp_df.assign(afp=afp_df.afp / 100), "y", ["afp", "sex"], ["afp", "sex"]).summary()
    plain = odds_ratio_table(afp_df, "y", ["afp", "sex"], ["afp", "sex"]).summary()
    cols = ["or_uv", "lower_uv", "upper_uv", "or_mv", "lower_mv", "upper_mv"]
    row, ref = scaled.set_index("term").loc["afp (per 100)"], refit.set_index("term").loc["afp"]
    assert_close(row[cols].to_numpy(float), ref[cols].to_numpy(float), rtol=1e-6, atol=0,
                 what="OR per 100 vs the fit on afp/100")
    assert_close(row[["p_uv", "p_mv"]].to_numpy(float), plain.set_index("term").loc["afp", ["p_uv", "p_mv"]]
                 .to_numpy(float), rtol=1e-12, atol=0, what="p unchanged by the unit")
    assert abs(plain.set_index("term").loc["afp", "or_uv"] - 1) < 0.01 < abs(row["or_uv"] - 1)  # 1.00x → visible
    assert_close(scaled.set_index("term").loc["sex: M", cols].to_numpy(float),
                 plain.set_index("term").loc["sex: M", cols].to_numpy(float), rtol=0, atol=0, what="other rows")


def test_or_per_10_fold_is_the_fit_on_log10(afp_df):
    res = odds_ratio_table(afp_df, "y", ["afp"], units={"afp": "log10"}).summary().set_index("term")
    ref = odds_ratio_table(afp_df.assign(afp=np.log10(afp_df.afp)), "y", ["afp"]).summary().set_index("term")
    assert_close(res.loc["afp (per 10-fold)", ["or_uv", "lower_uv", "upper_uv"]].to_numpy(float),
                 ref.loc["afp", ["or_uv", "lower_uv", "upper_uv"]].to_numpy(float), rtol=1e-12, atol=0,
                 what="OR per 10-fold vs the fit on log10(afp)")


def test_bad_or_units_are_refused_with_the_variable_named(afp_df):
    for units, words in (({"afp": -5}, "number > 0"), ({"sex": 10}, "not a continuous"),
                         ({"bmi": 5}, "not one of the variables"), ({"sex": "log10"}, "not numeric")):
        with pytest.raises(DataError, match=words):
            odds_ratio_table(afp_df, "y", ["afp", "sex"], units=units)
    with pytest.raises(DataError, match="value\\(s\\) <= 0"):
        odds_ratio_table(afp_df.assign(afp=afp_df.afp - 50), "y", ["afp"], units={"afp": "log10"})
