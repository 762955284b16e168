"""Benchmark phase registration (issue 23, item 1). Prints a table; not a test.

On a synthetic cohort (`hccrad.synth.generate_cohort`, anisotropic 3 × 1.5 × 1.5 mm voxels) whose pre and
arterial phases are translated by a random rigid shift (`--misregistration-mm`, RMS 3-D norm) relative to the
portal phase, with which the masks and planted habitat labels align:

1. the preflight's misalignment check (`hccrad.preprocess.alignment.misalignment`): phases flagged vs
   planted shift ≥ 2 mm (sensitivity, false alarms) and its time per case;
2. rigid registration around the tumour (`fit_phase_registrations`, what `preprocess.registration: rigid`
   runs): error of the recovered translation against the planted one (mm) and time per case; the QC's NCC
   before/after (`alignment_qc`);
3. habitats (AE = arterial − pre, VE = portal − pre; the three planted habitats), unregistered vs registered:
   each strategy (population, individual, two_step) with k = 3 and with automatic k (`n_habitats="auto"`,
   k in 2..6), fitted on the first 70 % of the cases; mean adjusted Rand index (ARI) of the maps of the
   other 30 % against the planted labels, and the k chosen.

Usage: python benchmarks/bench_registration.py [--cases 30] [--misregistration-mm 4] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from hccrad.habitat import (SEED000_DESCRIPTORS, IndividualHabitats, PopulationHabitats, TwoStepHabitats,
                            descriptor_maps, voxel_matrix)
from hccrad.io.volume import read_image
from hccrad.preprocess.alignment import (MISALIGNED_MM, alignment_qc, apply_phase_registrations,
                                         fit_phase_registrations, misalignment, rigid_motion)
from hccrad.synth import generate_cohort

PHASES = ("pre", "arterial", "portal")
NAMES = ["AE", "VE"]


def _case(root: Path, row: pd.Series) -> tuple[dict, np.ndarray, np.ndarray]:
    images = {p: read_image(root / row[f"image_{p}"], name=p) for p in PHASES}
    tumour = read_image(root / row["mask_tumor"]).array > 0
    truth = read_image(root / "truth" / f"{row['case_id']}_habitats.nii.gz").array
    return images, tumour, truth


def _one_case(root: Path, row: pd.Series, planted: dict) -> dict:
    images, tumour, truth = _case(root, row)
    ref = images["portal"]
    t0 = time.perf_counter()
    flags = {p: misalignment(ref.array, images[p].array, tumour, ref.spacing).looks_misaligned
             for p in ("pre", "arterial")}
    t_check = time.perf_counter() - t0
    t0 = time.perf_counter()
    fitted = fit_phase_registrations(images, "portal", tumour, transform="rigid", seed=0, case_id=row["case_id"])
    registered = apply_phase_registrations(images, "portal", fitted)
    t_reg = time.perf_counter() - t0
    qc = alignment_qc(row["case_id"], images, registered, "portal", tumour, fitted)
    errors, shifts = [], []
    for p, reg in fitted.items():
        z, y, x = planted[p]
        t, _ = rigid_motion("rigid", reg.parameters)
        errors.append(float(np.linalg.norm(t - np.array([x, y, z]))))
        shifts.append(float(np.linalg.norm([x, y, z])))
    X = {name: voxel_matrix(descriptor_maps(imgs, tumour, SEED000_DESCRIPTORS), tumour, NAMES)
         for name, imgs in (("unregistered", images), ("registered", registered))}
    return {"case_id": row["case_id"], "cohort": row["cohort"], "t_check": t_check, "t_reg": t_reg,
            "errors": errors, "shifts": shifts, "flags": [flags["pre"], flags["arterial"]],
            "ncc": [(r["ncc_before"], r["ncc_after"]) for r in qc], "X": X, "truth": truth[tumour]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=30)
    ap.add_argument("--misregistration-mm", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "cohort"
        generate_cohort(root, n=args.cases, seed=args.seed, misregistration_mm=args.misregistration_mm)
        planted = {c["case_id"]: c["phase_shift_mm"] for c in json.loads((root / "truth.json").read_text())["cases"]}
        man = pd.read_csv(root / "manifest.csv")
        cases = [_one_case(root, row, planted[row["case_id"]]) for _, row in man.iterrows()]
    shifts = np.concatenate([c["shifts"] for c in cases])
    flags = np.concatenate([c["flags"] for c in cases])
    errors = np.concatenate([c["errors"] for c in cases])
    ncc = np.array([v for c in cases for v in c["ncc"]])
    big = shifts >= MISALIGNED_MM
    print(f"{len(cases)} cases, {len(shifts)} shifted phases, planted shift {np.median(shifts):.1f} mm median "
          f"(max {shifts.max():.1f})")
    print(f"preflight check: flagged {int(flags[big].sum())}/{int(big.sum())} phases shifted ≥ {MISALIGNED_MM} mm, "
          f"{int(flags[~big].sum())}/{int((~big).sum())} below; {1000 * np.median([c['t_check'] for c in cases]):.0f} "
          "ms per case (median)")
    print(f"rigid registration: translation error median {np.median(errors):.2f} mm, max {errors.max():.2f} mm; "
          f"{np.median([c['t_reg'] for c in cases]):.2f} s per case (median); NCC in the tumour box "
          f"{np.median(ncc[:, 0]):.2f} -> {np.median(ncc[:, 1]):.2f} (median)")
    n_train = int(round(0.7 * len(cases)))
    train, test = cases[:n_train], cases[n_train:]
    strategies = {"population": PopulationHabitats, "individual": IndividualHabitats, "two_step": TwoStepHabitats}
    print(f"habitats, mean ARI (SD) against the planted labels on {len(test)} held-out cases:")
    print(f"{'strategy':<12}{'k':<6}{'unregistered':<22}{'registered':<22}")
    for label, Strategy in strategies.items():
        for k in (3, "auto"):
            cells = []
            for name in ("unregistered", "registered"):
                model = Strategy(k, k_range=(2, 6), order_by="AE", descriptor_names=NAMES, random_state=0)
                model.fit([c["X"][name] for c in train])
                ari = [adjusted_rand_score(c["truth"], model.predict(c["X"][name])) for c in test]
                chosen = getattr(model, "n_habitats_", k)
                cells.append(f"{np.mean(ari):.3f} ({np.std(ari, ddof=1):.3f}) k={chosen}")
            print(f"{label:<12}{str(k):<6}{cells[0]:<22}{cells[1]:<22}")


if __name__ == "__main__":
    main()
