"""Tumour-burden and inflammation scores: six-and-twelve, CRAFITY, NLR, PLR, AFP strata.

Vectorised over pandas Series; each input carries a declared unit; missing inputs give pd.NA (logged).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from hccrad.clinical._inputs import (
    AFP, CRP, DIAMETER_CM, LYMPHOCYTES, NEUTROPHILS, PLATELETS, log_missing, numeric, ordered, quantity,
    rows_text,
)
from hccrad.clinical.binning import AFP_STRATA, Binner
from hccrad.core.errors import DataError

logger = logging.getLogger(__name__)


def _idx(*values: Any) -> pd.Index | None:
    for v in values:
        if isinstance(v, pd.Series):
            return v.index
    return None


def tumour_number(values: Any, index: pd.Index | None = None) -> pd.Series:
    """Number of tumours as Int64; non-integer or < 1 values are a DataError naming the rows."""
    n = numeric(values, "tumour_number", index)
    bad = n.notna() & ((n < 1) | (n != np.round(n)))
    if bad.any():
        raise DataError(f"column {n.name!r}: tumour number must be a whole number ≥ 1; rows {rows_text(n.index[bad])}",
                        field=str(n.name), case=str(n.index[bad][0]),
                        hint="count the tumours (≥ 1); code 'multiple/diffuse' as a number with a documented rule")
    return n.astype("Int64")


def six_and_twelve(largest_diameter: Any, number: Any, *, diameter_unit: str = "cm") -> pd.DataFrame:
    """Six-and-twelve score (Wang et al., J Hepatol 2019;70:893–903; used by seed 004).

    score = largest tumour diameter [cm] + number of tumours; strata: ≤ 6 "low", > 6 and ≤ 12
    "intermediate", > 12 "high". Returns columns `six12_score` (Float64) and `six12_stratum` (ordered).
    """
    idx = _idx(largest_diameter, number)
    d = quantity(largest_diameter, diameter_unit, DIAMETER_CM, idx)
    n = tumour_number(number, d.index)
    score = (d + n.astype("Float64")).astype("Float64")
    st = pd.Series(pd.NA, index=d.index, dtype=object)
    ok = score.notna()
    v = score[ok].astype(float)
    st[ok] = np.where(v <= 6, "low", np.where(v <= 12, "intermediate", "high"))
    log_missing("six-and-twelve", score.isna(), {"diameter": d.isna(), "number": n.isna()})
    return pd.DataFrame({"six12_score": score,
                         "six12_stratum": ordered(st, ["low", "intermediate", "high"], "six12_stratum")})


def crafity(afp: Any, crp: Any, *, afp_unit: str = "ng/mL", crp_unit: str = "mg/dL") -> pd.DataFrame:
    """CRAFITY score (Scheiner et al., J Hepatol 2022;76:353–363).

    One point each for AFP ≥ 100 ng/mL and CRP ≥ 1 mg/dL (= 10 mg/L); score 0 / 1 / 2 =
    CRAFITY-low / -intermediate / -high. Returns `CRAFITY` (Int64) and `CRAFITY_group` (ordered).
    """
    idx = _idx(afp, crp)
    a = quantity(afp, afp_unit, AFP, idx)
    c = quantity(crp, crp_unit, CRP, a.index)
    score = ((a >= 100).astype(int) + (c >= 1.0).astype(int)).astype("Int64").mask(a.isna() | c.isna())
    grp = score.map({0: "low", 1: "intermediate", 2: "high"}, na_action="ignore")
    log_missing("CRAFITY", score.isna(), {"AFP": a.isna(), "CRP": c.isna()})
    return pd.DataFrame({"CRAFITY": score, "CRAFITY_group": ordered(grp, ["low", "intermediate", "high"],
                                                                     "CRAFITY_group")})


def _ratio(num: pd.Series, den: pd.Series, name: str) -> pd.Series:
    zero = den.notna() & (den <= 0)
    if zero.any():
        raise DataError(f"{name}: lymphocyte count ≤ 0 in rows {rows_text(den.index[zero])}", field=str(den.name),
                        case=str(den.index[zero][0]), hint="a zero lymphocyte count is a data error; correct the row")
    r = (num / den).astype("Float64").rename(name)
    log_missing(name, r.isna(), {str(num.name): num.isna(), str(den.name): den.isna()})
    return r


def nlr(neutrophils: Any, lymphocytes: Any, *, unit: str = "10^9/L") -> pd.Series:
    """Neutrophil-to-lymphocyte ratio = absolute neutrophil count / absolute lymphocyte count (same unit,
    10⁹/L; Zahorec, Bratisl Lek Listy 2001;102:5–14). Counts in /µL (e.g. 4100) fail the 10⁹/L range check."""
    idx = _idx(neutrophils, lymphocytes)
    n = quantity(neutrophils, unit, NEUTROPHILS, idx)
    ly = quantity(lymphocytes, unit, LYMPHOCYTES, n.index)
    return _ratio(n, ly, "NLR")


def plr(platelets: Any, lymphocytes: Any, *, unit: str = "10^9/L") -> pd.Series:
    """Platelet-to-lymphocyte ratio = platelet count / absolute lymphocyte count (both 10⁹/L)."""
    idx = _idx(platelets, lymphocytes)
    p = quantity(platelets, unit, PLATELETS, idx)
    ly = quantity(lymphocytes, unit, LYMPHOCYTES, p.index)
    return _ratio(p, ly, "PLR")


def afp_strata(afp: Any, scheme: str | list[str] = "seed001", *, afp_unit: str = "ng/mL") -> pd.Series:
    """AFP strata at declared cut-points (ng/mL): a named scheme from `AFP_STRATA`
    ("seed001": < 20 / [20, 200] / > 200; "afp200"; "afp400": ≤ 400 / > 400; "crafity": < 100 / ≥ 100)
    or a list of bins in interval notation. Returns an ordered categorical named "AFP_stratum"."""
    bins = AFP_STRATA[scheme] if isinstance(scheme, str) else list(scheme)
    a = quantity(afp, afp_unit, AFP, _idx(afp))
    table = pd.DataFrame({"AFP": a})
    return Binner({"AFP": bins}).fit(table).transform(table)["AFP"].rename("AFP_stratum")
