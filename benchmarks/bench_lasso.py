"""Benchmark (issue 24): solvers and strategies for LassoSelector's CV path (k folds x a grid of C).

One "selection" = what ``LassoSelector.fit`` costs: k-fold CV over the C grid plus the full-data path.
Strategies (each fits the same folds and grid; timed per selection, median of --repeats):

* ``liblinear cold (today)``   -- ``LogisticRegression(solver="liblinear").fit`` per fold and C (issue-24 code)
* ``liblinear _fit_liblinear`` -- scikit-learn's internal call with arrays validated once per fold
* ``liblinear train_wrap``     -- hccrad.selection.l1path (LIBLINEAR called directly, arrays prepared once)
* ``saga cold``                -- ``LogisticRegression(solver="saga", tol=1e-10)`` per C (penalize_intercept=False)
* ``saga warm_start``          -- ``LogisticRegression(warm_start=True)`` refitted in increasing C
* ``saga warm l1path``         -- hccrad.selection.l1path (SAGA warm-started with its memory, validated once)
* ``skglm`` / ``celer``        -- only if importable (``--extra-path DIR`` adds a pip --target folder)

"max |coef diff|" compares the full-data coefficient path to the cold fit of the same objective (liblinear
rows: liblinear cold; saga/skglm rows: saga cold); "same set" = same non-zero pattern at every C;
"max |dev diff|" = largest difference of the CV deviance. SAGA rows run only where p < n: at p >= n today's
SAGA fits (tol 1e-10) reach max_iter = 100,000 epochs at the larger C (~40 s a fit, not converged), so a
selection takes hours and no strategy can be compared to it.

    python benchmarks/bench_lasso.py                    # n x p = 150x1000, 60x200 (liblinear), 150x30 (all)
    python benchmarks/bench_lasso.py --sizes 60x200 --repeats 1
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.svm import l1_min_c
from sklearn.svm._base import _fit_liblinear

from hccrad.selection.folds import patient_folds
from hccrad.selection.l1path import L1LogisticPath


def cohort(n: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    lp = X[:, :4] @ np.array([1.0, -0.8, 0.7, 0.5])
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-lp))).astype(int)
    X = (X - X.mean(0)) / X.std(0)
    return X, y


def _cold(solver: str):
    def fit_path(X, y, Cs):
        out = []
        for C in Cs:
            kw = dict(solver="liblinear", max_iter=1000) if solver == "liblinear" else \
                dict(solver="saga", tol=1e-10, max_iter=100_000)
            m = LogisticRegression(C=C, l1_ratio=1.0, random_state=0, **kw).fit(X, y)
            out.append((m.coef_[0].copy(), float(m.intercept_[0])))
        return out
    return fit_path


def _saga_warm(X, y, Cs):
    m = LogisticRegression(C=Cs[0], l1_ratio=1.0, solver="saga", tol=1e-10, max_iter=100_000, random_state=0,
                           warm_start=True)
    out = []
    for C in Cs:
        m.set_params(C=C).fit(X, y)
        out.append((m.coef_[0].copy(), float(m.intercept_[0])))
    return out


def _fit_liblinear_once(X, y, Cs):
    X = np.ascontiguousarray(X, dtype=float)
    out = []
    for C in Cs:
        coef, intercept, _ = _fit_liblinear(X, y, C, True, 1.0, None, "l1", False, 0, 1000, 1e-4, 0)
        out.append((coef[0].copy(), float(intercept[0])))
    return out


def _l1path(penalize_intercept: bool):
    def fit_path(X, y, Cs):
        path = L1LogisticPath(X, y, Cs, penalize_intercept, 0)
        return [path.fit(i) for i in range(len(Cs))]
    return fit_path


def _skglm(X, y, Cs):  # glmnet's objective: mean log-loss + alpha |w|_1, alpha = 1 / (n C), free intercept
    from skglm import SparseLogisticRegression

    m = SparseLogisticRegression(alpha=1.0, fit_intercept=True, tol=1e-10, max_iter=1000, warm_start=True)
    out = []
    for C in Cs:
        m.set_params(alpha=1.0 / (len(y) * C)).fit(X, y)
        out.append((np.asarray(m.coef_).ravel().copy(), float(np.ravel(m.intercept_)[0])))
    return out


def selection(fit_path, X, y, Cs, folds) -> tuple[np.ndarray, np.ndarray]:
    """CV deviance (k x C) and the full-data coefficient path (C x p), as LassoSelector computes them."""
    dev = np.empty((len(folds), len(Cs)))
    for f, (tr, va) in enumerate(folds):
        for c, (w, b) in enumerate(fit_path(X[tr], y[tr], Cs)):
            eta = X[va] @ w + b
            dev[f, c] = 2.0 * np.mean(np.logaddexp(0.0, eta) - y[va] * eta)
    return dev, np.vstack([w for w, _ in fit_path(X, y, Cs)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["150x1000", "60x200", "150x30"])
    ap.add_argument("--folds", type=int, default=10)
    ap.add_argument("--n-cs", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--extra-path", default=None, help="folder with skglm/celer (pip install --target)")
    args = ap.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    if args.extra_path:
        sys.path.append(args.extra_path)  # last: never shadows the project's numpy/scikit-learn
    strategies = [("liblinear cold (today)", "liblinear", _cold("liblinear")),
                  ("liblinear _fit_liblinear", "liblinear", _fit_liblinear_once),
                  ("liblinear train_wrap (new)", "liblinear", _l1path(True)),
                  ("saga cold (today, free b)", "saga", _cold("saga")),
                  ("saga warm_start", "saga", _saga_warm),
                  ("saga warm l1path (new)", "saga", _l1path(False))]
    if importlib.util.find_spec("skglm") is not None:
        strategies.append(("skglm warm (free b)", "saga", _skglm))
    else:
        print("skglm not importable: skipped")
    rows = []
    for size in args.sizes:
        n, p = (int(v) for v in size.split("x"))
        X, y = cohort(n, p, 0)
        Cs = l1_min_c(X, y, loss="log") * np.logspace(0, 3, args.n_cs)
        folds = patient_folds(y, np.arange(n), args.folds, 0)
        ref = {}
        for name, family, fn in strategies:
            if family == "saga" and p >= n:  # today's SAGA reaches max_iter (1e5 epochs, ~40 s a fit) at p >= n
                continue
            if name.startswith("skglm"):
                selection(fn, X[:20], y[:20], Cs[:2], folds[:0])  # numba compiles on the first call: not timed
            times = []
            for _ in range(args.repeats if "cold" not in name or n * p <= 20_000 else 1):
                t0 = time.perf_counter()
                dev, path = selection(fn, X, y, Cs, folds)
                times.append(time.perf_counter() - t0)
            ref.setdefault(family, (dev, path))
            dev0, path0 = ref[family]
            rows.append({"n x p": size, "strategy": name, "s/selection": float(np.median(times)),
                         "max|coef diff|": float(np.abs(path - path0).max()),
                         "max|dev diff|": float(np.abs(dev - dev0).max()),
                         "same set": bool(((path != 0) == (path0 != 0)).all())})
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    for size, part in table.groupby("n x p", sort=False):
        base = part["s/selection"].iloc[0]
        table.loc[part.index, "speed-up vs today liblinear"] = base / part["s/selection"]
    print(f"\n{args.folds} folds x {args.n_cs} C + full-data path per selection")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
