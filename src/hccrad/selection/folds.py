"""Inner cross-validation folds that keep a patient's copies together and never leave a training fold with
one outcome class.

Inside a bootstrap resample a patient can appear several times. An inner CV (LASSO's choice of lambda, the
out-of-fold score of a fused model, Platt scaling) must put all copies of one patient in the same fold, or
the copy in the validation fold is predicted by a model that saw its twin (leakage). The copies are
identified by the *resample index* -- the patient's row in the original table -- never by equal feature
values: two different patients can share values (coarse or rounded features), and grouping them would merge
patients of both classes and can empty a class from a training fold (the "liblinear ... one class" crash).

Where the groups come from (:func:`row_groups`): an explicit ``groups`` array, else the index of a DataFrame
(hccrad's validation labels every resampled row with its original row number, so duplicated labels are
copies of one patient); a NumPy array without groups counts every row as its own patient.

Fold rule (:func:`patient_folds`): with one row per patient, scikit-learn's ``StratifiedKFold(k,
shuffle=True, random_state)``. With copies: each patient is assigned to the outcome class of its rows; the
patients of each class are permuted with ``numpy.random.default_rng(random_state)`` and dealt round-robin to
folds 0..k-1, the second class continuing where the first stopped (balanced fold sizes, stratified by
class, copies together). Dealing round-robin puts a class with >= 2 patients in >= 2 folds, so every
training fold (the other k-1 folds) holds both classes; fewer than 2 patients of a class, or fewer patients
than folds, is a :class:`ModelError` (the caller records the resample as failed, with this reason).
scikit-learn's ``StratifiedGroupKFold`` is not used: with the same seed its greedy assignment deals other
folds, with copies and without (so every inner CV and reported number would change), and it counts rows, not
patients, so a class whose rows are copies of one patient passes and leaves a training fold without that
class (tests/selection/test_folds.py shows both, and that these folds are grouped, stratified partitions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import _num_samples

from hccrad.core.errors import ModelError

Folds = list[tuple[np.ndarray, np.ndarray]]


def row_groups(X, groups=None) -> np.ndarray:
    """Integer patient code of every row: ``groups`` if given, else the DataFrame index, else row number."""
    if groups is not None:
        g = np.asarray(groups).ravel()
    elif isinstance(X, pd.DataFrame):
        g = X.index.to_numpy()
    else:
        return np.arange(_num_samples(X))
    return pd.factorize(pd.Series(g, dtype=object), sort=False)[0]


def patient_folds(y: np.ndarray, groups: np.ndarray, k: int, random_state) -> Folds:
    """k stratified folds (train, validation row indices) keeping each patient's rows together; every
    training fold holds both outcome classes, or :class:`ModelError` says why that is impossible."""
    classes, yv = np.unique(np.asarray(y).ravel(), return_inverse=True)
    if classes.size != 2:
        raise ModelError(f"inner CV needs two outcome classes, found {classes.size}", field="y")
    g = np.asarray(groups).ravel()
    if g.shape[0] != yv.shape[0]:
        raise ModelError(f"groups has {g.shape[0]} rows but y has {yv.shape[0]}", field="groups")
    patients, first = np.unique(g, return_index=True)
    if patients.size == g.size:  # one row per patient: the classic stratified k-fold
        _check_counts(np.bincount(yv, minlength=2), k, "patients")
        return list(StratifiedKFold(k, shuffle=True, random_state=random_state).split(np.zeros(yv.size), yv))
    cls_of = dict(zip(patients.tolist(), yv[first].tolist()))
    mixed = [p for p in patients.tolist() if np.unique(yv[g == p]).size > 1]
    if mixed:
        raise ModelError(f"{len(mixed)} patient group(s) have rows of both outcome classes", field="groups",
                         hint="groups must identify patients (one outcome per patient)")
    per_class = np.bincount([cls_of[p] for p in patients.tolist()], minlength=2)
    _check_counts(per_class, k, "distinct patients")
    rng = np.random.default_rng(random_state)
    fold_of: dict[int, int] = {}
    deal = 0
    for cls in (0, 1):
        members = np.array([p for p in patients.tolist() if cls_of[p] == cls])
        for p in rng.permutation(members).tolist():
            fold_of[p] = deal % k
            deal += 1
    fold = np.array([fold_of[p] for p in g.tolist()])
    folds = [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(k)]
    for f, (tr, _) in enumerate(folds):  # guaranteed by the dealing; checked so a change cannot break it
        if np.unique(yv[tr]).size < 2:
            raise ModelError(f"inner fold {f} would train on one outcome class", field="groups")
    return folds


def _check_counts(per_class: np.ndarray, k: int, what: str) -> None:
    if k < 2:
        raise ModelError(f"inner CV needs k >= 2 folds, got {k}", field="cv")
    if per_class.min() < 2 or per_class.sum() < k:
        raise ModelError(
            f"inner {k}-fold CV impossible: {int(per_class[0])} and {int(per_class[1])} {what} in the two "
            "outcome classes (need >= 2 per class and >= k in all)",
            field="cv", hint="lower the inner cv or use more patients")
