"""Stability of a habitat model over bootstrap resamples of the training patients (issue 23, item 2).

For b = 1..B, the training cases are drawn with replacement (case-level bootstrap; Efron & Tibshirani 1993,
ch. 6; Hennig 2007, "Cluster-wise assessment of cluster stability", Comput Stat Data Anal 52:258) and the
habitat model is refitted with the same strategy and settings (k chosen again by the same rule when
``n_habitats="auto"``). For each resample we record

* k_b, the number of habitats chosen (a frequency table over the B resamples);
* centre agreement: the resample's centres are matched one-to-one to the full fit's centres by the
  Hungarian algorithm (Kuhn 1955; ``scipy.optimize.linear_sum_assignment``) on the Euclidean distance in
  the full fit's standardised descriptor space, d_ij = ||(c_i - c'_j) / s||_2 with s the full fit's
  training SD of each descriptor; when k_b != k only min(k, k_b) pairs are matched. The matched
  differences are reported per descriptor in its own unit, |c_i,m - c'_j,m| (e.g. HU);
* ARI_b, the adjusted Rand index (Hubert & Arabie 1985; ``sklearn.metrics.adjusted_rand_score``) between the
  resample model's labels and the full fit's labels on the same training voxels (every training case,
  a fixed seeded subsample of at most ``max_voxels_ari`` voxels). ARI is invariant to label permutation,
  so it needs no matching; ARI = 1 means the same partition, about 0 a chance agreement.

Every draw comes from ``numpy.random.default_rng([seed, 2301])``: the same seed gives the same result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from hccrad.core.errors import FeatureError

logger = logging.getLogger(__name__)
_STREAM = 2301


def match_centres(reference: np.ndarray, other: np.ndarray,
                  scale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hungarian matching of ``other``'s centres (k', d) to ``reference``'s (k, d).

    Returns (reference rows, other rows, distances) of the min(k, k') matched pairs, sorted by reference row;
    the cost is the Euclidean distance after dividing every descriptor by ``scale`` (1 when None).
    """
    ref = np.atleast_2d(np.asarray(reference, dtype=float))
    oth = np.atleast_2d(np.asarray(other, dtype=float))
    if ref.shape[1] != oth.shape[1]:
        raise FeatureError(f"centres have {ref.shape[1]} and {oth.shape[1]} descriptors", field="centres")
    s = np.ones(ref.shape[1]) if scale is None else np.asarray(scale, dtype=float)
    if s.shape != (ref.shape[1],) or not np.all(s > 0):
        raise FeatureError("scale must hold one positive value per descriptor", field="scale")
    cost = np.linalg.norm(ref[:, None, :] / s - oth[None, :, :] / s, axis=2)
    rows, cols = linear_sum_assignment(cost)
    return rows, cols, cost[rows, cols]


@dataclass(frozen=True)
class HabitatStability:
    """Result of `habitat_stability` (see the module docstring)."""

    k_full: int
    k_resamples: tuple[int, ...]
    ari: tuple[float, ...]
    centre_distance: tuple[float, ...]        # mean matched distance per resample (full-fit SD units)
    centre_abs_diff: np.ndarray  # (B, k_full, d): |full centre - matched resample centre|; NaN: unmatched
    full_centres: np.ndarray                  # (k_full, d) in descriptor units
    descriptor_names: tuple[str, ...]
    n_voxels_ari: int
    seed: int

    @property
    def n_resamples(self) -> int:
        return len(self.k_resamples)

    def k_frequency(self) -> pd.DataFrame:
        """k chosen in the resamples: k, resamples, share (of B), is_full_fit_k."""
        ks, counts = np.unique(np.asarray(self.k_resamples), return_counts=True)
        return pd.DataFrame({"k": ks.astype(int), "resamples": counts.astype(int),
                             "share": counts / max(1, self.n_resamples), "is_full_fit_k": ks == self.k_full})

    def centre_table(self, units: dict[str, str] | None = None) -> pd.DataFrame:
        """One row per full-fit habitat and descriptor: the full-fit centre, the share of resamples in which
        the habitat was matched, and the median and 95th percentile of |Δ centre| (descriptor unit)."""
        rows = []
        for h in range(self.k_full):
            for m, name in enumerate(self.descriptor_names):
                diffs = self.centre_abs_diff[:, h, m]
                ok = diffs[np.isfinite(diffs)]
                rows.append({"habitat": h + 1, "descriptor": name,
                             "unit": (units or {}).get(name, ""),
                             "full_fit_centre": float(self.full_centres[h, m]),
                             "matched_share": ok.size / max(1, self.n_resamples),
                             "median_abs_diff": float(np.median(ok)) if ok.size else float("nan"),
                             "p95_abs_diff": float(np.percentile(ok, 95)) if ok.size else float("nan")})
        return pd.DataFrame(rows)

    def per_resample(self) -> pd.DataFrame:
        return pd.DataFrame({"resample": np.arange(1, self.n_resamples + 1), "k": list(self.k_resamples),
                             "ari": list(self.ari), "centre_distance_sd": list(self.centre_distance)})

    def to_dict(self, units: dict[str, str] | None = None) -> dict:
        ari = np.asarray(self.ari, dtype=float)
        return {"n_resamples": self.n_resamples, "seed": self.seed, "k_full_fit": self.k_full,
                "k_frequency": {str(int(k)): int(n) for k, n in
                                zip(*np.unique(np.asarray(self.k_resamples), return_counts=True))},
                "ari_median": float(np.median(ari)) if ari.size else None,
                "ari_p2_5": float(np.percentile(ari, 2.5)) if ari.size else None,
                "ari_p97_5": float(np.percentile(ari, 97.5)) if ari.size else None,
                "n_voxels_ari": self.n_voxels_ari,
                "per_resample": self.per_resample().to_dict(orient="records"),
                "centres": self.centre_table(units).to_dict(orient="records"),
                "method": "case bootstrap of the training patients; habitat model refitted (same strategy "
                          "and k rule); centres matched by the Hungarian algorithm on the full fit's "
                          "standardised distance; ARI against the full fit's labels on the training voxels"}


