"""Benchmark: resample scheduling -- one resample per task, BLAS free (the old scheduling) against chunks of
resamples per task with BLAS/OpenMP pinned to one thread per worker (`hccrad.models.scheduling`).

Harrell optimism bootstrap of a LASSO-logistic pipeline (scale -> univariate -> correlation -> lasso with
`--lasso-cv`-fold CV -> logistic) at n = 150 patients, p = 300 features (4 real), 200 resamples, each
scheduling with n_jobs = 1 and 2, in one run (the order is interleaved so load changes hit both). Prints wall
time, resamples/s, the speed-up of 2 jobs over 1 within each scheduling, and whether every run gave the same
optimism array (bit-identical) as the first.

    python benchmarks/bench_resampling.py                          # 200 resamples, n = 150, p = 300
    python benchmarks/bench_resampling.py --n-boot 40 --jobs 1 2   # quicker
    python benchmarks/bench_resampling.py --scheduler tcp://host:8786   # adds a row for a Dask cluster
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import numpy as np
import pandas as pd

from hccrad.models import build_model_pipeline, optimism_bootstrap

SCHEDULINGS = {"per-resample, BLAS free (old)": {"chunk_size": 1, "pin_threads": False},
               "chunked, BLAS pinned to 1": {"chunk_size": None, "pin_threads": True}}


def cohort(n: int, p: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    lp = X[:, :4] @ np.array([1.0, -0.8, 0.7, 0.5])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-lp))).astype(int)
    return pd.DataFrame(X, columns=[f"f{i:04d}" for i in range(p)]), y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-patients", type=int, default=150)
    ap.add_argument("--n-features", type=int, default=300)
    ap.add_argument("--n-boot", type=int, default=200)
    ap.add_argument("--lasso-cv", type=int, default=10)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--scheduler", default=None, help="also time the chunked scheduling on this Dask cluster")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    X, y = cohort(args.n_patients, args.n_features, args.seed)
    pipe = build_model_pipeline(None, params={"lasso": {"cv": args.lasso_cv, "max_features": "epv",
                                                        "keep_path": False}})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"optimism bootstrap: {args.n_patients} patients x {args.n_features} features, {args.n_boot} resamples, "
          f"lasso {args.lasso_cv}-fold CV; cores {len(os.sched_getaffinity(0))}, load at start {load:.1f}")
    runs = [(j, name) for j in args.jobs for name in SCHEDULINGS]
    if args.scheduler:
        runs.append((0, "chunked on Dask " + args.scheduler))
    rows, reference = [], None
    for j, name in runs:
        how = ({"scheduler": args.scheduler} if j == 0 else {"n_jobs": j, **SCHEDULINGS[name]})
        if j > 1:  # (re)start the loky workers untimed: they stop after 300 s idle, e.g. during 1-job runs
            optimism_bootstrap(pipe, X, y, n_boot=j, seed=args.seed, n_jobs=j, chunk_size=1)
        t0 = time.perf_counter()
        res = optimism_bootstrap(pipe, X, y, n_boot=args.n_boot, seed=args.seed, **how)
        wall = time.perf_counter() - t0
        reference = res.optimism if reference is None else reference
        rows.append({"scheduling": name, "n_jobs": j if j else "cluster", "wall_s": wall,
                     "resamples_per_s": args.n_boot / wall, "corrected_auc": res.corrected_auc,
                     "same_as_first": bool(np.array_equal(res.optimism, reference))})
    table = pd.DataFrame(rows)
    one = table[table["n_jobs"] == 1].set_index("scheduling")["wall_s"]
    table["speedup_vs_1_job"] = [one.get(s, np.nan) / w for s, w in zip(table["scheduling"], table["wall_s"])]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    print(f"load at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
