"""Benchmark the habitat step (issue 4). Prints a table; not a test.

1. One 9 cm tumour (sphere of radius 45 voxels at 1 mm, ~380k voxels): descriptor maps (AE, VE), voxel
   matrix, habitat assignment (population model predict; individual k-means), MSI matrix and features
   (2-D and 3-D), the 5 mm liver shell and the MSI with the shell as background. Targets: maps + clustering
   + MSI < 2 s (issue 4); per case maps + matrix + population predict + shell + MSI < 0.25 s (issue 24).
   ``--per-case`` runs this part only.
2. Population clustering of a large pooled voxel set (``--pooled-voxels``, issue target 60M in < 2 min and
   < 8 GiB): fit (hash, scaling, subsample, k-means) and assignment of every voxel.

3. Optional (``--habit-python``): the same habitat step side by side with HABIT 3.0.0 (PyPI
   ``habitat-analysis==3.0.0`` in its own virtual environment, never in hccrad's requirements:
   ``python3.11 -m venv /work/habit-venv && /work/habit-venv/bin/pip install habitat-analysis==3.0.0``).
   Both tools read the same NIfTI files (HABIT's layout: images/<case>/{AE,VE}/, masks/<case>/tumor/; the AE
   and VE maps are hccrad's descriptor maps, so both cluster identical descriptors) and each runs in its own
   process with ``--habit-threads`` BLAS/OpenMP threads (default 1), the same seed and the same k.

   What each side does (read from HABIT 3.0.0's code: ``habit.recipes.study._build_habitat_spec``,
   ``habit.habitat_model.kmeans``, ``habit.supervoxel.feature_clustering``):

   ============== ===================================================== =====================================================
   strategy       HABIT 3.0.0 (public recipes, ``fit_predict``)         hccrad (estimators, ``n_init=10`` as HABIT)
   ============== ===================================================== =====================================================
   direct pooling raw AE/VE values; ``KMeans(k, n_init=10)`` on every     AE/VE z-scored on the training voxels;
                  tumour voxel of every case pooled; each voxel to the    ``KMeans(k, n_init=10)`` on ``kmeans_sample`` (20,000)
                  nearest centroid                                        pooled voxels, proportional per case; nearest centre
   one step       ``KMeans(k, n_init=10)`` per case                       the same per case on ``kmeans_sample`` (2,000) voxels
                                                                          of it (``fit``), nearest centre; ``predict`` on a
                                                                          training case reuses its centres
   two step       per case ``KMeans(50, n_init=10)`` supervoxels          per case ``KMeans(50, n_init=1)`` supervoxels on 2,000
                  (feature space), supervoxel means pooled,               voxels of it (one start: hccrad's design), pooled
                  ``KMeans(k, n_init=10)``; supervoxels to the nearest    supervoxel centres, ``KMeans(k, n_init=10)``;
                  centroid                                                ``predict`` reuses the training supervoxels
   ============== ===================================================== =====================================================

   "hccrad all rows" (``kmeans_sample=None``) fits every k-means on every row, as hccrad did before issue 24 and
   as HABIT does: for direct pooling and one step both tools then run scikit-learn's ``KMeans`` (Lloyd,
   k-means++) with the same seed on the same rows, so the clustering costs the same on both sides.

   Reading: HABIT reads each file's header once and its voxels up to twice (for the clustering units, then
   again for the assignment); hccrad reads each file once through ``read_image`` (its integrity check
   decompresses a ``.nii.gz`` once and SimpleITK reads those bytes), both through SimpleITK.
   Each tool runs ``--habit-repeats`` times, interleaved with the others, and its fastest run is kept (on a
   shared machine load only adds time).
   Printed per strategy and tool: read + fit + predict wall time inside the process, its CPU time (the
   process's user + system time over the same span: less sensitive to other jobs' load), the part of it spent
   reading the NIfTI files, the rest (fit + predict), the whole process's wall time (imports included), its
   peak RSS (VmHWM of that process), mean per-case and pooled ARI against the planted labels, the k found,
   and HABIT's time over hccrad's (wall, CPU, and wall without the reads).

Usage: python benchmarks/bench_habitat.py [--pooled-voxels 5000000] [--cases 20] [--radius 45]
           [--habit-python /work/habit-venv/bin/python --habit-cases 6 --habit-radius 15 --habit-k 3
            --habit-repeats 3]
           [--skip-case | --per-case]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage
from sklearn.metrics import adjusted_rand_score

from hccrad.core.image import Image
from hccrad.features.msi import msi_features, msi_matrix
from hccrad.habitat import (
    SEED000_DESCRIPTORS,
    IndividualHabitats,
    PopulationHabitats,
    TwoStepHabitats,
    descriptor_maps,
    labels_to_volume,
    voxel_matrix,
)
from hccrad.io.volume import read_image, write_image
from hccrad.preprocess.shell import liver_shell

CENTRES = np.array([[15.0, 35.0], [40.0, 55.0], [75.0, 80.0]])


def synthetic_tumour(radius: int, seed: int = 0, noise: float = 5.0):
    rng = np.random.default_rng(seed)
    n = 2 * radius + 10
    shape = (n, n, n)
    z, y, x = np.ogrid[:n, :n, :n]
    c = (n - 1) / 2
    mask = (z - c) ** 2 + (y - c) ** 2 + (x - c) ** 2 <= radius**2
    field = ndimage.gaussian_filter(rng.normal(size=shape).astype(np.float32), 6)
    truth = (np.digitize(field, np.quantile(field[mask], [0.35, 0.8])) + 1).astype(np.int16)
    truth[~mask] = 0
    t = np.maximum(truth, 1) - 1
    pre = 40.0 + rng.normal(0, noise, shape)
    art = pre + CENTRES[t, 0] + rng.normal(0, noise, shape)
    por = pre + CENTRES[t, 1] + rng.normal(0, noise, shape)
    phases = (("pre", pre), ("arterial", art), ("portal", por))
    imgs = {p: Image(a, (1.0, 1.0, 1.0), name=p) for p, a in phases}
    return imgs, mask, truth


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def bench_case(radius: int) -> list[tuple[str, str]]:
    imgs, mask, truth = synthetic_tumour(radius)
    rows = [("tumour voxels", f"{int(mask.sum()):,}")]
    maps, t_maps = timed(lambda: descriptor_maps(imgs, mask, SEED000_DESCRIPTORS))
    X, t_mat = timed(lambda: voxel_matrix(maps, mask, ["AE", "VE"]))
    train = []
    for s in (1, 2, 3):
        t_imgs, t_mask, _ = synthetic_tumour(12, seed=s)
        train.append(voxel_matrix(descriptor_maps(t_imgs, t_mask, SEED000_DESCRIPTORS), t_mask, ["AE", "VE"]))
    pop = PopulationHabitats(3, order_by="AE", descriptor_names=["AE", "VE"]).fit(train)
    lab, t_pred = timed(lambda: pop.predict(X))
    ind = IndividualHabitats(3, order_by="AE", descriptor_names=["AE", "VE"]).fit(train)
    lab_i, t_ind = timed(lambda: ind.predict(X))
    vol = labels_to_volume(lab, mask)
    liver = np.ones(mask.shape, dtype=bool)   # the synthetic volume is all liver around the tumour
    shell, t_shell = timed(lambda: liver_shell(mask, liver, (1.0, 1.0, 1.0), 5.0))
    _, t_msi_shell = timed(lambda: msi_features(vol, 3, (1.0, 1.0, 1.0), "2d", background=shell))
    _, t_m2 = timed(lambda: msi_matrix(vol, 3, "2d"))
    _, t_f2 = timed(lambda: msi_features(vol, 3, (1.0, 1.0, 1.0), "2d"))
    _, t_f3 = timed(lambda: msi_features(vol, 3, (1.0, 1.0, 1.0), "3d"))
    _, t_w = timed(lambda: msi_features(vol, 3, (1.0, 1.0, 1.0), "2d", layout="wu2025"))
    total = t_maps + t_mat + t_pred + t_f2

    def one_case() -> None:
        case_maps = descriptor_maps(imgs, mask, SEED000_DESCRIPTORS)
        labels = pop.predict(voxel_matrix(case_maps, mask, ["AE", "VE"]))
        ring = liver_shell(mask, liver, (1.0, 1.0, 1.0), 5.0)
        msi_features(labels_to_volume(labels, mask), 3, (1.0, 1.0, 1.0), "2d", background=ring)

    runs = sorted(timed(one_case)[1] for _ in range(5))   # a shared machine: the fastest and the median of 5
    rows += [
        ("descriptor maps AE, VE (s)", f"{t_maps:.3f}"),
        ("voxel matrix (s)", f"{t_mat:.3f}"),
        ("population predict (s)", f"{t_pred:.3f}"),
        ("individual k-means predict (s)", f"{t_ind:.3f}"),
        ("MSI matrix 2-D (s)", f"{t_m2:.3f}"),
        ("MSI features 2-D reference (s)", f"{t_f2:.3f}"),
        ("MSI features 3-D reference (s)", f"{t_f3:.3f}"),
        ("MSI features 2-D wu2025 (s)", f"{t_w:.3f}"),
        ("maps + population + MSI total (s), target < 2", f"{total:.3f}"),
        ("maps + individual + MSI total (s)", f"{t_maps + t_mat + t_ind + t_f2:.3f}"),
        ("liver shell 5 mm (s)", f"{t_shell:.3f}"),
        ("MSI features 2-D with the shell as background (s)", f"{t_msi_shell:.3f}"),
        ("per case: maps + matrix + population predict + shell + MSI (s), target < 0.25",
         f"{runs[0]:.3f} (median of 5: {runs[2]:.3f})"),
        ("ARI population vs planted", f"{adjusted_rand_score(truth[mask], lab):.3f}"),
        ("ARI individual vs planted", f"{adjusted_rand_score(truth[mask], lab_i):.3f}"),
    ]
    return rows


def bench_population(n_voxels: int, n_cases: int) -> list[tuple[str, str]]:
    rng = np.random.default_rng(0)
    per = n_voxels // n_cases
    Xs, truths = [], []
    for _ in range(n_cases):
        t = rng.choice(3, size=per, p=[0.35, 0.45, 0.2])
        Xs.append(CENTRES[t] + rng.normal(0, 7.0, size=(per, 2)))
        truths.append(t + 1)
    model = PopulationHabitats(3, order_by=0)
    _, t_fit = timed(lambda: model.fit(Xs))
    labs, t_pred = timed(lambda: [model.predict(X) for X in Xs])
    ari = adjusted_rand_score(np.concatenate(truths[:3]), np.concatenate(labs[:3]))
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    data_gib = sum(X.nbytes for X in Xs) / 2**30
    return [
        ("pooled voxels", f"{per * n_cases:,} in {n_cases} cases"),
        ("input data (GiB)", f"{data_gib:.2f}"),
        ("population fit (s)", f"{t_fit:.2f}"),
        ("assign every voxel (s)", f"{t_pred:.2f}"),
        ("fit + assign (s), target < 120 for 60M", f"{t_fit + t_pred:.2f}"),
        ("peak RSS (GiB), target < 8 for 60M", f"{rss_gib:.2f}"),
        ("ARI vs planted (first 3 cases)", f"{ari:.3f}"),
    ]


HABIT_RUNNER = """
import json, resource, sys, time
from pathlib import Path


