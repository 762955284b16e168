"""rms::val.prob's statistics (Dxy, C, R2, D, U, Q, Brier, Intercept, Slope, Emax, E90, Eavg, S:z).

Reference numbers: tests/reference/r/results/val_prob.csv, written by tests/reference/r/val_prob.R
(`make references`) on the seeded data of val_prob_input.csv (n = 300 distinct predictions; n = 40 with
tied predictions). rms 6.5 reports D:p as NA, so it is checked against the chi-square of D's LR instead.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hccrad.core.errors import DataError
from hccrad.evaluate.calibration import VAL_PROB_STATISTICS, val_prob
from hccrad.testing import assert_close

RESULTS = Path(__file__).resolve().parent / "r" / "results"
INPUT = pd.read_csv(RESULTS / "val_prob_input.csv")
REF = pd.read_csv(RESULTS / "val_prob.csv")


@pytest.mark.parametrize("dataset", ["large", "small"])
def test_val_prob_equals_rms(dataset):
    d = INPUT[INPUT["dataset"] == dataset]
    res = val_prob(d["y"], d["p"])
    ref = REF[REF["dataset"] == dataset].set_index("statistic")["value"]
    assert list(ref.index) == list(VAL_PROB_STATISTICS)
    for name in VAL_PROB_STATISTICS:
        if name == "D:p":
            assert np.isnan(ref[name])  # rms 6.5 leaves it NA
            assert_close(res[name], stats.chi2.sf(ref["D:Chi-sq"], 1), rtol=1e-6, atol=1e-15, what=f"{dataset}: D:p")
            continue
        assert_close(res[name], ref[name], rtol=1e-6, atol=1e-9, what=f"{dataset}: {name}")


def test_probability_of_exactly_one_is_refused():
    with pytest.raises(DataError, match="prob"):
        val_prob([0, 1, 1], [0.2, 1.0, 0.7])
