"""Phase alignment around the tumour: registration of every phase to the reference phase, its QC, and a cheap
misalignment check for the preflight.

Registration (`fit_phase_registrations`, `apply_phase_registrations`): the reference phase and each other
phase are cropped to the tumour's bounding box grown by `margin_mm` (default 30 mm: the liver around the
tumour, not the spine or body wall, which move differently with breathing); the crop of the phase is
registered to the crop of the reference with `hccrad.preprocess.register.register_to_reference` (SimpleITK:
rigid Euler3D or affine, Mattes mutual information, three resolution levels, fixed seed, one thread; the
parameters are rounded to 1e-6 rad / mm so that reruns are byte-identical, as ITK's metric sums still vary
by ~1e-13); the transform, in physical coordinates, is then applied to the whole phase, resampled (linear)
onto the reference grid where the masks were drawn.

QC (`alignment_qc`), per phase:
- NCC = Σ(f−f̄)(m−m̄) / √(Σ(f−f̄)² Σ(m−m̄)²) of the reference f and the phase m inside the tumour's bounding
  box grown by `QC_MARGIN_MM` (10 mm), before and after registration, both over the box's voxels that the
  transformed phase covers (beyond its field of view the resampled phase holds a fill value, not data);
- the transform: translation t = (tx, ty, tz) in mm (physical x, y, z; the displacement of the rotation
  centre, which is the centre of the crop, i.e. near the tumour) and its norm, and the rotation angle
  θ = arccos((trace R − 1) / 2) in degrees (Rodrigues), R the rotation part (for an affine transform the
  closest rotation, R = U Vᵀ from the SVD U S Vᵀ of its matrix: the polar decomposition);
- a warning when NCC after < `min_ncc` (default 0.3; the NCC of two contrast phases is limited by noise
  and by enhancement differences, ~0.4–0.8 on hccrad's synthetic cohort), when NCC fell by more than
  `NCC_DROP` (0.01), or when |t| > `max_translation_mm` (default 10 mm).

Misalignment check (`misalignment`, for the preflight; ~10–30 ms per phase): gradient magnitudes |∇I|
(Gaussian smoothing σ = `SMOOTH_MM` (1 mm) against noise, then `np.gradient` with the voxel spacing; the
magnitude does not change sign when the tumour's contrast inverts between phases, as with HCC wash-out)
of the reference and the phase inside the tumour box grown by 10 mm, mean removed and zero-padded by
`MAX_SHIFT_MM`; phase correlation (Kuglin & Hines 1975): the peak of IFFT(F·G* / |F·G*|) within
±`MAX_SHIFT_MM` is the integer voxel shift that best aligns the two. The phase "looks misaligned" when
that shift is ≥ `MISALIGNED_MM` (2 mm) long and raises the NCC of the gradient magnitudes (over the
overlap) over no shift by ≥ max(`MIN_NCC_GAIN` (0.05), 3 / √N_eff), N_eff the box's
voxels divided by the smoothing's correlation volume (2√π σ per axis in voxels, at least 1; about 3 SD of
the NCC of unrelated noise): both conditions, so noise-driven peaks in a small box do not warn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk
from scipy import ndimage as ndi
from scipy.fft import next_fast_len

from hccrad.core.errors import InputError
from hccrad.core.image import Image
from hccrad.io.volume import from_sitk, to_sitk
from hccrad.preprocess.register import (normalised_cross_correlation, register_to_reference,
                                        transform_from_parameters)
from hccrad.preprocess.resample import resample_to_reference

QC_MARGIN_MM = 10.0
MAX_SHIFT_MM = 15.0
MISALIGNED_MM = 2.0
MIN_NCC_GAIN = 0.05
SMOOTH_MM = 1.0
NCC_DROP = 0.01
PARAMETER_DECIMALS = 6  # transform parameters rounded (rad, mm): ITK's sums vary by ~1e-13 between runs

QC_COLUMNS = ["case_id", "phase", "reference", "transform", "ncc_before", "ncc_after", "tx_mm", "ty_mm", "tz_mm",
              "translation_mm", "rotation_deg", "iterations", "warning"]


def tumour_box(tumour: np.ndarray, spacing: tuple[float, float, float], margin_mm: float) -> tuple[slice, ...]:
    """(z, y, x) slices of the tumour's bounding box grown by `margin_mm` on each side, clipped to the image."""
    idx = np.nonzero(tumour)
    if not idx[0].size:
        raise InputError("the tumour mask is empty: no box to align phases in", field="mask")
    return tuple(slice(max(int(i.min()) - int(math.ceil(margin_mm / sp)), 0),
                       min(int(i.max()) + int(math.ceil(margin_mm / sp)) + 1, n))
                 for i, sp, n in zip(idx, spacing, tumour.shape))


def crop(image: Image, box: tuple[slice, ...]) -> Image:
    """The sub-volume `box` ((z, y, x) slices) of `image`, keeping its physical position (origin moved)."""
    z, y, x = box
    return from_sitk(to_sitk(image)[x.start:x.stop, y.start:y.stop, z.start:z.stop], image.name)


