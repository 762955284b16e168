"""How much a study's result depends on its habitats (issue 23, item 2): the habitat model's stability over
bootstrap resamples of the training patients, and the main habitat model's corrected AUC at k−1, k, k+1.

* Stability (``habitat.stability_resamples`` = B > 0): `hccrad.habitat.stability.habitat_stability` on the
  training cases' voxel matrices, the refits with the study's strategy and k rule (k chosen again in each
  resample when ``n_habitats: auto``). To keep B refits affordable (about 0.3 s of one CPU core each on
  the 60-case demo, 42 training cases, 0.39 M voxels) the refits choose k on at most ``STABILITY_K_VOXELS``
  voxels with the silhouette on ``STABILITY_SILHOUETTE`` of them and cluster at most
  ``STABILITY_FIT_VOXELS`` voxels (the full fit: 50 000 / 10 000 / ``max_voxels_fit``), each a seeded
  per-case proportional subsample; ARI is computed on at most 20 000 training voxels.
* k sensitivity (``habitat.k_sensitivity: true``): the habitat model is refitted on the training cases with
  k fixed at k−1 and k+1 (k−1 only when ≥ 2), the training cases' MSI features are computed from those maps
  (reader 1 and, when present, reader 2 for the ICC filter), and the first model whose features include
  "habitat" is rebuilt and validated through the same path as in the study: `build_estimator` (ICC filter,
  selection steps, classifier) and Harrell's optimism bootstrap (`optimism_bootstrap`, the study's
  ``validation.bootstrap`` resamples and seed). Radiomics columns (if the model uses them) are kept as
  extracted at k. The row at k is the study's own result. Apparent AUC: the model refitted on all training
  cases, scored on them; corrected AUC = apparent − mean optimism (Harrell 2015, Regression Modeling
  Strategies, 2nd ed., section 5.3.5) with the percentile interval of apparent − optimism_b.
  Cost: two habitat refits, the training cases' MSI features twice more, and two more optimism bootstraps
  of the main model (on the 60-case demo with 200 resamples about 0.3 CPU-s per resample, i.e. ~130 CPU-s),
  so it is off by default and in the demo.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd
from sklearn.base import clone

from hccrad.cohort.outcomes import response_labels
from hccrad.config.spec import ModelSpec, StudySpec
from hccrad.core.errors import HccradError
from hccrad.features.stability import stability_table
from hccrad.habitat.estimators import spatial_arguments, spatial_fit_arguments
from hccrad.habitat.stability import HabitatStability, habitat_stability
from hccrad.models.validation import optimism_bootstrap
from hccrad.pipeline.modelling import build_estimator

log = logging.getLogger(__name__)
STABILITY_K_VOXELS = 5_000
STABILITY_SILHOUETTE = 1_000
STABILITY_FIT_VOXELS = 20_000
# habitat spec fields that change only these analyses: left out of the habitat model's and the MSI cache's keys
REPORT_ONLY = {"stability_resamples", "k_sensitivity"}
SENSITIVITY_COLUMNS = ["k", "is_study_k", "n_cases", "n_features", "apparent_auc", "corrected_auc", "ci_lower",
                       "ci_upper", "n_boot", "n_used"]


@dataclass
class HabitatRobustness:
    """What the imaging stage hands on: the stability result and the training features at k−1 and k+1."""

    k: int
    stability: HabitatStability | None = None
    features_by_k: dict[int, tuple[pd.DataFrame, pd.DataFrame | None]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sensitivity: pd.DataFrame | None = None   # filled by `k_sensitivity` after the models are fitted
    units: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict:
        return {"k": self.k,
                "stability": None if self.stability is None else self.stability.to_dict(self.units),
                "k_sensitivity": None if self.sensitivity is None else self.sensitivity.to_dict(orient="records"),
                "notes": list(self.notes)}


def _spatial_fit(model, train: list) -> dict:
    return spatial_fit_arguments(model, [c.tumor for c in train], [c.reference.spacing for c in train])


def habitat_robustness(spec: StudySpec, model, train: list, case_features: Callable,
                       units: dict[str, str] | None = None) -> HabitatRobustness | None:
    """Stability and refitted-k training features for the imaging stage (None when both are off).
    ``train``: the training cases' `CaseVoxels`; ``case_features(model, case, reader)``: the imaging stage's
    per-case MSI features (dict) for a habitat model."""
    hs = spec.habitat
    if not hs.stability_resamples and not hs.k_sensitivity:
        return None
    k = int(model.n_habitats_)
    out = HabitatRobustness(k=k, units=dict(units or {}))
    if hs.stability_resamples:
        refit = {"max_voxels_k": min(int(model.max_voxels_k), STABILITY_K_VOXELS),
                 "silhouette_sample": min(int(model.silhouette_sample), STABILITY_SILHOUETTE),
                 "max_voxels_fit": min(int(model.max_voxels_fit), STABILITY_FIT_VOXELS)}
        out.stability = habitat_stability(
            model, [c.X for c in train], hs.stability_resamples, spec.seed,
            predict_kwargs=[spatial_arguments(model, c.tumor, c.reference.spacing) for c in train],
            fit_kwargs=lambda rows: _spatial_fit(model, [train[r] for r in rows]), refit_params=refit)
    if hs.k_sensitivity:
        for kk in (k - 1, k + 1):
            if kk < 2:
                out.notes.append(f"k − 1 = {kk} habitats make no spatial interaction matrix: row left out")
                continue
            out.features_by_k[kk] = _features_at_k(spec, model, train, kk, case_features, out.notes)
    return out


def _features_at_k(spec: StudySpec, model, train: list, kk: int, case_features: Callable,
                   notes: list[str]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Training cases' MSI features (reader 1, reader 2) from the habitat model refitted with k = kk."""
    refit = clone(model).set_params(n_habitats=kk).fit([c.X for c in train], **_spatial_fit(model, train))
    rows1, rows2 = {}, {}
    for cv in train:
        try:
            rows1[cv.case_id] = case_features(refit, cv, "reader1")[0]
            if cv.reader2 is not None:
                rows2[cv.case_id] = case_features(refit, cv, "reader2")[0]
        except HccradError as exc:  # e.g. a tumour with fewer voxels than kk habitats
            notes.append(f"k = {kk}: case {cv.case_id} left out of the sensitivity refit ({exc})")
            rows1.pop(cv.case_id, None)
            rows2.pop(cv.case_id, None)
    f1 = pd.DataFrame.from_dict(rows1, orient="index").sort_index()
    f1.index.name = spec.data.id_column
    f2 = None
    if rows2:
        f2 = pd.DataFrame.from_dict(rows2, orient="index").reindex(index=f1.index, columns=f1.columns)
        f2.index.name = spec.data.id_column
    return f1, f2


