"""HCC staging systems: BCLC (2022), CLIP, Okuda, AJCC TNM 8th edition, HKLC, portal-vein tumour thrombus Vp.

Each function takes the variables its published definition needs as pandas Series (or array-likes), checks
them, and returns an ordered categorical Series (pd.NA where an input is missing, logged once).
Tumour diameters are in cm unless `diameter_unit="mm"` is declared.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from hccrad.clinical._inputs import (
    AFP, ALBUMIN, BILIRUBIN, DIAMETER_CM, as_series, boolean, categorical, log_missing, numeric, ordered,
    quantity, rows_text,
)
from hccrad.clinical.scores import tumour_number
from hccrad.core.errors import DataError

logger = logging.getLogger(__name__)

BCLC_STAGES = ["0", "A", "B", "C", "D"]
AJCC_T = ["T1a", "T1b", "T2", "T3", "T4"]
AJCC_STAGES = ["IA", "IB", "II", "IIIA", "IIIB", "IVA", "IVB"]
HKLC_STAGES = ["I", "IIa", "IIb", "IIIa", "IIIb", "IVa", "IVb", "Va", "Vb"]
VP_GRADES = ["Vp0", "Vp1", "Vp2", "Vp3", "Vp4"]


def _idx(*values: Any) -> pd.Index | None:
    for v in values:
        if isinstance(v, pd.Series):
            return v.index
    return None


def _ps(values: Any, index: pd.Index | None) -> pd.Series:
    ps = numeric(values, "ECOG_PS", index)
    bad = ps.notna() & (~ps.isin([0, 1, 2, 3, 4]))
    if bad.any():
        raise DataError(f"ECOG performance status must be 0–4; rows {rows_text(ps.index[bad])}", field=str(ps.name),
                        case=str(ps.index[bad][0]), hint="recode PS to the ECOG scale 0–4")
    return ps


def _cp_class(values: Any, index: pd.Index | None) -> pd.Series:
    return categorical(values, "Child_Pugh_class", {"A": "A", "B": "B", "C": "C"}, index)


def _finish(stage: np.ndarray, missing: pd.Series, cats: list[str], name: str, reasons: dict) -> pd.Series:
    s = pd.Series(stage, index=missing.index, dtype=object).mask(missing)
    log_missing(name, missing, reasons)
    return ordered(s, cats, name)


def bclc_stage(
    number: Any, largest_diameter: Any, ps: Any, child_pugh_class: Any, vascular_invasion: Any,
    extrahepatic_spread: Any, *, diameter_unit: str = "cm",
) -> pd.Series:
    """BCLC stage, 2022 update (Reig et al., J Hepatol 2022;76:681–693).

    Inputs: tumour number, largest diameter, ECOG PS (0–4), Child–Pugh class (A/B/C; the operational
    proxy for liver function used by most cohort studies), macrovascular (portal) invasion, extrahepatic
    spread. Rules, first match wins:
      D: PS > 2 or Child–Pugh C (end-stage liver function);
      C: portal invasion or extrahepatic spread, or PS 1–2;
      0: PS 0, single tumour ≤ 2 cm;  A: PS 0, single tumour (any size) or 2–3 nodules each ≤ 3 cm;
      B: PS 0, multinodular beyond A (no invasion, no spread).
    The 2022 nuance that only preserved liver function qualifies for 0–C is reduced to Child–Pugh A/B
    here; record the operational rule in the study report. An input is required only where it decides
    the stage (PS 3 gives D with a missing diameter; 4 nodules give B with a missing diameter).
    """
    idx = _idx(number, largest_diameter, ps, child_pugh_class, vascular_invasion, extrahepatic_spread)
    n = tumour_number(number, idx)
    d = quantity(largest_diameter, diameter_unit, DIAMETER_CM, n.index)
    p = _ps(ps, n.index)
    cp = _cp_class(child_pugh_class, n.index)
    vi = boolean(vascular_invasion, "vascular_invasion", n.index)
    ehs = boolean(extrahepatic_spread, "extrahepatic_spread", n.index)
    # an input is required only on the branch that decides the stage (PS 3 is D whatever the tumour)
    d_known = (p > 2).fillna(False) | cp.eq("C").fillna(False)
    not_d = (p <= 2).fillna(False) & cp.notna() & cp.ne("C").fillna(False)
    c_known = not_d & (vi.eq(True).fillna(False) | ehs.eq(True).fillna(False) | p.isin([1, 2]))
    tumour_known = n.notna() & ((n >= 4).fillna(False) | d.notna())
    early_known = not_d & vi.eq(False).fillna(False) & ehs.eq(False).fillna(False) & p.eq(0) & tumour_known
    miss = ~(d_known | c_known | early_known)
    nn, dd, pp = n.fillna(0).to_numpy(int), d.fillna(0).to_numpy(), p.fillna(0).to_numpy()
    cc = cp.fillna("").to_numpy(object)
    v, e = vi.fillna(False).to_numpy(bool), ehs.fillna(False).to_numpy(bool)
    stage = np.select(
        [(pp > 2) | (cc == "C"), v | e | (pp >= 1), (nn == 1) & (dd <= 2), (nn == 1) | ((nn <= 3) & (dd <= 3))],
        ["D", "C", "0", "A"], default="B",
    )
    return _finish(stage, miss, BCLC_STAGES, "BCLC", {
        "number": n.isna(), "diameter": d.isna(), "PS": p.isna(), "Child-Pugh": cp.isna(),
        "vascular invasion": vi.isna(), "extrahepatic spread": ehs.isna()})


def clip_score(
    child_pugh_class: Any, multinodular: Any, extension_over_50pct: Any, afp: Any, portal_vein_thrombosis: Any,
    *, afp_unit: str = "ng/mL",
) -> pd.Series:
    """CLIP score (The Cancer of the Liver Italian Program investigators, Hepatology 1998;28:751–755).

    Child–Pugh A 0 / B 1 / C 2; tumour morphology: uninodular and extension ≤ 50 % 0, multinodular and
    extension ≤ 50 % 1, massive or extension > 50 % 2 (pass extension_over_50pct=True for massive);
    AFP < 400 ng/mL 0, ≥ 400 1; portal vein thrombosis no 0, yes 1. Score 0–6 (Int64, named "CLIP").
    """
    idx = _idx(child_pugh_class, multinodular, extension_over_50pct, afp, portal_vein_thrombosis)
    cp = _cp_class(child_pugh_class, idx)
    mn = boolean(multinodular, "multinodular", cp.index)
    ext = boolean(extension_over_50pct, "extension_over_50pct", cp.index)
    a = quantity(afp, afp_unit, AFP, cp.index)
    pvt = boolean(portal_vein_thrombosis, "portal_vein_thrombosis", cp.index)
    miss = cp.isna() | mn.isna() | ext.isna() | a.isna() | pvt.isna()
    cp_pts = cp.map({"A": 0, "B": 1, "C": 2}, na_action="ignore").fillna(0).to_numpy(int)
    morph = np.where(ext.fillna(False).to_numpy(bool), 2, np.where(mn.fillna(False).to_numpy(bool), 1, 0))
    score = cp_pts + morph + (a.fillna(0).to_numpy() >= 400).astype(int) + pvt.fillna(False).to_numpy(int)
    out = pd.Series(score, index=cp.index, name="CLIP").astype("Int64").mask(miss)
    log_missing("CLIP", miss, {"Child-Pugh": cp.isna(), "multinodular": mn.isna(), "extension": ext.isna(),
                               "AFP": a.isna(), "PVT": pvt.isna()})
    return out


def okuda_stage(
    tumour_over_50pct: Any, ascites: Any, albumin: Any, bilirubin: Any, *,
    albumin_unit: str = "g/L", bilirubin_unit: str = "umol/L",
) -> pd.Series:
    """Okuda stage (Okuda et al., Cancer 1985;56:918–928).

    One positive criterion each: tumour > 50 % of the liver; ascites present; albumin < 3 g/dL (30 g/L);
    bilirubin > 3 mg/dL (51.3 µmol/L). Stage I: none positive; II: 1–2; III: 3–4. Ordered "I" < "II" < "III".
    """
    idx = _idx(tumour_over_50pct, ascites, albumin, bilirubin)
    t = boolean(tumour_over_50pct, "tumour_over_50pct", idx)
    asc = boolean(ascites, "ascites", t.index)
    alb = quantity(albumin, albumin_unit, ALBUMIN, t.index)
    bil = quantity(bilirubin, bilirubin_unit, BILIRUBIN, t.index)
    miss = t.isna() | asc.isna() | alb.isna() | bil.isna()
    k = (t.fillna(False).to_numpy(int) + asc.fillna(False).to_numpy(int)
         + (alb.fillna(99).to_numpy() < 30.0).astype(int) + (bil.fillna(0).to_numpy() > 3 * 17.1).astype(int))
    stage = np.where(k == 0, "I", np.where(k <= 2, "II", "III"))
    return _finish(stage, miss, ["I", "II", "III"], "Okuda", {
        "tumour extent": t.isna(), "ascites": asc.isna(), "albumin": alb.isna(), "bilirubin": bil.isna()})


def ajcc_t_category(
    number: Any, largest_diameter: Any, vascular_invasion: Any, major_vessel_invasion: Any,
    adjacent_organ_invasion: Any, *, diameter_unit: str = "cm",
) -> pd.Series:
    """AJCC 8th edition T category for HCC (Amin et al., AJCC Cancer Staging Manual, 8th ed., 2017, ch. 22).

    T1a: solitary ≤ 2 cm (with or without vascular invasion); T1b: solitary > 2 cm without vascular
    invasion; T2: solitary > 2 cm with vascular invasion, or multiple tumours none > 5 cm; T3: multiple
    tumours, at least one > 5 cm; T4: tumour(s) involving a major branch of the portal or hepatic vein
    (`major_vessel_invasion`), or direct invasion of adjacent organs other than the gallbladder or
    perforation of the visceral peritoneum (`adjacent_organ_invasion`).
    """
    idx = _idx(number, largest_diameter, vascular_invasion, major_vessel_invasion, adjacent_organ_invasion)
    n = tumour_number(number, idx)
    d = quantity(largest_diameter, diameter_unit, DIAMETER_CM, n.index)
    vi = boolean(vascular_invasion, "vascular_invasion", n.index)
    mvi = boolean(major_vessel_invasion, "major_vessel_invasion", n.index)
    adj = boolean(adjacent_organ_invasion, "adjacent_organ_invasion", n.index)
    nn, dd = n.fillna(0).to_numpy(int), d.fillna(0).to_numpy()
    v, m, a = (x.fillna(False).to_numpy(bool) for x in (vi, mvi, adj))
    t4 = m | a
    # T4 needs only one positive invasion finding; otherwise number and size are needed, and vascular
    # invasion only for a solitary tumour > 2 cm
    t4_known = mvi.eq(True).fillna(False) | adj.eq(True).fillna(False)
    not_t4 = mvi.eq(False).fillna(False) & adj.eq(False).fillna(False)
    vi_needed = (n == 1).fillna(False) & (d > 2).fillna(False)
    miss = ~(t4_known | (not_t4 & n.notna() & d.notna() & (~vi_needed | vi.notna())))
    stage = np.select([t4, (nn == 1) & (dd <= 2), (nn == 1) & ~v, (nn == 1) | (dd <= 5)],
                      ["T4", "T1a", "T1b", "T2"], default="T3")
    return _finish(stage, miss, AJCC_T, "AJCC_T", {"number": n.isna(), "diameter": d.isna(),
                                                   "vascular invasion": vi.isna(), "major vessel": mvi.isna(),
                                                   "adjacent organ": adj.isna()})


def ajcc_stage(t_category: Any, n1: Any, m1: Any) -> pd.Series:
    """AJCC 8th edition stage group for HCC: IA T1a N0 M0; IB T1b N0 M0; II T2 N0 M0; IIIA T3 N0 M0;
    IIIB T4 N0 M0; IVA any T N1 M0; IVB any T any N M1. `n1`, `m1`: regional node / distant metastasis."""
    idx = _idx(t_category, n1, m1)
    t = categorical(t_category, "AJCC_T", {x: x for x in AJCC_T}, idx)
    n = boolean(n1, "N1", t.index)
    m = boolean(m1, "M1", t.index)
    nn, mm = n.fillna(False).to_numpy(bool), m.fillna(False).to_numpy(bool)
    base = t.map({"T1a": "IA", "T1b": "IB", "T2": "II", "T3": "IIIA", "T4": "IIIB"}, na_action="ignore")
    stage = np.where(mm, "IVB", np.where(nn, "IVA", base.fillna("").to_numpy(object)))
    # M1 decides alone; N1 decides when M0; T decides only for N0 M0
    m0, n0 = m.eq(False).fillna(False), n.eq(False).fillna(False)
    miss = m.isna() | (m0 & n.isna()) | (m0 & n0 & t.isna())
    return _finish(stage, miss, AJCC_STAGES, "AJCC_stage", {"T": t.isna(), "N": n.isna(), "M": m.isna()})


def hklc_tumour_status(number: Any, largest_diameter: Any, intrahepatic_venous_invasion: Any,
                       diffuse: Any = False, *, diameter_unit: str = "cm") -> pd.Series:
    """HKLC tumour status (Yau et al., Gastroenterology 2014;146:1691–1700):
    early: ≤ 5 cm, ≤ 3 nodules and no intrahepatic venous invasion (IHVI);
    intermediate: ≤ 5 cm with > 3 nodules or IHVI, or > 5 cm with ≤ 3 nodules and no IHVI;
    locally advanced: > 5 cm with > 3 nodules or IHVI, or diffuse tumour."""
    idx = _idx(number, largest_diameter, intrahepatic_venous_invasion, diffuse)
    n = tumour_number(number, idx)
    d = quantity(largest_diameter, diameter_unit, DIAMETER_CM, n.index)
    ihvi = boolean(intrahepatic_venous_invasion, "intrahepatic_venous_invasion", n.index)
    dif = boolean(diffuse, "diffuse", n.index)
    small, few, inv = (d <= 5).to_numpy(bool), (n <= 3).fillna(False).to_numpy(bool), ihvi.fillna(False).to_numpy(bool)
    dd = dif.fillna(False).to_numpy(bool)
    status = np.select([dd, small & few & ~inv, small | (few & ~inv)], ["locally_advanced", "early", "intermediate"],
                       default="locally_advanced")
    miss = (n.isna() | d.isna() | ihvi.isna()) & ~dif.fillna(False)
    miss = miss | dif.isna()
    return _finish(status, miss, ["early", "intermediate", "locally_advanced"], "HKLC_tumour_status",
                   {"number": n.isna(), "diameter": d.isna(), "IHVI": ihvi.isna(), "diffuse": dif.isna()})


# HKLC stage tree, keyed by (liver function & PS group, EVM, tumour status). See `hklc_stage`.
HKLC_TREE: dict[tuple[str, bool, str], str] = {
    ("A", False, "early"): "I",
    ("A", False, "intermediate"): "IIa",
    ("A", False, "locally_advanced"): "IIIa",
    ("A", True, "early"): "IVa",
    ("A", True, "intermediate"): "IVa",
    ("A", True, "locally_advanced"): "IVa",
    ("B", False, "early"): "IIb",
    ("B", False, "intermediate"): "IIIb",
    ("B", False, "locally_advanced"): "IVb",
    ("B", True, "early"): "IVb",
    ("B", True, "intermediate"): "IVb",
    ("B", True, "locally_advanced"): "IVb",
}


def hklc_stage(ps: Any, child_pugh_class: Any, tumour_status: Any, extrahepatic_vascular_invasion_or_metastasis: Any,
               ) -> pd.Series:
    """HKLC stage I–Vb (Yau et al., Gastroenterology 2014;146:1691–1700, Fig. 3).

    PS 0–1 with Child–Pugh A or B: stage from `HKLC_TREE[(CP class, EVM, tumour status)]`.
    PS 2–4 or Child–Pugh C: Va for Child–Pugh C with an early tumour and no EVM (transplant candidates),
    otherwise Vb.

    VERIFY: this tree was written without the paper at hand (see docs/clinical.md); check HKLC_TREE against
    Yau 2014 Fig. 3 before publishing numbers that depend on the sub-stages (a, b). The tumour-status
    definitions (`hklc_tumour_status`) follow the paper's text.
    """
    idx = _idx(ps, child_pugh_class, tumour_status, extrahepatic_vascular_invasion_or_metastasis)
    p = _ps(ps, idx)
    cp = _cp_class(child_pugh_class, p.index)
    ts = categorical(tumour_status, "HKLC_tumour_status",
                     {x: x for x in ("early", "intermediate", "locally_advanced")}, p.index)
    evm = boolean(extrahepatic_vascular_invasion_or_metastasis, "EVM", p.index)
    stages = []
    for pi, ci, ti, ei in zip(p, cp, ts, evm):
        if any(x is pd.NA or (isinstance(x, float) and np.isnan(x)) for x in (pi, ci, ti, ei)):
            stages.append(None)
        elif pi >= 2 or ci == "C":
            stages.append("Va" if (ci == "C" and ti == "early" and not ei and pi <= 1) else "Vb")
        else:
            stages.append(HKLC_TREE[(ci, bool(ei), ti)])
    miss = pd.Series([s is None for s in stages], index=p.index)
    return _finish(np.asarray(stages, dtype=object), miss, HKLC_STAGES, "HKLC",
                   {"PS": p.isna(), "Child-Pugh": cp.isna(), "tumour status": ts.isna(), "EVM": evm.isna()})


_VP_LEVELS = {
    "none": "Vp0", "vp0": "Vp0", 0: "Vp0",
    "peripheral": "Vp1", "beyond_second_order": "Vp1", "vp1": "Vp1", 1: "Vp1",
    "second_order": "Vp2", "second-order branch": "Vp2", "vp2": "Vp2", 2: "Vp2",
    "first_order": "Vp3", "first-order branch": "Vp3", "vp3": "Vp3", 3: "Vp3",
    "main_trunk": "Vp4", "contralateral": "Vp4", "main trunk": "Vp4", "vp4": "Vp4", 4: "Vp4",
}


def vp_grade(level: Any) -> pd.Series:
    """Portal-vein tumour thrombus grade Vp0–Vp4 (Liver Cancer Study Group of Japan, General Rules for the
    Clinical and Pathological Study of Primary Liver Cancer, 6th ed.; Ikai et al., J Hepatol 2006).

    Vp0 no thrombus; Vp1 distal to (not in) the second-order branches; Vp2 in second-order branches;
    Vp3 in first-order branches; Vp4 in the main trunk and/or the contralateral branch.
    `level` is the most proximal involved level ("none", "peripheral", "second_order", "first_order",
    "main_trunk", "contralateral") or an existing grade ("Vp3", 3). Ordered categorical "Vp".
    """
    s = as_series(level, "Vp")
    g = categorical(s, str(s.name), _VP_LEVELS)
    log_missing("Vp", g.isna(), {"PVTT level": g.isna()})
    return ordered(g, VP_GRADES, "Vp")


def vp4(grade: Any) -> pd.Series:
    """VP4 indicator as in seed 000's combined model: 1 if Vp4 (main trunk / contralateral), else 0 (Int64)."""
    g = vp_grade(grade)
    return (g == "Vp4").astype("Int64").mask(g.isna()).rename("VP4")
