"""Habitat recovery on a harder synthetic cohort (issue 23, item 5). Prints a table; not a test.

Cohort (generated here, so `hccrad.synth` and the demo cohort stay as they are): ``--cases`` tumours on an
anisotropic (z, y, x) = 2.5 × 0.78 × 0.78 mm grid of 28 × 96 × 96 voxels; each tumour the union of a main
ellipsoid and 1–3 lobes (ellipsoids of 0.45–0.8 of its size centred 0.5–0.8 radii away) with a smoothly
perturbed border; three planted habitats cut from a smooth random field at per-case Dirichlet proportions
(`hccrad.synth.phantom.plant_habitats`), with (AE, VE) centres (5, 25), (45, 55), (85, 90) HU as in
`hccrad.synth` plus a per-case shift of the centres (SD 3 HU) and a 4 HU smooth texture; a per-case scanner
offset drawn uniformly in ±15 HU added to every phase (``--hu-shift per_phase``: drawn for each phase
separately, so it also moves the subtraction maps); the pre and arterial phases translated relative to the
portal phase (reference; masks and planted labels align with it) by a shift whose z, y, x components are
uniform in ±``--max-shift-vox`` voxels; partial-volume blur and 8 HU Gaussian noise.

For each strategy — population ("direct pooling"), individual ("one-step"), two_step (k-means supervoxels)
and two_step with SLIC supervoxels — unregistered and registered (`hccrad.preprocess.alignment`, what
``preprocess.registration: rigid`` runs), the habitat model is fitted on the first 70 % of the cases
(descriptors AE = arterial − pre, VE = portal − pre, 1 mm Gaussian smoothing, as in the demo study), k
chosen automatically in 2..8 (`choose_k`: the elbow rule's k and the consensus rule's k, 20 bootstrap
resamples of the training cases), and the mean adjusted Rand index (ARI) against the planted labels is
computed on the held-out 30 % at the elbow k, the consensus k and k = 3.

Targets (issue 23): automatic k = 3 (planted) and mean ARI ≥ 0.70 with registration.

``--kmeans-sample all`` fits every k-means on every row (``kmeans_sample=None``, as before issue 24) instead of
the estimators' default subsample.

Usage: python benchmarks/bench_habitat_recovery.py [--cases 30] [--seed 0] [--max-shift-vox 3]
                                                   [--hu-shift all|per_phase] [--kmeans-sample default|all]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import ndimage as ndi
from sklearn.metrics import adjusted_rand_score

from hccrad.core.image import Image
from hccrad.habitat import Descriptor, IndividualHabitats, PopulationHabitats, TwoStepHabitats
from hccrad.habitat import descriptor_maps, voxel_matrix
from hccrad.habitat.estimators import spatial_arguments
from hccrad.preprocess.alignment import apply_phase_registrations, fit_phase_registrations
from hccrad.synth.phantom import plant_habitats, smooth_field

SPACING = (2.5, 0.78, 0.78)
SHAPE = (28, 96, 96)
CENTRES = np.array([[5.0, 25.0], [45.0, 55.0], [85.0, 90.0]])
PHASES = ("pre", "arterial", "portal")
DESCRIPTORS = (Descriptor("AE", "difference", ("arterial", "pre"), smooth_mm=1.0),
               Descriptor("VE", "difference", ("portal", "pre"), smooth_mm=1.0))
NAMES = ["AE", "VE"]


def _ellipsoid(centre_mm, semi_mm, angle) -> np.ndarray:
    zz, yy, xx = np.meshgrid(*[np.arange(n) * s for n, s in zip(SHAPE, SPACING)], indexing="ij")
    dz, dy, dx = zz - centre_mm[0], yy - centre_mm[1], xx - centre_mm[2]
    u, v = np.cos(angle) * dx + np.sin(angle) * dy, -np.sin(angle) * dx + np.cos(angle) * dy
    return np.sqrt((dz / semi_mm[0]) ** 2 + (v / semi_mm[1]) ** 2 + (u / semi_mm[2]) ** 2)


def multi_lobed_tumour(rng: np.random.Generator) -> np.ndarray:
    """Union of a main ellipsoid and 1–3 lobes, border perturbed by a smooth field; largest component."""
    extent = np.array(SHAPE) * np.array(SPACING)
    centre = extent / 2 + rng.normal(0, 2.0, 3)
    semi = np.array([rng.uniform(12, 18), rng.uniform(14, 20), rng.uniform(14, 20)])
    r = _ellipsoid(centre, semi, rng.uniform(0, np.pi))
    for _ in range(int(rng.integers(1, 4))):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        c = centre + direction * semi * rng.uniform(0.5, 0.8)
        r = np.minimum(r, _ellipsoid(c, semi * rng.uniform(0.45, 0.8), rng.uniform(0, np.pi)))
    r *= 1 + 0.08 * np.clip(smooth_field(rng, SHAPE, (1.0, 4.0, 4.0)), -1.5, 1.5)
    mask = r < 1.0
    lab, n = ndi.label(mask)
    if n > 1:
        mask = lab == 1 + int(np.argmax(ndi.sum_labels(mask, lab, np.arange(1, n + 1))))
    return ndi.binary_fill_holes(mask)


def make_case(rng: np.random.Generator, max_shift_vox: float, hu_shift: str) -> dict:
    tumour = multi_lobed_tumour(rng)
    depth = ndi.distance_transform_edt(tumour, sampling=SPACING)
    radius = 1.0 - depth / max(float(depth.max()), 1e-6)  # 0 at the centre, 1 on the border
    props = rng.dirichlet(20 * np.array([0.35, 0.45, 0.20]))
    truth = plant_habitats(rng, tumour, radius, props, correlation_mm=8.0, spacing=SPACING)
    centres = CENTRES + rng.normal(0, 3.0, size=2)
    pre = 40.0 + 3.0 * smooth_field(rng, SHAPE, (0.7, 2.0, 2.0))
    pre = np.where(tumour, pre, 55.0 + 3.0 * smooth_field(rng, SHAPE, (0.7, 2.0, 2.0)))
    art, por = pre + 30.0, pre + 50.0  # liver-like enhancement outside the tumour
    for h in (1, 2, 3):
        sel = truth == h
        art[sel] = pre[sel] + centres[h - 1, 0] + 4.0 * smooth_field(rng, SHAPE, (0.7, 2.0, 2.0))[sel]
        por[sel] = pre[sel] + centres[h - 1, 1] + 4.0 * smooth_field(rng, SHAPE, (0.7, 2.0, 2.0))[sel]
    offset = rng.uniform(-15, 15, size=3) if hu_shift == "per_phase" else np.full(3, rng.uniform(-15, 15))
    images, shifts = {}, {}
    for j, (name, arr) in enumerate(zip(PHASES, (pre, art, por))):
        arr = ndi.gaussian_filter(arr, (0.4, 0.6, 0.6), mode="nearest") + offset[j]
        if name != "portal":
            shifts[name] = rng.uniform(-max_shift_vox, max_shift_vox, size=3)
            arr = ndi.shift(arr, shifts[name], order=1, mode="nearest")
        arr = arr + rng.normal(0, 8.0, SHAPE)
        images[name] = Image(np.rint(arr).astype(np.int16), SPACING, name=name)
    return {"images": images, "tumour": tumour, "truth": truth[tumour], "shift_vox": shifts}


def descriptors_of(case: dict, registered: bool) -> np.ndarray:
    images = case["images"]
    if registered:
        fitted = fit_phase_registrations(images, "portal", case["tumour"], transform="rigid", seed=0)
        images = apply_phase_registrations(images, "portal", fitted)
    return voxel_matrix(descriptor_maps(images, case["tumour"], list(DESCRIPTORS)), case["tumour"], NAMES)


STRATEGIES = {
    "population (direct)": (PopulationHabitats, {}),
    "individual (one-step)": (IndividualHabitats, {}),
    "two-step": (TwoStepHabitats, {}),
    "two-step SLIC": (TwoStepHabitats, {"supervoxels": "slic", "n_supervoxels": 50, "compactness": 0.1}),
}


def mean_ari(Strategy, params: dict, k, train: list[dict], test: list[dict], X: str):
    model = Strategy(k, k_range=(2, 8), order_by="AE", descriptor_names=NAMES, random_state=0,
                     k_rule="consensus", n_bootstrap=20, **params)
    spatial = {}
    if params.get("supervoxels") == "slic":
        spatial = {"coords": [np.argwhere(c["tumour"]) for c in train], "spacings": [SPACING] * len(train)}
    model.fit([c[X] for c in train], **spatial)
    ari = [adjusted_rand_score(c["truth"], model.predict(c[X], **spatial_arguments(model, c["tumour"], SPACING)))
           for c in test]
    return model, float(np.mean(ari))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-shift-vox", type=float, default=3.0)
    ap.add_argument("--hu-shift", choices=("all", "per_phase"), default="all")
    ap.add_argument("--kmeans-sample", choices=("default", "all"), default="default")
    args = ap.parse_args()
    fit_rows = {} if args.kmeans_sample == "default" else {"kmeans_sample": None}
    t0 = time.perf_counter()
    cases = []
    for i in range(args.cases):
        c = make_case(np.random.default_rng([args.seed, 23, i]), args.max_shift_vox, args.hu_shift)
        c["X_unregistered"] = descriptors_of(c, registered=False)
        c["X_registered"] = descriptors_of(c, registered=True)
        cases.append(c)
    n_vox = [int(c["tumour"].sum()) for c in cases]
    print(f"{len(cases)} cases, {SHAPE} voxels of {SPACING} mm, tumour voxels median {int(np.median(n_vox)):,} "
          f"(range {min(n_vox):,}–{max(n_vox):,}); HU offset ±15 ({args.hu_shift}); phase shifts ≤ "
          f"{args.max_shift_vox:g} voxels per axis; cohort + registration {time.perf_counter() - t0:.0f} s")
    n_train = int(round(0.7 * len(cases)))
    train, test = cases[:n_train], cases[n_train:]
    print(f"fitted on {len(train)} cases, mean ARI vs planted labels on {len(test)} held-out cases")
    header = (f"{'strategy':<23}{'registration':<14}{'elbow k':>8}{'ARI':>7}{'consensus k':>13}{'ARI':>7}"
              f"{'ARI k=3':>9}{'s':>6}")
    print(header)
    print("-" * len(header))
    for label, (Strategy, base) in STRATEGIES.items():
        params = {**base, **fit_rows}
        for reg in ("unregistered", "registered"):
            t1 = time.perf_counter()
            X = f"X_{reg}"
            auto, ari_cons = mean_ari(Strategy, params, "auto", train, test, X)
            ks = auto.k_selection_
            k_elbow = ks.elbow_k if ks.elbow_k is not None else ks.silhouette_k
            ari_elbow = ari_cons if k_elbow == ks.k else mean_ari(Strategy, params, k_elbow, train, test, X)[1]
            ari3 = ari_cons if ks.k == 3 else (ari_elbow if k_elbow == 3 else
                                              mean_ari(Strategy, params, 3, train, test, X)[1])
            print(f"{label:<23}{reg:<14}{k_elbow:>8}{ari_elbow:>7.3f}{ks.k:>13}{ari_cons:>7.3f}{ari3:>9.3f}"
                  f"{time.perf_counter() - t1:>6.0f}")


if __name__ == "__main__":
    main()
