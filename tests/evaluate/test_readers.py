"""Reader comparator reproduces hand-computed sensitivity/specificity (issue 14 item 3)."""

from __future__ import annotations

import numpy as np
import pytest

from hccrad.core.errors import DataError
from hccrad.evaluate.readers import reader_comparison
from hccrad.testing import assert_close

Y = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
READER = np.array([1, 1, 1, 0, 0, 0, 0, 0, 1, 1])
MODEL = np.array([0.9, 0.8, 0.4, 0.7, 0.1, 0.2, 0.3, 0.6, 0.2, 0.1])


def test_reader_rates_hand_computed():
    res = reader_comparison(Y, {"R1": READER}, {"model": MODEL}, {"model": 0.5})
    m = res.metrics.set_index("rater")
    assert_close(m.loc["R1", ["sensitivity", "specificity", "ppv", "npv"]].to_numpy(float),
                 [3 / 4, 4 / 6, 3 / 5, 4 / 5], rtol=0, atol=1e-12, what="reader SEN/SPE/PPV/NPV")
    # binary call: AUC = (sensitivity + specificity) / 2
    assert_close(m.loc["R1", "auc"], (3 / 4 + 4 / 6) / 2, rtol=0, atol=1e-12, what="reader AUC")
    # model at 0.5: TP 3 (0.9, 0.8, 0.7), FP 1 (0.6)
    assert_close(m.loc["model", ["sensitivity", "specificity"]].to_numpy(float), [3 / 4, 5 / 6], rtol=0,
                 atol=1e-12, what="model SEN/SPE")
    assert res.tests.iloc[0]["model_a"] == "R1" and res.tests.iloc[0]["model_b"] == "model"
    assert m.loc["R1", "sensitivity_display"].endswith("[3/4]")


def test_ratings_need_cutoff():
    with pytest.raises(DataError):
        reader_comparison(Y, {"R1": READER * 3 + 1}, {"model": MODEL}, {"model": 0.5})
    with pytest.raises(DataError):
        reader_comparison(Y, {"R1": READER}, {"model": MODEL}, {})
