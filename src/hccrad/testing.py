"""Assertion helpers for numerical tests against published references.

`assert_close(value, reference, rtol=..., atol=..., what=...)` fails with a message that shows the value,
the reference, the absolute difference and the tolerance, as the house style requires.
"""

from __future__ import annotations

import numpy as np


def assert_close(value, reference, *, rtol: float, atol: float, what: str = "value") -> None:
    """Assert |value - reference| <= atol + rtol * |reference| elementwise, with a readable message."""
    v = np.asarray(value, dtype=float)
    r = np.asarray(reference, dtype=float)
    if v.shape != r.shape:
        raise AssertionError(f"{what}: shape {v.shape} differs from reference shape {r.shape}")
    if np.any(np.isnan(v) != np.isnan(r)):
        raise AssertionError(f"{what}: NaN pattern differs: value={v!r} reference={r!r}")
    ok = np.isclose(v, r, rtol=rtol, atol=atol, equal_nan=True)
    if not np.all(ok):
        diff = np.abs(v - r)
        idx = np.unravel_index(np.nanargmax(np.where(ok, -np.inf, diff)), v.shape) if v.ndim else ()
        raise AssertionError(
            f"{what}: value {v[idx]!r} vs reference {r[idx]!r} "
            f"(difference {diff[idx]:.3g}, allowed atol={atol:g} + rtol={rtol:g}*|ref|)"
            + (f" at index {idx}" if v.ndim else "")
        )
