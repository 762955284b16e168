"""Benchmark a whole synthetic study per stage at growing cohort sizes (issue 24). Prints a table; not a test.

For each n in ``--sizes`` (default 50, 150, 500) a synthetic cohort is generated (`hccrad.synth`, the
default phantom: 32 × 96 × 96 voxels) and the demo study (`hccrad demo`'s seed-000 protocol: population
habitats with automatic k, MSI features, habitat / clinical / combined logistic models, survival, report)
is run on it with ``--resamples`` bootstrap resamples and ``--jobs`` workers, each size in its own process
and its own empty output folder (no cache from another size). The stage times are the ones the run itself
records in run.json (``timings_s``: preflight, load, imaging and its parts, radiomics, models, evaluation,
survival, report, total); the cohort generation is timed separately and is not part of the study.

Printed per stage: the seconds at each n, the growth ratio between consecutive sizes and the growth
exponent b = log(t2 / t1) / log(n2 / n1) (b = 1: linear in n; the issue's target is b <= 1 for the whole
study), plus each run's peak RSS. ``--rerun`` also times a second run on the same output (per-case caches
warm: descriptors, registration, MSI features, habitat model).

Usage: python benchmarks/bench_study.py [--sizes 50,150,500] [--resamples 200] [--jobs 2] [--seed 0]
                                        [--rerun] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

STAGE_ORDER = ("preflight", "load", "imaging_descriptors", "imaging_habitat_fit", "imaging_habitat_features",
               "imaging", "radiomics", "deep", "models", "evaluation", "survival", "radiogenomics", "report",
               "total")


def peak_rss_mib() -> float:
    """This process's peak RSS in MiB (VmHWM; Linux keeps the parent's RSS at fork in ru_maxrss)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def study_worker(root: str, n: int, resamples: int, jobs: int, seed: int, rerun: bool) -> None:
    """Generate the cohort and run the demo study in ``root`` (run in a child process); print a JSON line."""
    from hccrad.config import load_spec
    from hccrad.pipeline.cache import atomic_write_text
    from hccrad.pipeline.run import demo_spec_text, run_study
    from hccrad.synth import generate_cohort

    root_path = Path(root)
    t0 = time.perf_counter()
    generate_cohort(root_path / "cohort", n=n, seed=seed)
    synth_s = time.perf_counter() - t0
    raw = yaml.safe_load(demo_spec_text())
    raw["seed"] = seed
    raw["validation"]["bootstrap"] = resamples
    raw["validation"]["n_jobs"] = jobs
    study = root_path / "study.yaml"
    atomic_write_text(study, yaml.safe_dump(raw, sort_keys=False))
    result = run_study(load_spec(study))
    record = {"synth_s": synth_s, "timings": json.loads(result.run_json.read_text())["timings_s"]}
    if rerun:
        again = run_study(load_spec(study))
        record["rerun"] = json.loads(again.run_json.read_text())["timings_s"]
    record["peak_mib"] = peak_rss_mib()
    print("RESULT " + json.dumps(record))


def run_size(root: Path, n: int, args: argparse.Namespace) -> dict:
    """One size in its own process (BLAS threads left to the run's own settings)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", str(root), str(n), str(args.resamples),
           str(args.jobs), str(args.seed), "1" if args.rerun else "0"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=dict(os.environ))
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"n = {n} failed:\n" + "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:]))
    return {**json.loads(lines[-1][len("RESULT "):]), "process_s": time.perf_counter() - t0}


def growth_table(sizes: list[int], results: list[dict]) -> list[list[str]]:
    """Rows: stage, seconds per size, then ratio and exponent b for each pair of consecutive sizes."""
    pairs = list(zip(range(len(sizes) - 1), range(1, len(sizes))))
    header = ["stage"] + [f"n={n} s" for n in sizes]
    for i, j in pairs:
        header += [f"x {sizes[j]}/{sizes[i]}", f"b {sizes[i]}->{sizes[j]}"]
    rows = [header]
    stages = [s for s in STAGE_ORDER if any(s in r["timings"] for r in results)]
    stages += sorted({k for r in results for k in r["timings"]} - set(stages))
    series = [(s, [r["timings"].get(s) for r in results]) for s in stages]
    series.append(("synthetic cohort (not the study)", [r["synth_s"] for r in results]))
    if all("rerun" in r for r in results):
        series += [(f"rerun, caches warm: {s}", [r["rerun"].get(s) for r in results]) for s in stages]
    for name, times in series:
        row = [name] + ["-" if t is None else f"{t:.2f}" for t in times]
        for i, j in pairs:
            a, b = times[i], times[j]
            if a is None or b is None or a <= 0.005 or b <= 0:
                row += ["-", "-"]
            else:
                row += [f"{b / a:.2f}", f"{math.log(b / a) / math.log(sizes[j] / sizes[i]):.2f}"]
        rows.append(row)
    rows.append(["peak RSS (MiB)"] + [f"{r['peak_mib']:.0f}" for r in results] + [""] * (2 * len(pairs)))
    return rows


def print_rows(rows: list[list[str]]) -> None:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) if k == 0 else c.rjust(w) for k, (c, w) in enumerate(zip(r, widths))))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="50,150,500",
                    help="comma-separated cohort sizes (each >= 50: the demo's 10-fold LASSO needs 10 per class)")
    ap.add_argument("--resamples", type=int, default=200, help="validation.bootstrap of the demo study")
    ap.add_argument("--jobs", type=int, default=2, help="validation.n_jobs")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rerun", action="store_true", help="also time a second run with warm per-case caches")
    ap.add_argument("--keep", default=None, help="keep the cohorts and outputs in this folder")
    ap.add_argument("--worker", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        root, n, resamples, jobs, seed, rerun = args.worker
        study_worker(root, int(n), int(resamples), int(jobs), int(seed), rerun == "1")
        return
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
    if not sizes or sizes[0] < 50:
        raise SystemExit(f"--sizes needs cohort sizes >= 50, got {args.sizes!r}")
    base = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="hccrad_bench_study_"))
    results = []
    try:
        for n in sizes:
            root = base / f"n{n}"
            if root.exists():
                shutil.rmtree(root)
            root.mkdir(parents=True)
            results.append(run_size(root, n, args))
            print(f"n = {n}: study {results[-1]['timings']['total']:.1f} s, "
                  f"process {results[-1]['process_s']:.1f} s", file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(f"demo study (seed-000 protocol), {args.resamples} resamples, {args.jobs} job(s), seed {args.seed}; "
          f"load average {os.getloadavg()[0]:.1f}; x = time ratio, b = growth exponent (1 = linear)")
    print_rows(growth_table(sizes, results))


if __name__ == "__main__":
    main()