def rigid_motion(transform: str, parameters) -> tuple[np.ndarray, float]:
    """(translation (x, y, z) mm, rotation angle in degrees) of a rigid or affine parameter vector."""
    p = np.asarray(parameters, float)
    if transform == "rigid":
        rot = sitk.Euler3DTransform()
        rot.SetRotation(*p[:3])
        matrix = np.asarray(rot.GetMatrix()).reshape(3, 3)
    else:
        u, _, vt = np.linalg.svd(p[:9].reshape(3, 3))
        matrix = u @ vt
    cos = np.clip((np.trace(matrix) - 1.0) / 2.0, -1.0, 1.0)
    return p[-3:], float(np.degrees(np.arccos(cos)))


def _box_ncc(fixed: np.ndarray, moving: np.ndarray, box: tuple[slice, ...], valid: np.ndarray) -> float:
    return normalised_cross_correlation(fixed[box], moving[box], valid[box]) if valid[box].any() else 0.0


def qc_row(case_id: str, phase: str, reference: Image, before: Image, after: Image, record: dict,
           box: tuple[slice, ...], covered: np.ndarray, *, min_ncc: float, max_translation_mm: float) -> dict:
    """One QC row (see the module docstring; columns `QC_COLUMNS`); both NCCs over the box's voxels that
    the transformed phase `covered` (outside its field of view the resampled phase is filled, not data)."""
    t, angle = rigid_motion(record["transform"], record["parameters"])
    row = {"case_id": case_id, "phase": phase, "reference": reference.name, "transform": record["transform"],
           "ncc_before": round(_box_ncc(reference.array, before.array, box, covered), 4),
           "ncc_after": round(_box_ncc(reference.array, after.array, box, covered), 4),
           "tx_mm": round(float(t[0]), 3), "ty_mm": round(float(t[1]), 3), "tz_mm": round(float(t[2]), 3),
           "translation_mm": round(float(np.linalg.norm(t)), 3), "rotation_deg": round(angle, 3),
           "iterations": int(record.get("iterations", -1))}
    problems = []
    if row["ncc_after"] < min_ncc:
        problems.append(f"NCC after registration {row['ncc_after']:.2f} < {min_ncc:g}")
    if row["ncc_after"] < row["ncc_before"] - NCC_DROP:
        problems.append(f"NCC fell from {row['ncc_before']:.2f} to {row['ncc_after']:.2f}")
    if row["translation_mm"] > max_translation_mm:
        problems.append(f"translation {row['translation_mm']:.1f} mm > {max_translation_mm:g} mm")
    row["warning"] = "; ".join(problems)
    return row


@dataclass(frozen=True)
class PhaseRegistration:
    """What `fit_phase_registrations` fitted for one phase: the transform's kind and parameters (JSON-able)."""

    transform: str
    parameters: tuple[float, ...]
    fixed_parameters: tuple[float, ...]
    iterations: int

    def to_dict(self) -> dict:
        return {"transform": self.transform, "parameters": list(self.parameters),
                "fixed_parameters": list(self.fixed_parameters), "iterations": self.iterations}

    @classmethod
    def from_dict(cls, d: dict) -> "PhaseRegistration":
        return cls(str(d["transform"]), tuple(float(v) for v in d["parameters"]),
                   tuple(float(v) for v in d["fixed_parameters"]), int(d["iterations"]))


def fit_phase_registrations(images: dict[str, Image], reference_phase: str, tumour: np.ndarray, *,
                            transform: str = "rigid", margin_mm: float = 30.0, seed: int = 0,
                            case_id: str | None = None) -> dict[str, PhaseRegistration]:
    """Fit a transform for every phase but the reference (see the module docstring)."""
    fixed = images[reference_phase]
    box = tumour_box(tumour, fixed.spacing, margin_mm)
    fixed_crop = crop(fixed, box)
    fitted = {}
    for phase, img in images.items():
        if phase == reference_phase:
            continue
        moving = img if img.same_grid(fixed) else resample_to_reference(img, fixed)
        _, rec = register_to_reference(crop(moving, box), fixed_crop, transform, seed=seed, case=case_id,
                                       threads=1)
        fitted[phase] = PhaseRegistration(transform, tuple(round(p, PARAMETER_DECIMALS) for p in rec.parameters),
                                          tuple(round(p, PARAMETER_DECIMALS) for p in rec.fixed_parameters),
                                          rec.iterations)
    return fitted


def apply_phase_registrations(images: dict[str, Image], reference_phase: str,
                              fitted: dict[str, PhaseRegistration]) -> dict[str, Image]:
    """Every phase resampled (linear) through its fitted transform onto the reference phase's grid."""
    fixed = images[reference_phase]
    out = dict(images)
    for phase, reg in fitted.items():
        tr = transform_from_parameters(reg.transform, reg.parameters, reg.fixed_parameters)
        out[phase] = resample_to_reference(images[phase], fixed, interpolator="linear", transform=tr)
    return out


