"""Decision curve identities on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest

from hccrad.core.errors import DataError
from hccrad.evaluate.decision import decision_curve
from hccrad.testing import assert_close


def test_treat_all_and_perfect_model(rng):
    y = rng.integers(0, 2, 200)
    thr = np.array([0.1, 0.3, 0.5])
    out = decision_curve(y, {"perfect": y.astype(float) * 0.98 + 0.01}, thr)
    prev = y.mean()
    all_nb = out[out.model == "all"]["net_benefit"].to_numpy()
    assert_close(all_nb, prev - (1 - prev) * thr / (1 - thr), rtol=0, atol=1e-12, what="treat-all NB")
    assert_close(out[out.model == "perfect"]["net_benefit"].to_numpy(), [prev] * 3, rtol=0, atol=1e-12,
                 what="perfect model NB = prevalence")
    assert (out[out.model == "none"]["net_benefit"] == 0).all()


def test_reserved_names_and_thresholds():
    with pytest.raises(DataError):
        decision_curve([0, 1], {"all": [0.1, 0.2]}, [0.1])
    with pytest.raises(DataError):
        decision_curve([0, 1], {"m": [0.1, 0.2]}, [1.0])
