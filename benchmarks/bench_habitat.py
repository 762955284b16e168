"""Benchmark the habitat step (issue 4). Prints a table; not a test.

1. One 9 cm tumour (sphere of radius 45 voxels at 1 mm, ~380k voxels): descriptor maps (AE, VE), voxel
   matrix, habitat assignment (population model predict; individual k-means), MSI matrix and features
   (2-D and 3-D). Target: maps + clustering + MSI < 2 s.
2. Population clustering of a large pooled voxel set (``--pooled-voxels``, issue target 60M in < 2 min and
   < 8 GiB): fit (hash, scaling, subsample, k-means) and assignment of every voxel.

3. Optional (``--habit-python``): the same habitat step run side by side with the HABIT toolkit
   (``pip install habitat-analysis`` in a separate virtual environment, never in hccrad's requirements)
   on the same synthetic cases, given to both as AE/VE maps: wall time and ARI against the planted truth
   for HABIT's one_step / direct_pooling / two_step vs our Individual / Population / TwoStep estimators,
   plus the share of voxels whose label equals the planted label (only if labels are ordered consistently).

Usage: python benchmarks/bench_habitat.py [--pooled-voxels 5000000] [--cases 20] [--radius 45]
                                          [--habit-python /tmp/habit_venv/bin/python --habit-cases 6]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
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
    _, t_m2 = timed(lambda: msi_matrix(vol, 3, "2d"))
    _, t_f2 = timed(lambda: msi_features(vol, 3, (1.0, 1.0, 1.0), "2d"))
    _, t_f3 = timed(lambda: msi_features(vol, 3, (1.0, 1.0, 1.0), "3d"))
    _, t_w = timed(lambda: msi_features(vol, 3, (1.0, 1.0, 1.0), "2d", layout="wu2025"))
    total = t_maps + t_mat + t_pred + t_f2
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
import json, sys, time
from habit.api.estimators import HabitatClusterer

def main():
    data_dir, out_dir, mode = sys.argv[1:4]
    cfg = {
        "data_dir": data_dir, "out_dir": out_dir, "run_mode": "train", "processes": 1,
        "plot_curves": False, "random_state": 0,
        "feature_construction": {"voxel_level": {"method": "concat(raw(AE), raw(VE))", "params": {}}},
        "habitat_segmentation": {
            "clustering_mode": mode,
            "supervoxel": {"algorithm": "kmeans", "n_clusters": 50,
                           "one_step_settings": {"fixed_n_clusters": 3, "plot_validation_curves": False}},
            "habitat": {"algorithm": "kmeans", "fixed_n_clusters": 3, "parallel_cluster_search": False},
        },
    }
    t0 = time.perf_counter()
    HabitatClusterer(cfg).fit()
    print("HABIT_WALL", json.dumps(time.perf_counter() - t0))

if __name__ == "__main__":
    main()
"""


