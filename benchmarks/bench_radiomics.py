"""Benchmark: PyRadiomics features per case and cohort throughput (hccrad.features).

A synthetic ~9 cm spherical tumour with 3 habitats (smooth blobs) in 3 phases (pre, arterial, portal),
regions = tumour + habitat1..3, so one case is 3 phases x 4 regions = 12 PyRadiomics extractions.

1. features per case and seconds per case: original image only; and Original + LoG (sigma 1..5 mm) +
   wavelet (8 sub-bands), i.e. the seed-004 image types.
2. cohort throughput (original only): `extract_cohort` on N processes vs. a plain sequential PyRadiomics
   loop over the same files, in the same run, in cases/hour, with the ratio.

    python benchmarks/bench_radiomics.py                  # defaults: 1.5 x 1.5 x 3 mm grid, 6 cases, 2 jobs
    python benchmarks/bench_radiomics.py --no-filters --cases 4
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from hccrad.core.image import Image
from hccrad.features.extract import extract_cohort
from hccrad.features.radiomics import (
    RadiomicsTask,
    default_params,
    params_hash,
    radiomics_features,
    run_radiomics_task,
)
from hccrad.io.volume import write_image

PHASES = ("pre", "arterial", "portal")
# mean HU per habitat (low, moderate, high enhancement) per phase
HU = {"pre": (40, 42, 45), "arterial": (60, 75, 110), "portal": (80, 95, 115)}


def synthetic_case(seed: int, spacing: tuple[float, float, float], diameter_mm: float = 90.0):
    """Images {phase: Image}, tumour mask, habitat label map (0 outside, 1..3)."""
    rng = np.random.default_rng(seed)
    extent = diameter_mm + 20.0
    shape = tuple(int(round(extent / s)) for s in spacing)
    zz, yy, xx = np.meshgrid(*[(np.arange(n) - (n - 1) / 2) * s for n, s in zip(shape, spacing)], indexing="ij")
    tumor = (zz**2 + yy**2 + xx**2) <= (diameter_mm / 2) ** 2
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma=[8.0 / s for s in spacing])
    cuts = np.quantile(field[tumor], [0.35, 0.82])
    habitat = np.where(tumor, 1 + (field > cuts[0]) + (field > cuts[1]), 0).astype(np.int16)
    images = {}
    for phase in PHASES:
        arr = np.full(shape, 55.0 if phase == "pre" else 100.0)  # liver background
        for h in (1, 2, 3):
            arr[habitat == h] = HU[phase][h - 1]
        arr = ndimage.gaussian_filter(arr, 0.7) + rng.normal(0, 12.0, shape)
        images[phase] = Image(np.rint(arr).astype(np.int16), spacing, name=phase)
    return images, tumor, habitat


def write_cohort(folder: Path, n: int, spacing) -> list[RadiomicsTask]:
    tasks = []
    for i in range(n):
        images, tumor, habitat = synthetic_case(i, spacing)
        case = folder / f"case{i:03d}"
        paths = {ph: str(write_image(im, case / f"{ph}.nii.gz")) for ph, im in images.items()}
        ref = images["portal"]
        tumor_p = str(write_image(ref.with_array(tumor.astype(np.uint8)), case / "tumor.nii.gz"))
        hab_p = str(write_image(ref.with_array(habitat), case / "habitat.nii.gz"))
        tasks.append(RadiomicsTask(f"case{i:03d}", paths, {"tumor": tumor_p}, hab_p, 3, None))
    return tasks


def plain_pyradiomics_loop(tasks: list[RadiomicsTask]) -> int:
    """The baseline: what a user writes by hand, PyRadiomics on files, one case after another."""
    import SimpleITK as sitk
    from radiomics import featureextractor

    extractor = featureextractor.RadiomicsFeatureExtractor(default_params())
    n = 0
    for task in tasks:
        hab = sitk.ReadImage(str(task.habitat_map))
        tumor = sitk.ReadImage(str(task.masks["tumor"]))
        for path in task.images.values():
            image = sitk.ReadImage(str(path))
            n += len(extractor.execute(image, tumor, label=1))
            for h in (1, 2, 3):
                n += len(extractor.execute(image, hab, label=h))
    return n


def _task_key(task: RadiomicsTask) -> str:
    return task.case_id


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spacing", type=float, nargs=3, default=(3.0, 1.5, 1.5), metavar=("Z", "Y", "X"))
    ap.add_argument("--cases", type=int, default=6)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-filters", action="store_true", help="skip the LoG + wavelet timing")
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)
    spacing = tuple(args.spacing)
    rows = []

    images, tumor, habitat = synthetic_case(0, spacing)
    regions = {"tumor": tumor, **{f"habitat{h}": habitat == h for h in (1, 2, 3)}}
    configs = [("original only", default_params())]
    if not args.no_filters:
        configs.append(("original + LoG(1-5 mm) + wavelet",
                        default_params(log_sigma=(1.0, 2.0, 3.0, 4.0, 5.0), wavelet=True)))
    for label, params in configs:
        t0 = time.perf_counter()
        feats = radiomics_features(images, regions, params, case_id="bench")
        dt = time.perf_counter() - t0
        per_phase_region = len(feats) // (len(images) * len(regions))
        rows.append({"measure": f"features per case: {label}", "value": len(feats),
                     "detail": f"{per_phase_region} per phase x region; {dt:.1f} s per case"})

    with tempfile.TemporaryDirectory(prefix="hccrad-bench-") as tmp:
        tmp = Path(tmp)
        tasks = write_cohort(tmp / "cohort", args.cases, spacing)
        t0 = time.perf_counter()
        plain_pyradiomics_loop(tasks)
        t_plain = time.perf_counter() - t0
        t0 = time.perf_counter()
        res = extract_cohort(tasks, run_radiomics_task, tmp / "cache", key=_task_key,
                             config_hash=params_hash(None), n_jobs=args.jobs)
        t_par = time.perf_counter() - t0
        assert res.errors.empty, res.errors
        t0 = time.perf_counter()
        extract_cohort(tasks, run_radiomics_task, tmp / "cache", key=_task_key, config_hash=params_hash(None),
                       n_jobs=args.jobs)
        t_cached = time.perf_counter() - t0
    n = args.cases
    rows += [
        {"measure": "plain sequential PyRadiomics loop", "value": round(3600 * n / t_plain, 1),
         "detail": f"cases/hour ({n} cases in {t_plain:.1f} s)"},
        {"measure": f"extract_cohort, {args.jobs} processes", "value": round(3600 * n / t_par, 1),
         "detail": f"cases/hour ({n} cases in {t_par:.1f} s)"},
        {"measure": "speed-up (extract_cohort / plain loop)", "value": round(t_plain / t_par, 2), "detail": ""},
        {"measure": "rerun, all cases cached", "value": round(t_cached, 2), "detail": "seconds"},
    ]
    shape = images["portal"].shape
    print(f"synthetic 9 cm tumour, grid {shape} (z, y, x) at {spacing} mm, tumour {int(tumor.sum())} voxels, "
          f"3 habitats x {len(PHASES)} phases; {n} cases for throughput")
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())
