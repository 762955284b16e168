"""Choice of the number of habitats k.

Seed 000 (Wu et al. 2025, section 2.7) tested k = 2..15 with the elbow rule and the silhouette
coefficient; seed 001 used the elbow of the k-means inertia for k = 2..10. For each k in ``k_range``
(inclusive) we fit scikit-learn ``KMeans(n_clusters=k, n_init=n_init, random_state=random_state)`` and record

* inertia (within-cluster sum of squares) and its elbow, found by the Kneedle algorithm
  (Satopaa et al. 2011; ``kneed.KneeLocator(curve="convex", direction="decreasing")``);
* silhouette coefficient (Rousseeuw 1987), on a random subsample of ``silhouette_sample`` voxels, the
  rows ``sklearn.metrics.silhouette_score(sample_size=..., random_state=random_state)`` would draw (the same
  rows for every k): s(i) = (b(i) - a(i)) / max(a(i), b(i)), a(i) the mean distance of i to the other
  members of its cluster, b(i) the smallest mean distance to another cluster, s(i) = 0 in a singleton.
  It is O(n^2), and was ~90 % of the cost of choosing k (issue 24), so `silhouettes_for_all_k` computes
  each block of the distance matrix once (and, D being symmetric, only the blocks on and above the
  diagonal, by ``scipy.spatial.distance.cdist``) and the per-cluster distance sums of every k from it by one
  matrix product with the stacked one-hot label matrices; the values equal ``silhouette_score``'s to
  rounding;
* Calinski-Harabasz (1974) and Davies-Bouldin (1979) indices on all voxels.

Estimators choose k on a fixed, seeded subsample of at most ``K_SAMPLE`` (20,000) pooled training rows
(voxels or supervoxels; `k_subsample`), so the cost of automatic k does not grow with the cohort; the
final clustering at the chosen k uses every sampled voxel as before.

Rule ``"elbow"`` (default): the chosen k is the Kneedle elbow; when Kneedle finds none (e.g. a straight
inertia curve), the k with the highest silhouette. Both are kept (`elbow_k`, `silhouette_k`) so a study can
report either.

Rule ``"consensus"`` (issue 23): when the elbow and the silhouette agree, that k; otherwise the k most stable
across ``n_bootstrap`` (B, default 20) bootstrap resamples of the training cases (rows resampled when no case
``groups`` are given): each resample is subsampled to at most ``stability_sample`` voxels, k-means
(``n_init=1``) is run for every k, and the resample votes for its highest-silhouette k. The stability index
of k is its share of the B votes (majority vote, ties to the smaller k; Fang & Wang 2012 "selection of the
number of clusters via the bootstrap method", Comput Stat Data Anal 56:468). The votes are computed under
this rule even when elbow and silhouette agree, so the report shows every index.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from kneed import KneeLocator
from sklearn.cluster import KMeans
from scipy.spatial.distance import cdist
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score
from sklearn.utils import check_random_state

from hccrad.core.errors import FeatureError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class KSelection:
    """Result of `choose_k`: the chosen k, the curves per k and the rule used."""

    k: int
    elbow_k: int | None
    silhouette_k: int
    ks: tuple[int, ...]
    inertia: tuple[float, ...]
    silhouette: tuple[float, ...]
    calinski_harabasz: tuple[float, ...]
    davies_bouldin: tuple[float, ...]
    n_samples: int
    silhouette_sample: int
    method: str = "kneedle elbow of k-means inertia (fallback: max silhouette)"
    rule: str = "elbow"
    stability: tuple[float, ...] | None = None   # share of bootstrap votes per k (rule "consensus")
    n_bootstrap: int = 0

    def summary(self) -> pd.DataFrame:
        """One row per k: k, inertia, silhouette, calinski_harabasz, davies_bouldin, is_elbow, is_chosen."""
        return pd.DataFrame(
            {
                "k": list(self.ks),
                "inertia": list(self.inertia),
                "silhouette": list(self.silhouette),
                "calinski_harabasz": list(self.calinski_harabasz),
                "davies_bouldin": list(self.davies_bouldin),
                **({} if self.stability is None else {"stability": list(self.stability)}),
                "is_elbow": [k == self.elbow_k for k in self.ks],
                "is_chosen": [k == self.k for k in self.ks],
            }
        )

    def __str__(self) -> str:
        return (
            f"KSelection: k = {self.k} ({self.method}); elbow k = {self.elbow_k}, best silhouette k = "
            f"{self.silhouette_k}; {self.n_samples} voxels, silhouette on {self.silhouette_sample}\n"
            + self.summary().to_string(index=False)
        )

    def to_dict(self) -> dict:
        return {
            "k": self.k,
            "elbow_k": self.elbow_k,
            "silhouette_k": self.silhouette_k,
            "ks": list(self.ks),
            "inertia": list(self.inertia),
            "silhouette": list(self.silhouette),
            "calinski_harabasz": list(self.calinski_harabasz),
            "davies_bouldin": list(self.davies_bouldin),
            "n_samples": self.n_samples,
            "silhouette_sample": self.silhouette_sample,
            "method": self.method,
            "rule": self.rule,
            "stability": None if self.stability is None else list(self.stability),
            "n_bootstrap": self.n_bootstrap,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "KSelection":
        tup = ("ks", "inertia", "silhouette", "calinski_harabasz", "davies_bouldin", "stability")
        return cls(**{key: (tuple(v) if key in tup and v is not None else v) for key, v in d.items()})


K_RULES = ("elbow", "consensus")
CONSENSUS_METHOD = ("consensus: elbow and max silhouette when they agree, else the majority vote of the "
                    "max-silhouette k over {b} bootstrap resamples of the training {unit}")


K_SAMPLE = 20_000          # rows on which estimators choose k (`k_subsample`)
_CHUNK_BYTES = 64 << 20    # memory of one block of the silhouette's distance matrix


def k_subsample(n_rows: int, size: int = K_SAMPLE, random_state: int = 0) -> np.ndarray:
    """Sorted indices of the rows on which k is chosen: all ``n_rows`` when there are at most ``size``,
    else ``size`` rows drawn without replacement by ``numpy.random.default_rng(random_state)``."""
    if int(size) < 1:
        raise FeatureError(f"the k-selection sample size must be >= 1, got {size}", field="max_voxels_k")
    if n_rows <= size:
        return np.arange(n_rows)
    return np.sort(np.random.default_rng(random_state).choice(n_rows, size=int(size), replace=False))


def silhouettes_for_all_k(X: np.ndarray, labelings: list[np.ndarray], sample_size: int | None = None,
                          random_state: int = 0) -> list[float]:
    """Mean silhouette coefficient of each labeling of X (see module docstring), each equal to
    ``silhouette_score(X, labels, sample_size=sample_size, random_state=random_state)`` to rounding, with
    the distance matrix of the sample computed once for all labelings."""
    X = np.asarray(X, dtype=float)
    rows = np.arange(X.shape[0])
    if sample_size is not None:
        rows = check_random_state(random_state).permutation(X.shape[0])[:int(sample_size)]
    S = X[rows]
    n = S.shape[0]
    onehots, spans = [], []
    for lab in labelings:
        codes, counts = np.unique(np.asarray(lab)[rows], return_inverse=True, return_counts=True)[1:]
        if counts.size < 2 or counts.size > n - 1:
            raise FeatureError(f"silhouette needs 2 to {n - 1} clusters in the sample, got {counts.size}",
                               field="X", hint="identical voxels, or a silhouette sample that is too small")
        start = sum(o.shape[1] for o in onehots)
        onehots.append(np.eye(counts.size)[codes.reshape(-1)])
        spans.append((start, codes.reshape(-1), counts))
    sums = _distance_sums(S, np.concatenate(onehots, axis=1))
    out = []
    for start, codes, counts in spans:
        block = sums[:, start:start + counts.size]
        own = block[np.arange(n), codes]
        with np.errstate(divide="ignore", invalid="ignore"):
            intra = own / (counts[codes] - 1)
            means = block / counts
        means[np.arange(n), codes] = np.inf
        inter = means.min(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (inter - intra) / np.maximum(intra, inter)
        s[counts[codes] == 1] = 0.0
        out.append(float(np.mean(np.nan_to_num(s))))
    return out


def _distance_sums(S: np.ndarray, H: np.ndarray) -> np.ndarray:
    """``D @ H`` for the Euclidean distance matrix D of the rows of S, without holding D: D in square blocks
    of at most ``_CHUNK_BYTES``, each block above the diagonal computed once and used for both of its row
    ranges (D is symmetric), with ``scipy.spatial.distance.cdist`` (differences, not the expanded
    |x|^2 - 2 x.y + |y|^2, so the diagonal is exactly 0)."""
    n = S.shape[0]
    size = max(1, int(np.sqrt(_CHUNK_BYTES // 8)))
    sums = np.zeros((n, H.shape[1]))
    for lo in range(0, n, size):
        rows = slice(lo, min(lo + size, n))
        for lo2 in range(lo, n, size):
            cols = slice(lo2, min(lo2 + size, n))
            D = cdist(S[rows], S[cols])
            sums[rows] += D @ H[cols]
            if lo2 != lo:
                sums[cols] += D.T @ H[rows]
    return sums


def bootstrap_votes(
    X: np.ndarray,
    ks: tuple[int, ...],
    groups: np.ndarray | None = None,
    n_bootstrap: int = 20,
    stability_sample: int = 1000,
    random_state: int = 0,
) -> np.ndarray:
    """Share of ``n_bootstrap`` resamples whose highest-silhouette k is each of ``ks`` (see module doc)."""
    rng = np.random.default_rng([int(random_state), 23])
    ids = np.unique(groups) if groups is not None else None
    votes = np.zeros(len(ks))
    for _ in range(int(n_bootstrap)):
        if ids is not None:
            drawn = rng.choice(ids, size=ids.size, replace=True)
            rows = np.concatenate([np.flatnonzero(groups == g) for g in drawn])
        else:
            rows = rng.integers(0, X.shape[0], size=X.shape[0])
        if rows.size > stability_sample:
            rows = rng.choice(rows, size=stability_sample, replace=False)
        R = X[rows]
        sil = np.full(len(ks), -np.inf)
        n_distinct = np.unique(R, axis=0).shape[0]
        fitted = {j: KMeans(n_clusters=k, n_init=1, random_state=random_state).fit_predict(R)
                  for j, k in enumerate(ks) if n_distinct > k}
        fitted = {j: lab for j, lab in fitted.items() if len(np.unique(lab)) > 1}
        if fitted:
            sil[list(fitted)] = silhouettes_for_all_k(R, list(fitted.values()))
        if np.isfinite(sil).any():
            votes[int(np.argmax(sil))] += 1
    return votes / max(1, int(n_bootstrap))


def choose_k(
    X: np.ndarray,
    k_range: tuple[int, int] = (2, 10),
    random_state: int = 0,
    silhouette_sample: int = 10_000,
    n_init: int = 4,
    rule: str = "elbow",
    groups: np.ndarray | None = None,
    n_bootstrap: int = 20,
    stability_sample: int = 1000,
) -> KSelection:
    """Evaluate k-means for k in ``k_range`` (inclusive) on X (n, d) and pick k (see module docstring)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise FeatureError("choose_k needs a finite 2-D (n_voxels, d) matrix", field="X")
    if rule not in K_RULES:
        raise FeatureError(f"unknown k rule {rule!r}", field="k_rule", hint=f"use one of {K_RULES}")
    if groups is not None and np.asarray(groups).shape != (X.shape[0],):
        raise FeatureError("groups must hold one case index per row of X", field="groups")
    if rule == "consensus" and int(n_bootstrap) < 1:
        raise FeatureError(f"n_bootstrap must be >= 1, got {n_bootstrap}", field="n_bootstrap")
    k_lo, k_hi = int(k_range[0]), int(k_range[1])
    if k_lo < 2 or k_hi < k_lo:
        raise FeatureError(
            f"k_range must be (k_min, k_max) with 2 <= k_min <= k_max; got {k_range}",
            field="k_range",
        )
    n = X.shape[0]
    if n <= k_hi:
        raise FeatureError(
            f"{n} voxels cannot be split into up to {k_hi} habitats",
            field="k_range",
            hint="lower k_range or use more voxels",
        )
    ks = tuple(range(k_lo, k_hi + 1))
    sample = int(min(silhouette_sample, n))
    inertia, labelings, ch, db = [], [], [], []
    for k in ks:
        km = KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit(X)
        lab = km.labels_
        inertia.append(float(km.inertia_))
        if len(np.unique(lab)) < 2:
            raise FeatureError(f"k-means with k={k} found a single cluster (identical voxels?)", field="X")
        labelings.append(lab)
        ch.append(float(calinski_harabasz_score(X, lab)))
        db.append(float(davies_bouldin_score(X, lab)))
    sil = silhouettes_for_all_k(X, labelings, sample_size=sample, random_state=random_state)
    elbow: int | None = None
    if len(ks) >= 3:
        knee = KneeLocator(list(ks), inertia, curve="convex", direction="decreasing").knee
        elbow = int(knee) if knee is not None else None
    sil_k = int(ks[int(np.argmax(sil))])
    chosen = elbow if elbow is not None else sil_k
    extra: dict = {}
    if rule == "consensus":
        stab = bootstrap_votes(X, ks, None if groups is None else np.asarray(groups), n_bootstrap,
                               stability_sample, random_state)
        chosen = sil_k if elbow == sil_k else int(ks[int(np.argmax(stab))])
        unit = "voxels" if groups is None else "cases"
        extra = {"rule": rule, "stability": tuple(float(v) for v in stab), "n_bootstrap": int(n_bootstrap),
                 "method": CONSENSUS_METHOD.format(b=int(n_bootstrap), unit=unit)}
    logger.info("choose_k (%s): elbow=%s silhouette=%s -> k=%s", rule, elbow, sil_k, chosen)
    return KSelection(
        k=chosen,
        elbow_k=elbow,
        silhouette_k=sil_k,
        ks=ks,
        inertia=tuple(inertia),
        silhouette=tuple(sil),
        calinski_harabasz=tuple(ch),
        davies_bouldin=tuple(db),
        n_samples=n,
        silhouette_sample=sample,
        **extra,
    )
