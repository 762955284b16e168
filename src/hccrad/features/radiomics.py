"""PyRadiomics features per phase and region (whole tumour, habitats), named `<phase>_<region>_<feature>`.

This is a thin wrapper around PyRadiomics' `RadiomicsFeatureExtractor` (van Griethuysen et al., Cancer Res
2017;77:e104-e107): first-order, shape, GLCM, GLRLM, GLSZM, GLDM and NGTDM features, optionally on LoG and
wavelet filtered images, exactly as PyRadiomics computes them. Parameter files (YAML, the PyRadiomics
format with `imageType`, `featureClass`, `setting`) are accepted as-is and validated by PyRadiomics' own
schema. Seed 004 (CT radiomics, proliferative HCC) used PyRadiomics with 1x1x1 mm linear resampling and
Original + LoG + wavelet images (1,316 features per phase); seed 001 used PyRadiomics on the whole tumour
and on each habitat. `default_params` builds such a configuration.

Feature names keep PyRadiomics' own name after a phase and a region prefix, e.g.
`portal_habitat3_original_firstorder_Mean`; PyRadiomics' `diagnostics_*` entries are dropped. Because the
prefix is split on "_", phase and region names must not contain "_".

Small or flat regions. PyRadiomics refuses a region of one voxel, and one with fewer dimensions than the
`minimumROIDimensions` setting (`checkMask`; hccrad's default parameters set it to 1, PyRadiomics' own
default is 2); such a region (and an empty habitat) gives NaN for every feature of that phase x region,
with a warning that names the case, phase, region and PyRadiomics' reason. A constant region is computed
by PyRadiomics (its documented conventions apply, e.g. GLCM Correlation = 1 for a flat region); only the
values PyRadiomics itself returns as NaN/inf (mathematically undefined, e.g. a 0/0) become NaN, and they
are logged by name. Images reach PyRadiomics through `hccrad.io.volume.to_sitk`, so geometry (spacing,
origin, direction) is preserved.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from hccrad.core.errors import FeatureError, GeometryError, InputError
from hccrad.core.image import Image
from hccrad.io.volume import read_image, to_sitk

logger = logging.getLogger(__name__)

FEATURE_CLASSES: tuple[str, ...] = ("firstorder", "shape", "glcm", "glrlm", "glszm", "gldm", "ngtdm")
PARAM_SECTIONS = frozenset({"imageType", "featureClass", "setting", "voxelSetting"})

__all__ = [
    "FEATURE_CLASSES",
    "RadiomicsTask",
    "IBSI_TAGS",
    "default_params",
    "ibsi_tag",
    "load_params",
    "params_hash",
    "radiomics_features",
    "run_radiomics_task",
    "split_feature_name",
]


# PyRadiomics "<class>_<Feature>" -> IBSI 1 feature tag (Zwanenburg et al., Radiology 2020;295:328-338;
# the tags used by MIRP's reference tables). Conventions that differ: PyRadiomics' Kurtosis is not the
# excess kurtosis (IBSI stat_kurt = Kurtosis - 3); Energy/TotalEnergy/RMS use `voxelArrayShift` (set 0 for
# IBSI); Entropy and Uniformity are computed on the discretised intensities (IBSI ih_*).
_IBSI_BY_CLASS: dict[str, dict[str, str]] = {
    "shape": {
        "MeshVolume": "morph_volume", "VoxelVolume": "morph_vol_approx", "SurfaceArea": "morph_area_mesh",
        "SurfaceVolumeRatio": "morph_av", "Sphericity": "morph_sphericity", "Maximum3DDiameter": "morph_diam",
        "MajorAxisLength": "morph_pca_maj_axis", "MinorAxisLength": "morph_pca_min_axis",
        "LeastAxisLength": "morph_pca_least_axis", "Elongation": "morph_pca_elongation",
        "Flatness": "morph_pca_flatness",
    },
    "firstorder": {
        "Mean": "stat_mean", "Variance": "stat_var", "Skewness": "stat_skew", "Kurtosis": "stat_kurt",
        "Median": "stat_median", "Minimum": "stat_min", "10Percentile": "stat_p10", "90Percentile": "stat_p90",
        "Maximum": "stat_max", "InterquartileRange": "stat_iqr", "Range": "stat_range",
        "MeanAbsoluteDeviation": "stat_mad", "RobustMeanAbsoluteDeviation": "stat_rmad", "Energy": "stat_energy",
        "RootMeanSquared": "stat_rms", "Entropy": "ih_entropy", "Uniformity": "ih_uniformity",
    },
    "glcm": {
        "MaximumProbability": "cm_joint_max", "JointAverage": "cm_joint_avg", "SumSquares": "cm_joint_var",
        "JointEntropy": "cm_joint_entr", "DifferenceAverage": "cm_diff_avg", "DifferenceVariance": "cm_diff_var",
        "DifferenceEntropy": "cm_diff_entr", "SumAverage": "cm_sum_avg", "SumEntropy": "cm_sum_entr",
        "JointEnergy": "cm_energy", "Contrast": "cm_contrast", "Id": "cm_inv_diff", "Idn": "cm_inv_diff_norm",
        "Idm": "cm_inv_diff_mom", "Idmn": "cm_inv_diff_mom_norm", "InverseVariance": "cm_inv_var",
        "Correlation": "cm_corr", "Autocorrelation": "cm_auto_corr", "ClusterTendency": "cm_clust_tend",
        "ClusterShade": "cm_clust_shade", "ClusterProminence": "cm_clust_prom", "Imc1": "cm_info_corr1",
        "Imc2": "cm_info_corr2",
    },
    "glrlm": {
        "ShortRunEmphasis": "rlm_sre", "LongRunEmphasis": "rlm_lre", "LowGrayLevelRunEmphasis": "rlm_lgre",
        "HighGrayLevelRunEmphasis": "rlm_hgre", "ShortRunLowGrayLevelEmphasis": "rlm_srlge",
        "ShortRunHighGrayLevelEmphasis": "rlm_srhge", "LongRunLowGrayLevelEmphasis": "rlm_lrlge",
        "LongRunHighGrayLevelEmphasis": "rlm_lrhge", "GrayLevelNonUniformity": "rlm_glnu",
        "GrayLevelNonUniformityNormalized": "rlm_glnu_norm", "RunLengthNonUniformity": "rlm_rlnu",
        "RunLengthNonUniformityNormalized": "rlm_rlnu_norm", "RunPercentage": "rlm_r_perc",
        "GrayLevelVariance": "rlm_gl_var", "RunVariance": "rlm_rl_var", "RunEntropy": "rlm_rl_entr",
    },
    "glszm": {
        "SmallAreaEmphasis": "szm_sze", "LargeAreaEmphasis": "szm_lze", "LowGrayLevelZoneEmphasis": "szm_lgze",
        "HighGrayLevelZoneEmphasis": "szm_hgze", "SmallAreaLowGrayLevelEmphasis": "szm_szlge",
        "SmallAreaHighGrayLevelEmphasis": "szm_szhge", "LargeAreaLowGrayLevelEmphasis": "szm_lzlge",
        "LargeAreaHighGrayLevelEmphasis": "szm_lzhge", "GrayLevelNonUniformity": "szm_glnu",
        "GrayLevelNonUniformityNormalized": "szm_glnu_norm", "SizeZoneNonUniformity": "szm_zsnu",
        "SizeZoneNonUniformityNormalized": "szm_zsnu_norm", "ZonePercentage": "szm_z_perc",
        "GrayLevelVariance": "szm_gl_var", "ZoneVariance": "szm_zs_var", "ZoneEntropy": "szm_zs_entr",
    },
    "gldm": {
        "SmallDependenceEmphasis": "ngl_lde", "LargeDependenceEmphasis": "ngl_hde",
        "LowGrayLevelEmphasis": "ngl_lgce", "HighGrayLevelEmphasis": "ngl_hgce",
        "SmallDependenceLowGrayLevelEmphasis": "ngl_ldlge", "SmallDependenceHighGrayLevelEmphasis": "ngl_ldhge",
        "LargeDependenceLowGrayLevelEmphasis": "ngl_hdlge", "LargeDependenceHighGrayLevelEmphasis": "ngl_hdhge",
        "GrayLevelNonUniformity": "ngl_glnu", "DependenceNonUniformity": "ngl_dcnu",
        "DependenceNonUniformityNormalized": "ngl_dcnu_norm", "GrayLevelVariance": "ngl_gl_var",
        "DependenceVariance": "ngl_dc_var", "DependenceEntropy": "ngl_dc_entr",
    },
    "ngtdm": {
        "Coarseness": "ngt_coarseness", "Contrast": "ngt_contrast", "Busyness": "ngt_busyness",
        "Complexity": "ngt_complexity", "Strength": "ngt_strength",
    },
}
IBSI_TAGS: dict[str, str] = {f"{c}_{f}": t for c, m in _IBSI_BY_CLASS.items() for f, t in m.items()}
# how PyRadiomics aggregates texture matrices, in IBSI terms: 3-D (13 directions, features per direction
# averaged for GLCM/GLRLM) and force2D (in-plane directions, matrices merged over slices = IBSI "2.5D")
_IBSI_SUFFIX = {
    False: {"glcm": "_3D_avg", "glrlm": "_3D_avg", "glszm": "_3D", "gldm": "_3D", "ngtdm": "_3D"},
    True: {"glcm": "_2_5D_avg", "glrlm": "_2_5D_avg", "glszm": "_2_5D", "gldm": "_2_5D", "ngtdm": "_2_5D"},
}


def ibsi_tag(feature: str, *, force2d: bool = False) -> str | None:
    """IBSI tag of a PyRadiomics feature ("original_glcm_Contrast" or "glcm_Contrast"), with the texture
    aggregation PyRadiomics uses (3-D, or 2.5-D with `force2D`); None when IBSI has no such feature."""
    parts = feature.split("_")
    cls, name = parts[-2], parts[-1]
    base = IBSI_TAGS.get(f"{cls}_{name}")
    if base is None:
        return None
    return base + _IBSI_SUFFIX[force2d].get(cls, "")


def default_params(
    *,
    bin_width: float = 25.0,
    resampled_spacing: tuple[float, float, float] | None = None,
    interpolator: str = "sitkBSpline",
    log_sigma: tuple[float, ...] = (),
    wavelet: bool = False,
    feature_classes: tuple[str, ...] = FEATURE_CLASSES,
) -> dict[str, Any]:
    """A PyRadiomics parameter dict: `Original` image (+ `LoG` with `log_sigma` mm, + `Wavelet`), the seven
    3-D feature classes, fixed bin width (PyRadiomics default 25), optional resampling (x, y, z mm, as in
    PyRadiomics' `resampledPixelSpacing`; seed 004: (1, 1, 1) with `interpolator="sitkLinear"`) and
    `minimumROIDimensions: 1` so that thin habitats are computed instead of refused."""
    image_types: dict[str, dict] = {"Original": {}}
    if log_sigma:
        image_types["LoG"] = {"sigma": [float(s) for s in log_sigma]}
    if wavelet:
        image_types["Wavelet"] = {}
    # minimumROIDimensions 1 (PyRadiomics' default is 2): a thin habitat (e.g. 3 voxels in a row) is computed
    # rather than refused; PyRadiomics still refuses single-voxel regions.
    setting: dict[str, Any] = {"binWidth": float(bin_width), "label": 1, "interpolator": interpolator,
                               "minimumROIDimensions": 1}
    if resampled_spacing is not None:
        setting["resampledPixelSpacing"] = [float(s) for s in resampled_spacing]
    return {"imageType": image_types, "featureClass": {c: [] for c in feature_classes}, "setting": setting}


def load_params(params: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    """Resolve `params` to a validated PyRadiomics parameter dict.

    None -> `default_params()`; str/Path -> a PyRadiomics YAML/JSON parameter file read with `safe_load`;
    a mapping -> a parameter dict with the sections `imageType`, `featureClass`, `setting` (`voxelSetting`).
    Raises `InputError` (naming the file and the offending entry) when PyRadiomics' schema rejects it.
    """
    source: str | None = None
    if params is None:
        resolved: dict[str, Any] = default_params()
    elif isinstance(params, (str, Path)):
        path = Path(params)
        source = str(path)
        if not path.is_file():
            raise InputError("PyRadiomics parameter file does not exist", file=path, field="params",
                             hint="give the path of a PyRadiomics .yaml parameter file, or a dict")
        try:
            loaded = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise InputError(f"parameter file is not valid YAML ({exc})", file=path, field="params") from exc
        resolved = dict(loaded or {})
    elif isinstance(params, Mapping):
        try:
            resolved = json.loads(json.dumps(dict(params)))  # deep copy of plain YAML/JSON values
        except (TypeError, ValueError) as exc:
            raise InputError(f"params must hold plain YAML/JSON values ({exc})", field="params",
                             hint="use Python int/float/str/list/dict (no numpy scalars)") from exc
    else:
        raise InputError(f"params must be None, a path or a dict, got {type(params).__name__}", field="params")
    unknown = set(resolved) - PARAM_SECTIONS
    if unknown:
        raise InputError(
            f"unknown top-level section(s) {sorted(unknown)} in the PyRadiomics parameters",
            file=source, field="params",
            hint=f"PyRadiomics parameters have the sections {sorted(PARAM_SECTIONS)}; put settings such as "
                 "binWidth under 'setting:'",
        )
    _build_extractor(resolved, source)  # validates with PyRadiomics' schema
    return resolved


def params_hash(params: Mapping[str, Any] | str | Path | None) -> str:
    """SHA-256 (first 16 hex digits) of the resolved parameters and the PyRadiomics version: the config
    hash under which `hccrad.features.extract.extract_cohort` caches radiomics results."""
    # lazy: optional heavy dependency (PyRadiomics)
    import radiomics

    blob = json.dumps({"params": load_params(params), "pyradiomics": radiomics.__version__}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def split_feature_name(name: str) -> tuple[str, str, str]:
    """`portal_habitat3_original_firstorder_Mean` -> ("portal", "habitat3", "original_firstorder_Mean")."""
    parts = name.split("_", 2)
    if len(parts) != 3:
        raise InputError(f"{name!r} is not a '<phase>_<region>_<feature>' radiomics name", field="feature")
    return parts[0], parts[1], parts[2]


def _build_extractor(params: dict[str, Any], source: str | None = None):
    # lazy: optional heavy dependency (PyRadiomics)
    import radiomics
    from pykwalify.errors import PyKwalifyException
    from radiomics import featureextractor

    # PyRadiomics prints every INFO line to stderr through its own handler (also in worker processes);
    # keep its console output to warnings unless our own logger was asked for detail (hccrad -v).
    if not logging.getLogger("hccrad").isEnabledFor(logging.INFO):
        radiomics.setVerbosity(logging.WARNING)
    try:
        return featureextractor.RadiomicsFeatureExtractor(json.loads(json.dumps(params)))
    except PyKwalifyException as exc:
        raise InputError(
            f"PyRadiomics rejected the parameters: {getattr(exc, 'msg', exc)}", file=source, field="params",
            hint="see https://pyradiomics.readthedocs.io/en/latest/customization.html for valid entries",
        ) from exc


def _check_name(name: str, what: str, case_id: str | None) -> None:
    if not name or "_" in name:
        raise InputError(
            f"{what} name {name!r} must be non-empty and contain no '_' (feature names are split on '_')",
            case=case_id, field=what, hint=f"rename the {what}, e.g. 'tumorReader2' instead of 'tumor_reader2'",
        )


def _region_array(region: Any, name: str, image: Image, phase: str, case_id: str | None) -> np.ndarray:
    arr = np.asarray(region.array if isinstance(region, Image) else region)
    if arr.shape != image.shape:
        raise GeometryError(
            f"region {name!r} has shape {arr.shape} but phase {phase!r} has shape {image.shape}",
            case=case_id, field=f"{phase}/{name}",
            hint="resample masks and habitat maps onto the image grid (hccrad.preprocess) before extraction",
        )
    return arr > 0


def _template_mask(shape: tuple[int, int, int]) -> np.ndarray:
    """A small centred cube: used only to learn the feature names an image yields with these params."""
    out = np.zeros(shape, dtype=bool)
    sl = tuple(slice(max(0, n // 2 - 2), max(0, n // 2 - 2) + min(n, 5)) for n in shape)
    out[sl] = True
    return out


def _execute(extractor, image_sitk, image: Image, mask: np.ndarray, label: int) -> dict[str, float]:
    mask_sitk = to_sitk(image.with_array(mask.astype(np.int32) * np.int32(label), name="mask"))
    raw = extractor.execute(image_sitk, mask_sitk, label=label)
    return {k: _real(k, v) for k, v in raw.items() if not k.startswith("diagnostics_")}


def _real(name: str, value: Any) -> float:
    """PyRadiomics' PCA shape features use `numpy.linalg.eigvals`, which returns complex numbers with a
    round-off imaginary part for (near-)degenerate eigenvalues (e.g. a sphere): keep the real part then;
    a genuinely complex value is undefined (NaN, logged)."""
    if np.iscomplexobj(value):
        z = complex(value)
        if abs(z.imag) <= 1e-9 * max(1.0, abs(z.real)):
            return float(z.real)
        logger.warning("PyRadiomics returned the complex value %r for %s; set to NaN", z, name)
        return math.nan
    return float(value)


def radiomics_features(
    images: Mapping[str, Image],
    regions: Mapping[str, np.ndarray],
    params: Mapping[str, Any] | str | Path | None = None,
    *,
    case_id: str | None = None,
) -> dict[str, float]:
    """PyRadiomics features for every phase x region, named `<phase>_<region>_<pyradiomics name>`.

    images: phase -> `Image`; regions: region name ("tumor", "habitat1", ...) -> boolean array (z, y, x)
    on the images' grid (or an `Image` holding it); params: see `load_params`. Shape features depend only on
    the region (and resampling) and are therefore repeated per phase, as PyRadiomics reports them.
    Regions PyRadiomics cannot use (empty, one voxel, too few dimensions) give NaN features with a logged
    reason. Raises `InputError` for bad names, non-finite voxels or invalid parameters, `GeometryError` for
    a region not on the image grid, `FeatureError` when PyRadiomics fails for another reason.
    """
    if not images:
        raise InputError("no images given", case=case_id, field="images", hint="pass {phase: Image}")
    if not regions:
        raise InputError("no regions given", case=case_id, field="regions", hint="pass {'tumor': mask_array}")
    resolved = load_params(params)
    extractor = _build_extractor(resolved)
    label = int(resolved.get("setting", {}).get("label", 1))
    out: dict[str, float] = {}
    for phase, image in images.items():
        _check_name(phase, "phase", case_id)
        if not isinstance(image, Image):
            raise InputError(f"phase {phase!r} is a {type(image).__name__}, expected hccrad Image",
                             case=case_id, field=phase)
        image_sitk = to_sitk(image)
        for region, region_value in regions.items():
            _check_name(region, "region", case_id)
            mask = _region_array(region_value, region, image, phase, case_id)
            where = f"phase {phase!r}, region {region!r}"
            if mask.any() and not np.all(np.isfinite(image.array[mask])):
                raise InputError(f"{where}: the image has NaN/inf voxels inside the region", case=case_id,
                                 field=phase, hint="fill or mask non-finite voxels before extraction")
            prefix = f"{phase}_{region}_"
            try:
                feats = _execute(extractor, image_sitk, image, mask, label)
            except ValueError as exc:  # PyRadiomics' checkMask / resegmentation refusals
                reason = str(exc).splitlines()[0] if mask.any() else "region is empty"
                try:  # the feature names this configuration yields, so the NaN columns exist
                    names = _execute(extractor, image_sitk, image, _template_mask(image.shape), label)
                except ValueError:
                    names = {}
                logger.warning("case %s, %s (%d voxels): all %d features set to NaN: %s",
                               case_id, where, int(mask.sum()), len(names), reason)
                out.update({prefix + k: math.nan for k in names})
                continue
            except Exception as exc:  # noqa: BLE001 - re-raised with the case and region named
                raise FeatureError(f"{where}: PyRadiomics failed ({type(exc).__name__}: {exc})",
                                   case=case_id, field=f"{phase}/{region}") from exc
            undefined = [k for k, v in feats.items() if not math.isfinite(v)]
            if undefined:
                logger.warning("case %s, %s (%d voxels): %d feature(s) undefined (PyRadiomics returned "
                               "NaN/inf), set to NaN: %s", case_id, where, int(mask.sum()), len(undefined),
                               ", ".join(undefined))
            out.update({prefix + k: (v if math.isfinite(v) else math.nan) for k, v in feats.items()})
    return out


@dataclass(frozen=True)
class RadiomicsTask:
    """One case of a cohort extraction, as files (small and picklable for worker processes).

    images: phase -> volume path; masks: region name -> binary mask path (voxels > 0); habitat_map: label
    map path (0 outside, 1..k) giving regions `habitat1`..`habitatk` (k = n_habitats, or the largest label:
    fix n_habitats so that a case missing a habitat still gets its NaN columns); params: see `load_params`.
    """

    case_id: str
    images: Mapping[str, str | Path]
    masks: Mapping[str, str | Path] = field(default_factory=dict)
    habitat_map: str | Path | None = None
    n_habitats: int | None = None
    params: Mapping[str, Any] | str | Path | None = None


def run_radiomics_task(task: RadiomicsTask) -> dict[str, float]:
    """Read a `RadiomicsTask`'s files and return `radiomics_features` for it (module-level, so it can be
    passed to `hccrad.features.extract.extract_cohort`)."""
    images = {ph: read_image(p, name=ph, case=task.case_id) for ph, p in task.images.items()}
    regions: dict[str, np.ndarray] = {
        name: read_image(p, name=name, case=task.case_id).array > 0 for name, p in task.masks.items()
    }
    if task.habitat_map is not None:
        labels = np.rint(read_image(task.habitat_map, name="habitat", case=task.case_id).array).astype(int)
        k = task.n_habitats if task.n_habitats is not None else int(labels.max())
        regions.update({f"habitat{h}": labels == h for h in range(1, k + 1)})
    return radiomics_features(images, regions, task.params, case_id=task.case_id)