def alignment_qc(case_id: str, before: dict[str, Image], after: dict[str, Image], reference_phase: str,
                 tumour: np.ndarray, fitted: dict[str, PhaseRegistration], *, min_ncc: float = 0.3,
                 max_translation_mm: float = 10.0) -> list[dict]:
    """One QC row per registered phase (columns `QC_COLUMNS`)."""
    ref = before[reference_phase]
    box = tumour_box(tumour, ref.spacing, QC_MARGIN_MM)
    rows = []
    for phase, reg in fitted.items():
        moving = before[phase] if before[phase].same_grid(ref) else resample_to_reference(before[phase], ref)
        ones = moving.with_array(np.ones(moving.shape, np.uint8))
        tr = transform_from_parameters(reg.transform, reg.parameters, reg.fixed_parameters)
        covered = resample_to_reference(ones, ref, is_mask=True, transform=tr).array > 0
        rows.append(qc_row(case_id, phase, ref, moving, after[phase], reg.to_dict(), box, covered,
                           min_ncc=min_ncc, max_translation_mm=max_translation_mm))
    return rows


def _gradient_magnitude(a: np.ndarray, spacing) -> np.ndarray:
    smooth = ndi.gaussian_filter(a.astype(np.float32), [SMOOTH_MM / float(s) for s in spacing], mode="nearest")
    grads = np.gradient(smooth, *[float(s) for s in spacing])
    return np.sqrt(sum(g * g for g in grads))


def _overlap_ncc(a: np.ndarray, b: np.ndarray, shift: tuple[int, ...]) -> float:
    """NCC of a[x] and b[x − shift] over the voxels both cover."""
    sa, sb = [], []
    for s, n in zip(shift, a.shape):
        sa.append(slice(max(s, 0), n + min(s, 0)))
        sb.append(slice(max(-s, 0), n - max(s, 0)))
    x, y = a[tuple(sa)], b[tuple(sb)]
    return normalised_cross_correlation(x, y) if x.size > 8 else 0.0


@dataclass(frozen=True)
class Misalignment:
    """The preflight's estimate for one phase: shift (z, y, x) in voxels and mm, NCC of |∇I| at 0 and there."""

    shift_vox: tuple[int, int, int]
    shift_mm: float
    ncc_zero: float
    ncc_shifted: float
    min_gain: float = MIN_NCC_GAIN  # the NCC gain that counts for this box (see the module docstring)

    @property
    def looks_misaligned(self) -> bool:
        return self.shift_mm >= MISALIGNED_MM and self.ncc_shifted - self.ncc_zero >= self.min_gain


def misalignment(reference: np.ndarray, phase: np.ndarray, tumour: np.ndarray,
                 spacing: tuple[float, float, float]) -> Misalignment:
    """Estimate by phase correlation how far `phase` is shifted from `reference` around the tumour (see the
    module docstring). Arrays (z, y, x) on the same grid; `spacing` (z, y, x) mm."""
    box = tumour_box(tumour, spacing, QC_MARGIN_MM)
    a = _gradient_magnitude(reference[box], spacing)
    b = _gradient_magnitude(phase[box], spacing)
    a -= a.mean()
    b -= b.mean()
    shape = [next_fast_len(n + int(math.ceil(MAX_SHIFT_MM / sp))) for n, sp in zip(a.shape, spacing)]
    cross = np.fft.rfftn(b, shape, axes=(0, 1, 2)) * np.conj(np.fft.rfftn(a, shape, axes=(0, 1, 2)))
    corr = np.fft.irfftn(cross / np.maximum(np.abs(cross), 1e-12), shape, axes=(0, 1, 2))
    lags = [np.fft.fftfreq(n, 1.0 / n).astype(int) for n in shape]
    allowed = [np.abs(lag) * sp <= MAX_SHIFT_MM for lag, sp in zip(lags, spacing)]
    corr = np.where(allowed[0][:, None, None] & allowed[1][None, :, None] & allowed[2][None, None, :], corr,
                    -np.inf)
    peak = np.unravel_index(int(np.argmax(corr)), corr.shape)
    shift = tuple(int(lag[i]) for lag, i in zip(lags, peak))
    mm = float(np.sqrt(sum((s * sp) ** 2 for s, sp in zip(shift, spacing))))
    return Misalignment(shift, mm, _overlap_ncc(b, a, (0, 0, 0)), _overlap_ncc(b, a, shift),
                        min_gain=max(MIN_NCC_GAIN, 3.0 / math.sqrt(_effective_voxels(a.shape, spacing))))


def _effective_voxels(shape: tuple[int, ...], spacing) -> float:
    """The box's voxels divided by the correlation volume of the smoothing (2√π σ per axis, in voxels, ≥ 1):
    roughly the number of independent values behind an NCC of the smoothed gradient magnitudes."""
    corr = np.prod([max(1.0, 2.0 * math.sqrt(math.pi) * SMOOTH_MM / float(sp)) for sp in spacing])
    return max(float(np.prod(shape)) / float(corr), 1.0)
