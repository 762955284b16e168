"""Reuse, inside one process, a LASSO pipeline already fitted on exactly the same training rows (issue 24).

A fused model (:class:`~hccrad.models.factory.ScoreFusion`, seed 000's combined model) refits its score
pipeline (e.g. the habitat LASSO model) in every validation resample; the score model's own validation has
fitted the same pipeline on the same rows (both validations draw their resamples from the same seed). The
resample fit stores its fitted pipeline here; the fused model's fit on the same rows takes it instead of
fitting again.

No leakage and identical numbers, by construction of the key: an MD5 digest of the unfitted pipeline's
parameters (deep: every step's class and every parameter of every step, pickled -- ``pickle.dumps`` only, for
the digest; nothing is ever loaded) and of the training rows themselves -- column names, row labels (a
bootstrap patient's copies share one), values and outcome. A hit therefore returns what fitting that
pipeline on those rows returns, because such a fit is deterministic: a pipeline with ``random_state=None``
(or a ``RandomState``) anywhere is never stored nor looked up. Only scikit-learn ``Pipeline``s with a
:class:`~hccrad.selection.LassoSelector` are stored (the costly ones); an entry is removed when it is taken;
at most :data:`MAX_ENTRIES` are kept (the oldest dropped first; about 0.1 MB each at p = 1,000 features).
The memo lives in the process that fits; the study validates a fused model in the same resample tasks as
the model it fuses (:func:`hccrad.models.validation.optimism_bootstraps`), so every fused resample finds
its fit whatever ``n_jobs``.
"""

from __future__ import annotations

import hashlib
import numbers
import pickle
from collections import OrderedDict

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from hccrad.selection import LassoSelector

MAX_ENTRIES = 1024
_MEMO: OrderedDict[str, object] = OrderedDict()
_STATS = {"stored": 0, "hits": 0, "misses": 0}


def _deterministic(params: dict) -> bool:
    return all(isinstance(v, numbers.Integral) for k, v in params.items()
               if k == "random_state" or k.endswith("__random_state"))


def _has_lasso(params: dict) -> bool:
    return any(isinstance(v, LassoSelector) for v in params.values())


def _described(value):
    """A parameter value for the key: a nested estimator by its class (its own parameters are separate
    entries of ``get_params(deep=True)``), lists and tuples item by item, anything else as it is."""
    if isinstance(value, BaseEstimator):
        return f"{type(value).__module__}.{type(value).__qualname__}"
    if isinstance(value, (list, tuple)):
        return type(value).__name__, [_described(v) for v in value]
    return value


def fit_key(estimator, X: pd.DataFrame, y) -> str | None:
    """Key of (unfitted estimator, training rows), or None when its fit is not memoised."""
    if not isinstance(X, pd.DataFrame) or not isinstance(estimator, Pipeline):
        return None
    params = estimator.get_params(deep=True)
    if not _deterministic(params) or not _has_lasso(params):
        return None
    digest = hashlib.md5(type(estimator).__name__.encode())
    digest.update(pickle.dumps(sorted((k, _described(v)) for k, v in params.items()), protocol=5))
    digest.update(pickle.dumps([str(c) for c in X.columns], protocol=5))
    for values in (X.index.to_numpy(), X.to_numpy(), np.asarray(y)):
        digest.update(_array_bytes(values))
    return digest.hexdigest()


def _array_bytes(values: np.ndarray) -> bytes:
    """An array's dtype, shape and contents as bytes (C order whatever its layout; object arrays pickled,
    never their pointers)."""
    if values.dtype.hasobject:
        return pickle.dumps(values, protocol=5)
    head = f"{values.dtype.str}{values.shape}".encode()
    return head + np.ascontiguousarray(values).tobytes()


def remember(key: str | None, fitted) -> None:
    """Keep ``fitted`` under ``key`` (no-op for None)."""
    if key is None:
        return
    _MEMO[key] = fitted
    _STATS["stored"] += 1
    while len(_MEMO) > MAX_ENTRIES:
        _MEMO.popitem(last=False)


def take(key: str | None):
    """The fitted estimator stored under ``key`` (removed from the memo), or None."""
    if key is None:
        return None
    fitted = _MEMO.pop(key, None)
    _STATS["hits" if fitted is not None else "misses"] += 1
    return fitted


def stats() -> dict:
    """Counts of stored fits, hits and misses in this process (for benchmarks and tests)."""
    return dict(_STATS, kept=len(_MEMO))


def clear() -> None:
    _MEMO.clear()
    _STATS.update(stored=0, hits=0, misses=0)


__all__ = ["MAX_ENTRIES", "clear", "fit_key", "remember", "stats", "take"]
