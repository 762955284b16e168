"""Feature stability: intraclass correlation, coefficient of variation, mask-perturbation robustness.

ICC (Shrout & Fleiss, Psychol Bull 1979;86:420-428; McGraw & Wong, Psychol Methods 1996;1:30-46) from the
two-way ANOVA of an n targets x k raters table with mean squares
BMS (between targets, df n-1), JMS (between raters, df k-1), EMS (residual, df (n-1)(k-1)) and
WMS = (SS_raters + SS_residual) / (n(k-1)):

    ICC(1,1) = (BMS - WMS) / (BMS + (k-1) WMS)                       one-way random
    ICC(2,1) = (BMS - EMS) / (BMS + (k-1) EMS + k (JMS - EMS) / n)   two-way random, absolute agreement
    ICC(3,1) = (BMS - EMS) / (BMS + (k-1) EMS)                       two-way mixed, consistency
    ICC(1,k) = (BMS - WMS) / BMS;  ICC(2,k) = (BMS - EMS) / (BMS + (JMS - EMS) / n);  ICC(3,k) = (BMS - EMS) / BMS

95% CIs from the F distribution (McGraw & Wong 1996, Table 7; Satterthwaite df for ICC(2,·)), the same
formulas as pingouin.intraclass_corr, against which (and against Shrout & Fleiss' Table 2/4 example) this
module is tested. It is vectorised over features so that a table of thousands of features is one pass.
Seed 004 keeps features with inter- and intra-observer ICC > 0.75; seed 001 excludes ICC < 0.8 and keeps
features with CV < 15% over three repeated extractions.

Coefficient of variation of repeated measurements of one case: CV = SD (ddof=1) / |mean|. Over a cohort,
`stability_table` reports the root-mean-square of the per-case CVs (Glüer et al., Osteoporos Int
1995;5:262-270). Mask perturbation (erode / dilate / shift; Zwanenburg et al., Sci Rep 2019;9:614) stands
in for a second reader: the perturbed masks are treated as raters.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.stats import f as f_dist

from hccrad.core.errors import DataError
from hccrad.core.image import Image

logger = logging.getLogger(__name__)

ICC_KINDS = ("ICC(1,1)", "ICC(2,1)", "ICC(3,1)", "ICC(1,k)", "ICC(2,k)", "ICC(3,k)")
STABILITY_COLUMNS = ["feature", "icc2_1", "icc2_1_lower", "icc2_1_upper", "icc3_1", "cv", "n"]

__all__ = [
    "ICC_KINDS",
    "IccResult",
    "coefficient_of_variation",
    "icc",
    "perturb_mask",
    "perturbation_stability",
    "perturbation_table",
    "stability_table",
]


@dataclass(frozen=True)
class IccResult:
    """One ICC with its 95% CI, F test and design size."""

    kind: str
    value: float
    ci_lower: float
    ci_upper: float
    f: float
    df1: int
    df2: int
    pvalue: float
    n_targets: int
    n_raters: int
    alpha: float = 0.05

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{
            "kind": self.kind, "icc": self.value, f"ci{int(round(100 * (1 - self.alpha)))}_lower": self.ci_lower,
            f"ci{int(round(100 * (1 - self.alpha)))}_upper": self.ci_upper, "F": self.f, "df1": self.df1,
            "df2": self.df2, "pvalue": self.pvalue, "n_targets": self.n_targets, "n_raters": self.n_raters,
            "method": "two-way ANOVA, Shrout & Fleiss 1979 / McGraw & Wong 1996",
        }])

    def __str__(self) -> str:
        return (f"{self.kind} = {self.value:.4f} (95% CI {self.ci_lower:.4f} to {self.ci_upper:.4f}; "
                f"F({self.df1},{self.df2}) = {self.f:.3f}, p = {self.pvalue:.3g}; "
                f"{self.n_targets} targets x {self.n_raters} raters)")


def _mean_squares(y: np.ndarray) -> dict[str, np.ndarray]:
    """y: (..., n, k). Two-way ANOVA without replication, vectorised over the leading axes."""
    n, k = y.shape[-2], y.shape[-1]
    grand = y.mean(axis=(-2, -1), keepdims=True)
    row = y.mean(axis=-1, keepdims=True)
    col = y.mean(axis=-2, keepdims=True)
    ss_rows = k * ((row - grand) ** 2).sum(axis=(-2, -1))
    ss_cols = n * ((col - grand) ** 2).sum(axis=(-2, -1))
    ss_err = ((y - row - col + grand) ** 2).sum(axis=(-2, -1))
    return {
        "bms": ss_rows / (n - 1), "jms": ss_cols / (k - 1), "ems": ss_err / ((n - 1) * (k - 1)),
        "wms": (ss_cols + ss_err) / (n * (k - 1)),
    }


def _icc_arrays(y: np.ndarray, kind: str, alpha: float = 0.05) -> dict[str, np.ndarray]:
    """ICC, CI, F, df and p for `kind`, vectorised over the leading axes of y (..., n targets, k raters)."""
    if kind not in ICC_KINDS:
        raise DataError(f"unknown ICC kind {kind!r}", field="kind", hint=f"use one of {', '.join(ICC_KINDS)}")
    n, k = y.shape[-2], y.shape[-1]
    ms = _mean_squares(np.asarray(y, dtype=float))
    bms, jms, ems, wms = ms["bms"], ms["jms"], ms["ems"], ms["wms"]
    q = 1 - alpha / 2
    df1 = n - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        if kind.startswith("ICC(1"):
            df2 = n * (k - 1)
            fval = bms / wms
            fl, fu = fval / f_dist.ppf(q, df1, df2), fval * f_dist.ppf(q, df2, df1)
            if kind == "ICC(1,1)":
                value = (bms - wms) / (bms + (k - 1) * wms)
                lo, hi = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
            else:
                value, lo, hi = (bms - wms) / bms, 1 - 1 / fl, 1 - 1 / fu
        elif kind.startswith("ICC(3"):
            df2 = (n - 1) * (k - 1)
            fval = bms / ems
            fl, fu = fval / f_dist.ppf(q, df1, df2), fval * f_dist.ppf(q, df2, df1)
            if kind == "ICC(3,1)":
                value = (bms - ems) / (bms + (k - 1) * ems)
                lo, hi = (fl - 1) / (fl + k - 1), (fu - 1) / (fu + k - 1)
            else:
                value, lo, hi = (bms - ems) / bms, 1 - 1 / fl, 1 - 1 / fu
        else:
            df2 = (n - 1) * (k - 1)
            fval = bms / ems
            icc2 = (bms - ems) / (bms + (k - 1) * ems + k * (jms - ems) / n)
            fj = jms / ems
            vn = df2 * (k * icc2 * fj + n * (1 + (k - 1) * icc2) - k * icc2) ** 2
            vd = df1 * k**2 * icc2**2 * fj**2 + (n * (1 + (k - 1) * icc2) - k * icc2) ** 2
            v = vn / vd
            f_up, f_lo = f_dist.ppf(q, n - 1, v), f_dist.ppf(q, v, n - 1)
            lo = n * (bms - f_up * ems) / (f_up * (k * jms + (k * n - k - n) * ems) + n * bms)
            hi = n * (f_lo * bms - ems) / (k * jms + (k * n - k - n) * ems + n * f_lo * bms)
            if kind == "ICC(2,1)":
                value = icc2
            else:
                value = (bms - ems) / (bms + (jms - ems) / n)
                lo, hi = lo * k / (1 + lo * (k - 1)), hi * k / (1 + hi * (k - 1))
        pval = f_dist.sf(fval, df1, df2)
    return {"icc": value, "lower": lo, "upper": hi, "f": fval, "df1": df1, "df2": df2, "p": pval}


def _to_wide(data: pd.DataFrame, targets: str, raters: str, ratings: str) -> pd.DataFrame:
    if {targets, raters, ratings} <= set(data.columns):
        if data.duplicated([targets, raters]).any():
            raise DataError("several ratings for the same target and rater", field=ratings,
                            hint="average repeated ratings first, or give each repeat its own rater label")
        return data.pivot(index=targets, columns=raters, values=ratings)
    return data


def icc(
    data: pd.DataFrame,
    kind: str = "ICC(2,1)",
    *,
    targets: str = "targets",
    raters: str = "raters",
    ratings: str = "ratings",
    alpha: float = 0.05,
) -> IccResult:
    """Intraclass correlation of a complete targets x raters design (formulas in the module docstring).

    data: long format (columns `targets`, `raters`, `ratings`) or wide (rows = targets, columns = raters).
    Raises `DataError` for missing ratings, fewer than 2 targets or raters, or zero total variance.
    """
    wide = _to_wide(data, targets, raters, ratings)
    try:
        y = wide.to_numpy(dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError("ratings must be numeric", field=ratings) from exc
    if np.isnan(y).any():
        raise DataError(f"{int(np.isnan(y).sum())} missing rating(s): the ICC needs a complete design",
                        field=ratings, hint="drop targets with missing ratings (listwise deletion) first")
    n, k = y.shape
    if n < 2 or k < 2:
        raise DataError(f"need >= 2 targets and >= 2 raters, got {n} x {k}", field=ratings)
    if np.ptp(y) == 0:
        raise DataError("all ratings are equal: the ICC is 0/0 (undefined)", field=ratings)
    r = _icc_arrays(y, kind, alpha)
    return IccResult(kind, float(r["icc"]), float(r["lower"]), float(r["upper"]), float(r["f"]), int(r["df1"]),
                     int(r["df2"]), float(r["p"]), n, k, alpha)


def coefficient_of_variation(values: np.ndarray | Sequence[float], *, axis: int = -1, ddof: int = 1):
    """CV = SD(ddof) / |mean| along `axis` (repeated measurements of one case). A zero mean gives NaN
    (CV undefined) with a logged warning; a non-finite input raises `DataError`."""
    x = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(x)):
        raise DataError("non-finite values: the CV is undefined", field="values",
                        hint="drop cases or features with NaN/inf before computing the CV")
    if x.shape[axis] < 2:
        raise DataError(f"need >= 2 repeated measurements, got {x.shape[axis]}", field="values")
    mean = x.mean(axis=axis)
    sd = x.std(axis=axis, ddof=ddof)
    zero = mean == 0
    if np.any(zero):
        logger.warning("CV undefined (mean = 0) for %d of %d entries; set to NaN", int(np.sum(zero)), zero.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(zero, np.nan, sd / np.abs(np.where(zero, 1.0, mean)))
    return float(out) if out.ndim == 0 else out


def _stability_from_stack(stack: np.ndarray, names: Sequence[str]) -> pd.DataFrame:
    """stack: (n_cases, n_features, k raters). Per feature: ICC(2,1) with CI, ICC(3,1), RMS CV, n."""
    rows = []
    complete = np.isfinite(stack).all(axis=2)  # (cases, features)
    patterns: dict[bytes, list[int]] = {}
    for j in range(stack.shape[1]):
        patterns.setdefault(complete[:, j].tobytes(), []).append(j)
    results: dict[int, dict] = {}
    for cols in patterns.values():
        keep = complete[:, cols[0]]
        n = int(keep.sum())
        y = np.moveaxis(stack[keep][:, cols, :], 1, 0)  # (features, n, k)
        if n < 3:
            for j in cols:
                results[j] = {"icc2_1": np.nan, "icc2_1_lower": np.nan, "icc2_1_upper": np.nan,
                              "icc3_1": np.nan, "cv": np.nan, "n": n}
            logger.warning("%d feature(s) have < 3 complete cases: ICC set to NaN", len(cols))
            continue
        a2, a3 = _icc_arrays(y, "ICC(2,1)"), _icc_arrays(y, "ICC(3,1)")
        mean = y.mean(axis=2)
        sd = y.std(axis=2, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            cv_case = np.where(mean == 0, np.nan, sd / np.abs(mean))
            cv = np.sqrt(np.mean(cv_case**2, axis=1))
        for i, j in enumerate(cols):
            results[j] = {"icc2_1": a2["icc"][i], "icc2_1_lower": a2["lower"][i], "icc2_1_upper": a2["upper"][i],
                          "icc3_1": a3["icc"][i], "cv": cv[i], "n": n}
    for j, name in enumerate(names):
        rows.append({"feature": name, **results[j]})
    table = pd.DataFrame(rows, columns=STABILITY_COLUMNS)
    undefined = table.loc[table["icc2_1"].isna() & (table["n"] >= 3), "feature"].tolist()
    if undefined:
        logger.warning("ICC undefined (no variance between or within cases) for %d feature(s): %s",
                       len(undefined), ", ".join(undefined[:20]) + (" ..." if len(undefined) > 20 else ""))
    table["n"] = table["n"].astype(int)
    return table


def stability_table(
    features_reader1: pd.DataFrame, features_reader2: pd.DataFrame, *more_readers: pd.DataFrame
) -> pd.DataFrame:
    """Per-feature inter-reader (or repeat-extraction) stability: columns feature, icc2_1, icc2_1_lower,
    icc2_1_upper (95% CI), icc3_1, cv (RMS over cases of the per-case CV between readers), n (cases used).

    Rows of the tables are cases, aligned by index (cases missing from any table are dropped with a
    warning); a case with NaN for a feature is left out for that feature only. More than two tables (e.g.
    seed 001's three repeated extractions) are further raters. Features whose ICC is 0/0 (constant over
    all cases and readers) get NaN with a logged warning. Raises `DataError` when fewer than 3 cases or
    no features are shared.
    """
    tables = [features_reader1, features_reader2, *more_readers]
    common = tables[0].index
    union = tables[0].index
    for t in tables[1:]:
        common = common.intersection(t.index)
        union = union.union(t.index)
    if len(union) > len(common):
        logger.warning("stability_table: %d case(s) missing for some reader are ignored", len(union) - len(common))
    if len(common) < 3:
        raise DataError(f"only {len(common)} case(s) shared by all readers; the ICC needs >= 3",
                        field="index", hint="index all tables by the same case ids")
    shared = set.intersection(*(set(t.columns) for t in tables))
    feats = [c for c in tables[0].columns if c in shared]
    if not feats:
        raise DataError("the readers' tables share no feature column", field="columns")
    n_only = len(set.union(*(set(t.columns) for t in tables))) - len(feats)
    if n_only:
        logger.warning("stability_table: %d feature(s) missing for some reader are ignored", n_only)
    stack = np.stack([t.loc[common, feats].to_numpy(dtype=float) for t in tables], axis=2)
    return _stability_from_stack(stack, feats)


def perturb_mask(mask: np.ndarray, perturbation: str, *, radius: int = 1, shift: int = 1,
                 seed: int = 0) -> np.ndarray:
    """Erode / dilate by `radius` voxels (6-connected structuring element, 3-D) or shift by `shift` voxels
    in a seeded random in-plane direction (y, x); the shifted mask is clipped at the array border."""
    m = np.asarray(mask) > 0
    struct = ndimage.generate_binary_structure(3, 1)
    if perturbation == "erode":
        return ndimage.binary_erosion(m, struct, iterations=radius)
    if perturbation == "dilate":
        return ndimage.binary_dilation(m, struct, iterations=radius)
    if perturbation == "shift":
        angle = np.random.default_rng(seed).uniform(0, 2 * np.pi)
        dy, dx = int(round(shift * np.sin(angle))), int(round(shift * np.cos(angle)))
        if dy == 0 and dx == 0:
            dx = shift
        return ndimage.shift(m.astype(np.uint8), (0, dy, dx), order=0, mode="constant", cval=0) > 0
    raise DataError(f"unknown perturbation {perturbation!r}", field="perturbations",
                    hint="use 'erode', 'dilate' or 'shift'")


def perturbation_stability(
    images: Mapping[str, Image],
    mask: np.ndarray,
    feature_fn: Callable[[Mapping[str, Image], np.ndarray], Mapping[str, float]],
    perturbations: Sequence[str] = ("erode", "dilate", "shift"),
    *,
    radius: int = 1,
    shift: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """Features of one case for the original and each perturbed mask: index = "original" + perturbations,
    columns = feature names. `feature_fn(images, mask)` computes the features, e.g.
    `lambda im, m: radiomics_features(im, {"tumor": m}, params)`. Feed a cohort of these to
    `perturbation_table`."""
    rows = {"original": dict(feature_fn(images, np.asarray(mask) > 0))}
    for p in perturbations:
        rows[p] = dict(feature_fn(images, perturb_mask(mask, p, radius=radius, shift=shift, seed=seed)))
    return pd.DataFrame.from_dict(rows, orient="index")


def perturbation_table(per_case: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Stability table (same columns as `stability_table`) from `perturbation_stability` results of several
    cases: the original and perturbed masks are the raters (k = 1 + number of perturbations)."""
    if len(per_case) < 3:
        raise DataError(f"need >= 3 cases for an ICC, got {len(per_case)}", field="per_case")
    frames = list(per_case.values())
    raters = list(frames[0].index)
    feats = [c for c in frames[0].columns if all(c in f.columns for f in frames)]
    for cid, f in per_case.items():
        if list(f.index) != raters:
            raise DataError(f"case {cid!r} has perturbations {list(f.index)}, expected {raters}",
                            case=str(cid), field="perturbations")
    stack = np.stack([f.loc[raters, feats].to_numpy(dtype=float).T for f in frames], axis=0)
    return _stability_from_stack(stack, feats)
