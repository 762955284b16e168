"""Per-cohort performance table: one column per cohort, cut-offs frozen from training."""

from __future__ import annotations

import numpy as np
import pytest

from hccrad.core.errors import DataError
from hccrad.evaluate import performance_table, youden_threshold
from hccrad.testing import assert_close


def _cohort(rng, n, shift):
    y = rng.integers(0, 2, n)
    return y, {"habitat": y + rng.normal(size=n) + shift, "clinical": 0.5 * y + rng.normal(size=n) + shift}


def test_per_cohort_columns_and_frozen_cutoffs(rng):
    train, internal, external = _cohort(rng, 120, 0.0), _cohort(rng, 60, 0.0), _cohort(rng, 60, 0.7)
    thr = {m: youden_threshold(train[0], s) for m, s in train[1].items()}
    cohorts = {"training": train, "internal_test": internal, "external_test": external}
    res = performance_table(cohorts, thr, reference="clinical")
    wide = res.wide()
    assert list(wide.columns) == ["training", "internal_test", "external_test"]
    assert wide.loc[("clinical", "p_vs_reference"), "training"] == "ref."
    # a test cohort's numbers do not depend on which other cohorts are in the table
    alone = performance_table({"external_test": external}, thr, reference="clinical").summary()
    both = res.summary()
    both = both[both.cohort == "external_test"].reset_index(drop=True)
    assert_close(alone["sensitivity"].to_numpy(), both["sensitivity"].to_numpy(), rtol=0, atol=0,
                 what="external sensitivity alone vs with other cohorts")
    # the cut-off is the training one, not re-optimised on the external cohort
    assert (both["threshold"].to_numpy() == np.array([thr["habitat"], thr["clinical"]])).all()


def test_missing_threshold(rng):
    with pytest.raises(DataError):
        performance_table({"training": _cohort(rng, 30, 0)}, {"habitat": 0.5})
