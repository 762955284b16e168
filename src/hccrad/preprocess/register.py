"""Register a phase to the reference phase (SimpleITK; ANTs via antspyx when installed).

SimpleITK route (ITKv4 registration framework, Lowekamp et al., Front. Neuroinform. 2013): centred
geometric initialisation; rigid (Euler3D, 6 parameters) or affine (12 parameters) transform; Mattes
mutual information (Mattes et al., IEEE TMI 2003; 50 histogram bins; random sampling of 20% of the
voxels, at most `max_samples` per level, with a fixed seed so the same input gives the same result; hccrad's
seed s is ITK's s + 1, as ITK reads 0 as "seed from the wall clock");
regular-step gradient descent (first step 2 mm, halved at each change of direction, stop below
0.001 mm) with physical-shift scaling; three resolution levels (shrink 4, 2, 1; smoothing σ = 2, 1, 0 mm).

Quality: the final metric value (for Mattes MI more negative is better) and the normalised
cross-correlation NCC = Σ(f−f̄)(m−m̄) / √(Σ(f−f̄)² Σ(m−m̄)²) between the fixed image and the moving image
resampled onto it, before and after registration, over the voxels both cover.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import asdict, dataclass

import numpy as np
import SimpleITK as sitk

from hccrad.core.errors import InputError, SpecError
from hccrad.core.image import Image
from hccrad.io.volume import to_sitk
from hccrad.preprocess.resample import resample_to_reference

logger = logging.getLogger(__name__)

TRANSFORMS = ("rigid", "affine")
METRICS = ("mattes_mi", "mean_squares", "correlation")
SHRINK = (4, 2, 1)


@dataclass(frozen=True)
class RegistrationRecord:
    """What registration did and how well: recordable in run.json via `to_dict()`."""

    moving: str
    fixed: str
    backend: str
    transform: str
    metric: str
    final_metric: float
    iterations: int
    stop_condition: str
    ncc_before: float
    ncc_after: float
    parameters: tuple[float, ...]
    seed: int
    fixed_parameters: tuple[float, ...] = ()  # the transform's centre of rotation (x, y, z mm); sitk only

    def to_dict(self) -> dict:
        d = asdict(self)
        d["parameters"] = list(self.parameters)
        d["fixed_parameters"] = list(self.fixed_parameters)
        d["step"] = "register"
        return d


def normalised_cross_correlation(a: np.ndarray, b: np.ndarray, valid: np.ndarray | None = None) -> float:
    """NCC of two arrays over `valid` voxels (all when None)."""
    x = np.asarray(a, float)
    y = np.asarray(b, float)
    if valid is not None:
        x, y = x[valid], y[valid]
    x = x - x.mean()
    y = y - y.mean()
    den = np.sqrt(np.sum(x * x) * np.sum(y * y))
    return float(np.sum(x * y) / den) if den > 0 else 0.0


def transform_from_parameters(transform: str, parameters, fixed_parameters) -> sitk.Transform:
    """A rigid (Euler3D: 3 angles in radians, then 3 translations in mm) or affine (9 matrix entries, then 3
    translations) SimpleITK transform from its parameters and fixed parameters (centre of rotation)."""
    if transform not in TRANSFORMS:
        raise SpecError([f"transform {transform!r} is not one of {TRANSFORMS}"])
    out = sitk.Euler3DTransform() if transform == "rigid" else sitk.AffineTransform(3)
    if fixed_parameters:
        out.SetFixedParameters([float(p) for p in fixed_parameters])
    out.SetParameters([float(p) for p in parameters])
    return out


def _single(transform: sitk.Transform) -> sitk.Transform:
    """The one transform inside the composite that `ImageRegistrationMethod.Execute` may return."""
    if transform.GetParameters():
        return transform
    return sitk.CompositeTransform(transform).GetNthTransform(0)


def _coverage(moving: Image, fixed: Image, transform: sitk.Transform | None) -> np.ndarray:
    ones = moving.with_array(np.ones(moving.shape, np.uint8))
    return resample_to_reference(ones, fixed, is_mask=True, transform=transform).array > 0


def register_to_reference(moving: Image, fixed: Image, transform: str = "rigid", metric: str = "mattes_mi", *,
                          backend: str = "sitk", interpolator: str = "linear", iterations: int = 100,
                          sampling: float = 0.2, max_samples: int = 100_000, seed: int = 0,
                          case: str | None = None, threads: int | None = None) -> tuple[Image, RegistrationRecord]:
    """Align `moving` to `fixed` and return it resampled onto `fixed`'s grid, with a `RegistrationRecord`.

    The same `seed` gives the same result up to the order in which ITK's threads add up the metric
    (differences ~1e-12); `threads=1` makes it exact (byte-identical reruns).
    """
    problems = []
    if transform not in TRANSFORMS:
        problems.append(f"transform {transform!r} is not one of {TRANSFORMS}")
    if metric not in METRICS:
        problems.append(f"metric {metric!r} is not one of {METRICS}")
    if backend not in ("sitk", "ants"):
        problems.append(f"backend {backend!r} is not 'sitk' or 'ants'")
    if not 0 < sampling <= 1:
        problems.append(f"sampling must be in (0, 1], got {sampling}")
    if problems:
        raise SpecError(problems)
    if backend == "ants":
        return _register_ants(moving, fixed, transform, interpolator, seed, case)
    f = sitk.Cast(to_sitk(fixed), sitk.sitkFloat32)
    m = sitk.Cast(to_sitk(moving), sitk.sitkFloat32)
    base = sitk.Euler3DTransform() if transform == "rigid" else sitk.AffineTransform(3)
    try:
        init = sitk.CenteredTransformInitializer(f, m, base, sitk.CenteredTransformInitializerFilter.GEOMETRY)
    except RuntimeError as exc:
        raise InputError(f"cannot initialise registration ({exc})", case=case, field=moving.name,
                         hint="check that both phases are 3-D images of the same patient") from exc
    reg = sitk.ImageRegistrationMethod()
    if threads is not None:
        reg.SetNumberOfThreads(int(threads))
    if metric == "mattes_mi":
        reg.SetMetricAsMattesMutualInformation(numberOfHistogramBins=50)
    elif metric == "mean_squares":
        reg.SetMetricAsMeanSquares()
    else:
        reg.SetMetricAsCorrelation()
    reg.SetMetricSamplingStrategy(reg.RANDOM)
    n_vox = float(np.prod(fixed.shape))
    reg.SetMetricSamplingPercentagePerLevel(
        [float(min(sampling, max(max_samples / (n_vox / f**3), 1e-4))) for f in SHRINK],
        seed + 1)  # ITK takes seed 0 as "from the wall clock" (sitk.sitkWallClock): hccrad's seed 0 is ITK's 1
    reg.SetInterpolator(sitk.sitkLinear)
    reg.SetOptimizerAsRegularStepGradientDescent(learningRate=2.0, minStep=1e-3, numberOfIterations=iterations,
                                                 relaxationFactor=0.5, gradientMagnitudeTolerance=1e-8)
    reg.SetOptimizerScalesFromPhysicalShift()
    reg.SetShrinkFactorsPerLevel(list(SHRINK))
    reg.SetSmoothingSigmasPerLevel([2, 1, 0])
    reg.SmoothingSigmasAreSpecifiedInPhysicalUnitsOn()
    reg.SetInitialTransform(init, inPlace=False)
    try:
        final = reg.Execute(f, m)
    except RuntimeError as exc:
        raise InputError(f"registration failed ({str(exc).strip().splitlines()[-1]})", case=case,
                         field=moving.name, hint="check that the phases overlap; try transform='rigid' or "
                                                 "a larger sampling fraction") from exc
    out = resample_to_reference(moving, fixed, interpolator=interpolator, transform=final)
    valid_before = _coverage(moving, fixed, None)
    before = resample_to_reference(moving, fixed, interpolator="linear").array
    valid_after = _coverage(moving, fixed, final)
    record = RegistrationRecord(
        moving=moving.name, fixed=fixed.name, backend="sitk", transform=transform, metric=metric,
        final_metric=float(reg.GetMetricValue()), iterations=int(reg.GetOptimizerIteration()),
        stop_condition=reg.GetOptimizerStopConditionDescription(),
        ncc_before=normalised_cross_correlation(fixed.array, before, valid_before) if valid_before.any() else 0.0,
        ncc_after=normalised_cross_correlation(fixed.array, out.array, valid_after) if valid_after.any() else 0.0,
        parameters=tuple(float(p) for p in _single(final).GetParameters()),
        seed=seed, fixed_parameters=tuple(float(p) for p in _single(final).GetFixedParameters()),
    )
    logger.info("registered %s to %s: NCC %.3f -> %.3f", moving.name, fixed.name, record.ncc_before,
                record.ncc_after)
    return out, record


def _register_ants(moving: Image, fixed: Image, transform: str, interpolator: str, seed: int,
                   case: str | None) -> tuple[Image, RegistrationRecord]:
    """ANTs registration through antspyx (Avants et al., NeuroImage 2011), when it is installed."""
    if importlib.util.find_spec("ants") is None:
        raise SpecError(["backend='ants' needs the optional package antspyx (pip install antspyx); "
                         "or use backend='sitk'"])
    import ants  # lazy: optional dependency (antspyx)

    def to_ants(img: Image):
        a = ants.from_numpy(np.asarray(img.array, np.float32).transpose(2, 1, 0).copy(),
                            origin=list(img.origin), spacing=list(img.spacing[::-1]),
                            direction=np.asarray(img.direction).reshape(3, 3))
        return a

    fa, ma = to_ants(fixed), to_ants(moving)
    kind = "Rigid" if transform == "rigid" else "Affine"
    res = ants.registration(fixed=fa, moving=ma, type_of_transform=kind, random_seed=seed)
    warped = ants.apply_transforms(fixed=fa, moving=ma, transformlist=res["fwdtransforms"],
                                   interpolator="bSpline" if interpolator == "bspline" else interpolator)
    arr = warped.numpy().transpose(2, 1, 0).astype(np.float32)
    out = fixed.with_array(arr, name=moving.name)
    before = resample_to_reference(moving, fixed).array
    record = RegistrationRecord(moving.name, fixed.name, "ants", transform, "mattes_mi",
                                float(ants.image_mutual_information(fa, warped)), -1, "ants",
                                normalised_cross_correlation(fixed.array, before),
                                normalised_cross_correlation(fixed.array, arr), (), seed)
    return out, record
