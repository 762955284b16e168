"""Selection frequencies are ordered by value, ties by name: never by set or hash order, which changes between
Python processes (PYTHONHASHSEED) and made a report table differ between two runs with the same seed."""

from __future__ import annotations

from hccrad.models.validation import _frequency


def test_ties_are_ordered_by_name_and_counts_are_shares():
    freq = _frequency([["vp4", "cirrhosis", "tbil"], ["tbil", "comorbidities", "cirrhosis", "vp4"],
                       ["comorbidities", "vp4", "cirrhosis", "tbil", "tbil"]])  # a repeat counts once
    assert list(freq.index) == ["cirrhosis", "tbil", "vp4", "comorbidities"]
    assert freq.tolist() == [1.0, 1.0, 1.0, 2 / 3]
