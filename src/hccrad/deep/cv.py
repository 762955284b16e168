"""Patient-grouped k-fold cross-validation, train/test, and architecture choice by validation cross-entropy.

Seed 003: five-fold cross-validation in the training cohort, then the model trained on the whole training
cohort validated in an independent cohort; the architecture (AlexNet / ResNet / Inception) is the one with
the smallest validation cross-entropy loss (CEL).

Leakage rules: folds are built at the patient level (scikit-learn StratifiedGroupKFold, groups =
patient_id, stratified on the first task's label), so the slices or lesions of one patient are never split
across folds; the learning-rate schedule and early stopping watch an inner validation split carved out of
the training folds (also patient-grouped), never the held-out fold, so out-of-fold predictions and deep
features are honest. Item predictions (e.g. the k slices of a case) are averaged per case.

"Learned" (issue 27): a network that learns nothing predicts a constant and reaches, on held-out items, at
best the cross-entropy of the training prevalence π_k of fold k, CE0_k = −mean_i [y_i ln π_k + (1 − y_i)
ln(1 − π_k)] (= ln 2 for balanced classes). A cross-validated candidate has learned when its mean held-out
cross-entropy is below min(ln 2, mean_k CE0_k) − margin (default margin 0.02). Architecture selection keeps
the lowest cross-entropy among the candidates that learned; when none did, `ArchitectureSelection.learned`
is False (the study stage then reports "no architecture learned" and keeps the score out of the models).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold

from hccrad.core.errors import DataError
from hccrad.deep.data import Augmentation, PatchDataset, PatchSet, with_augmented_copies
from hccrad.deep.train import NetworkSpec, Progress, TrainConfig, TrainResult, evaluate_loss, predict, train_model

log = logging.getLogger(__name__)

__all__ = ["ArchitectureSelection", "CVResult", "TrainTestResult", "case_level", "cross_validate",
           "learned_threshold", "null_cross_entropy", "patient_folds", "select_architecture", "train_test"]


def case_level(items: pd.DataFrame) -> pd.DataFrame:
    """Average item rows (probabilities, deep features) per case; keeps case_id, patient_id and fold."""
    keys = [c for c in ("case_id", "patient_id", "fold") if c in items]
    num = [c for c in items.columns if c not in keys]
    return items.groupby(keys, sort=False, as_index=False)[num].mean()


def _strata(targets: Mapping[str, np.ndarray], task: str | None, n: int) -> np.ndarray:
    if task is None:
        return np.zeros(n, dtype=int)
    if task not in targets:
        raise DataError(f"stratify task {task!r} has no labels", field="stratify", hint=f"use one of {sorted(targets)}")
    return np.asarray(targets[task])


def patient_folds(patches: PatchSet, labels: np.ndarray | None, n_splits: int, seed: int) -> np.ndarray:
    """Fold number (0..n_splits−1) per item; every patient's items share one fold (StratifiedGroupKFold)."""
    groups = np.asarray(patches.patient_ids)
    n_groups = len(set(groups))
    if n_splits < 2 or n_splits > n_groups:
        raise DataError(f"{n_splits} folds for {n_groups} patients", field="n_splits",
                        hint=f"use 2 <= n_splits <= {n_groups}")
    y = np.zeros(len(groups), dtype=int) if labels is None else np.asarray(labels)
    fold = np.full(len(groups), -1, dtype=int)
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    for k, (_, test) in enumerate(cv.split(np.zeros(len(groups)), y, groups)):
        fold[test] = k
    return fold


def null_cross_entropy(train_labels: np.ndarray, test_labels: np.ndarray) -> float:
    """Held-out CE of predicting the training prevalence π for every item (labels −1 ignored; π clipped to
    [1e-6, 1 − 1e-6]); NaN without a labelled test item. Binary tasks only (classes 0/1)."""
    tr = np.asarray(train_labels)
    te = np.asarray(test_labels)
    tr, te = tr[tr >= 0], te[te >= 0]
    if te.size == 0 or tr.size == 0 or tr.max() > 1 or te.max() > 1:
        return float("nan")
    pi = float(np.clip(tr.mean(), 1e-6, 1 - 1e-6))
    return float(-np.mean(te * math.log(pi) + (1 - te) * math.log(1 - pi)))


def learned_threshold(null_ce: float, margin: float = 0.02) -> float:
    """The held-out CE a network must stay below to count as learned: min(ln 2, null CE) − margin."""
    base = math.log(2.0) if not math.isfinite(null_ce) else min(math.log(2.0), null_ce)
    return base - float(margin)


def _subset_targets(targets: Mapping[str, np.ndarray], idx: np.ndarray) -> dict[str, np.ndarray]:
    return {k: np.asarray(v)[idx] for k, v in targets.items()}


