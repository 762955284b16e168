"""Several lesions per patient: connected components, per-lesion size, selection rules, combination rules.

Seed 000: "for cases with multiple nodules, the two largest lesions, each with a diameter greater than 2 cm,
were selected as the target lesions"; seed 003: up to two target lesions (RECIST 1.1). Features are then
computed per lesion, and a patient needs one row: `combine_lesion_features` applies an explicit rule per
feature (largest lesion, volume-weighted mean, sum for volume-type features) and returns a record of the
rule for run.json.

Sizes (mm): `volume_mm3` = voxel count × voxel volume; `max_diameter_3d_mm` and `max_inplane_diameter_mm`
are Feret (caliper) diameters measured between the outer faces of the voxels: the largest distance between
the face centres of the lesion's voxels, in 3-D and within any one axial slice (z = array axis 0). A row of
10 voxels of 1 mm measures 10 mm; one voxel measures one voxel width. This is close to PyRadiomics'
Maximum3DDiameter / Maximum2DDiameterSlice (which use the marching-cubes surface) and to a radiologist's
edge-to-edge caliper; the RECIST longest diameter is the in-plane one.
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import asdict, dataclass
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd
from scipy import ndimage
from scipy.spatial import ConvexHull, QhullError
from scipy.spatial.distance import pdist

from hccrad.core.errors import FeatureError, GeometryError, InputError, SpecError
from hccrad.core.image import Image

logger = logging.getLogger(__name__)

_STRUCTURES = {6: 1, 18: 2, 26: 3}


def _array_spacing(mask: np.ndarray | Image, spacing: Sequence[float] | None) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(mask, Image):
        arr, sp = mask.array, np.asarray(mask.spacing, dtype=float)
    else:
        arr = np.asarray(mask)
        sp = np.asarray(spacing if spacing is not None else (1.0, 1.0, 1.0), dtype=float)
        if spacing is None:
            logger.warning("lesion sizes: no spacing given, assuming 1 mm voxels")
    if arr.ndim != 3:
        raise GeometryError(f"lesion mask must be 3-D (z, y, x), got shape {arr.shape}", field="mask")
    if sp.shape != (3,) or np.any(sp <= 0):
        raise GeometryError(f"spacing must be 3 positive values (z, y, x) in mm, got {tuple(sp)}", field="spacing")
    return arr, sp


def label_components(mask: np.ndarray | Image, *, connectivity: Literal[6, 18, 26] = 26) -> tuple[np.ndarray, int]:
    """Label the connected components of a binary mask (scipy.ndimage.label; 26-connectivity by default).

    Returns (labels, count): labels 1..count ordered by decreasing voxel count (ties by first voxel)."""
    arr = mask.array if isinstance(mask, Image) else np.asarray(mask)
    if connectivity not in _STRUCTURES:
        raise InputError(f"connectivity must be 6, 18 or 26, got {connectivity}", field="connectivity")
    lab, n = ndimage.label(arr > 0, structure=ndimage.generate_binary_structure(3, _STRUCTURES[connectivity]))
    if n > 1:
        sizes = np.bincount(lab.ravel())[1:]
        order = np.argsort(-sizes, kind="stable")
        remap = np.zeros(n + 1, dtype=lab.dtype)
        remap[order + 1] = np.arange(1, n + 1)
        lab = remap[lab]
    return lab, int(n)


def _face_points(idx: np.ndarray, sp: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """Face centres (mm) of voxels at integer indices `idx` (n, d) along `axes`."""
    centres = idx * sp[list(axes)]
    pts = [centres]
    for k in range(len(axes)):
        off = np.zeros(len(axes))
        off[k] = sp[axes[k]] / 2.0
        pts += [centres + off, centres - off]
    return np.concatenate(pts)


def _feret(points: np.ndarray) -> float:
    if len(points) < 2:
        return 0.0
    pts = np.unique(points, axis=0)
    if len(pts) > 64:
        try:
            pts = pts[ConvexHull(pts).vertices]
        except QhullError:  # degenerate (flat / collinear) point sets: qhull with joggle
            pts = pts[np.unique(ConvexHull(pts, qhull_options="QJ").vertices)]
    return float(pdist(pts).max()) if len(pts) > 1 else 0.0


def lesion_size(component: np.ndarray, spacing: Sequence[float]) -> dict[str, float]:
    """Voxels, volume (mm³), 3-D and largest in-plane (axial) Feret diameter (mm) of one binary component."""
    sp = np.asarray(spacing, dtype=float)
    comp = np.asarray(component, dtype=bool)
    idx = np.argwhere(comp)
    if len(idx) == 0:
        raise FeatureError("empty lesion component", field="mask")
    lo, hi = idx.min(axis=0), idx.max(axis=0) + 1
    comp = comp[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]  # bounding box: outside it is background anyway
    # only voxels with an exposed face can carry an extreme face centre: erode to find them
    shell3 = comp & ~ndimage.binary_erosion(comp, structure=ndimage.generate_binary_structure(3, 1))
    d3 = _feret(_face_points(np.argwhere(shell3), sp, (0, 1, 2)))
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    shell2 = np.argwhere(comp & ~ndimage.binary_erosion(comp, structure=in_plane))
    d2 = 0.0
    for z in np.unique(shell2[:, 0]):
        sl = shell2[shell2[:, 0] == z][:, 1:]
        d2 = max(d2, _feret(_face_points(sl, sp, (1, 2))))
    return {"n_voxels": int(len(idx)), "volume_mm3": float(len(idx) * np.prod(sp)),
            "max_diameter_3d_mm": d3, "max_inplane_diameter_mm": d2}


def lesion_table(mask: np.ndarray | Image | Sequence[np.ndarray | Image], *, spacing: Sequence[float] | None = None,
                 labelled: bool = False, connectivity: Literal[6, 18, 26] = 26, case_id: str | None = None) -> pd.DataFrame:
    """One row per lesion: lesion_id, n_voxels, volume_mm3, max_diameter_3d_mm, max_inplane_diameter_mm,
    centroid_z/y/x (voxel indices).

    `mask`: a binary tumour mask (split into connected components), a labelled mask (`labelled=True`: each
    non-zero label is one lesion, as drawn), or a list of per-lesion masks on one grid. Lesions are
    numbered 1..n by decreasing volume. The count is logged; an empty mask is a GeometryError.
    """
    if isinstance(mask, (list, tuple)):
        arrs = [_array_spacing(m, spacing) for m in mask]
        if not arrs:
            raise GeometryError("empty list of lesion masks", case=case_id, field="mask")
        sp = arrs[0][1]
        if any(a.shape != arrs[0][0].shape or not np.allclose(s, sp) for a, s in arrs):
            raise GeometryError("lesion masks are not on one grid", case=case_id, field="mask",
                                hint="resample the lesion masks onto the image grid first")
        comps = [a > 0 for a, _ in arrs]
    else:
        arr, sp = _array_spacing(mask, spacing)
        if labelled:
            comps = [arr == v for v in np.unique(arr) if v != 0]
        else:
            lab, n = label_components(arr, connectivity=connectivity)
            comps = [lab == i for i in range(1, n + 1)]
    comps = [c for c in comps if c.any()]
    if not comps:
        raise GeometryError("the tumour mask is empty: no lesion found", case=case_id, field="mask",
                            hint="check the mask file and its label value")
    rows = []
    for c in comps:
        r = lesion_size(c, sp)
        r.update({f"centroid_{a}": float(v) for a, v in zip("zyx", np.argwhere(c).mean(axis=0))})
        rows.append(r)
    t = pd.DataFrame(rows).sort_values("n_voxels", ascending=False, kind="stable").reset_index(drop=True)
    t.insert(0, "lesion_id", np.arange(1, len(t) + 1))
    if case_id is not None:
        t.insert(0, "case_id", case_id)
    logger.info("case %s: %d lesion(s) (%s-connectivity)", case_id, len(t), connectivity)
    return t


@dataclass(frozen=True)
class LesionRule:
    """Which lesions of a patient to keep.

    kind: "all", "largest" (one lesion) or "largest_n" (up to n); diameter: "inplane" (RECIST longest
    axial diameter) or "3d"; min_diameter_mm with `strict` (> rather than ≥); if_none: what to do when no
    lesion passes the size filter ("error", or "largest": keep the single largest, recorded).
    """

    kind: Literal["all", "largest", "largest_n"] = "largest"
    n: int = 1
    min_diameter_mm: float = 0.0
    strict: bool = True
    diameter: Literal["inplane", "3d"] = "inplane"
    if_none: Literal["error", "largest"] = "error"

    def record(self) -> dict:
        return asdict(self)


def largest(diameter: Literal["inplane", "3d"] = "inplane") -> LesionRule:
    """Keep the single largest lesion (longest diameter of the chosen kind; ties by volume)."""
    return LesionRule("largest", 1, 0.0, True, diameter)


def largest_n(n: int, min_diameter_mm: float = 0.0, *, strict: bool = True,
              diameter: Literal["inplane", "3d"] = "inplane", if_none: Literal["error", "largest"] = "error") -> LesionRule:
    """Keep up to `n` lesions by decreasing diameter with diameter > min_diameter_mm (≥ if not strict).
    Seed 000: largest_n(2, 20.0); seed 003: largest_n(2)."""
    if n < 1:
        raise SpecError([f"largest_n: n must be ≥ 1, got {n}"])
    return LesionRule("largest_n", int(n), float(min_diameter_mm), strict, diameter, if_none)


def select_lesions(table: pd.DataFrame, rule: LesionRule, *, case_id: str | None = None) -> pd.DataFrame:
    """Apply `rule` to one patient's `lesion_table`; returns the kept rows (same columns)."""
    col = "max_inplane_diameter_mm" if rule.diameter == "inplane" else "max_diameter_3d_mm"
    if table.empty:
        raise GeometryError("no lesions to select from", case=case_id, field="mask")
    if rule.kind == "all":
        return table.copy()
    if rule.kind == "largest":
        return table.sort_values([col, "volume_mm3"], ascending=False, kind="stable").head(1)
    d = table[col]
    ok = d > rule.min_diameter_mm if rule.strict else d >= rule.min_diameter_mm
    kept = table[ok].sort_values([col, "volume_mm3"], ascending=False, kind="stable").head(rule.n)
    if kept.empty:
        msg = (f"no lesion with {rule.diameter} diameter {'>' if rule.strict else '≥'} {rule.min_diameter_mm:g} mm "
               f"(largest {d.max():.1f} mm)")
        if rule.if_none == "error":
            raise FeatureError(msg, case=case_id, field=col,
                               hint="exclude the case, lower min_diameter_mm, or set if_none='largest'")
        logger.warning("case %s: %s; keeping the largest lesion (if_none='largest')", case_id, msg)
        kept = table.sort_values([col, "volume_mm3"], ascending=False, kind="stable").head(1)
    return kept