def _ari_sample(sizes: Sequence[int], cap: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Per-case sorted voxel indices, proportional to the case's size, at most ``cap`` in total."""
    total = int(sum(sizes))
    if total <= cap:
        return [np.arange(n) for n in sizes]
    return [np.sort(rng.choice(n, size=max(1, int(np.floor(cap * n / total))), replace=False)) for n in sizes]


def habitat_stability(
    full_model,
    X_list: Sequence[np.ndarray],
    n_resamples: int = 20,
    seed: int = 0,
    *,
    max_voxels_ari: int = 20_000,
    predict_kwargs: Sequence[dict] | None = None,
    fit_kwargs: Callable[[np.ndarray], dict] | None = None,
    refit_params: dict | None = None,
) -> HabitatStability:
    """Refit ``full_model`` (a fitted hccrad habitat estimator) on B case-bootstrap resamples of ``X_list``
    (its training cases) and compare each refit with it (see the module docstring).

    ``predict_kwargs[i]`` are the extra ``predict`` arguments of case i (SLIC coords/spacing, else {});
    ``fit_kwargs(rows)`` the extra ``fit`` arguments for the resampled case indices ``rows``;
    ``refit_params`` overrides estimator parameters in the refits only (e.g. a smaller ``max_voxels_k``).
    """
    if int(n_resamples) < 1:
        raise FeatureError(f"n_resamples must be >= 1, got {n_resamples}", field="stability_resamples")
    n = len(X_list)
    if n < 2:
        raise FeatureError("habitat stability needs at least 2 training cases", field="X_list")
    kw = list(predict_kwargs) if predict_kwargs is not None else [{} for _ in range(n)]
    rng = np.random.default_rng([int(seed), _STREAM])
    idx = _ari_sample([X.shape[0] for X in X_list], int(max_voxels_ari), rng)
    full_labels = np.concatenate([full_model.predict(X, **k)[i] for X, k, i in zip(X_list, kw, idx)])
    scale = np.asarray(full_model.scaler_.scale_, dtype=float)
    full_centres = np.asarray(full_model.centres_, dtype=float)
    k_full = int(full_model.n_habitats_)
    ks, aris, dists, diffs = [], [], [], []
    for b in range(int(n_resamples)):
        rows = rng.integers(0, n, size=n)
        model = clone(full_model).set_params(**(refit_params or {}))
        model.fit([X_list[r] for r in rows], **(fit_kwargs(rows) if fit_kwargs else {}))
        labels = np.concatenate([model.predict(X, **k)[i] for X, k, i in zip(X_list, kw, idx)])
        r_idx, c_idx, d = match_centres(full_centres, model.centres_, scale)
        diff = np.full(full_centres.shape, np.nan)
        diff[r_idx] = np.abs(full_centres[r_idx] - np.asarray(model.centres_, dtype=float)[c_idx])
        ks.append(int(model.n_habitats_))
        aris.append(float(adjusted_rand_score(full_labels, labels)))
        dists.append(float(np.mean(d)))
        diffs.append(diff)
        logger.info("habitat stability resample %d/%d: k=%d ARI=%.3f", b + 1, n_resamples, ks[-1], aris[-1])
    names = tuple(full_model.descriptor_names or [f"descriptor_{j + 1}" for j in range(full_centres.shape[1])])
    return HabitatStability(k_full=k_full, k_resamples=tuple(ks), ari=tuple(aris), centre_distance=tuple(dists),
                            centre_abs_diff=np.stack(diffs), full_centres=full_centres, descriptor_names=names,
                            n_voxels_ari=int(full_labels.size), seed=int(seed))
