"""Liver-function scores: ALBI, PALBI, Child–Pugh.

All functions are vectorised over pandas Series (or array-likes of one length), take each laboratory value
with its declared unit, convert to the unit of the published definition, and return pandas Series with
nullable dtypes: a row with a missing input is `pd.NA` (logged once, never guessed).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

import numpy as np
import pandas as pd

from hccrad.clinical._inputs import (
    ALBUMIN, BILIRUBIN, INR, PLATELETS, as_series, categorical, log_missing, ordered, quantity,
)

logger = logging.getLogger(__name__)

ALBI_CUTS = (-2.60, -1.39)
PALBI_CUTS = (-2.53, -2.09)


def _index(*values: Any) -> pd.Index | None:
    for v in values:
        if isinstance(v, pd.Series):
            return v.index
    return None


def albi_score(
    bilirubin: Any, albumin: Any, *, bilirubin_unit: str = "umol/L", albumin_unit: str = "g/L"
) -> pd.Series:
    """ALBI linear predictor (Johnson et al., J Clin Oncol 2015;33:550–558).

    ALBI = 0.66 · log10(bilirubin [µmol/L]) − 0.085 · albumin [g/L].
    Bilirubin in mg/dL is converted with 1 mg/dL = 17.1 µmol/L, albumin in g/dL with 1 g/dL = 10 g/L.
    Returns a Float64 Series named "ALBI"; rows with a missing input are pd.NA (logged).
    """
    idx = _index(bilirubin, albumin)
    bil = quantity(bilirubin, bilirubin_unit, BILIRUBIN, idx)
    alb = quantity(albumin, albumin_unit, ALBUMIN, bil.index)
    score = 0.66 * np.log10(bil) - 0.085 * alb
    miss = score.isna()
    log_missing("ALBI", miss, {"bilirubin": bil.isna(), "albumin": alb.isna()})
    return score.astype("Float64").rename("ALBI")


def _grade(score: pd.Series, cuts: tuple[float, float], name: str) -> pd.Series:
    """Grade 1 if score ≤ cuts[0]; 2 if cuts[0] < score ≤ cuts[1]; 3 if score > cuts[1] (Int64)."""
    s = score.astype("Float64")
    g = pd.Series(pd.NA, index=s.index, dtype="Int64", name=name)
    valid = s.notna()
    v = s[valid].astype(float)
    g[valid] = np.where(v <= cuts[0], 1, np.where(v <= cuts[1], 2, 3))
    return g


def albi_grade(score: Any) -> pd.Series:
    """ALBI grade (Johnson 2015): 1 if ALBI ≤ −2.60; 2 if −2.60 < ALBI ≤ −1.39; 3 if ALBI > −1.39 (Int64)."""
    return _grade(as_series(score, "ALBI").astype("Float64"), ALBI_CUTS, "ALBI_grade")


def palbi_score(
    bilirubin: Any,
    albumin: Any,
    platelets: Any,
    *,
    bilirubin_unit: str = "umol/L",
    albumin_unit: str = "g/L",
    platelets_unit: str = "10^9/L",
) -> pd.Series:
    """PALBI (platelet–albumin–bilirubin) score (Roayaie et al., Hepatology 2015;62:440–451).

    PALBI = 2.02·log10(B) − 0.37·(log10 B)² − 0.04·Alb − 3.48·log10(P) + 1.01·(log10 P)²
    with B = bilirubin [µmol/L], Alb = albumin [g/L], P = platelets [10⁹/L]. Float64, named "PALBI".
    """
    idx = _index(bilirubin, albumin, platelets)
    bil = quantity(bilirubin, bilirubin_unit, BILIRUBIN, idx)
    alb = quantity(albumin, albumin_unit, ALBUMIN, bil.index)
    plt_ = quantity(platelets, platelets_unit, PLATELETS, bil.index)
    lb, lp = np.log10(bil), np.log10(plt_)
    score = 2.02 * lb - 0.37 * lb**2 - 0.04 * alb + (-3.48) * lp + 1.01 * lp**2
    log_missing("PALBI", score.isna(), {"bilirubin": bil.isna(), "albumin": alb.isna(), "platelets": plt_.isna()})
    return score.astype("Float64").rename("PALBI")


def palbi_grade(score: Any) -> pd.Series:
    """PALBI grade (Liu et al., J Hepatol 2017;66:338–346): 1 if ≤ −2.53; 2 if −2.53 < PALBI ≤ −2.09; 3 if > −2.09."""
    return _grade(as_series(score, "PALBI").astype("Float64"), PALBI_CUTS, "PALBI_grade")


ASCITES_LABELS = {
    "none": "none", "absent": "none", "no": "none", "absence": "none",
    "mild": "mild", "slight": "mild", "small": "mild", "grade 1": "mild",
    "moderate": "moderate_severe", "severe": "moderate_severe", "moderate_severe": "moderate_severe",
    "moderate-severe": "moderate_severe", "moderate to severe": "moderate_severe", "tense": "moderate_severe",
}
ENCEPHALOPATHY_LABELS = {
    "none": "none", "absent": "none", "no": "none", "absence": "none",
    "grade_1_2": "grade_1_2", "grade 1-2": "grade_1_2", "grade i-ii": "grade_1_2", "1-2": "grade_1_2",
    "i-ii": "grade_1_2", "mild": "grade_1_2",
    "grade_3_4": "grade_3_4", "grade 3-4": "grade_3_4", "grade iii-iv": "grade_3_4", "3-4": "grade_3_4",
    "iii-iv": "grade_3_4", "severe": "grade_3_4",
}
_POINTS_CODING = {1: 1, 2: 2, 3: 3}
_LABEL_POINTS = {"none": 1, "mild": 2, "moderate_severe": 3, "grade_1_2": 2, "grade_3_4": 3}


def _grade_points(values: Any, name: str, labels: dict, coding: str, index: pd.Index) -> pd.Series:
    if coding == "points":
        lab = categorical(values, name, {k: str(v) for k, v in _POINTS_CODING.items()}, index)
        return lab.map(lambda v: pd.NA if v is pd.NA else int(v)).astype("Int64")
    if coding != "label":
        raise ValueError(f"coding must be 'label' or 'points', got {coding!r}")
    lab = categorical(values, name, labels, index)
    return lab.map(lambda v: pd.NA if v is pd.NA else _LABEL_POINTS[v]).astype("Int64")


def child_pugh(
    bilirubin: Any,
    albumin: Any,
    inr: Any,
    ascites: Any,
    encephalopathy: Any,
    *,
    bilirubin_unit: str = "umol/L",
    albumin_unit: str = "g/L",
    grade_coding: Literal["label", "points"] = "label",
) -> pd.DataFrame:
    """Child–Pugh score and class (Pugh et al., Br J Surg 1973;60:646–649; INR version).

    Points (1 / 2 / 3): bilirubin < 34 / 34–50 / > 50 µmol/L (< 2 / 2–3 / > 3 mg/dL, thresholds applied in
    the declared unit); albumin > 35 / 28–35 / < 28 g/L; INR < 1.7 / 1.7–2.3 / > 2.3; ascites none / mild /
    moderate–severe; encephalopathy none / grade 1–2 / grade 3–4. Class A 5–6, B 7–9, C 10–15.

    Ascites and encephalopathy are labels ("none", "mild", "moderate_severe"; "none", "grade_1_2",
    "grade_3_4" and common spellings) or, with grade_coding="points", the point values 1–3 themselves
    (as in the UCI HCC table). A bare present/absent ascites cannot be scored and is an InputError.
    Returns a DataFrame with Int64 columns CP_bilirubin, CP_albumin, CP_INR, CP_ascites, CP_encephalopathy,
    CP_score and ordered categorical CP_class (A < B < C).
    """
    idx = _index(bilirubin, albumin, inr, ascites, encephalopathy)
    bil_c = quantity(bilirubin, bilirubin_unit, BILIRUBIN, idx)
    unit = bilirubin_unit.strip().lower()
    bil = bil_c / (17.1 if unit == "mg/dl" else 1.0)
    t1, t2 = (2.0, 3.0) if unit == "mg/dl" else (34.0, 50.0)
    alb = quantity(albumin, albumin_unit, ALBUMIN, bil.index)
    inr_ = quantity(inr, "1", INR, bil.index)

    def pts(v: pd.Series, one: pd.Series, three: pd.Series) -> pd.Series:
        out = pd.Series(np.where(one, 1, np.where(three, 3, 2)), index=v.index).astype("Int64")
        return out.mask(v.isna())

    out = pd.DataFrame(index=bil.index)
    out["CP_bilirubin"] = pts(bil, bil < t1, bil > t2)
    out["CP_albumin"] = pts(alb, alb > 35.0, alb < 28.0)
    out["CP_INR"] = pts(inr_, inr_ < 1.7, inr_ > 2.3)
    out["CP_ascites"] = _grade_points(ascites, "ascites", ASCITES_LABELS, grade_coding, bil.index)
    out["CP_encephalopathy"] = _grade_points(encephalopathy, "encephalopathy", ENCEPHALOPATHY_LABELS,
                                             grade_coding, bil.index)
    comp = out.columns.tolist()
    score = out[comp].sum(axis=1, skipna=False).astype("Int64")
    out["CP_score"] = score
    cls = pd.Series(pd.NA, index=out.index, dtype=object)
    ok = score.notna()
    s = score[ok].astype(int)
    cls[ok] = np.where(s <= 6, "A", np.where(s <= 9, "B", "C"))
    out["CP_class"] = ordered(cls, ["A", "B", "C"], "CP_class")
    log_missing("Child-Pugh", score.isna(), {c: out[c].isna() for c in comp})
    return out
