"""Habitat clustering strategies as scikit-learn-style estimators.

All three take, in ``fit``, one (n_voxels_i, d) descriptor matrix per *training* case and return labels
1..k from ``predict(X)`` for one case, ordered by the cluster centre's value of the ``order_by``
descriptor (1 = lowest, k = highest; ties broken by the next descriptors), so "habitat 3" means the same
thing in every patient and every strategy (ARCHITECTURE.md section 2).

* `PopulationHabitats` (seed 000, Wu et al. 2025 section 2.7): k-means on the tumour voxels of all
  training cases pooled: a per-case proportional random subsample (``kmeans_sample``, below) is clustered
  and every voxel is assigned to its nearest centre (subsample-and-assign), so 10^8 voxels need only the
  memory of the inputs.
* `IndividualHabitats` (seed 001; HABIT "one-step"): each tumour is clustered on its own with k-means and
  its clusters are ordered by ``order_by``; ``fit`` learns only the descriptor scaling, k (if "auto") and
  the mean ordered centres of the training cases (for reporting).
* `TwoStepHabitats` (HABIT "two-step"): each tumour is over-segmented into ``n_supervoxels`` k-means
  supervoxels in descriptor space (no spatial term); the supervoxel means of all training cases are then
  clustered into k habitats; a new case's supervoxels are assigned to the nearest habitat centre. As in
  one-step, a training case is over-segmented once: ``predict`` on it reuses the supervoxels of ``fit``.

Each k-means is fitted on at most ``kmeans_sample`` rows and every voxel is then assigned to its nearest
centre (cluster a sample, assign all: CLARA, Kaufman & Rousseeuw 1990, "Finding Groups in Data", ch. 3):
population k-means on ``kmeans_sample`` (default 20,000) pooled training voxels drawn proportionally per case
(``floor(N n_i / sum n)`` from case i, seeded by ``random_state`` and the case's content hash); one-step and
two-step supervoxel k-means on ``kmeans_sample`` (default 2,000) voxels of the case, seeded the same way;
``kmeans_sample=None`` fits on every row (as before issue 24, and as HABIT). k-means centres converge at rate
n^-1/2 (Pollard 1981, Ann Stat 9:135; 1982, Ann Prob 10:919), so a few thousand rows pin k <= 10 centres in a
few descriptors far closer than the voxels' noise; measured (benchmarks/bench_habitat.py and
bench_habitat_recovery.py, docs/habitat.md section 7) the mean ARI against planted habitats is equal within the
seed-to-seed spread (registered harder cohort, k = 3: population 0.901 both, one-step 0.920/0.921, two-step
0.888/0.895 all rows/sample, mean of 4 seeds) while each k-means sees 4x (84k pooled voxels) to 33x (a
66k-voxel tumour) fewer rows. k selection (below) is unchanged.

With ``n_habitats="auto"``, k is chosen (`choose_k`) on a fixed, seeded subsample of at most
``max_voxels_k`` (default ``K_SAMPLE`` = 20,000) of the sampled training rows (voxels, or supervoxels in
two-step), whatever the cohort size; the final k-means at the chosen k is fitted as for a fixed k.

``fit`` and ``predict`` run with one BLAS/OpenMP thread (threadpoolctl): scikit-learn's k-means sums its
per-thread partial centres in an order that depends on the threads, and its OpenMP threads spin-wait on a
shared machine (a 35-case fit took 68 s with 2 threads and 12 s with 1 at load 14 on 2 cores; issue 24),
so one thread gives the same centres on every machine and does not slow down under load.

Descriptors are z-scored with a `StandardScaler` fitted on the training voxels only. Fitting is invariant
to the order of the training cases: cases are processed in the order of a hash of their content and each
case's subsample is seeded by ``random_state`` and that hash. Models are saved as JSON (no pickle).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances_argmin
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController

import hccrad
from hccrad.core.errors import FeatureError, ModelError
from hccrad.habitat.kselect import K_SAMPLE, KSelection, choose_k, k_subsample

logger = logging.getLogger(__name__)

MIN_KMEANS_SAMPLE = 100        # smallest kmeans_sample an estimator accepts (the study spec asks for >= 1,000)
POOLED_KMEANS_SAMPLE = K_SAMPLE  # default kmeans_sample of the population k-means (pooled training rows)
CASE_KMEANS_SAMPLE = 2_000       # default kmeans_sample of a per-case k-means (one-step; two-step supervoxels)


_THREADPOOLS: list[ThreadpoolController] = []  # made once, on first use (inspecting the libraries is slow)


def _one_thread(method):
    """Run an estimator method with one BLAS/OpenMP thread (see the module docstring)."""
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        if not _THREADPOOLS:
            _THREADPOOLS.append(ThreadpoolController())
        with _THREADPOOLS[0].limit(limits=1):
            return method(*args, **kwargs)
    return wrapper


def _digest(X: np.ndarray) -> bytes:
    return hashlib.blake2b(np.ascontiguousarray(X).view(np.uint8), digest_size=16).digest()


def _case_rng(random_state: int, digest: bytes) -> np.random.Generator:
    return np.random.default_rng([int(random_state), int.from_bytes(digest[:8], "little")])


class _HabitatEstimator(BaseEstimator):
    """Shared validation, scaling, ordering and JSON persistence."""

    def __init__(
        self,
        n_habitats: int | Literal["auto"] = "auto",
        k_range: tuple[int, int] = (2, 10),
        order_by: str | int = 0,
        descriptor_names: Sequence[str] | None = None,
        max_voxels_fit: int = 200_000,
        random_state: int = 0,
        n_init: int = 4,
        max_voxels_k: int = K_SAMPLE,
        silhouette_sample: int = 10_000,
        k_rule: Literal["elbow", "consensus"] = "elbow",
        n_bootstrap: int = 20,
        kmeans_sample: int | None = None,
    ) -> None:
        self.n_habitats = n_habitats
        self.k_range = k_range
        self.order_by = order_by
        self.descriptor_names = descriptor_names
        self.max_voxels_fit = max_voxels_fit
        self.random_state = random_state
        self.n_init = n_init
        self.max_voxels_k = max_voxels_k
        self.silhouette_sample = silhouette_sample
        self.k_rule = k_rule
        self.n_bootstrap = n_bootstrap
        self.kmeans_sample = kmeans_sample

    def _check_X(self, X: np.ndarray, what: str) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2:
            raise FeatureError(f"{what} must be a 2-D (n_voxels, d) matrix; got shape {X.shape}", field="X")
        if X.shape[0] == 0:
            raise FeatureError(f"{what} has no voxels (empty tumour mask)", field="X",
                               hint="check the tumour segmentation")
        if not np.all(np.isfinite(X)):
            raise FeatureError(f"{what} contains NaN or inf", field="X", hint="check the descriptor maps")
        if self.descriptor_names is not None and X.shape[1] != len(self.descriptor_names):
            raise FeatureError(
                f"{what} has {X.shape[1]} columns but {len(self.descriptor_names)} descriptor names",
                field="descriptor_names",
            )
        return X

    def _prepare(self, X_list: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[bytes]]:
        if isinstance(X_list, np.ndarray) or len(X_list) == 0:
            raise FeatureError(
                "fit needs a non-empty list with one (n_voxels, d) matrix per training case",
                field="X_list",
            )
        Xs = [self._check_X(X, f"training case {i}") for i, X in enumerate(X_list)]
        if len({X.shape[1] for X in Xs}) != 1:
            raise FeatureError("training cases have different numbers of descriptors", field="X_list")
        if self.n_habitats != "auto" and (
            isinstance(self.n_habitats, (str, bool)) or int(self.n_habitats) != self.n_habitats
            or int(self.n_habitats) < 1
        ):
            raise FeatureError(f"n_habitats must be an integer >= 1 or 'auto', got {self.n_habitats!r}",
                               field="n_habitats")
        digests = [_digest(X) for X in Xs]
        order = sorted(range(len(Xs)), key=lambda i: digests[i])
        self.n_features_in_ = Xs[0].shape[1]
        self._order_col = self._resolve_order_by(self.n_features_in_)
        self.scaler_ = StandardScaler()
        for i in order:
            self.scaler_.partial_fit(Xs[i])
        return [Xs[i] for i in order], [digests[i] for i in order]

    def _resolve_order_by(self, d: int) -> int:
        if isinstance(self.order_by, str):
            names = list(self.descriptor_names or [])
            if self.order_by not in names:
                raise FeatureError(
                    f"order_by {self.order_by!r} is not a descriptor name ({names})",
                    field="order_by",
                    hint="pass descriptor_names or an integer column index",
                )
            return names.index(self.order_by)
        col = int(self.order_by)
        if not 0 <= col < d:
            raise FeatureError(f"order_by column {col} outside 0..{d - 1}", field="order_by")
        return col

    def _sample(self, Xs: list[np.ndarray], digests: list[bytes], cap: int) -> np.ndarray:
        """Per-case proportional subsample of at most ``cap`` voxels (all voxels when the pool is smaller)."""
        return self._sample_with_groups(Xs, digests, cap)[0]

    def _sample_with_groups(self, Xs: list[np.ndarray], digests: list[bytes],
                            cap: int) -> tuple[np.ndarray, np.ndarray]:
        """`_sample` and the index of each sampled voxel's case (for bootstraps over cases)."""
        total = sum(X.shape[0] for X in Xs)
        if total <= cap:
            return np.concatenate(Xs), np.repeat(np.arange(len(Xs)), [X.shape[0] for X in Xs])
        parts = []
        for X, dg in zip(Xs, digests):
            q = max(1, int(np.floor(cap * X.shape[0] / total)))
            idx = np.sort(_case_rng(self.random_state, dg).choice(X.shape[0], size=min(q, X.shape[0]),
                                                                  replace=False))
            parts.append(X[idx])
        return np.concatenate(parts), np.repeat(np.arange(len(parts)), [P.shape[0] for P in parts])

    def _fit_cap(self) -> int | None:
        """``kmeans_sample`` checked: None (every row) or an integer >= ``MIN_KMEANS_SAMPLE``."""
        cap = self.kmeans_sample
        if cap is None:
            return None
        if isinstance(cap, (bool, float, str)) or int(cap) != cap or int(cap) < MIN_KMEANS_SAMPLE:
            raise FeatureError(f"kmeans_sample must be an integer >= {MIN_KMEANS_SAMPLE} or None (every row), "
                               f"got {cap!r}", field="kmeans_sample",
                               hint="rows on which each k-means is fitted; None fits on every row")
        return int(cap)

    def _case_rows(self, S: np.ndarray, digest: bytes) -> np.ndarray:
        """The rows of one case a per-case k-means is fitted on: at most ``kmeans_sample`` of them, drawn
        without replacement by the generator seeded with ``random_state`` and the case's content hash."""
        cap = self._fit_cap()
        if cap is None or S.shape[0] <= cap:
            return S
        return S[np.sort(_case_rng(self.random_state, digest).choice(S.shape[0], size=cap, replace=False))]

    def _choose(self, S: np.ndarray, groups: np.ndarray | None = None) -> tuple[int, KSelection | None]:
        if self.n_habitats != "auto":
            return int(self.n_habitats), None
        keep = k_subsample(S.shape[0], self.max_voxels_k, self.random_state)  # fixed, seeded (issue 24)
        S = S[keep]
        groups = None if groups is None else groups[keep]
        ks = choose_k(S, self.k_range, random_state=self.random_state,
                      silhouette_sample=self.silhouette_sample, n_init=self.n_init,
                      rule=self.k_rule, groups=groups, n_bootstrap=self.n_bootstrap)
        return ks.k, ks

    def _ordering(self, centres: np.ndarray) -> np.ndarray:
        """Permutation sorting centres by the order_by column, ties by the other columns in turn."""
        others = [c for c in range(centres.shape[1]) if c != self._order_col]
        keys = [centres[:, c] for c in reversed(others)] + [centres[:, self._order_col]]
        return np.lexsort(keys)

    def _kmeans(self, S: np.ndarray, k: int, n_init: int | None = None) -> np.ndarray:
        """Centres of k-means on S (fit on a subsample when S exceeds max_voxels_fit)."""
        if S.shape[0] > self.max_voxels_fit:
            rng = np.random.default_rng(self.random_state)
            S = S[np.sort(rng.choice(S.shape[0], size=self.max_voxels_fit, replace=False))]
        km = KMeans(n_clusters=k, n_init=n_init or self.n_init, random_state=self.random_state).fit(S)
        return km.cluster_centers_

    def _check_case(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "n_habitats_")
        X = self._check_X(X, "case")
        if X.shape[1] != self.n_features_in_:
            raise FeatureError(
                f"case has {X.shape[1]} descriptors, the model was fitted on {self.n_features_in_}",
                field="X",
            )
        if X.shape[0] < self.n_habitats_:
            raise FeatureError(
                f"tumour has {X.shape[0]} voxel(s), fewer than the {self.n_habitats_} habitats",
                field="X",
                hint="exclude lesions this small or lower n_habitats",
            )
        return self.scaler_.transform(X)

    # ---- persistence -------------------------------------------------------------------------------
    _state_arrays: tuple[str, ...] = ("centres_", "centres_scaled_")

    def to_json(self) -> str:
        """The fitted model as JSON text (parameters, scaler, centres, k selection)."""
        check_is_fitted(self, "n_habitats_")
        params = {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.get_params().items()}
        state = {
            "n_habitats_": int(self.n_habitats_),
            "n_features_in_": int(self.n_features_in_),
            "scaler_mean": self.scaler_.mean_.tolist(),
            "scaler_scale": self.scaler_.scale_.tolist(),
            "scaler_var": self.scaler_.var_.tolist(),
            "scaler_n": int(np.max(self.scaler_.n_samples_seen_)),
            "k_selection_": None if self.k_selection_ is None else self.k_selection_.to_dict(),
        }
        for name in self._state_arrays:
            state[name] = np.asarray(getattr(self, name)).tolist()
        doc = {"class": type(self).__name__, "hccrad_version": hccrad.__version__,
               "params": params, "state": state}
        return json.dumps(doc, indent=1)

    @classmethod
    def from_json(cls, text: str) -> "_HabitatEstimator":
        doc = json.loads(text)
        if doc.get("class") != cls.__name__:
            raise ModelError(
                f"JSON holds a {doc.get('class')!r} model, not {cls.__name__}",
                hint="use hccrad.habitat.load_habitat_model to load any strategy",
            )
        params = dict(doc["params"])
        params.setdefault("kmeans_sample", None)  # saved before kmeans_sample existed: fitted on every row
        if params.get("k_range") is not None:
            params["k_range"] = tuple(params["k_range"])
        est = cls(**params)
        st = doc["state"]
        est.n_habitats_ = st["n_habitats_"]
        est.n_features_in_ = st["n_features_in_"]
        est._order_col = est._resolve_order_by(est.n_features_in_)
        sc = StandardScaler()
        sc.mean_ = np.asarray(st["scaler_mean"], dtype=float)
        sc.scale_ = np.asarray(st["scaler_scale"], dtype=float)
        sc.var_ = np.asarray(st["scaler_var"], dtype=float)
        sc.n_samples_seen_ = st["scaler_n"]
        sc.n_features_in_ = est.n_features_in_
        est.scaler_ = sc
        ks = st["k_selection_"]
        est.k_selection_ = None if ks is None else KSelection.from_dict(ks)
        for name in cls._state_arrays:
            setattr(est, name, np.asarray(st[name], dtype=float))
        return est

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(self.to_json(), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> "_HabitatEstimator":
        return cls.from_json(Path(path).read_text(encoding="utf-8"))


class PopulationHabitats(_HabitatEstimator):
    """Population k-means on pooled training voxels (seed 000); new cases assigned to the nearest centre.

    Fitted attributes: ``n_habitats_``, ``centres_`` (k, d) in descriptor units sorted by ``order_by``,
    ``centres_scaled_``, ``scaler_``, ``k_selection_`` (`KSelection`, None when k is fixed).
    """

    def __init__(
        self,
        n_habitats: int | Literal["auto"] = "auto",
        k_range: tuple[int, int] = (2, 10),
        order_by: str | int = 0,
        descriptor_names: Sequence[str] | None = None,
        max_voxels_fit: int = 200_000,
        random_state: int = 0,
        n_init: int = 4,
        max_voxels_k: int = K_SAMPLE,
        silhouette_sample: int = 10_000,
        k_rule: Literal["elbow", "consensus"] = "elbow",
        n_bootstrap: int = 20,
        kmeans_sample: int | None = POOLED_KMEANS_SAMPLE,
    ) -> None:
        super().__init__(n_habitats, k_range, order_by, descriptor_names, max_voxels_fit, random_state, n_init,
                         max_voxels_k, silhouette_sample, k_rule, n_bootstrap, kmeans_sample)

    @_one_thread
    def fit(self, X_list: Sequence[np.ndarray], y: None = None) -> "PopulationHabitats":
        Xs, digests = self._prepare(X_list)
        cap = self._fit_cap()
        fit_rows = self.max_voxels_fit if cap is None else min(cap, self.max_voxels_fit)
        self.k_selection_ = None
        if self.n_habitats == "auto":  # k is chosen on the max_voxels_fit sample, as before kmeans_sample
            S, groups = self._sample_with_groups(Xs, digests, self.max_voxels_fit)
            k, self.k_selection_ = self._choose(self.scaler_.transform(S), groups)
        else:
            k = int(self.n_habitats)
        S = self.scaler_.transform(self._sample(Xs, digests, fit_rows))
        if S.shape[0] < k:
            raise FeatureError(f"{S.shape[0]} training voxels cannot make {k} habitats", field="X_list")
        centres = self._kmeans(S, k)
        perm = self._ordering(self.scaler_.inverse_transform(centres))
        self.centres_scaled_ = centres[perm]
        self.centres_ = self.scaler_.inverse_transform(self.centres_scaled_)
        self.n_habitats_ = k
        logger.info("PopulationHabitats: k=%d from %d voxels of %d cases", k, S.shape[0], len(Xs))
        return self

    @_one_thread
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Labels 1..k (int16) of one case's voxels: nearest population centre (Euclidean, scaled)."""
        S = self._check_case(X)
        return (pairwise_distances_argmin(S, self.centres_scaled_) + 1).astype(np.int16)


class IndividualHabitats(_HabitatEstimator):
    """Per-tumour k-means (seed 001). ``predict`` clusters the case on its own and orders its labels.

    ``fit`` learns the scaler (training voxels), k (when "auto": `choose_k` on the pooled training sample)
    and ``centres_``: the mean over training cases of each case's ordered centres (descriptor units).
    """

    def __init__(
        self,
        n_habitats: int | Literal["auto"] = "auto",
        k_range: tuple[int, int] = (2, 10),
        order_by: str | int = 0,
        descriptor_names: Sequence[str] | None = None,
        max_voxels_fit: int = 200_000,
        random_state: int = 0,
        n_init: int = 4,
        max_voxels_k: int = K_SAMPLE,
        silhouette_sample: int = 10_000,
        k_rule: Literal["elbow", "consensus"] = "elbow",
        n_bootstrap: int = 20,
        kmeans_sample: int | None = CASE_KMEANS_SAMPLE,
    ) -> None:
        super().__init__(n_habitats, k_range, order_by, descriptor_names, max_voxels_fit, random_state, n_init,
                         max_voxels_k, silhouette_sample, k_rule, n_bootstrap, kmeans_sample)

    @_one_thread
    def fit(self, X_list: Sequence[np.ndarray], y: None = None) -> "IndividualHabitats":
        Xs, digests = self._prepare(X_list)
        S, groups = self._sample_with_groups(Xs, digests, self.max_voxels_fit)
        S = self.scaler_.transform(S)
        k, self.k_selection_ = self._choose(S, groups)
        self.n_habitats_ = k
        # each training case is clustered once: `predict` on the same voxels reuses its centres (k-means is
        # seeded, so recomputing them would give the same centres; issue 24)
        self.training_case_centres_ = {dg: self._case_centres(self.scaler_.transform(X), dg)
                                       for X, dg in zip(Xs, digests) if X.shape[0] >= k}
        per_case = list(self.training_case_centres_.values())
        if not per_case:
            raise FeatureError(f"no training tumour has at least {k} voxels", field="X_list")
        self.centres_scaled_ = np.mean(per_case, axis=0)
        self.centres_ = self.scaler_.inverse_transform(self.centres_scaled_)
        return self

    def _case_centres(self, S: np.ndarray, digest: bytes) -> np.ndarray:
        """The case's k-means centres (fitted on `_case_rows`), sorted by ``order_by``."""
        centres = self._kmeans(self._case_rows(S, digest), self.n_habitats_)
        return centres[self._ordering(self.scaler_.inverse_transform(centres))]

    @_one_thread
    def predict(self, X: np.ndarray) -> np.ndarray:
        """Labels 1..k (int16): k-means of this case alone, clusters ordered by ``order_by``."""
        S = self._check_case(X)
        digest = _digest(self._check_X(X, "case"))
        centres = getattr(self, "training_case_centres_", {}).get(digest)
        if centres is None:
            centres = self._case_centres(S, digest)
        return (pairwise_distances_argmin(S, centres) + 1).astype(np.int16)


class TwoStepHabitats(_HabitatEstimator):
    """Two-step habitats: per-case supervoxels, then population k-means of supervoxel means.

    ``n_supervoxels`` (default 50, capped at the case's voxel count) supervoxels per case;
    habitats are clusters of the pooled training supervoxel centres (scaled descriptor means).

    ``supervoxels="descriptor"`` (default, the earlier behaviour): k-means supervoxels in scaled descriptor
    space, no spatial term. ``supervoxels="slic"`` (HABIT's two-step; issue 23): SLIC (Achanta et al. 2012,
    IEEE TPAMI 34:2274; ``skimage.segmentation.slic`` in 3-D, restricted to the tumour mask, on the scaled
    descriptor maps, with the voxel spacing in mm and ``enforce_connectivity=True``); the SLIC distance is
    ``d_desc^2 + (compactness / S)^2 d_mm^2`` with S the grid step, so a larger ``compactness`` gives more
    compact, more spatially regular supervoxels. "slic" needs each case's voxel indices and spacing:
    ``fit(X_list, coords=[idx_i], spacings=[sp_i])`` and ``predict(X, coords=idx, spacing=sp)``, where
    ``idx`` is the (n_voxels, 3) integer array index of each row of X (``np.argwhere(mask)``, the order of
    ``voxel_matrix``) and ``sp`` the spacing in mm along the same three array axes.
    """

    def __init__(
        self,
        n_habitats: int | Literal["auto"] = "auto",
        k_range: tuple[int, int] = (2, 10),
        order_by: str | int = 0,
        descriptor_names: Sequence[str] | None = None,
        max_voxels_fit: int = 200_000,
        random_state: int = 0,
        n_init: int = 4,
        max_voxels_k: int = K_SAMPLE,
        silhouette_sample: int = 10_000,
        n_supervoxels: int = 50,
        k_rule: Literal["elbow", "consensus"] = "elbow",
        n_bootstrap: int = 20,
        supervoxels: Literal["descriptor", "slic"] = "descriptor",
        compactness: float = 0.1,
        kmeans_sample: int | None = CASE_KMEANS_SAMPLE,
    ) -> None:
        super().__init__(n_habitats, k_range, order_by, descriptor_names, max_voxels_fit, random_state, n_init,
                         max_voxels_k, silhouette_sample, k_rule=k_rule, n_bootstrap=n_bootstrap,
                         kmeans_sample=kmeans_sample)
        self.n_supervoxels = n_supervoxels
        self.supervoxels = supervoxels
        self.compactness = compactness

    def _supervoxels(self, S: np.ndarray, coords: np.ndarray | None = None, spacing: Sequence[float] | None = None,
                     digest: bytes = b"") -> tuple[np.ndarray, np.ndarray]:
        """(supervoxel centres, voxel -> supervoxel index) of one scaled case; ``digest``: the content hash of
        the case's descriptors (seeds its k-means sample)."""
        if self.supervoxels == "slic":
            n_sv = int(min(self.n_supervoxels, S.shape[0]))
            member = _slic_members(S, coords, spacing, n_sv, float(self.compactness))
            centres = np.stack([S[member == m].mean(axis=0) for m in range(int(member.max()) + 1)])
            return centres, member
        rows = self._case_rows(S, digest)
        centres = self._kmeans(rows, int(min(self.n_supervoxels, rows.shape[0])), n_init=1)
        return centres, pairwise_distances_argmin(S, centres)

    def _check_spatial(self) -> None:
        if int(self.n_supervoxels) < 2:
            raise FeatureError(f"n_supervoxels must be >= 2, got {self.n_supervoxels}", field="n_supervoxels")
        if self.supervoxels not in ("descriptor", "slic"):
            raise FeatureError(f"supervoxels must be 'descriptor' or 'slic', got {self.supervoxels!r}",
                               field="supervoxels")
        if not float(self.compactness) > 0:
            raise FeatureError(f"compactness must be > 0, got {self.compactness}", field="compactness")

    @_one_thread
    def fit(self, X_list: Sequence[np.ndarray], y: None = None, coords: Sequence[np.ndarray] | None = None,
            spacings: Sequence[Sequence[float]] | None = None) -> "TwoStepHabitats":
        self._check_spatial()
        Xs, digests = self._prepare(X_list)
        if self.supervoxels == "slic":
            if coords is None or spacings is None or len(coords) != len(X_list) or len(spacings) != len(X_list):
                raise FeatureError("supervoxels='slic' needs coords and spacings, one per training case",
                                   field="coords", hint="pass coords=[np.argwhere(mask)], spacings=[spacing]")
            by_digest = {_digest(self._check_X(X, "case")): (c, sp) for X, c, sp in zip(X_list, coords, spacings)}
            spatial = [by_digest[dg] for dg in digests]
        else:
            spatial = [(None, None)] * len(Xs)
        sv = [self._supervoxels(self.scaler_.transform(X), c, sp, dg)[0]
              for X, dg, (c, sp) in zip(Xs, digests, spatial)]
        # descriptor supervoxels are a seeded k-means: `predict` on a training case reuses its centres (and
        # assigns each voxel to the nearest, as `_supervoxels` does) instead of clustering it again (issue 24)
        self.training_supervoxels_ = ({dg: c for dg, c in zip(digests, sv)}
                                      if self.supervoxels == "descriptor" else {})
        pooled = np.concatenate(sv)
        groups = np.repeat(np.arange(len(sv)), [c.shape[0] for c in sv])
        k, self.k_selection_ = self._choose(pooled, groups)
        if pooled.shape[0] < k:
            raise FeatureError(f"{pooled.shape[0]} supervoxels cannot make {k} habitats", field="X_list")
        centres = self._kmeans(pooled, k)
        perm = self._ordering(self.scaler_.inverse_transform(centres))
        self.centres_scaled_ = centres[perm]
        self.centres_ = self.scaler_.inverse_transform(self.centres_scaled_)
        self.n_habitats_ = k
        return self

    @_one_thread
    def predict(self, X: np.ndarray, coords: np.ndarray | None = None,
                spacing: Sequence[float] | None = None) -> np.ndarray:
        """Labels 1..k (int16): each supervoxel of the case takes its nearest habitat centre."""
        S = self._check_case(X)
        if self.supervoxels == "slic" and (coords is None or spacing is None):
            raise FeatureError("supervoxels='slic' needs the case's coords and spacing", field="coords",
                               hint="predict(X, coords=np.argwhere(mask), spacing=spacing)")
        digest = _digest(self._check_X(X, "case"))
        sv_centres = getattr(self, "training_supervoxels_", {}).get(digest)
        if sv_centres is None:
            sv_centres, member = self._supervoxels(S, coords, spacing, digest)
        else:
            member = pairwise_distances_argmin(S, sv_centres)
        sv_label = pairwise_distances_argmin(sv_centres, self.centres_scaled_) + 1
        return sv_label[member].astype(np.int16)


def _slic_members(S: np.ndarray, coords: np.ndarray | None, spacing: Sequence[float] | None, n_sv: int,
                  compactness: float) -> np.ndarray:
    """SLIC supervoxel index (0..m-1) of each row of S, on the tumour's bounding box (see TwoStepHabitats)."""
    from skimage.segmentation import slic  # lazy: optional dependency (scikit-image: two-step SLIC only)

    idx = np.asarray(coords)
    sp = np.asarray(spacing, dtype=float)
    if idx.shape != (S.shape[0], 3) or not np.issubdtype(idx.dtype, np.integer):
        raise FeatureError(f"coords must be an integer (n_voxels, 3) array matching X ({S.shape[0]} rows); "
                           f"got shape {idx.shape}, dtype {idx.dtype}", field="coords")
    if sp.shape != (3,) or not np.all(sp > 0):
        raise FeatureError(f"spacing must be 3 positive values in mm, got {spacing}", field="spacing")
    lo = idx.min(axis=0)
    local = idx - lo
    shape = tuple(int(v) + 1 for v in local.max(axis=0))
    img = np.zeros(shape + (S.shape[1],), dtype=float)
    mask = np.zeros(shape, dtype=bool)
    img[local[:, 0], local[:, 1], local[:, 2]] = S
    mask[local[:, 0], local[:, 1], local[:, 2]] = True
    if int(mask.sum()) != S.shape[0]:
        raise FeatureError("coords hold repeated voxel indices", field="coords")
    seg = slic(img, n_segments=n_sv, compactness=compactness, spacing=sp, mask=mask, channel_axis=-1,
               start_label=1, enforce_connectivity=True, convert2lab=False)
    lab = seg[local[:, 0], local[:, 1], local[:, 2]]
    if np.any(lab < 1):
        raise FeatureError("SLIC left tumour voxels without a supervoxel", field="coords")
    return np.unique(lab, return_inverse=True)[1].reshape(-1)


def _is_spatial(model: _HabitatEstimator) -> bool:
    """Whether the model needs each case's voxel indices and spacing (a SLIC two-step model)."""
    return getattr(model, "supervoxels", None) == "slic"


def spatial_arguments(model: _HabitatEstimator, mask: np.ndarray,
                      spacing: Sequence[float]) -> dict:
    """Keyword arguments ``predict`` needs besides X: the voxel indices (``np.argwhere(mask)``, the row order
    of ``voxel_matrix``) and spacing for a spatial (SLIC) two-step model; ``{}`` for every other model."""
    if _is_spatial(model):
        return {"coords": np.argwhere(np.asarray(mask, dtype=bool)), "spacing": tuple(spacing)}
    return {}


def spatial_fit_arguments(model: _HabitatEstimator, masks: Sequence[np.ndarray],
                          spacings: Sequence[Sequence[float]]) -> dict:
    """Keyword arguments ``fit`` needs besides the training matrices: each training case's voxel indices and
    spacing for a spatial (SLIC) two-step model (as `spatial_arguments`, one per case); ``{}`` otherwise."""
    if not _is_spatial(model):
        return {}
    return {"coords": [np.argwhere(np.asarray(m, dtype=bool)) for m in masks],
            "spacings": list(spacings)}
