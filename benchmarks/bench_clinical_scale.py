"""Benchmark (issue 21 item 7): a clinical-only study on a large cohort, per-stage wall times.

Generates an n-patient clinical table (default 2,000) in a temporary directory: age, sex, AFP, albumin,
bilirubin, tumour size, Child–Pugh class (text), BCLC stage (text), a 0/1 cirrhosis flag with a few blanks,
a binary response whose log-odds depend on four of them, overall survival (exponential, censored), and what
real tables also hold: a diagnosis date, a free-text note and ten more lab columns. It runs one clinical
logistic model with a seeded 70/30 split and `validation.bootstrap` resamples (default 200) and, unless
--no-survival, the survival analysis of its score (risk groups, Cox, C-index, AUC(t)), then prints the stage
timings of run.json and, with --profile, the report stage's profile (cProfile: hccrad's 30 most expensive
functions by cumulative time, then the 15 functions with the most own time).

Measured (issue 21 item 7; 2 shared cores, load average ~7, so every number is ~2-3x an idle machine's),
2,000 patients, 200 resamples, seconds (models / survival / report / total):
    before (main at ce2e406)   6.1 / 3.3 / 44.7 / 54.6    and  4.6 / 1.8 / 28.8 / 35.4
    after  (branch h-table1)   5.8 / 2.2 / 18.2 / 26.5    and  8.9 / 3.2 / 16.2 / 28.9
Why the report stage was slow (cProfile, --profile): (1) Table 1 tabulated every clinical column, a date and a
free-text column as categories with ~2,000 levels each, counted level by level and group by group (33 of 81 s
profiled); now Table 1 shows the declared variables, a text column with > 20 values is named and left out, and
levels are counted in one pass; (2) the waterfall drew one bar patch per patient (2 x 2.8 s per figure); now one
PolyCollection. What remains is drawing ~22 figures as PNG and SVG (~0.5-1.5 s each under this load).

    python benchmarks/bench_clinical_scale.py                        # 2,000 patients, 200 resamples
    python benchmarks/bench_clinical_scale.py --n 500 --bootstrap 50 --profile
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import logging
import os
import pstats
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd


def clinical_table(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(62, 10, n).round(0)
    afp = np.exp(rng.normal(3.5, 2.0, n)).round(1)
    albumin = rng.normal(38, 5, n).round(1)
    bilirubin = np.exp(rng.normal(0.0, 0.5, n)).round(2)
    size = np.abs(rng.normal(5, 3, n)).round(1) + 0.5
    lp = -0.5 + 0.6 * (np.log(afp) - 3.5) / 2 - 0.08 * (albumin - 38) + 0.15 * (size - 5) + 0.02 * (age - 62)
    y = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    hazard = 0.02 * np.exp(0.5 * (np.log(afp) - 3.5) / 2 + 0.1 * (size - 5))
    death = rng.exponential(1 / hazard)
    censor = rng.uniform(6, 72, n)
    cirrhosis = rng.integers(0, 2, n).astype(float)
    cirrhosis[rng.choice(n, size=n // 50, replace=False)] = np.nan
    return pd.DataFrame({
        "case_id": [f"P{i:05d}" for i in range(n)], "age": age, "sex": rng.choice(["male", "female"], n),
        "afp": afp, "albumin": albumin, "bilirubin": bilirubin, "tumour_size": size,
        "child_pugh": rng.choice(["A", "B", "C"], n, p=[0.6, 0.3, 0.1]),
        "bclc": rng.choice(["0", "A", "B", "C"], n, p=[0.1, 0.4, 0.3, 0.2]),
        "cirrhosis": cirrhosis, "response": y,
        "os_months": np.minimum(death, censor).round(2), "death": (death <= censor).astype(int),
        # what real tables also hold: a date, free text, more labs (not model variables)
        "diagnosis_date": [f"20{rng.integers(10, 24)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
                           for _ in range(n)],
        "referral_note": [f"referred by centre {rng.integers(1, 400)}, visit {i}" for i in range(n)],
        **{f"lab_{k}": rng.normal(10, 2, n).round(2) for k in range(10)}})


def spec_dict(clinical: Path, out: Path, n_boot: int, survival: bool) -> dict:
    surv = {"survival": {"time": "os_months", "event": "death", "model": "clinical", "covariates": ["age", "albumin"],
                         "groups": ["child_pugh"], "horizons": [12, 24, 36]}} if survival else {}
    return {
        "name": "clinical scale benchmark", "seed": 0, "output_dir": str(out),
        "data": {"clinical": str(clinical)},
        "cohorts": {"column": None, "split_test_fraction": 0.3},
        "outcome": {"response": {"column": "response", "label": "response"}, **surv},
        "models": [{"name": "clinical", "features": "none",
                    "clinical": ["age", "afp", "albumin", "bilirubin", "tumour_size"],
                    "clinical_selection": "all"}],
        "validation": {"bootstrap": n_boot},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-survival", action="store_true", help="response outcome only (no survival analysis)")
    ap.add_argument("--profile", action="store_true", help="cProfile the report stage (top 25, cumulative)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.ERROR)
    from hccrad.config.load import parse_spec
    from hccrad.pipeline import reporting
    from hccrad.pipeline.run import run_study

    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        clinical = tmp_path / "clinical.csv"
        clinical_table(args.n, args.seed).to_csv(clinical, index=False)
        spec = parse_spec(spec_dict(clinical, tmp_path / "out", args.bootstrap, not args.no_survival))
        profiler = cProfile.Profile() if args.profile else None
        if profiler is not None:
            original = reporting.build_report

            def profiled(*a, **k):
                profiler.enable()
                try:
                    return original(*a, **k)
                finally:
                    profiler.disable()
            reporting.build_report = profiled
        t0 = time.perf_counter()
        result = run_study(spec)
        wall = time.perf_counter() - t0
        timings = json.loads(result.run_json.read_text())["timings_s"]
    load = os.getloadavg()
    print(f"clinical-only study: {args.n} patients, {args.bootstrap} bootstrap resamples; "
          f"os.cpu_count()={os.cpu_count()}, load average {load[0]:.1f}/{load[1]:.1f}/{load[2]:.1f}")
    for stage, seconds in timings.items():
        print(f"  {stage:<12} {seconds:8.2f} s")
    print(f"  {'wall':<12} {wall:8.2f} s")
    if profiler is not None:
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        stats.sort_stats("cumulative").print_stats("hccrad", 30)   # hccrad's own functions
        stats.sort_stats("tottime").print_stats(15)               # where the time is spent
        print(buf.getvalue())


if __name__ == "__main__":
    main()