def _inner_split(patches: PatchSet, strata: np.ndarray, idx: np.ndarray, val_fraction: float | None,
                 seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    if not val_fraction:
        return idx, None
    n_inner = max(2, int(round(1.0 / val_fraction)))
    sub = patches.subset(idx)
    inner = patient_folds(sub, strata[idx], min(n_inner, len(set(sub.patient_ids))), seed)
    return idx[inner != 0], idx[inner == 0]


@dataclass(frozen=True, eq=False)
class CVResult:
    """Out-of-fold predictions of a k-fold cross-validation.

    predictions: one row per case (case_id, patient_id, fold, <task>_p<j>), each from the network that did
    not see the case — usable as the CNN score of the training cohort in a fusion model (`cnn_scores`);
    folds: per-fold table (fold, n_train, n_val, n_test items, best_epoch, test_ce_<task>, test_loss);
    histories: per-epoch history with a fold column. (No out-of-fold deep-feature vectors: each fold's
    network has its own feature space, so deep_<i> of different folds are not the same variable.)
    """

    arch: str
    predictions: pd.DataFrame
    folds: pd.DataFrame
    histories: pd.DataFrame
    results: tuple[TrainResult, ...] = field(repr=False)

    def test_ce(self, task: str) -> tuple[float, float]:
        """Mean and SD over folds of the held-out cross-entropy of `task`."""
        v = self.folds[f"test_ce_{task}"].to_numpy(dtype=float)
        return float(np.nanmean(v)), float(np.nanstd(v, ddof=1)) if np.isfinite(v).sum() > 1 else float("nan")

    def null_ce(self, task: str) -> float:
        """Mean over folds of the held-out CE of the training prevalence (`null_cross_entropy`); NaN if absent."""
        col = f"null_ce_{task}"
        if col not in self.folds:
            return float("nan")
        v = self.folds[col].to_numpy(dtype=float)
        return float(np.nanmean(v)) if np.isfinite(v).any() else float("nan")

    def learned(self, task: str, margin: float = 0.02) -> bool:
        """Mean held-out CE below `learned_threshold` (module docstring)."""
        mean, _ = self.test_ce(task)
        return bool(math.isfinite(mean) and mean < learned_threshold(self.null_ce(task), margin))

    def summary(self) -> pd.DataFrame:
        return self.folds.copy()


def cross_validate(spec: NetworkSpec, patches: PatchSet, targets: Mapping[str, np.ndarray],
                   config: TrainConfig | None = None, *, n_splits: int = 5, stratify: str | None = "first",
                   val_fraction: float | None = 0.2, augmentation: Augmentation | None = None,
                   augment_copies: int = 0, progress: Progress | None = None) -> CVResult:
    """k-fold CV (patient-grouped): train on k−1 folds (inner split for early stopping), predict the k-th.

    augment_copies: offline augmentation (`with_augmented_copies`) of the items the fold network is fitted
    on — after the inner split, so validation (early-stopping) and held-out items stay untouched originals.
    """
    cfg = config or TrainConfig()
    task = spec.tasks[0].name if stratify == "first" else stratify
    strata = _strata(targets, task, len(patches))
    fold = patient_folds(patches, strata, n_splits, cfg.seed)
    preds, rows, hists, results = [], [], [], []
    for k in range(n_splits):
        test_idx = np.flatnonzero(fold == k)
        train_idx, val_idx = _inner_split(patches, strata, np.flatnonzero(fold != k), val_fraction, cfg.seed + k + 1)
        tr_set, tr_y = with_augmented_copies(patches.subset(train_idx), _subset_targets(targets, train_idx),
                                             augment_copies, seed=cfg.seed + 1000 * (k + 1))
        tr = PatchDataset(tr_set, tr_y, augmentation=augmentation, seed=cfg.seed)
        va = None if val_idx is None else PatchDataset(patches.subset(val_idx), _subset_targets(targets, val_idx))
        res = train_model(spec, tr, va, cfg, progress=progress)
        te_set = patches.subset(test_idx)
        te = PatchDataset(te_set, _subset_targets(targets, test_idx))
        loss, per = evaluate_loss(res.network, te, cfg, next(res.network.parameters()).device)
        p = predict(res.network, te_set)
        p.insert(2, "fold", k)
        preds.append(p)
        row = {"fold": k, "n_train": len(train_idx), "n_train_augmented": len(tr_set), "n_val": 0 if val_idx is None else len(val_idx),
               "n_test": len(test_idx), "best_epoch": res.best_epoch, "test_loss": loss}
        row.update({f"test_ce_{t.name}": per.get(t.name, np.nan) for t in spec.tasks})
        row.update({f"null_ce_{t.name}": null_cross_entropy(np.asarray(targets[t.name])[fold != k],
                                                            np.asarray(targets[t.name])[test_idx])
                    for t in spec.tasks if t.n_classes == 2 and t.name in targets})
        rows.append(row)
        hists.append(res.history.assign(fold=k))
        results.append(res)
        if progress is not None:
            progress("fold", k + 1, n_splits)
        log.info("%s fold %d/%d: test loss %.4f", spec.arch, k + 1, n_splits, loss)
    predictions = case_level(pd.concat(preds, ignore_index=True))
    return CVResult(spec.arch, predictions, pd.DataFrame(rows), pd.concat(hists, ignore_index=True), tuple(results))


@dataclass(frozen=True, eq=False)
class TrainTestResult:
    """A network trained on the training cohort and applied to the test cohort (case-level outputs).

    test_predictions: case_id, patient_id, <task>_p<j>; train_features / test_features: case_id × deep_<i>.
    """

    train: TrainResult
    train_features: pd.DataFrame
    test_predictions: pd.DataFrame
    test_features: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        return self.train.summary().assign(n_test_cases=len(self.test_predictions))


def train_test(spec: NetworkSpec, train_patches: PatchSet, train_targets: Mapping[str, np.ndarray],
               test_patches: PatchSet, config: TrainConfig | None = None, *, val_fraction: float | None = 0.2,
               stratify: str | None = "first", augmentation: Augmentation | None = None,
               progress: Progress | None = None) -> TrainTestResult:
    """Train on the training cohort (inner patient-grouped validation split) and predict the test cohort.

    train_features and test_features (case_id × deep_<i>) come from the same network, so they are one
    set of variables; the training cases' features are in-sample (the network was fitted on them), which
    makes a fusion model's training fit optimistic — its test-cohort evaluation stays honest.
    """
    cfg = config or TrainConfig()
    overlap = set(train_patches.patient_ids) & set(test_patches.patient_ids)
    if overlap:
        raise DataError(f"{len(overlap)} patient(s) are in both cohorts, e.g. {sorted(overlap)[:3]}",
                        field="patient_id", hint="split cohorts by patient")
    task = spec.tasks[0].name if stratify == "first" else stratify
    strata = _strata(train_targets, task, len(train_patches))
    tr_idx, va_idx = _inner_split(train_patches, strata, np.arange(len(train_patches)), val_fraction, cfg.seed + 1)
    tr = PatchDataset(train_patches.subset(tr_idx), _subset_targets(train_targets, tr_idx),
                      augmentation=augmentation, seed=cfg.seed)
    va = None if va_idx is None else PatchDataset(train_patches.subset(va_idx), _subset_targets(train_targets, va_idx))
    res = train_model(spec, tr, va, cfg, progress=progress)
    tr_cases = case_level(predict(res.network, train_patches, embeddings=True))
    te_cases = case_level(predict(res.network, test_patches, embeddings=True))
    deep = [c for c in te_cases.columns if c.startswith("deep_")]
    return TrainTestResult(res, tr_cases.set_index("case_id")[deep], te_cases.drop(columns=deep),
                           te_cases.set_index("case_id")[deep])


@dataclass(frozen=True, eq=False)
class ArchitectureSelection:
    """Architectures ranked by mean held-out cross-entropy of `task` (seed 003); `chosen` is the smallest
    among those that learned (table column `learned`, threshold in `learned_below`); when none learned,
    `learned` is False and `chosen` is the overall smallest (its score must not be used as a model input)."""

    table: pd.DataFrame
    chosen: str
    task: str
    results: dict[str, CVResult] = field(repr=False)
    learned: bool = True

    def summary(self) -> pd.DataFrame:
        return self.table.copy()


def select_architecture(specs: Mapping[str, NetworkSpec], patches: PatchSet, targets: Mapping[str, np.ndarray],
                        config: TrainConfig | None = None, *, task: str | None = None, n_splits: int = 5,
                        val_fraction: float | None = 0.2, augmentation: Augmentation | None = None,
                        augment_copies: int = 0, progress: Progress | None = None, margin: float = 0.02
                        ) -> ArchitectureSelection:
    """Cross-validate every candidate with the same folds and seed; choose the lowest mean validation CE
    among the candidates that learned (mean CE < `learned_threshold`, module docstring)."""
    if not specs:
        raise DataError("no candidate architectures", field="specs", hint='e.g. {"resnet": NetworkSpec(...)}')
    rows, results = [], {}
    for i, (name, spec) in enumerate(specs.items()):
        t = task or spec.tasks[0].name
        cv = cross_validate(spec, patches, targets, config, n_splits=n_splits, val_fraction=val_fraction,
                            augmentation=augmentation, augment_copies=augment_copies, progress=progress)
        mean, sd = cv.test_ce(t)
        rows.append({"model": name, "arch": spec.arch, "mean_val_ce": mean, "sd_val_ce": sd, "n_folds": n_splits,
                     "learned_below": learned_threshold(cv.null_ce(t), margin), "learned": cv.learned(t, margin)})
        results[name] = cv
        if progress is not None:
            progress("architecture", i + 1, len(specs))
    table = pd.DataFrame(rows).sort_values("mean_val_ce", kind="stable").reset_index(drop=True)
    any_learned = bool(table["learned"].any())
    chosen = str(table.loc[table["learned"], "model"].iloc[0] if any_learned else table["model"].iloc[0])
    if any_learned:
        log.info("chose %s by validation cross-entropy among the architectures that learned", chosen)
    else:
        log.warning("no architecture learned: every mean held-out cross-entropy is at or above its threshold "
                    "(%s)", ", ".join(f"{r.model} {r.mean_val_ce:.4f} >= {r.learned_below:.4f}"
                                      for r in table.itertuples()))
    return ArchitectureSelection(table, chosen, task or next(iter(specs.values())).tasks[0].name, results,
                                 any_learned)
