"""Several lesions per patient in a study manifest: select target lesions, combine their features per patient.

A manifest row is one lesion (its own `case_id`, image and tumour mask); rows of one patient share
`patient_id`. Per-lesion features (MSI, radiomics) come out one row per manifest row; models need one row
per patient. `combine_manifest_lesions` does that in two declared steps, using `hccrad.cohort.lesions`:

1. **Selection** (`select_lesions` with a `LesionRule`), per patient, on two per-lesion sizes:
   * volume (mm³): by default the sum of the MSI habitat volumes `habitat*_volume_mm3` of the feature table
     (= the tumour's voxel count × voxel volume), or any one named column of the features or the manifest;
   * longest diameter (mm): a manifest/clinical column, by default `lesion_diameter_mm` (the radiologist's
     RECIST longest axial diameter, or `max_inplane_diameter_mm` from `lesion_sizes_from_masks`).
   Named rules: "all"; "largest" (one lesion); "two_largest_over_20mm" = `largest_n(2, 20.0)` (Wu 2025, seed
   000: "the two largest lesions, each with a diameter greater than 2 cm"); "two_largest" = `largest_n(2)`
   (up to two target lesions, RECIST 1.1, seed 003). The paper ids "seed000" and "seed003" are accepted as
   aliases of these two (`RULE_ALIASES`). A rule with a diameter threshold needs the diameter column
   (InputError otherwise); a rule without one orders lesions by diameter when the column exists and by
   volume when it does not (logged and recorded as `ordered_by`).
2. **Combination** (`combine_lesion_features`): `combine` is the default rule for every feature ("largest":
   the value of the largest-volume kept lesion; "volume_weighted_mean": Σ vᵢxᵢ / Σ vᵢ; "mean", "sum",
   "max", "min"); volume-type features (`*_mm3`) are summed over the kept lesions unless `rules` says
   otherwise. Output columns: the numeric features, `n_lesions` (kept), `n_lesions_total` (in the manifest)
   and `lesion_volume_mm3` (sum over the kept lesions).

All lesions of one patient must be in one cohort (else a lesion of a test patient could sit in training);
a mixed patient is a DataError. `patient_table` collapses the manifest + clinical table to one row per
patient, checking that patient-level columns agree across the patient's rows.
"""

from __future__ import annotations

import fnmatch
import logging
from pathlib import Path
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from hccrad.cohort.lesions import (
    COMBINE_RULES, LesionRule, combine_lesion_features, label_components, largest, largest_n, lesion_size,
    select_lesions,
)
from hccrad.config.spec import RULE_ALIASES
from hccrad.core.errors import DataError, GeometryError, InputError, SpecError
from hccrad.core.image import Image
from hccrad.io.volume import read_image

logger = logging.getLogger(__name__)

RULE_PRESETS: dict[str, LesionRule] = {
    "all": LesionRule("all"),
    "largest": largest(),
    "two_largest_over_20mm": largest_n(2, 20.0),
    "two_largest": largest_n(2),
}
VOLUME_DEFAULT = "habitat*_volume_mm3"
_SIZE_COLS = {"inplane": "max_inplane_diameter_mm", "3d": "max_diameter_3d_mm"}


def resolve_rule(rule: str | LesionRule) -> LesionRule:
    """A LesionRule from a preset name ("all", "largest", "two_largest_over_20mm", "two_largest"; or the
    aliases "seed000", "seed003") or a LesionRule."""
    if isinstance(rule, LesionRule):
        return rule
    name = RULE_ALIASES.get(rule, rule)
    if name not in RULE_PRESETS:
        raise SpecError([f"lesion rule {rule!r} is not one of {sorted(RULE_PRESETS)} (aliases {RULE_ALIASES}; or "
                         "pass a LesionRule, e.g. hccrad.cohort.lesions.largest_n(2, 20.0))"])
    return RULE_PRESETS[name]