def peak_rss_mib():
    # VmHWM: this process's own high-water mark (ru_maxrss would include the parent's RSS at fork on Linux)
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

import numpy as np
from habit.contracts import cohort_from_directory
from habit.recipes.study import direct_pooling_habitat, one_step_habitat, two_step_habitat

RECIPES = {"direct_pooling": direct_pooling_habitat, "one_step": one_step_habitat, "two_step": two_step_habitat}
READ_SECONDS = [0.0]


def _timed_read(fn):
    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            READ_SECONDS[0] += time.perf_counter() - t0
    return wrapper


# HABIT reads every image through FileImageRef (header: geometry; voxels: load / load_volume), all SimpleITK
from habit.adapters.image_refs import FileImageRef
FileImageRef.load = _timed_read(FileImageRef.load)
FileImageRef.load_volume = _timed_read(FileImageRef.load_volume)
FileImageRef.geometry = property(_timed_read(FileImageRef.geometry.fget))


def main():
    data_dir, out_dir, mode, k, seed = sys.argv[1:6]
    t0, c0 = time.perf_counter(), time.process_time()
    cohort = cohort_from_directory(data_dir, modalities=["AE", "VE"], roi="tumor")
    study = RECIPES[mode](modalities=["AE", "VE"], n_habitats=k if k == "auto" else int(k),
                          random_seed=int(seed), roi="tumor")
    result = study.fit_predict(cohort)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for m in result.habitat_maps:
        np.save(out / f"{m.subject_id}.npy", np.asarray(m.label_array, dtype=np.int16))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print("RESULT " + json.dumps({"wall": wall, "cpu": cpu, "read": READ_SECONDS[0], "peak_mib": peak_rss_mib()}))


