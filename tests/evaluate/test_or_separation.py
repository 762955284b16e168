"""A variable that separates the outcome perfectly is reported as not estimable, not silently dropped and
not allowed to kill the whole Table 2."""

import numpy as np
import pandas as pd

from hccrad.evaluate.descriptive import odds_ratio_table


def test_separated_variable_is_flagged_and_others_estimated():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(30), np.ones(30)].astype(int)
    df = pd.DataFrame({"y": y, "sep": y.copy(), "x": rng.normal(size=60) + 0.8 * y})
    tab = odds_ratio_table(df, "y", ["sep", "x"]).summary()
    sep = tab[tab["variable"] == "sep"].iloc[0]
    assert np.isnan(sep["or_uv"]) and "not estimable" in sep["note"]
    x = tab[tab["variable"] == "x"].iloc[0]
    assert np.isfinite(x["or_uv"]) and x["or_uv"] > 1 and x["note"] == ""


def test_separated_multivariable_model_keeps_the_univariable_table():
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(30), np.ones(30)].astype(int)
    a = rng.normal(size=60)
    df = pd.DataFrame({"y": y, "a": a, "b": y * 5.0 + (a > 0)})  # b separates y once a is in the model
    tab = odds_ratio_table(df, "y", ["a", "b"], multivariable=["a", "b"]).summary()
    row = tab[tab["variable"] == "a"].iloc[0]
    assert np.isfinite(row["or_uv"]) and np.isnan(row["or_mv"])
    assert (tab["note"].str.contains("multivariable model not estimable") | tab["or_uv"].isna()).all()
