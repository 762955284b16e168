"""Feature–marker associations: the right test per marker type, scipy's statistics, BH over all tests."""

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from hccrad.evaluate.associations import feature_associations
from hccrad.testing import assert_close


def test_tests_and_bh():
    rng = np.random.default_rng(0)
    n = 60
    f = rng.normal(size=n)
    df = pd.DataFrame({"habitat3_fraction": f, "ki67": 2 * f + rng.normal(size=n),
                       "cd34_high": (f + rng.normal(size=n) > 0).astype(int),
                       "grade": rng.choice(["G1", "G2", "G3"], size=n)})
    df.loc[3, "ki67"] = np.nan
    out = feature_associations(df, ["habitat3_fraction"], ["ki67", "cd34_high", "grade"]).set_index("marker")
    ok = df[["habitat3_fraction", "ki67"]].dropna()
    assert_close(out.loc["ki67", "statistic"], stats.spearmanr(ok.iloc[:, 0], ok.iloc[:, 1]).statistic,
                 rtol=0, atol=1e-12, what="Spearman rho")
    assert out.loc["ki67", "n"] == n - 1
    assert out.loc["cd34_high", "test"] == "Mann–Whitney U" and out.loc["grade", "test"] == "Kruskal–Wallis"
    assert_close(out["q_bh"].to_numpy(), multipletests(out["p"], method="fdr_bh")[1], rtol=0, atol=1e-12,
                 what="BH q")