if __name__ == "__main__":
    main()
"""

# HABIT 3.0.0's design names -> hccrad's estimators; HABIT's recipes fit k-means with n_init=10, so do we here
STRATEGIES = {"direct_pooling": PopulationHabitats, "one_step": IndividualHabitats, "two_step": TwoStepHabitats}
HABIT_N_INIT = 10


def write_cases(data: Path, n_cases: int, radius: int) -> list[str]:
    """Synthetic tumours as HABIT's directory layout: images/<case>/{AE,VE}/img.nii.gz (hccrad's descriptor
    maps, float32), masks/<case>/tumor/mask.nii.gz, and the planted labels as <case>_truth.npy."""
    subjects = []
    for s in range(n_cases):
        imgs, mask, truth = synthetic_tumour(radius, seed=100 + s)
        maps = descriptor_maps(imgs, mask, SEED000_DESCRIPTORS)
        subj = f"case{s:02d}"
        for name in ("AE", "VE"):
            write_image(imgs["pre"].with_array(maps[name].astype(np.float32), name),
                        data / "images" / subj / name / "img.nii.gz")
        write_image(imgs["pre"].with_array(mask.astype(np.uint8), "mask"),
                    data / "masks" / subj / "tumor" / "mask.nii.gz")
        np.save(data / f"{subj}_truth.npy", truth)
        subjects.append(subj)
    return subjects


def peak_rss_mib() -> float:
    """This process's peak RSS in MiB: VmHWM from /proc (Linux keeps the parent's RSS at fork in
    ru_maxrss, which would hide a child's own peak), else ``ru_maxrss``."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def hccrad_worker(data_dir: str, out_dir: str, mode: str, k: str, seed: str, sample: str = "default") -> None:
    """The hccrad side, run in its own process like HABIT: read the NIfTI maps, fit, predict every case.
    ``sample``: "default" (the estimator's ``kmeans_sample``), "all" (``kmeans_sample=None``: every row) or an
    integer ``kmeans_sample``."""
    t0, c0 = time.perf_counter(), time.process_time()
    data, out = Path(data_dir), Path(out_dir)
    subjects = sorted(p.name for p in (data / "images").iterdir())
    masks, Xs, read = [], [], 0.0
    for subj in subjects:
        t_read = time.perf_counter()
        mask = read_image(data / "masks" / subj / "tumor" / "mask.nii.gz", name="mask").array > 0
        maps = {n: read_image(data / "images" / subj / n / "img.nii.gz", name=n).array for n in ("AE", "VE")}
        read += time.perf_counter() - t_read
        masks.append(mask)
        Xs.append(voxel_matrix(maps, mask, ["AE", "VE"]))
    fit_rows = {} if sample == "default" else {"kmeans_sample": None if sample == "all" else int(sample)}
    model = STRATEGIES[mode](k if k == "auto" else int(k), order_by="AE", descriptor_names=["AE", "VE"],
                             random_state=int(seed), n_init=HABIT_N_INIT, **fit_rows).fit(Xs)
    out.mkdir(parents=True, exist_ok=True)
    for subj, mask, X in zip(subjects, masks, Xs):
        np.save(out / f"{subj}.npy", labels_to_volume(model.predict(X), mask))
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print("RESULT " + json.dumps({"wall": wall, "cpu": cpu, "read": read, "peak_mib": peak_rss_mib()}))


