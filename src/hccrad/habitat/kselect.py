"""Choice of the number of habitats k.

Seed 000 (Wu et al. 2025, section 2.7) tested k = 2..15 with the elbow rule and the silhouette
coefficient; seed 001 used the elbow of the k-means inertia for k = 2..10. For each k in ``k_range``
(inclusive) we fit scikit-learn ``KMeans(n_clusters=k, n_init=n_init, random_state=random_state)`` and record

* inertia (within-cluster sum of squares) and its elbow, found by the Kneedle algorithm
  (Satopaa et al. 2011; ``kneed.KneeLocator(curve="convex", direction="decreasing")``);
* silhouette coefficient (Rousseeuw 1987), on a random subsample of ``silhouette_sample`` voxels
  (``sklearn.metrics.silhouette_score(sample_size=..., random_state=random_state)``): it is O(n^2);
* Calinski-Harabasz (1974) and Davies-Bouldin (1979) indices on all voxels.

The chosen k is the Kneedle elbow; when Kneedle finds none (e.g. a straight inertia curve), the k with the
highest silhouette. Both are kept (`elbow_k`, `silhouette_k`) so a study can report either.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from kneed import KneeLocator
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score

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

    def summary(self) -> pd.DataFrame:
        """One row per k: k, inertia, silhouette, calinski_harabasz, davies_bouldin, is_elbow, is_chosen."""
        return pd.DataFrame(
            {
                "k": list(self.ks),
                "inertia": list(self.inertia),
                "silhouette": list(self.silhouette),
                "calinski_harabasz": list(self.calinski_harabasz),
                "davies_bouldin": list(self.davies_bouldin),
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
        }

    @classmethod
    def from_dict(cls, d: dict) -> "KSelection":
        tup = ("ks", "inertia", "silhouette", "calinski_harabasz", "davies_bouldin")
        return cls(**{key: (tuple(v) if key in tup else v) for key, v in d.items()})


def choose_k(
    X: np.ndarray,
    k_range: tuple[int, int] = (2, 10),
    random_state: int = 0,
    silhouette_sample: int = 10_000,
    n_init: int = 4,
) -> KSelection:
    """Evaluate k-means for k in ``k_range`` (inclusive) on X (n, d) and pick k (see module docstring)."""
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or not np.all(np.isfinite(X)):
        raise FeatureError("choose_k needs a finite 2-D (n_voxels, d) matrix", field="X")
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
    inertia, sil, ch, db = [], [], [], []
    for k in ks:
        km = KMeans(n_clusters=k, n_init=n_init, random_state=random_state).fit(X)
        lab = km.labels_
        inertia.append(float(km.inertia_))
        if len(np.unique(lab)) < 2:
            raise FeatureError(f"k-means with k={k} found a single cluster (identical voxels?)", field="X")
        sil.append(float(silhouette_score(X, lab, sample_size=sample, random_state=random_state)))
        ch.append(float(calinski_harabasz_score(X, lab)))
        db.append(float(davies_bouldin_score(X, lab)))
    elbow: int | None = None
    if len(ks) >= 3:
        knee = KneeLocator(list(ks), inertia, curve="convex", direction="decreasing").knee
        elbow = int(knee) if knee is not None else None
    sil_k = int(ks[int(np.argmax(sil))])
    chosen = elbow if elbow is not None else sil_k
    logger.info("choose_k: elbow=%s silhouette=%s -> k=%s", elbow, sil_k, chosen)
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
    )
