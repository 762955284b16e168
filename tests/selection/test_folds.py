"""hccrad.selection.folds.patient_folds against scikit-learn's StratifiedGroupKFold (issue 25, item 6).

StratifiedGroupKFold is not a drop-in replacement: with the same seed it deals other folds (so every inner CV
-- LASSO's lambda, stacking, Platt scaling -- and every reported number would change), and it accepts a class
whose rows all belong to one patient, leaving a training fold without that class. patient_folds is kept; these
tests show its folds are valid (a partition, patients kept together, stratified, both classes in every
training fold) and document the difference.
"""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from hccrad.core.errors import ModelError
from hccrad.selection.folds import patient_folds


def _bootstrap(seed: int, n: int = 40):
    rng = np.random.default_rng(seed)
    y_patient = (rng.random(n) < 0.4).astype(int)
    draw = rng.integers(0, n, n)  # the resample: row i is a copy of patient draw[i]
    return y_patient[draw], draw


def _test_partition(folds) -> list[tuple[int, ...]]:
    return sorted(tuple(sorted(test.tolist())) for _, test in folds)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_patient_folds_are_grouped_stratified_partitions(seed):
    y, groups = _bootstrap(seed)
    k = 5
    folds = patient_folds(y, groups, k, seed)
    tests = np.concatenate([test for _, test in folds])
    assert np.array_equal(np.sort(tests), np.arange(len(y))), "every row in exactly one validation fold"
    fold_of = np.empty(len(y), int)
    for f, (train, test) in enumerate(folds):
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
        assert np.unique(y[train]).size == 2, f"training fold {f} lacks an outcome class"
        fold_of[test] = f
    for patient in np.unique(groups):
        assert np.unique(fold_of[groups == patient]).size == 1, f"patient {patient} split over folds"
    for cls in (0, 1):  # stratified: a class's patients are dealt evenly (fold counts differ by <= 1)
        patients = np.unique(groups[y == cls])
        per_fold = np.bincount([fold_of[groups == p][0] for p in patients], minlength=k)
        assert per_fold.max() - per_fold.min() <= 1, f"class {cls} patients per fold {per_fold.tolist()}"


def test_one_row_per_patient_is_stratified_kfold():
    y, _ = _bootstrap(3)
    got = patient_folds(y, np.arange(len(y)), 5, 11)
    ref = StratifiedKFold(5, shuffle=True, random_state=11).split(np.zeros(len(y)), y)
    assert _test_partition(got) == _test_partition(ref)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stratified_group_kfold_deals_other_folds(seed):
    """The documented difference: the same seed gives another partition, with copies and without."""
    y, groups = _bootstrap(seed)
    sgkf = StratifiedGroupKFold(5, shuffle=True, random_state=seed)
    assert _test_partition(patient_folds(y, groups, 5, seed)) != _test_partition(sgkf.split(y, y, groups))
    single = np.arange(len(y))
    assert (_test_partition(patient_folds(y, single, 5, seed))
            != _test_partition(sgkf.split(y, y, single)))


def test_a_class_of_one_patient_is_refused_not_silently_split():
    """Five copies of the only positive patient: StratifiedGroupKFold counts rows and returns a training fold
    with no positive case; patient_folds counts patients and says why the CV is impossible."""
    y = np.array([1] * 5 + [0] * 15)
    groups = np.array([0] * 5 + list(range(1, 16)))
    sgkf = StratifiedGroupKFold(5, shuffle=True, random_state=0).split(y, y, groups)
    assert any(np.unique(y[train]).size < 2 for train, _ in sgkf)
    with pytest.raises(ModelError, match="1 distinct patients|need >= 2 per class"):
        patient_folds(y, groups, 5, 0)
