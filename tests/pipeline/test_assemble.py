"""Issue 19 (7): a feature table assembled from the cache in another order is byte-identical."""

import json
import random

import numpy as np

from hccrad.pipeline.assemble import assemble_features, canonical_columns, canonical_table


def _fresh_rows(rng):
    names = [f"msi_{i}_{j}" for i in range(1, 12) for j in range(1, 3)] + ["volume_h1", "fraction_h1"]
    return {f"HCC{c:03d}": {n: float(rng.normal()) for n in names} for c in (7, 1, 12, 3, 100)}


def test_rows_from_cache_in_another_order_give_identical_bytes():
    rows = _fresh_rows(np.random.default_rng(0))
    clean = assemble_features(rows, "case_id").to_csv().encode()
    shuffler = random.Random(1)
    for _ in range(5):
        # resumed run: some cases from the cache (JSON, keys sorted), the rest fresh, arriving in any order
        cases = list(rows)
        shuffler.shuffle(cases)
        resumed = {}
        for i, c in enumerate(cases):
            resumed[c] = json.loads(json.dumps(rows[c], sort_keys=True)) if i % 2 else dict(rows[c])
        assert assemble_features(resumed, "case_id").to_csv().encode() == clean
        table = assemble_features(resumed, "case_id")
        shuffled = table.sample(frac=1, random_state=2)[list(reversed(table.columns))]
        assert canonical_table(shuffled).to_csv().encode() == clean


def test_column_rule_is_natural_and_rows_sorted():
    assert canonical_columns(["msi_10", "msi_2", "a", "msi_1"]) == ["a", "msi_1", "msi_2", "msi_10"]
    rows = {"b": {"x": 1.0}, "a": {"y": 2.0}}
    t = assemble_features(rows, "case_id")
    assert list(t.index) == ["a", "b"] and list(t.columns) == ["x", "y"] and t.isna().sum().sum() == 2
