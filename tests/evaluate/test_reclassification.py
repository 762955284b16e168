"""NRI and IDI on a hand-computed six-patient example (Pencina et al. 2008 formulas)."""

from __future__ import annotations

import numpy as np
import pytest

from hccrad.evaluate.reclassification import idi, nri
from hccrad.testing import assert_close

Y = [1, 1, 1, 0, 0, 0]
OLD = [0.5] * 6
NEW = [0.6, 0.7, 0.4, 0.3, 0.4, 0.6]


def test_continuous_nri():
    # events: up 2/3, down 1/3 → 1/3; non-events: down 2/3, up 1/3 → 1/3
    r = nri(Y, OLD, NEW)
    assert_close(r.estimate, 2 / 3, rtol=0, atol=1e-12, what="NRI>0")
    assert_close(r.z, (2 / 3) / np.sqrt(1 / 3 + 1 / 3), rtol=0, atol=1e-12, what="NRI z")


def test_categorical_nri():
    # cut 0.55: events move up 2/3 (none down) → 2/3; non-events up 1/3 → −1/3
    r = nri(Y, OLD, NEW, categories=[0.55])
    assert_close(r.estimate, 1 / 3, rtol=0, atol=1e-12, what="categorical NRI")
    assert "categorical" in r.method


def test_idi():
    # mean change +1/15 in events, −1/15 in non-events; SE² = 2·(7/300)/3 = 7/450
    r = idi(Y, OLD, NEW)
    assert_close(r.estimate, 2 / 15, rtol=0, atol=1e-12, what="IDI")
    assert_close(r.z, (2 / 15) / np.sqrt(7 / 450), rtol=0, atol=1e-12, what="IDI z")


def test_bootstrap_ci_reproducible(rng):
    y = rng.integers(0, 2, 80)
    old = np.clip(0.5 + 0.2 * (y - 0.5) + 0.1 * rng.normal(size=80), 0.01, 0.99)
    new = np.clip(old + 0.1 * (y - 0.5) + 0.05 * rng.normal(size=80), 0.01, 0.99)
    a = idi(y, old, new, ci="bootstrap", n_boot=100, seed=3)
    b = idi(y, old, new, ci="bootstrap", n_boot=100, seed=3)
    assert (a.lower, a.upper) == (b.lower, b.upper)
    assert a.lower < a.estimate < a.upper


def test_bad_categories():
    from hccrad.core.errors import DataError
    with pytest.raises(DataError):
        nri(Y, OLD, NEW, categories=[1.5])
