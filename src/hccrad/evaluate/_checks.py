"""Input checks shared by the evaluation statistics.

Every statistic validates its inputs here so bad input raises a `DataError` that names the argument and
says how to fix it, instead of returning NaN.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from hccrad.core.errors import DataError


def binary_outcome(y: Sequence | np.ndarray, *, field: str = "y", need_both: bool = True) -> np.ndarray:
    """Return `y` as an int array of 0/1; booleans and {0,1} numbers accepted."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise DataError(f"outcome must be one-dimensional, got shape {arr.shape}", field=field,
                        hint="pass one outcome value per patient")
    if arr.size == 0:
        raise DataError("outcome is empty", field=field, hint="pass at least one case and one control")
    if arr.dtype == bool:
        out = arr.astype(int)
    else:
        try:
            num = arr.astype(float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"outcome must be 0/1 or boolean, got values like {arr[:3]!r}", field=field,
                            hint="code the event (case) as 1 and the control as 0") from exc
        if np.isnan(num).any():
            raise DataError(f"outcome has {int(np.isnan(num).sum())} missing value(s)", field=field,
                            hint="drop patients with unknown outcome before evaluating")
        if not np.isin(num, (0.0, 1.0)).all():
            bad = np.unique(num[~np.isin(num, (0.0, 1.0))])[:5]
            raise DataError(f"outcome must be 0/1, found {bad.tolist()}", field=field,
                            hint="code the event (case) as 1 and the control as 0")
        out = num.astype(int)
    if need_both and (out.min() == out.max()):
        raise DataError(f"outcome has one class only (all {out[0]}), so this statistic is undefined",
                        field=field, hint="evaluate on a cohort with both cases and controls")
    return out


def scores(x: Sequence | np.ndarray, n: int, *, field: str = "score") -> np.ndarray:
    """Return `x` as a finite float array of length `n`."""
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise DataError(f"expected {n} values (one per patient), got shape {arr.shape}", field=field,
                        hint="pass the scores in the same patient order as the outcome")
    if not np.isfinite(arr).all():
        raise DataError(f"{int((~np.isfinite(arr)).sum())} non-finite score value(s)", field=field,
                        hint="impute or drop patients with missing predictions")
    return arr


def probabilities(x: Sequence | np.ndarray, n: int, *, field: str = "prob", open_interval: bool = False
                  ) -> np.ndarray:
    """Return `x` as probabilities in [0, 1] (or (0, 1) when `open_interval`)."""
    arr = scores(x, n, field=field)
    lo_bad = arr <= 0 if open_interval else arr < 0
    hi_bad = arr >= 1 if open_interval else arr > 1
    if (lo_bad | hi_bad).any():
        rng = "(0, 1)" if open_interval else "[0, 1]"
        raise DataError(f"{int((lo_bad | hi_bad).sum())} value(s) outside {rng}", field=field,
                        hint="pass predicted probabilities (e.g. predict_proba(X)[:, 1]), not scores")
    return arr


def level(value: float, *, field: str = "level") -> float:
    """Confidence level in (0, 1)."""
    if not 0.0 < float(value) < 1.0:
        raise DataError(f"confidence level must lie in (0, 1), got {value}", field=field,
                        hint="use e.g. 0.95 for a 95% CI")
    return float(value)


def frozen(a: np.ndarray) -> np.ndarray:
    """A read-only copy, so result objects stay immutable."""
    out = np.array(a, copy=True)
    out.setflags(write=False)
    return out


class ResultDisplay:
    """Text and notebook HTML for result objects, from their `summary()` table."""

    def summary(self):  # pragma: no cover - overridden
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.summary().to_html(index=False, float_format=lambda v: f"{v:.4g}")

    def to_text(self) -> str:
        return self.summary().to_string(index=False)
