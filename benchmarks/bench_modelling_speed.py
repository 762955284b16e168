"""Benchmark (issue 24): the modelling stage's per-resample costs, the former way against the present one, in
one process with the runs interleaved (load changes hit both). Not a test.

On a synthetic seed-000-like training table (``--n`` patients, ``--p`` habitat features, 8 clinical variables):

* logistic fits: statsmodels ``Logit(...).fit(method="newton")`` (the former fit of the stepwise selection and
  ``LogisticModel``) against ``hccrad.models.logistic._newton_logit`` (the same arithmetic), per fit;
* scoring a fitted fused model on a resample's three evaluation sets (resample, every row, out of bag): one
  call per set (former) against the union once (``_eval_scores``), per resample;
* the LASSO of a resample (the habitat pipeline's steps before it fitted on the resample): the whole C grid
  (``cv_stop=None``, the former resample fit) against the grid ended at ``cv_stop`` (default 4) C past the CV
  curve's 1-SE bound (what resampling fits now), per selection; the chosen C and coefficients must be equal
  (counted);
* the fused model's validation: its own bootstrap after the score model's, the score pipeline refitted in every
  resample (what a worker that did not fit the score model's resample did) against ``optimism_bootstraps``
  (both in the same tasks), per resample of the pair; the numbers must be identical (checked).

    python benchmarks/bench_modelling_speed.py              # n = 105, p = 62, 20 resamples
    python benchmarks/bench_modelling_speed.py --n-boot 10  # quicker
"""

from __future__ import annotations

import argparse
import logging
import os
import time
import warnings

import numpy as np
import pandas as pd
import statsmodels.api as sm
from sklearn.base import clone

from hccrad.models import ScoreFusion, build_model_pipeline, fitmemo, optimism_bootstrap, optimism_bootstraps
from hccrad.models.factory import scores_of
from hccrad.models.logistic import _newton_logit
from hccrad.models.validation import _eval_scores, _rows, bootstrap_indices
from hccrad.selection import LassoSelector

CV_STOP = 4  # LassoSelector's default


def cohort(n: int, p: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, list[str], list[str]]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    clinical = rng.normal(size=(n, 8))
    lp = X[:, :3] @ np.array([1.0, -0.8, 0.6]) + 0.4 * clinical[:, 0]
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-lp))).astype(int)
    feats, clin = [f"h{i:03d}" for i in range(p)], [f"c{i}" for i in range(8)]
    return pd.DataFrame(np.column_stack([X, clinical]), columns=feats + clin), y, feats, clin


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def logit_fits(X: pd.DataFrame, y: np.ndarray, clin: list[str], repeats: int) -> tuple[float, float]:
    designs = [np.column_stack([np.ones(len(y)), X[clin[:k]].to_numpy()]) for k in range(1, 6)]

    def old():
        with warnings.catch_warnings(record=True):
            warnings.simplefilter("always")
            for exog in designs:
                sm.Logit(y.astype(float), exog).fit(disp=0, method="newton", maxiter=100)

    def new():
        for exog in designs:
            _newton_logit(exog, y.astype(float), 100)

    o = sum(_timed(old) for _ in range(repeats))
    n = sum(_timed(new) for _ in range(repeats))
    return o / (repeats * len(designs)), n / (repeats * len(designs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=105)
    ap.add_argument("--p", type=int, default=62)
    ap.add_argument("--n-boot", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    X, y, feats, clin = cohort(args.n, args.p, args.seed)
    habitat = build_model_pipeline(feats, steps=["scale", "univariate", "correlation", "lasso", "logistic"],
                                   params={"correlation": {"threshold": 0.95}}, random_state=0)
    fused = ScoreFusion(habitat, feats, clin[:4], score_name="habitat_score")
    print(f"n = {args.n}, p = {args.p}, {args.n_boot} resamples; load {os.getloadavg()[0]:.1f} "
          f"on {len(os.sched_getaffinity(0))} cores")
    rows = []
    old, new = logit_fits(X, y, clin, 40)
    rows.append(("logistic fit (per fit)", old, new))

    model = clone(fused).fit(X, y)
    everyone = np.arange(len(y))
    sets = [[b, everyone, np.setdiff1d(everyone, b)] for b in bootstrap_indices(y, args.n_boot, args.seed)]
    old = sum(_timed(lambda s=s: [scores_of(model, _rows(X, i)) for i in s]) for s in sets) / len(sets)
    new = sum(_timed(lambda s=s: _eval_scores(model, X, s)) for s in sets) / len(sets)
    rows.append(("scoring a fused model (per resample)", old, new))

    whole_t = early_t = 0.0
    same = 0
    for b in bootstrap_indices(y, args.n_boot, args.seed):
        Xb, yb = X[feats].iloc[b], y[b]
        before = [name for name, _ in habitat.steps].index("lasso")
        Z = clone(habitat[:before]).fit_transform(Xb, yb)  # the steps before the LASSO: its input
        t0 = time.perf_counter()
        whole = LassoSelector(keep_path=False, random_state=0, cv_stop=None).fit(Z, yb)
        t1 = time.perf_counter()
        early = LassoSelector(keep_path=False, random_state=0, cv_stop=CV_STOP).fit(Z, yb)
        t2 = time.perf_counter()
        whole_t, early_t = whole_t + (t1 - t0), early_t + (t2 - t1)
        same += whole.C_ == early.C_ and np.array_equal(whole.coef_, early.coef_)
    rows.append((f"LASSO selection, whole C grid vs cv_stop={CV_STOP} (per resample)",
                 whole_t / args.n_boot, early_t / args.n_boot))

    def separate():
        fitmemo.clear()
        optimism_bootstrap(habitat, X[feats], y, n_boot=args.n_boot, seed=args.seed)
        fitmemo.clear()  # the worker that fits the fused resample did not fit the score model's
        return optimism_bootstrap(fused, X, y, n_boot=args.n_boot, seed=args.seed)

    def joint():
        fitmemo.clear()
        return optimism_bootstraps([(habitat, X[feats]), (fused, X)], y, n_boot=args.n_boot, seed=args.seed)[1]

    t0 = time.perf_counter()
    a = separate()
    t1 = time.perf_counter()
    b = joint()
    t2 = time.perf_counter()
    same_joint = all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("optimism", "boot_calibration"))
    rows.append(("score + fused validation, score refits vs joint (per resample)",
                 (t1 - t0) / args.n_boot, (t2 - t1) / args.n_boot))
    print(f"{'what':<66}{'former ms':>11}{'now ms':>9}{'ratio':>8}")
    for what, o, n in rows:
        print(f"{what:<66}{1000 * o:>11.2f}{1000 * n:>9.2f}{o / n:>8.2f}")
    print(f"joint bootstrap numbers identical to the separate ones: {same_joint}")
    print(f"LASSO resamples choosing the same C and coefficients with cv_stop: {same} of {args.n_boot}")


if __name__ == "__main__":
    main()
