"""Benchmark: ingest + register + resample of one synthetic three-phase CT case (not a test).

    python benchmarks/bench_ingest.py                      # 512 x 512 x 120, NIfTI input
    python benchmarks/bench_ingest.py --scale 0.25         # 128 x 128 x 30 quick run
    python benchmarks/bench_ingest.py --format dicom       # DICOM series input (one file per slice)

Prints seconds per step and the process's peak resident memory after each step
(resource.getrusage(RUSAGE_SELF).ru_maxrss, a high-water mark: it never goes down).
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import ndimage

from hccrad.core.image import Image
from hccrad.io import ingest_folder, read_image, write_image
from hccrad.io.dicom_write import write_dicom_series
from hccrad.preprocess import register_to_reference, resample_isotropic


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def synthetic_case(folder: Path, nx: int, ny: int, nz: int, fmt: str, seed: int = 0) -> None:
    """Three CT phases (pre, arterial, portal) of an abdomen-like phantom with a liver and a tumour."""
    rng = np.random.default_rng(seed)
    spacing = (2.5, 0.75, 0.75)
    z, y, x = np.ogrid[0:nz, 0:ny, 0:nx]
    body = (((y - ny / 2) / (0.42 * ny)) ** 2 + ((x - nx / 2) / (0.46 * nx)) ** 2) < 1
    liver = (((z - nz / 2) / (0.35 * nz)) ** 2 + ((y - 0.45 * ny) / (0.2 * ny)) ** 2
             + ((x - 0.38 * nx) / (0.2 * nx)) ** 2) < 1
    tumour = (((z - nz / 2) / (0.1 * nz)) ** 2 + ((y - 0.45 * ny) / (0.06 * ny)) ** 2
              + ((x - 0.36 * nx) / (0.06 * nx)) ** 2) < 1
    enh = {"pre": (40, 45), "arterial": (70, 120), "portal": (110, 95)}  # (liver HU, tumour HU)
    shift = {"pre": (0.0, 2.0, -1.5), "arterial": (0.5, -1.0, 2.0), "portal": (0.0, 0.0, 0.0)}
    folder.mkdir(parents=True, exist_ok=True)
    for phase, (hl, ht) in enh.items():
        vol = np.broadcast_to(np.where(body, 30.0, -1000.0), (nz, ny, nx)).astype(np.float32)
        vol[np.broadcast_to(liver, vol.shape)] = hl
        vol[np.broadcast_to(tumour, vol.shape)] = ht
        if any(shift[phase]):
            vol = ndimage.shift(vol, shift[phase], order=1, mode="nearest")
        vol += rng.normal(0, 10, vol.shape).astype(np.float32)
        img = Image(np.round(vol).astype(np.int16), spacing, name=phase)
        if fmt == "dicom":
            write_dicom_series(img, folder / phase, series_description=f"{phase} 2.5 B30f",
                               patient_name="Bench^Patient", patient_id="BENCH01")
        else:
            write_image(img, folder / f"{phase}.nii.gz")
    ref = Image(np.zeros((nz, ny, nx), np.uint8), spacing)
    write_image(ref.with_array(np.broadcast_to(tumour, (nz, ny, nx)).astype(np.uint8)), folder / "tumor.nii.gz")
    write_image(ref.with_array(np.broadcast_to(liver, (nz, ny, nx)).astype(np.uint8)), folder / "liver.nii.gz")


def main(argv: list[str] | None = None) -> pd.DataFrame:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, nargs=3, default=(512, 512, 120), metavar=("NX", "NY", "NZ"))
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every dimension by this factor")
    ap.add_argument("--format", choices=("nifti", "dicom"), default="nifti")
    ap.add_argument("--spacing", type=float, default=1.0, help="isotropic spacing in mm")
    ap.add_argument("--transform", choices=("rigid", "affine"), default="rigid")
    args = ap.parse_args(argv)
    nx, ny, nz = (max(8, int(round(s * args.scale))) for s in args.size)
    rows = []

    def step(name, fn):
        t = time.perf_counter()
        out = fn()
        rows.append({"step": name, "seconds": time.perf_counter() - t, "peak_rss_MiB": peak_mib()})
        return out

    with tempfile.TemporaryDirectory(prefix="hccrad-bench-") as tmp:
        tmp = Path(tmp)
        step("generate (not part of the case time)", lambda: synthetic_case(tmp / "src" / "case01", nx, ny, nz,
                                                                           args.format))
        res = step("ingest_folder", lambda: ingest_folder(tmp / "src", tmp / "out"))
        if res.n_rejected:
            raise SystemExit(res.table.to_string())
        row = res.manifest.iloc[0]
        imgs = step("read NIfTI (3 phases)", lambda: {ph: read_image(tmp / "out" / row[f"image_{ph}"], name=ph)
                                                      for ph in ("pre", "arterial", "portal")})
        regs = {}
        for ph in ("pre", "arterial"):
            regs[ph] = step(f"register {ph} -> portal ({args.transform})",
                            lambda ph=ph: register_to_reference(imgs[ph], imgs["portal"], args.transform))
        for ph in ("pre", "arterial", "portal"):
            src = regs[ph][0] if ph in regs else imgs[ph]
            step(f"resample {ph} to {args.spacing} mm (bspline)",
                 lambda src=src: resample_isotropic(src, args.spacing, interpolator="bspline"))
    table = pd.DataFrame(rows)
    case_s = table.loc[~table.step.str.startswith("generate"), "seconds"].sum()
    print(f"hccrad ingest benchmark: {nx} x {ny} x {nz} voxels per phase, 3 phases, {args.format} input")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    print(f"total per case (ingest + register + resample): {case_s:.1f} s; peak RSS {peak_mib():.0f} MiB")
    for ph, (_, rec) in regs.items():
        print(f"  {ph}: NCC {rec.ncc_before:.3f} -> {rec.ncc_after:.3f}, translation (x,y,z) mm "
              f"{tuple(round(p, 2) for p in rec.parameters[3:6])}")
    return table


if __name__ == "__main__":
    main(sys.argv[1:])
