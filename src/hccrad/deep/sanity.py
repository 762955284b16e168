"""Positive control: can this network, with these training settings, learn a planted easy signal?

A CNN score at chance (AUC ≈ 0.5) means either "no signal in the images" or "this training cannot learn";
the control separates the two (issue 27). From the study's own training patches it builds a control task:

1. labels: a random half of the patients (seeded, independent of any outcome) are "positive";
2. signal: in every item of a positive patient, a ball of radius r = max(1, `radius_fraction` × the smallest
   patch side) voxels at the patch centre (the tumour's centre for `fit` crop/resize) is raised in every
   channel by `strength` × that channel's SD over all items, x' = x + strength·SD_c (inside the ball);
3. the same network (`NetworkSpec`, same tasks — the others get missing labels, masked in the loss) and the
   same `TrainConfig` and augmentation are cross-validated (patient-grouped, `n_splits` folds);
4. the control's AUC is the mean over folds of each fold network's case-level AUC on its held-out cases
   (Mann–Whitney, scikit-learn `roc_auc_score`; per fold, so fold networks' differing calibration does not
   blur a ranking each of them gets right); it must reach `min_auc` (0.9), otherwise the control failed and
   the study stage reports no CNN (an error). The pooled out-of-fold AUC is recorded beside it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from sklearn.metrics import roc_auc_score

from hccrad.deep.cv import CVResult, cross_validate
from hccrad.deep.data import MISSING, Augmentation, PatchSet
from hccrad.deep.train import NetworkSpec, Progress, TrainConfig

log = logging.getLogger(__name__)

__all__ = ["ControlResult", "plant_signal", "positive_control"]


def plant_signal(patches: PatchSet, *, seed: int = 0, strength: float = 8.0, radius_fraction: float = 0.2
                 ) -> tuple[PatchSet, np.ndarray]:
    """A copy of `patches` with the planted ball in the items of a random half of the patients, and the
    item labels (1 = planted). See the module docstring."""
    pids = np.asarray(patches.patient_ids)
    patients = np.array(sorted(set(pids)))
    rng = np.random.default_rng([int(seed), 27])
    positive = set(rng.permutation(patients)[: len(patients) // 2])
    labels = np.array([1 if p in positive else 0 for p in pids], dtype=np.int64)
    spatial = np.asarray(patches.x.shape[2:])
    radius = max(1.0, radius_fraction * float(spatial.min()))
    grid = np.indices(tuple(spatial), dtype=float)
    centre = (spatial - 1) / 2.0
    ball = sum((g - c) ** 2 for g, c in zip(grid, centre)) <= radius ** 2
    sd = patches.x.std(axis=tuple(i for i in range(patches.x.ndim) if i != 1))
    x = patches.x.copy()
    for c in range(x.shape[1]):
        x[labels == 1, c] += (np.float32(strength * max(float(sd[c]), 1e-3)) * ball).astype(np.float32)
    out = PatchSet(x, patches.case_ids, patches.patient_ids, patches.phases, patches.mode, patches.boxes)
    return out, labels


def _auc(y: np.ndarray, p: np.ndarray) -> float:
    return float(roc_auc_score(y, p)) if 0 < int(np.sum(y)) < len(y) else float("nan")


@dataclass(frozen=True, eq=False)
class ControlResult:
    """The control's AUC (mean of the per-fold held-out AUCs), whether it reached `min_auc`, its CV, the
    per-fold AUCs and the pooled out-of-fold AUC."""

    auc: float
    min_auc: float
    n_cases: int
    n_planted: int
    cv: CVResult = field(repr=False)
    fold_aucs: tuple[float, ...] = ()
    pooled_auc: float = float("nan")

    @property
    def passed(self) -> bool:
        return bool(np.isfinite(self.auc) and self.auc >= self.min_auc)

    def note(self) -> str:
        verdict = "passed" if self.passed else "FAILED"
        return (f"positive control {verdict}: a planted bright ball in {self.n_planted} of {self.n_cases} training "
                f"cases, held-out AUC {self.auc:.3f} (mean over folds; needs >= {self.min_auc:.2f})")

    def record(self) -> dict:
        return {"auc": self.auc, "min_auc": self.min_auc, "passed": self.passed, "n_cases": self.n_cases,
                "n_planted": self.n_planted, "fold_aucs": list(self.fold_aucs), "pooled_auc": self.pooled_auc}


def positive_control(spec: NetworkSpec, patches: PatchSet, config: TrainConfig, *, n_splits: int = 2,
                     val_fraction: float | None = None, augmentation: Augmentation | None = None,
                     seed: int = 0, strength: float = 8.0, radius_fraction: float = 0.2, min_auc: float = 0.9,
                     progress: Progress | None = None) -> ControlResult:
    """Cross-validate `spec` with `config` on the planted task (module docstring); returns its AUC."""
    planted, labels = plant_signal(patches, seed=seed, strength=strength, radius_fraction=radius_fraction)
    first = spec.tasks[0].name
    targets: Mapping[str, np.ndarray] = {t.name: labels if t.name == first else np.full(len(labels), MISSING)
                                         for t in spec.tasks}
    cv = cross_validate(spec, planted, targets, config, n_splits=n_splits, val_fraction=val_fraction,
                        augmentation=augmentation, progress=progress)
    case_y = dict(zip(planted.case_ids, labels))
    pred = cv.predictions
    y = np.array([case_y[c] for c in pred["case_id"]])
    p = pred[f"{first}_p1"].to_numpy()
    per_fold = [_auc(y[pred["fold"].to_numpy() == k], p[pred["fold"].to_numpy() == k]) for k in range(n_splits)]
    auc = float(np.mean(per_fold)) if all(np.isfinite(per_fold)) else float("nan")
    res = ControlResult(auc, float(min_auc), int(len(y)), int(y.sum()), cv, tuple(per_fold), _auc(y, p))
    (log.info if res.passed else log.warning)("%s", res.note())
    return res
