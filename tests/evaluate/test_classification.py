"""Cut-offs, rates and their CIs (Clopper–Pearson against scipy's exact binomial interval)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from hccrad.core.errors import DataError
from hccrad.evaluate.classification import classification_metrics, proportion_ci, youden_threshold
from hccrad.testing import assert_close


@pytest.mark.parametrize("k, n", [(0, 10), (1, 10), (7, 10), (10, 10), (52, 64), (3, 191), (118, 159)])
def test_clopper_pearson_matches_scipy_exact(k, n):
    ref = binomtest(k, n).proportion_ci(confidence_level=0.95, method="exact")
    lo, hi = proportion_ci(k, n, "clopper-pearson", 0.95)
    assert_close([lo, hi], [ref.low, ref.high], rtol=0.0, atol=1e-10, what=f"Clopper–Pearson {k}/{n}")


def test_wald_formula():
    lo, hi = proportion_ci(30, 40, "wald", 0.95)
    half = 1.959963984540054 * np.sqrt(0.75 * 0.25 / 40)
    assert_close([lo, hi], [0.75 - half, 0.75 + half], rtol=0.0, atol=1e-12, what="Wald CI")


def test_youden_hand_example_and_tie_rule():
    # J = 2/3 at cut-offs 5 and 3; the higher (more specific) is returned
    y = [0, 0, 1, 0, 1, 1]
    s = [1, 2, 3, 4, 5, 6]
    assert youden_threshold(y, s) == 5.0


def test_metrics_hand_computed_with_counts():
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    calls = [1, 1, 1, 0, 0, 0, 0, 0, 1, 1]
    res = classification_metrics(y, calls)
    t = res.summary().set_index("metric")
    assert_close(t["estimate"].to_numpy(), [7 / 10, 3 / 4, 4 / 6, 3 / 5, 4 / 5], rtol=0, atol=1e-12,
                 what="acc/sen/spe/ppv/npv")
    assert t.loc["sensitivity", "display"].endswith("[3/4]")
    assert (res.counts.tp, res.counts.fp, res.counts.tn, res.counts.fn) == (3, 2, 4, 1)
    assert res.counts.matrix().tolist() == [[4, 2], [1, 3]]


def test_threshold_applies_ge_rule():
    res = classification_metrics([0, 1, 1], [0.2, 0.5, 0.7], threshold=0.5)
    assert res["sensitivity"] == 1.0 and res["specificity"] == 1.0
    assert classification_metrics([0, 1, 1], [0.2, 0.5, 0.7], 0.5, ci="wald").ci_method == "Wald"


def test_bad_inputs():
    with pytest.raises(DataError):
        classification_metrics([0, 1], [0.3, 0.6])  # scores without a threshold
    with pytest.raises(DataError):
        classification_metrics([0, 1], [0, 1], ci="agresti")


def test_youden_estimator_freezes_training_cutoff():
    from sklearn.exceptions import NotFittedError

    from hccrad.evaluate.classification import YoudenThreshold
    est = YoudenThreshold()
    with pytest.raises(NotFittedError):
        est.predict([0.1])
    est.fit([1, 2, 3, 4, 5, 6], [0, 0, 1, 0, 1, 1])
    assert est.threshold_ == 5.0
    assert est.predict([4.9, 5.0, 100.0]).tolist() == [0, 1, 1]


def test_result_html_and_text():
    res = classification_metrics([1, 0, 1, 0], [1, 0, 0, 0])
    assert "<table" in res._repr_html_() and "sensitivity" in res.to_text()