def main_habitat_model(spec: StudySpec) -> ModelSpec | None:
    """The first model whose features include the habitat group and that fuses no other model."""
    for ms in spec.models:
        groups = ms.features if isinstance(ms.features, list) else [ms.features]
        if "habitat" in groups and ms.fuse is None:
            return ms
    return None


def _row(k: int, study_k: int, n: int, optimism) -> dict:
    lo, hi = optimism.ci
    return {"k": k, "is_study_k": k == study_k, "n_cases": n, "n_features": len(optimism.apparent_selected or ()),
            "apparent_auc": float(optimism.apparent_auc), "corrected_auc": float(optimism.corrected_auc),
            "ci_lower": lo, "ci_upper": hi, "n_boot": int(optimism.n_boot), "n_used": int(optimism.n_used)}


def k_sensitivity(spec: StudySpec, data: pd.DataFrame, fitted, robustness: HabitatRobustness | None, *,
                  habitat_columns: list[str], radiomics_columns: list[str],
                  stability: pd.DataFrame | None) -> pd.DataFrame | None:
    """The main habitat model's apparent and corrected AUC at k−1, k, k+1 (module docstring); sets and
    returns ``robustness.sensitivity`` (None when not asked for or not possible, with a note why)."""
    if robustness is None or not spec.habitat.k_sensitivity:
        return None
    ms = main_habitat_model(spec)
    main = fitted.models.get(ms.name) if ms is not None else None
    if main is None or main.optimism is None or spec.lesions is not None:
        robustness.notes.append("k sensitivity not computed: it needs a model with habitat features, "
                                "validation.bootstrap > 0 and one lesion per case")
        return None
    y_all = response_labels(spec, data)
    rows = [_row(robustness.k, robustness.k, int(((data["cohort"] == spec.cohorts.training)
                                                  & y_all.notna()).sum()), main.optimism)]
    base = data.drop(columns=[c for c in habitat_columns if c in data.columns])
    for kk, (f1, f2) in sorted(robustness.features_by_k.items()):
        d = base.join(f1, how="inner")
        train = (d["cohort"] == spec.cohorts.training) & y_all.reindex(d.index).notna()
        cols_k = list(f1.columns)
        stab_k = None
        if stability is not None and f2 is not None:
            keep = stability[~stability["feature"].isin(habitat_columns)]
            stab_k = pd.concat([stability_table(f1, f2), keep], ignore_index=True)
        est, cols = build_estimator(ms, spec, cols_k, radiomics_columns, stab_k, {})
        X, y = d.loc[train, cols], y_all.reindex(d.index)[train].to_numpy(dtype=int)
        res = optimism_bootstrap(clone(est), X, y, n_boot=spec.validation.bootstrap, seed=spec.seed,
                                 n_jobs=spec.validation.n_jobs)
        rows.append(_row(kk, robustness.k, int(train.sum()), res))
    robustness.sensitivity = pd.DataFrame(rows, columns=SENSITIVITY_COLUMNS).sort_values("k", ignore_index=True)
    return robustness.sensitivity