def run_child(cmd: list[str], threads: int) -> dict:
    """Run one tool in its own process (BLAS/OpenMP threads pinned); its wall time inside the process (after
    imports), the process's wall time, and its peak RSS (MiB)."""
    env = {**os.environ, **{v: str(threads) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                                      "MKL_NUM_THREADS")}}
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    total = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail)}
    return {**json.loads(lines[-1][len("RESULT "):]), "process": total}


def _agreement(subjects: list[str], data: Path, out: Path) -> dict:
    """Mean per-case ARI and pooled ARI against the planted labels; the k found (distinct labels per case)."""
    truths, labels = [], []
    for subj in subjects:
        truth = np.load(data / f"{subj}_truth.npy", allow_pickle=False)
        lab = np.load(out / f"{subj}.npy", allow_pickle=False)
        if lab.shape != truth.shape:
            raise SystemExit(f"{out}/{subj}.npy has shape {lab.shape}, the planted labels {truth.shape}")
        inside = truth > 0
        truths.append(truth[inside])
        labels.append(lab[inside])
    ks = sorted({int(np.unique(lab).size) for lab in labels})
    return {"case_ari": float(np.mean([adjusted_rand_score(t, lab) for t, lab in zip(truths, labels)])),
            "pooled_ari": adjusted_rand_score(np.concatenate(truths), np.concatenate(labels)),
            "k": "/".join(map(str, ks))}