def count_components(mask: str | Path | np.ndarray | Image, spacing: Sequence[float] | None = None, *,
                     connectivity: Literal[6, 18, 26] = 26, min_volume_mm3: float = 0.0) -> int:
    """Number of lesions (connected components, `label_components`) in a tumour mask file, Image or array.

    Components smaller than `min_volume_mm3` (voxel count × voxel volume; spacing from the file/Image, or
    `spacing` (z, y, x) mm for an array) are not counted, e.g. to ignore specks left by a segmentation."""
    if isinstance(mask, (str, Path)):
        mask = read_image(mask, name="mask")
    if isinstance(mask, Image):
        arr, sp = mask.array, np.asarray(mask.spacing, float)
    else:
        arr = np.asarray(mask)
        sp = np.asarray(spacing if spacing is not None else (1.0, 1.0, 1.0), float)
    if arr.ndim != 3:
        raise GeometryError(f"mask must be 3-D (z, y, x), got shape {arr.shape}", field="mask")
    lab, n = label_components(arr, connectivity=connectivity)
    if min_volume_mm3 <= 0 or n == 0:
        return n
    vol = np.bincount(lab.ravel())[1:] * float(np.prod(sp))
    return int((vol >= min_volume_mm3).sum())


def lesion_sizes_from_masks(table: pd.DataFrame, *, mask_column: str = "mask_tumor") -> pd.DataFrame:
    """Per manifest row: `volume_mm3`, `max_diameter_3d_mm`, `max_inplane_diameter_mm` (Feret, see
    `lesion_size`) of the row's whole tumour mask (all its components), and `n_components`."""
    if mask_column not in table.columns:
        raise InputError(f"the table has no mask column {mask_column!r}", field=mask_column,
                         hint="name the tumour-mask column of the manifest (mask_<name>)")
    rows = {}
    for cid, path in table[mask_column].items():
        img = read_image(path, name=mask_column, case=str(cid))
        if not (img.array > 0).any():
            raise GeometryError("the tumour mask is empty", case=str(cid), file=path, field=mask_column)
        r = lesion_size(img.array > 0, img.spacing)
        r["n_components"] = label_components(img.array)[1]
        rows[cid] = r
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = table.index.name
    return out


def _column(name: str, features: pd.DataFrame, table: pd.DataFrame) -> pd.Series | None:
    if name in features.columns:
        return features[name]
    if name in table.columns:
        return table.loc[features.index, name]
    return None


def _volumes(features: pd.DataFrame, table: pd.DataFrame, volume_column: str) -> pd.Series:
    if "*" in volume_column:
        cols = [c for c in features.columns if fnmatch.fnmatchcase(c, volume_column)]
        if not cols:
            raise InputError(f"no feature column matches the volume pattern {volume_column!r}",
                             field="volume_column", hint="extract MSI habitat volumes, or name a lesion-volume "
                             "column of the features or the manifest (e.g. volume_mm3)")
        v = features[cols].apply(pd.to_numeric, errors="coerce").sum(axis=1, min_count=len(cols))
    else:
        v = _column(volume_column, features, table)
        if v is None:
            raise InputError(f"volume column {volume_column!r} is in neither the features nor the manifest",
                             field="volume_column", hint="name a per-lesion volume column in mm³")
        v = pd.to_numeric(v, errors="coerce")
    bad = v.isna() | (v <= 0)
    if bad.any():
        raise InputError(f"lesion volume ({volume_column}) missing or ≤ 0 for {list(v.index[bad])[:10]}",
                         case=str(v.index[bad][0]), field=volume_column,
                         hint="every lesion needs a positive volume to be selected and weighted")
    return v.astype(float)


def _diameters(features: pd.DataFrame, table: pd.DataFrame, diameter_column: str) -> pd.Series | None:
    d = _column(diameter_column, features, table)
    if d is None:
        return None
    d = pd.to_numeric(d, errors="coerce")
    bad = d.isna() | (d <= 0) | (d > 400)
    if bad.any():
        raise InputError(f"lesion diameter ({diameter_column}) missing or outside (0, 400] mm for "
                         f"{list(d.index[bad])[:10]}", case=str(d.index[bad][0]), field=diameter_column,
                         hint="give every lesion its longest diameter in millimetres")
    return d.astype(float)


