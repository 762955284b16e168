"""One synthetic multi-phase CT case: liver, tumour, planted habitats, phases, reader-2 mask.

The phantom is a crop around the tumour (default grid 96 x 96 x 32 voxels, 1.5 x 1.5 mm in-plane,
3 mm slices) holding:

* a liver: an ellipsoid whose radius is perturbed by a smooth Gaussian random field (an irregular blob);
* a tumour inside it: an ellipsoid of diameter ``d`` (2-9 cm), axes ratio 0.7-1, random in-plane
  rotation, radius perturbed by a smooth field, then the largest connected component with holes filled;
* planted habitats: a smooth Gaussian random field inside the tumour (plus a weak radial trend, so that the
  least enhancing habitat tends to lie centrally, as necrosis does) is cut at its empirical quantiles so
  that habitat 1 (lowest AE) takes the lowest ``p1`` of tumour voxels, habitat 3 (highest AE) the highest
  ``p3``, habitat 2 the rest. Thresholding a smooth field gives contiguous blobs whose proportions match
  the targets to within one voxel;
* intensities (HU): pre-contrast liver ~55, tumour ~40, soft-tissue background; the arterial and portal
  (and delayed) phases add the enhancement of each tissue: for habitat h, arterial = pre + AE_h and
  portal = pre + VE_h (AE/VE as defined by Wu et al. 2025, seed 000); delayed = pre + washout fraction x VE;
* partial volume: each noise-free phase is blurred with a small Gaussian (sigma 0.6 voxel in-plane,
  0.4 across slices) before independent Gaussian noise of SD ``noise_hu`` is added;
* optional misregistration: the pre / arterial / delayed phases are rigidly shifted (sub-voxel, by
  linear interpolation) relative to the portal phase, with which the masks and planted labels align;
* a second reader's tumour mask: the tumour mask dilated / eroded (in-plane, 1 voxel) in random smooth
  patches of its border, weakened until the Dice with the first mask reaches a per-case target drawn in
  [0.85, 0.95].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

# Pre-contrast HU and enhancement (arterial, portal, delayed) of non-tumour tissues.
LIVER_PRE_HU = 55.0
LIVER_ENHANCEMENT_HU = (15.0, 55.0, 40.0)
TUMOUR_PRE_HU = 40.0
BACKGROUND_PRE_HU = 35.0
BACKGROUND_ENHANCEMENT_HU = (10.0, 25.0, 20.0)
# Delayed phase of a habitat: pre + DELAYED_WASHOUT[h] * VE_h (the most enhancing habitat washes out most).
DELAYED_WASHOUT = (0.8, 0.6, 0.45)
PARTIAL_VOLUME_SIGMA_VOX = (0.4, 0.6, 0.6)  # (z, y, x)
# The phase the masks and planted labels are aligned with (radiologists contour on the portal venous phase).
REFERENCE_PHASE = "portal"


@dataclass(frozen=True)
class PhantomSpec:
    """Grid and tissue settings shared by every case of a cohort."""

    shape: tuple[int, int, int] = (32, 96, 96)  # (z, y, x)
    spacing: tuple[float, float, float] = (3.0, 1.5, 1.5)  # (z, y, x) mm
    tumour_texture_hu: float = 4.0  # SD of a smooth within-habitat enhancement texture
    pre_texture_hu: float = 3.0  # SD of a smooth pre-contrast texture (all tissues)


@dataclass(frozen=True)
class Phantom:
    """The arrays of one case, all on the same (z, y, x) grid."""

    phases: dict[str, np.ndarray]  # phase -> int16 HU
    tumour: np.ndarray  # uint8 0/1
    liver: np.ndarray  # uint8 0/1 (includes the tumour)
    tumour_reader2: np.ndarray  # uint8 0/1
    habitats: np.ndarray  # uint8 0..3
    proportions: tuple[float, float, float]  # realised voxel fractions of habitats 1..3
    diameter_cm: float  # longest in-plane diameter of the tumour mask (cm)
    reader2_dice: float
    shift_mm: dict[str, tuple[float, float, float]]  # phase -> applied (z, y, x) translation in mm


def smooth_field(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox) -> np.ndarray:
    """A zero-mean, unit-SD smooth Gaussian random field (white noise convolved with a Gaussian)."""
    f = ndi.gaussian_filter(rng.standard_normal(shape), sigma_vox, mode="wrap", truncate=3.0)
    sd = f.std()
    return (f - f.mean()) / (sd if sd > 0 else 1.0)


def _grid_mm(shape, spacing, centre_mm):
    zz, yy, xx = np.meshgrid(*[np.arange(n, dtype=float) * s for n, s in zip(shape, spacing)], indexing="ij")
    return zz - centre_mm[0], yy - centre_mm[1], xx - centre_mm[2]


def _ellipsoid_radius(shape, spacing, centre_mm, semi_axes_mm, angle_rad):
    """Normalised ellipsoidal radius (1 on the surface) with an in-plane rotation of the (y, x) axes."""
    dz, dy, dx = _grid_mm(shape, spacing, centre_mm)
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    u = c * dx + s * dy
    v = -s * dx + c * dy
    az, ay, ax = semi_axes_mm
    return np.sqrt((dz / az) ** 2 + (v / ay) ** 2 + (u / ax) ** 2)


def _largest_component_filled(mask: np.ndarray) -> np.ndarray:
    lab, n = ndi.label(mask)
    if n > 1:
        sizes = ndi.sum_labels(mask, lab, index=np.arange(1, n + 1))
        mask = lab == (int(np.argmax(sizes)) + 1)
    return ndi.binary_fill_holes(mask)


def max_inplane_diameter_cm(mask: np.ndarray, spacing) -> float:
    """Longest in-plane extent of the mask over slices (cm): max over slices and 8 directions."""
    best = 0.0
    pts_all = np.argwhere(mask)
    if pts_all.size == 0:
        return 0.0
    sy, sx = spacing[1], spacing[2]
    for z in np.unique(pts_all[:, 0]):
        pts = pts_all[pts_all[:, 0] == z][:, 1:].astype(float) * (sy, sx)
        for ang in np.linspace(0, np.pi, 12, endpoint=False):
            proj = pts @ np.array([np.sin(ang), np.cos(ang)])
            best = max(best, proj.max() - proj.min())
    return round(best / 10.0, 1)


def plant_habitats(rng: np.random.Generator, tumour: np.ndarray, radius: np.ndarray,
                   target: np.ndarray, correlation_mm: float, spacing) -> np.ndarray:
    """Cut a smooth field inside the tumour at its quantiles so habitats 1..3 take fractions `target`.

    The field's Gaussian kernel has SD `correlation_mm` (scaled with the tumour's size by the caller) so
    each habitat forms a few large blobs; a weak radial trend puts the least enhancing habitat centrally.
    """
    sigma = tuple(max(correlation_mm / s, 0.5) for s in spacing)
    field = smooth_field(rng, tumour.shape, sigma) + 0.4 * np.clip(radius, 0, 1.5)
    vals = field[tumour]
    order = np.argsort(vals, kind="stable")
    n = vals.size
    n1 = int(round(target[0] * n))
    n3 = int(round(target[2] * n))
    n1 = min(max(n1, 0), n)
    n3 = min(max(n3, 0), n - n1)
    lab = np.full(n, 2, dtype=np.uint8)
    lab[order[:n1]] = 1
    if n3:
        lab[order[n - n3:]] = 3
    out = np.zeros(tumour.shape, dtype=np.uint8)
    out[tumour] = lab
    return out


def reader2_mask(rng: np.random.Generator, tumour: np.ndarray, target_dice: float) -> tuple[np.ndarray, float]:
    """Perturb the tumour border in smooth random patches (in-plane 1-voxel dilation/erosion).

    Starts with patches covering about half the border (grown / shrunk) and raises the patch threshold until
    Dice(reader1, reader2) >= target_dice, so small tumours are not perturbed out of the plausible range.
    """
    struct = np.zeros((3, 3, 3), dtype=bool)
    struct[1] = ndi.generate_binary_structure(2, 1)
    dil = ndi.binary_dilation(tumour, struct)
    ero = ndi.binary_erosion(tumour, struct)
    field = smooth_field(rng, tumour.shape, (1.0, 2.5, 2.5))
    best, best_dice = tumour.copy(), 1.0
    for thr in np.linspace(0.0, 3.0, 21):
        m = tumour.copy()
        m[(field > thr) & dil] = True
        m[(field < -thr) & ~ero] = False
        if not m.any():
            continue
        m = _largest_component_filled(m)
        dice = float(2.0 * np.logical_and(m, tumour).sum() / (m.sum() + tumour.sum()))
        best, best_dice = m, dice
        if dice >= target_dice:
            break
    return best, best_dice


def _box(centre_mm, radius_mm: float, shape, spacing, margin: int) -> tuple[slice, ...]:
    """Slices of the grid covering centre +/- radius (mm) plus `margin` voxels, clipped to the grid."""
    out = []
    for c, n, s in zip(centre_mm, shape, spacing):
        lo = int(np.floor((c - radius_mm) / s)) - margin
        hi = int(np.ceil((c + radius_mm) / s)) + margin + 1
        out.append(slice(max(lo, 0), min(hi, n)))
    return tuple(out)


def _shift(img: np.ndarray, shift_vox) -> np.ndarray:
    if not np.any(shift_vox):
        return img
    return ndi.shift(img, shift_vox, order=1, mode="nearest")


def make_phantom(
    rng: np.random.Generator,
    spec: PhantomSpec,
    *,
    diameter_cm: float,
    target_proportions: np.ndarray,
    habitat_centres: np.ndarray,
    phases: tuple[str, ...],
    noise_hu: float,
    misregistration_mm: float,
    reader2_target_dice: float,
) -> Phantom:
    """Draw one case. `habitat_centres` is a (3, 2) array of this case's (AE, VE) per habitat (HU)."""
    shape, spacing = spec.shape, spec.spacing
    extent = np.array(shape) * np.array(spacing)
    # Liver: a perturbed ellipsoid filling most of the field of view.
    liver_axes = extent / 2 * rng.uniform(0.80, 0.92, size=3)
    liver_centre = extent / 2 + rng.normal(0, 2.0, size=3)
    r_liver = _ellipsoid_radius(shape, spacing, liver_centre, liver_axes, rng.uniform(-0.3, 0.3))
    r_liver = r_liver * (1 + 0.10 * np.clip(smooth_field(rng, shape, (1.5, 6.0, 6.0)), -2, 2))
    liver = _largest_component_filled(r_liver < 1.0)
    # Tumour: diameter clipped so it fits in the liver crop with a margin.
    max_semi = np.minimum(liver_axes * 0.85, extent / 2 - 3 * np.array(spacing))
    semi = diameter_cm * 10 / 2 * np.array([rng.uniform(0.7, 1.0), rng.uniform(0.75, 1.0), 1.0])
    semi = np.minimum(semi, max_semi)
    room = np.maximum(liver_axes - semi / 0.85, 0.0) * 0.5
    t_centre = liver_centre + rng.uniform(-1, 1, size=3) * room
    # Tumour-local fields are drawn on a box around the tumour only (speed): the box holds the perturbed
    # ellipsoid (radius factor <= 1 / (1 - 0.12)) plus a 3-voxel margin for the second reader's border.
    box = _box(t_centre, 1.2 * float(semi.max()), shape, spacing, margin=3)
    bshape = tuple(sl.stop - sl.start for sl in box)
    r_tum = np.full(shape, np.inf)
    r_tum[box] = _ellipsoid_radius(bshape, spacing, t_centre - [sl.start * sp for sl, sp in zip(box, spacing)],
                                   semi, rng.uniform(0, np.pi))
    r_tum[box] *= 1 + 0.08 * np.clip(smooth_field(rng, bshape, (1.0, 3.0, 3.0)), -1.5, 1.5)
    tumour = np.zeros(shape, dtype=bool)
    tumour[box] = _largest_component_filled(r_tum[box] < 1.0)
    if tumour.sum() < 50:  # guard against a degenerate draw: fall back to the plain ellipsoid
        tumour = _ellipsoid_radius(shape, spacing, t_centre, np.maximum(semi, 10.0), 0.0) < 1.0
        box = tuple(slice(0, n) for n in shape)
        bshape = shape
    liver = liver | ndi.binary_dilation(tumour, iterations=1)

    habitats = np.zeros(shape, dtype=np.uint8)
    habitats[box] = plant_habitats(rng, tumour[box], r_tum[box], np.asarray(target_proportions, dtype=float),
                                   correlation_mm=max(6.0, 0.5 * float(np.mean(semi))), spacing=spacing)
    counts = np.bincount(habitats[tumour], minlength=4)[1:]
    proportions = tuple(float(c) / float(tumour.sum()) for c in counts)

    # Noise-free phases.
    pre = np.full(shape, BACKGROUND_PRE_HU)
    pre += 8.0 * smooth_field(rng, shape, (1.0, 5.0, 5.0))  # background heterogeneity
    pre[liver] = LIVER_PRE_HU
    pre[tumour] = TUMOUR_PRE_HU
    pre += spec.pre_texture_hu * smooth_field(rng, shape, (0.7, 2.0, 2.0))
    tex_ae = np.zeros(shape)
    tex_ve = np.zeros(shape)
    tex_ae[box] = spec.tumour_texture_hu * smooth_field(rng, bshape, (0.7, 2.0, 2.0))
    tex_ve[box] = spec.tumour_texture_hu * smooth_field(rng, bshape, (0.7, 2.0, 2.0))
    clean = {"pre": pre}
    for j, ph in enumerate(("arterial", "portal", "delayed")):
        if ph not in phases:
            continue
        enh = np.full(shape, BACKGROUND_ENHANCEMENT_HU[j])
        enh[liver] = LIVER_ENHANCEMENT_HU[j]
        for h in (1, 2, 3):
            sel = habitats == h
            ae, ve = habitat_centres[h - 1]
            if ph == "arterial":
                enh[sel] = ae + tex_ae[sel]
            elif ph == "portal":
                enh[sel] = ve + tex_ve[sel]
            else:
                enh[sel] = DELAYED_WASHOUT[h - 1] * (ve + tex_ve[sel])
        clean[ph] = pre + enh

    out: dict[str, np.ndarray] = {}
    shifts: dict[str, tuple[float, float, float]] = {}
    for ph in phases:
        img = ndi.gaussian_filter(clean[ph], PARTIAL_VOLUME_SIGMA_VOX, mode="nearest")
        if ph != REFERENCE_PHASE and misregistration_mm > 0:
            d = rng.normal(0.0, misregistration_mm / np.sqrt(3.0), size=3)
            shifts[ph] = tuple(float(v) for v in d)
            img = _shift(img, d / np.array(spacing))
        else:
            shifts[ph] = (0.0, 0.0, 0.0)
        img = img + rng.normal(0.0, noise_hu, size=shape) if noise_hu > 0 else img
        out[ph] = np.clip(np.rint(img), -1024, 3071).astype(np.int16)

    r2 = np.zeros(shape, dtype=bool)
    r2[box], dice = reader2_mask(rng, tumour[box], reader2_target_dice)
    return Phantom(
        phases=out,
        tumour=tumour.astype(np.uint8),
        liver=liver.astype(np.uint8),
        tumour_reader2=r2.astype(np.uint8),
        habitats=habitats,
        proportions=proportions,  # type: ignore[arg-type]
        diameter_cm=max_inplane_diameter_cm(tumour, spacing),
        reader2_dice=dice,
        shift_mm=shifts,
    )
