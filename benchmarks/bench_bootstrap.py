"""Benchmark: Harrell optimism bootstrap of the full selection + logistic pipeline.

Default (issue 6): 150 patients x 1,000 features (4 real, the rest noise), 1,000 resamples, pipeline
scale -> univariate -> correlation -> lasso (10-fold CV, 1-SE rule, EPV cap) -> logistic, timed with n_jobs=1
and n_jobs=2 in the same run. Prints a table: wall time, resamples/s, speed-up, and checks that both runs
give the same corrected AUC (determinism across n_jobs).

    python benchmarks/bench_bootstrap.py                      # full size (several minutes on 2 cores)
    python benchmarks/bench_bootstrap.py --n-boot 50 --n-features 300 --jobs 1 2
"""

from __future__ import annotations

import argparse
import logging
import os
import time

import numpy as np
import pandas as pd

from hccrad.models import build_model_pipeline, optimism_bootstrap


def cohort(n: int, p: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    lp = X[:, :4] @ np.array([1.0, -0.8, 0.7, 0.5])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-lp))).astype(int)
    return pd.DataFrame(X, columns=[f"f{i:04d}" for i in range(p)]), y


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-patients", type=int, default=150)
    ap.add_argument("--n-features", type=int, default=1000)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--lasso-cv", type=int, default=10)
    ap.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    X, y = cohort(args.n_patients, args.n_features, args.seed)
    pipe = build_model_pipeline(None, params={"lasso": {"cv": args.lasso_cv, "max_features": "epv",
                                                        "keep_path": False}})
    print(f"optimism bootstrap: {args.n_patients} patients x {args.n_features} features, {args.n_boot} resamples, "
          f"lasso {args.lasso_cv}-fold CV; os.cpu_count()={os.cpu_count()}")
    rows = []
    for j in args.jobs:
        t0 = time.perf_counter()
        res = optimism_bootstrap(pipe, X, y, n_boot=args.n_boot, seed=args.seed, n_jobs=j)
        wall = time.perf_counter() - t0
        rows.append({"n_jobs": j, "wall_s": wall, "resamples_per_s": args.n_boot / wall,
                     "apparent_auc": res.apparent_auc, "corrected_auc": res.corrected_auc, "n_failed": res.n_failed})
    table = pd.DataFrame(rows)
    table["speedup"] = table["wall_s"].iloc[0] / table["wall_s"]
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    same = np.allclose(table["corrected_auc"], table["corrected_auc"].iloc[0], rtol=0, atol=0)
    print(f"identical corrected AUC across n_jobs: {same}")


if __name__ == "__main__":
    main()
