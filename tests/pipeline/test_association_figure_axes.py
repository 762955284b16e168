"""Issue 26: the association figure shows 0/1 marker codes as 0/1 (not 0.0/1.0) and a positive marker spanning
decades (AFP) on a log axis, so the cases are not piled at 0."""

import numpy as np
import pandas as pd

from hccrad.pipeline.reporting import _level_label, _skewed_positive


def test_integer_codes_read_as_floats_are_labelled_as_integers():
    assert [_level_label(v) for v in (0.0, 1.0, 2.5, "BCLC-B", 3)] == ["0", "1", "2.5", "BCLC-B", "3"]


def test_only_a_positive_marker_spanning_decades_gets_a_log_axis():
    rng = np.random.default_rng(0)
    afp = pd.Series(np.exp(rng.normal(3, 3, 200)))  # lognormal, median ~20, max ~10^5
    assert _skewed_positive(afp)
    assert not _skewed_positive(pd.Series(rng.normal(60, 8, 200)))  # age
    assert not _skewed_positive(afp.where(afp > 5, 0.0))  # a zero cannot go on a log axis
    assert not _skewed_positive(pd.Series([], dtype=float))