def _fastest(runs: list[dict]) -> dict:
    """The run with the shortest read + fit + predict time (a shared machine: load only adds time); an error if
    any run failed."""
    failed = [r for r in runs if "error" in r]
    return failed[0] if failed else min(runs, key=lambda r: r["wall"])


def bench_habit(habit_python: str, n_cases: int, radius: int, k: str = "3", seed: int = 0,
                threads: int = 1, repeats: int = 3) -> list[tuple[str, ...]]:
    """HABIT 3.0.0 (its own venv) and hccrad, each in its own process, on the same NIfTI AE/VE maps; the tools
    run in turn ``repeats`` times (interleaved, so load drifts hit all alike) and the fastest run is kept."""
    tmp = Path(tempfile.mkdtemp(prefix="hccrad_habit_bench_"))
    try:
        return _bench_habit_in(tmp, habit_python, n_cases, radius, k, seed, threads, repeats)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _bench_habit_in(tmp: Path, habit_python: str, n_cases: int, radius: int, k: str, seed: int, threads: int,
                    repeats: int) -> list[tuple[str, ...]]:
    data = tmp / "data"
    subjects = write_cases(data, n_cases, radius)
    runner = tmp / "run_habit.py"
    runner.write_text(HABIT_RUNNER)
    n_vox = int(np.count_nonzero(np.load(data / f"{subjects[0]}_truth.npy", allow_pickle=False)))
    header = ("strategy", "tool", "read+fit+predict s", "CPU s", "read s", "fit+predict s", "process s",
              "peak MiB", "case ARI", "pooled ARI", "k", "HABIT/hccrad", "HABIT/hccrad CPU", "HABIT/hccrad w/o read")
    rows: list[tuple[str, ...]] = [header]
    for mode in STRATEGIES:
        result = {}
        worker = [sys.executable, str(Path(__file__).resolve()), "--hccrad-worker"]
        tools = (("HABIT 3.0.0", tmp / f"habit_{mode}", [habit_python, str(runner)], []),
                 ("hccrad all rows", tmp / f"hccrad_all_{mode}", worker, ["all"]),
                 ("hccrad", tmp / f"hccrad_{mode}", worker, ["default"]))
        runs: dict[str, list[dict]] = {tool: [] for tool, *_ in tools}
        for _ in range(max(1, repeats)):
            for tool, out, cmd, extra in tools:
                runs[tool].append(run_child(cmd + [str(data), str(out), mode, k, str(seed)] + extra, threads))
        for tool, out, _, _ in tools:
            r = _fastest(runs[tool])
            if "error" in r:
                rows.append((mode, tool, "failed: " + r["error"][:200]) + ("",) * (len(header) - 3))
                continue
            r.update(_agreement(subjects, data, out))
            r["compute"] = r["wall"] - r["read"]
            result[tool] = r
            ratio = ratio_cpu = ratio_compute = ""
            if tool != "HABIT 3.0.0" and "HABIT 3.0.0" in result:
                ratio = f"{result['HABIT 3.0.0']['wall'] / r['wall']:.2f}x"
                ratio_cpu = f"{result['HABIT 3.0.0']['cpu'] / r['cpu']:.2f}x"
                ratio_compute = f"{result['HABIT 3.0.0']['compute'] / r['compute']:.2f}x"
            rows.append((mode, tool, f"{r['wall']:.2f}", f"{r['cpu']:.2f}", f"{r['read']:.2f}", f"{r['compute']:.2f}",
                         f"{r['process']:.2f}", f"{r['peak_mib']:.0f}", f"{r['case_ari']:.3f}",
                         f"{r['pooled_ari']:.3f}", r["k"], ratio, ratio_cpu, ratio_compute))
    rows.append((f"{n_cases} cases x {n_vox:,} tumour voxels, k = {k}, seed {seed}, {threads} thread(s), fastest "
                 f"of {max(1, repeats)} interleaved runs per tool, load (1-min average) {os.getloadavg()[0]:.1f}; "
                 "hccrad: k-means on kmeans_sample rows (default: 20,000 pooled for direct pooling, 2,000 per "
                 "case for one step and the two-step supervoxels), every voxel to its nearest centre; 'hccrad all "
                 "rows': kmeans_sample=None (every row, as HABIT); "
                 "read s: SimpleITK reads of the NIfTI files (hccrad: read_image with its integrity check; "
                 "HABIT: FileImageRef header + voxel reads); ARI vs planted labels; pooled ARI is meaningful only "
                 "where labels are comparable "
                 "across cases (not one_step: HABIT's one-step ids are per case); at small sizes the peak RSS is "
                 "mostly the libraries (numpy/scipy/scikit-learn/SimpleITK import ~260-290 MiB)",))
    return rows


