"""DeLong AUC variance: fast midrank algorithm (Sun & Xu 2014) vs the naive O(m·n) ψ-kernel.

Prints one row per n: time of `hccrad.evaluate.auc_ci` (fast, O(n log n)) and, for n ≤ 10^4, of the
textbook DeLong computation with an explicit m×n comparison matrix, plus the largest difference in
variance between the two. Run: `python benchmarks/bench_delong.py` (not a test).
"""

from __future__ import annotations

import time

import numpy as np

from hccrad.evaluate import auc_ci


def naive_delong_var(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    x, z = s[y == 1], s[y == 0]
    psi = (x[:, None] > z[None, :]) + 0.5 * (x[:, None] == z[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(v10.var(ddof=1) / x.size + v01.var(ddof=1) / z.size)


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"{'n':>8} | {'fast DeLong (s)':>15} | {'naive O(n²) (s)':>15} | {'speed-up':>8} | {'|Δ var|':>9}")
    print("-" * 68)
    for n in (1_000, 3_000, 10_000, 30_000, 100_000):
        y = rng.integers(0, 2, n)
        s = np.round(y + rng.normal(size=n), 2)  # ties included
        fast = best_of(lambda: auc_ci(y, s), 3)
        if n <= 10_000:
            naive = best_of(lambda: naive_delong_var(y, s), 1)
            dv = abs(naive_delong_var(y, s)[1] - auc_ci(y, s).variance)
            print(f"{n:>8} | {fast:>15.4f} | {naive:>15.4f} | {naive / fast:>7.0f}× | {dv:>9.1e}")
        else:
            print(f"{n:>8} | {fast:>15.4f} | {'(skipped)':>15} | {'':>8} | {'':>9}")


if __name__ == "__main__":
    main()