def _patients(table: pd.DataFrame, patient_column: str) -> pd.Series:
    if patient_column in table.columns:
        p = table[patient_column]
        if p.isna().any():
            raise InputError(f"missing {patient_column} for {list(p.index[p.isna()])[:10]}",
                             case=str(p.index[p.isna()][0]), field=patient_column,
                             hint="give every manifest row its patient id")
        return p.astype(str)
    logger.info("no %r column: every manifest row is its own patient", patient_column)
    return pd.Series(table.index.astype(str), index=table.index, name=patient_column)


def _check_cohorts(table: pd.DataFrame, patients: pd.Series, cohort_column: str) -> None:
    if cohort_column not in table.columns:
        return
    n = table[cohort_column].astype(str).groupby(patients).nunique()
    mixed = list(n.index[n > 1])
    if mixed:
        raise DataError(f"patient(s) {mixed[:10]} have lesions in more than one cohort", case=str(mixed[0]),
                        field=cohort_column, hint="assign all of a patient's lesions to one cohort (else the "
                        "test cohort shares a patient with training)")


def combine_manifest_lesions(
    features: pd.DataFrame, table: pd.DataFrame, *, patient_column: str = "patient_id",
    rule: str | LesionRule = "largest", combine: str = "largest", rules: dict[str, str] | None = None,
    volume_column: str = VOLUME_DEFAULT, diameter_column: str = "lesion_diameter_mm", cohort_column: str = "cohort",
) -> tuple[pd.DataFrame, dict]:
    """Per-lesion features (index = manifest case id) → one row per patient (index = `patient_column`).

    `table` is the manifest joined to the clinical table (`Study.table`, index = case id). Every lesion of a
    patient that has any row in `features` must have one (else InputError naming the case). Returns
    (patient features, record); the record holds the rule, the kept and dropped case ids per patient, the
    per-feature combination rules and the columns used for volume and diameter, for run.json.
    """
    lesion_rule = resolve_rule(rule)
    if combine not in COMBINE_RULES:
        raise SpecError([f"combine must be one of {COMBINE_RULES}, got {combine!r}"])
    features = features.copy()
    features.index = features.index.astype(str)
    table = table.copy()
    table.index = table.index.astype(str)
    unknown = sorted(set(features.index) - set(table.index))
    if unknown:
        raise InputError(f"feature rows {unknown[:10]} are not cases of the manifest", case=unknown[0],
                         field="case_id", hint="index the feature table by the manifest's case ids")
    if features.index.duplicated().any():
        dup = list(features.index[features.index.duplicated()])[:10]
        raise InputError(f"feature rows {dup} appear more than once", case=dup[0], field="case_id")
    patients = _patients(table, patient_column)
    _check_cohorts(table, patients, cohort_column)
    wanted = set(patients.loc[features.index])
    all_cases = patients[patients.isin(wanted)]
    absent = sorted(set(all_cases.index) - set(features.index))
    if absent:
        raise InputError(f"lesion(s) {absent[:10]} of patient(s) {sorted(set(all_cases[absent]))[:10]} have no "
                         "feature row", case=absent[0], field="features",
                         hint="extract features for every lesion of a patient (or drop the lesion from the manifest)")
    pid = patients.loc[features.index]
    volume = _volumes(features, table, volume_column)
    diam = _diameters(features, table, diameter_column)
    size_col = _SIZE_COLS[lesion_rule.diameter]
    if diam is None:
        if lesion_rule.kind == "largest_n" and lesion_rule.min_diameter_mm > 0:
            raise InputError(f"rule needs lesion diameters (> {lesion_rule.min_diameter_mm:g} mm) but column "
                             f"{diameter_column!r} is in neither the features nor the manifest",
                             field="diameter_column", hint="add the longest diameter (mm) per lesion to the "
                             "manifest, or compute it with lesion_sizes_from_masks")
        if lesion_rule.kind != "all":
            logger.warning("no %r column: lesions are ordered by volume (%s)", diameter_column, volume_column)
        ordered_by = f"volume ({volume_column})"
        sizes = pd.DataFrame({size_col: volume, "volume_mm3": volume})
    else:
        ordered_by = f"diameter ({diameter_column}, mm)"
        sizes = pd.DataFrame({size_col: diam, "volume_mm3": volume})
    kept: dict[str, list[str]] = {}
    dropped: dict[str, list[str]] = {}
    n_total: dict[str, int] = {}
    for p, idx in pid.groupby(pid).groups.items():
        sel = select_lesions(sizes.loc[list(idx)], lesion_rule, case_id=str(p))
        kept[str(p)] = [str(c) for c in sel.index]
        dropped[str(p)] = [str(c) for c in idx if c not in sel.index]
        n_total[str(p)] = len(idx)
    keep_ids = [c for cs in kept.values() for c in cs]
    feats = features.loc[keep_ids].drop(columns=[c for c in (patient_column, "lesion_volume_mm3", "n_lesions")
                                                 if c in features.columns])
    num = [c for c in feats.columns if pd.api.types.is_numeric_dtype(feats[c])]
    per = feats[num].copy()
    per.insert(0, patient_column, pid.loc[keep_ids].to_numpy())
    per["lesion_volume_mm3"] = volume.loc[keep_ids].to_numpy()
    eff_rules = dict(rules or {})
    if rules is None and combine != "sum" and any(fnmatch.fnmatchcase(c, "*_mm3") for c in num):
        eff_rules = {"*_mm3": "sum"}
    out, crec = combine_lesion_features(per, case=patient_column, volume="lesion_volume_mm3", default=combine,
                                        rules=eff_rules, selection=lesion_rule)
    out.index = out.index.astype(str)
    out["n_lesions_total"] = pd.Series(n_total).reindex(out.index).astype(int)
    n_multi = sum(1 for v in n_total.values() if v > 1)
    logger.info("%d patient(s) from %d lesion(s); %d with several lesions; %d lesion(s) dropped by the rule",
                len(out), len(features), n_multi, sum(len(v) for v in dropped.values()))
    record = {"patient_column": patient_column, "rule": lesion_rule.record(),
              "rule_name": rule if isinstance(rule, str) else None, "combine": combine, "ordered_by": ordered_by,
              "volume_column": volume_column, "diameter_column": diameter_column if diam is not None else None,
              "kept": kept, "dropped": dropped, "n_patients": len(out), "n_lesions_in": len(features),
              "per_feature": crec["per_feature"], "rules": crec["rules"]}
    return out, record


def patient_table(table: pd.DataFrame, *, patient_column: str = "patient_id",
                  lesion_columns: Sequence[str] = ("lesion_diameter_mm",)) -> pd.DataFrame:
    """One row per patient from the manifest + clinical table (`Study.table`).

    Drops `image_*` / `mask_*` columns and the declared per-lesion `lesion_columns`; every other column must
    have one value per patient (DataError naming the column and the patient otherwise)."""
    patients = _patients(table, patient_column)
    drop = [c for c in table.columns if str(c).startswith(("image_", "mask_")) or c in lesion_columns
            or c == patient_column]
    t = table.drop(columns=drop)
    t.index = patients.to_numpy()
    t.index.name = patient_column
    for col in t.columns:
        n = t[col].astype(object).where(t[col].notna(), "<NA>").groupby(level=0).nunique()
        bad = list(n.index[n > 1])
        if bad:
            raise DataError(f"column {col!r} differs between the lesions of patient(s) {bad[:10]}", case=str(bad[0]),
                            field=col, hint="make patient-level values agree across the patient's manifest rows, "
                            "or declare the column per-lesion (lesion_columns)")
    return t[~t.index.duplicated(keep="first")]