def print_columns(rows: list[tuple[str, ...]]) -> None:
    """A plain fixed-width table (rows with one cell are notes)."""
    table = [r for r in rows if len(r) > 1]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    for r in rows:
        if len(r) == 1:
            print(r[0])
            continue
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pooled-voxels", type=int, default=5_000_000)
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--radius", type=int, default=45)
    ap.add_argument("--habit-python", default=None, help="python of a venv with habitat-analysis installed")
    ap.add_argument("--habit-cases", type=int, default=6)
    ap.add_argument("--habit-radius", type=int, default=15)
    ap.add_argument("--habit-k", default="3", help="habitats for both tools: an integer or 'auto'")
    ap.add_argument("--habit-threads", type=int, default=1, help="BLAS/OpenMP threads of each tool's process")
    ap.add_argument("--habit-repeats", type=int, default=3, help="runs of each tool (interleaved; fastest kept)")
    ap.add_argument("--skip-case", action="store_true", help="skip parts 1 and 2 (only the HABIT comparison)")
    ap.add_argument("--per-case", action="store_true", help="part 1 only (the 9 cm tumour), not part 2")
    ap.add_argument("--hccrad-worker", nargs=6, metavar=("DATA", "OUT", "MODE", "K", "SEED", "SAMPLE"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.hccrad_worker:
        hccrad_worker(*args.hccrad_worker)
        return
    if not args.skip_case:
        rows = bench_case(args.radius)
        if not args.per_case:
            rows += [("", "")] + bench_population(args.pooled_voxels, args.cases)
        width = max(len(r[0]) for r in rows)
        print(f"{'measure':<{width}}  value")
        print("-" * (width + 20))
        for name, value in rows:
            print(f"{name:<{width}}  {value}")
    if args.habit_python:
        print()
        print_columns(bench_habit(args.habit_python, args.habit_cases, args.habit_radius, args.habit_k,
                                  threads=args.habit_threads, repeats=args.habit_repeats))


if __name__ == "__main__":
    main()
