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