COMBINE_RULES = ("largest", "volume_weighted_mean", "mean", "sum", "max", "min")
#: preset lesion rules named by what they keep -> the paper id accepted as an alias (seed 000: Wu 2025, "the
#: two largest lesions, each with a diameter greater than 2 cm"; seed 003: up to two RECIST target lesions)
RULE_ALIASES = {"seed000": "two_largest_over_20mm", "seed003": "two_largest"}


def combine_lesion_features(features: pd.DataFrame, *, case: str = "case_id", volume: str = "volume_mm3",
                            default: str = "largest", rules: dict[str, str] | None = None,
                            selection: LesionRule | None = None) -> tuple[pd.DataFrame, dict]:
    """Combine per-lesion feature rows (one row per case and lesion) into one row per case.

    `default` applies to every feature without an entry in `rules`; `rules` maps a feature name or an
    fnmatch pattern ("*_volume*") to one of: "largest" (value of the largest-volume lesion),
    "volume_weighted_mean" (Σ vᵢ·xᵢ / Σ vᵢ), "mean", "sum" (for volume-type features), "max", "min".
    The first matching pattern wins (exact names before patterns). Returns (table indexed by case with a
    column n_lesions, record) where record = {"default", "rules", "per_feature", "selection",
    "n_lesions"} for run.json. A missing feature value in a lesion makes that case's value missing.
    """
    rules = dict(rules or {})
    for k, r in list(rules.items()) + [("default", default)]:
        if r not in COMBINE_RULES:
            raise SpecError([f"lesion combination rule for {k!r} must be one of {COMBINE_RULES}, got {r!r}"])
    for c in (case, volume):
        if c not in features.columns:
            raise InputError(f"per-lesion table lacks column {c!r}", field=c, hint=f"it has {list(features.columns)[:20]}")
    if (features[volume] <= 0).any() or features[volume].isna().any():
        raise InputError(f"column {volume!r} must be a positive lesion volume in every row", field=volume)
    skip = {case, volume, "lesion_id"}
    feats = [c for c in features.columns if c not in skip and pd.api.types.is_numeric_dtype(features[c])]
    per_feature: dict[str, str] = {}
    for f in feats:
        rule = rules.get(f)
        if rule is None:
            rule = next((r for pat, r in rules.items() if fnmatch.fnmatchcase(f, pat)), default)
        per_feature[f] = rule
    unmatched = [p for p in rules if p not in feats and not any(fnmatch.fnmatchcase(f, p) for f in feats)]
    if unmatched:
        raise SpecError([f"lesion combination rule {p!r} matches no feature column" for p in unmatched])
    out_rows, counts = {}, {}
    for cid, g in features.groupby(case, sort=True):
        v = g[volume].to_numpy(float)
        big = int(np.argmax(v))
        row: dict[str, Any] = {}
        for f in feats:
            x = g[f].to_numpy(float)
            if np.isnan(x).any():
                row[f] = np.nan
                continue
            r = per_feature[f]
            row[f] = {"largest": lambda: x[big], "volume_weighted_mean": lambda: float(np.sum(v * x) / np.sum(v)),
                      "mean": lambda: float(x.mean()), "sum": lambda: float(x.sum()), "max": lambda: float(x.max()),
                      "min": lambda: float(x.min())}[r]()
        row["n_lesions"] = len(g)
        row[volume] = float(v.sum())
        out_rows[cid] = row
        counts[str(cid)] = len(g)
    out = pd.DataFrame.from_dict(out_rows, orient="index")
    out.index.name = case
    record = {"default": default, "rules": rules, "per_feature": per_feature,
              "selection": selection.record() if selection is not None else None, "n_lesions": counts,
              "volume_column": f"{volume}: sum over the kept lesions"}
    return out, record