def bench_habit(habit_python: str, n_cases: int, radius: int) -> list[tuple[str, str]]:
    """Run HABIT (in its own venv, via subprocess) and hccrad on the same synthetic AE/VE cases."""
    tmp = Path(tempfile.mkdtemp(prefix="hccrad_habit_bench_"))
    data = tmp / "data"
    cases = []
    for s in range(n_cases):
        imgs, mask, truth = synthetic_tumour(radius, seed=100 + s)
        maps = descriptor_maps(imgs, mask, SEED000_DESCRIPTORS)
        subj = f"case{s:02d}"
        for name in ("AE", "VE"):
            (data / "images" / subj / name).mkdir(parents=True)
            write_image(imgs["pre"].with_array(maps[name].astype(np.float32), name),
                        data / "images" / subj / name / "img.nii.gz")
            (data / "masks" / subj / name).mkdir(parents=True)
            write_image(imgs["pre"].with_array(mask.astype(np.uint8), "mask"),
                        data / "masks" / subj / name / "mask.nii.gz")
        cases.append((subj, imgs, mask, truth))
    runner = tmp / "run_habit.py"
    runner.write_text(HABIT_RUNNER)
    names = ["AE", "VE"]
    ours = {"one_step": IndividualHabitats, "direct_pooling": PopulationHabitats, "two_step": TwoStepHabitats}
    n_vox = int(cases[0][2].sum())
    rows: list[tuple[str, str]] = [("HABIT comparison cases", f"{n_cases} x {n_vox:,} voxels")]
    for mode, cls in ours.items():
        out = tmp / f"out_{mode}"
        t0 = time.perf_counter()
        proc = subprocess.run([habit_python, str(runner), str(data), str(out), mode],
                              capture_output=True, text=True, check=False)
        habit_total = time.perf_counter() - t0
        if proc.returncode != 0:
            rows.append((f"HABIT {mode}", f"failed: {proc.stderr.strip().splitlines()[-1:]}"))
            continue
        habit_fit = json.loads(proc.stdout.split("HABIT_WALL")[-1].strip().splitlines()[0])
        t0 = time.perf_counter()
        Xs = [voxel_matrix(descriptor_maps(imgs, mask, SEED000_DESCRIPTORS), mask, names)
              for _, imgs, mask, _ in cases]
        model = cls(3, order_by="AE", descriptor_names=names).fit(Xs)
        preds = [model.predict(X) for X in Xs]
        our_wall = time.perf_counter() - t0
        truths = [truth[mask] for _, _, mask, truth in cases]
        habit = [read_image(next(out.glob(f"{subj}_habitats.*")), name="habitat").array[mask]
                 for subj, _, mask, _ in cases]
        truth_all, ours_all, habit_all = np.concatenate(truths), np.concatenate(preds), np.concatenate(habit)
        case_ari_h = np.mean([adjusted_rand_score(t, h) for t, h in zip(truths, habit)])
        case_ari_o = np.mean([adjusted_rand_score(t, o) for t, o in zip(truths, preds)])
        rows += [
            (f"{mode}: HABIT fit wall (s) [process incl. imports]", f"{habit_fit:.2f} [{habit_total:.2f}]"),
            (f"{mode}: hccrad {cls.__name__} maps+fit+predict (s)", f"{our_wall:.2f}"),
            (f"{mode}: wall ratio HABIT fit / hccrad", f"{habit_fit / our_wall:.1f}"),
            (f"{mode}: mean per-case ARI vs planted, HABIT / hccrad", f"{case_ari_h:.3f} / {case_ari_o:.3f}"),
            (f"{mode}: pooled ARI (labels comparable across cases)",
             f"{adjusted_rand_score(truth_all, habit_all):.3f} / "
             f"{adjusted_rand_score(truth_all, ours_all):.3f}"),
            (f"{mode}: label == planted label, HABIT / hccrad",
             f"{np.mean(habit_all == truth_all):.3f} / {np.mean(ours_all == truth_all):.3f}"),
        ]
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pooled-voxels", type=int, default=5_000_000)
    ap.add_argument("--cases", type=int, default=20)
    ap.add_argument("--radius", type=int, default=45)
    ap.add_argument("--habit-python", default=None, help="python of a venv with habitat-analysis installed")
    ap.add_argument("--habit-cases", type=int, default=6)
    ap.add_argument("--habit-radius", type=int, default=15)
    ap.add_argument("--skip-case", action="store_true", help="skip parts 1 and 2 (only the HABIT comparison)")
    args = ap.parse_args()
    rows: list[tuple[str, str]] = []
    if not args.skip_case:
        rows += bench_case(args.radius) + [("", "")] + bench_population(args.pooled_voxels, args.cases)
    if args.habit_python:
        rows += [("", "")] + bench_habit(args.habit_python, args.habit_cases, args.habit_radius)
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  value")
    print("-" * (width + 20))
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
