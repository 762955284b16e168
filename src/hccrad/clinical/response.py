"""Tumour response from target-lesion diameters: RECIST 1.1 and mRECIST, best overall response, ORR/DCR.

RECIST 1.1 (Eisenhauer et al., Eur J Cancer 2009;45:228–247), on the sum of the longest diameters (mm)
of the target lesions (up to 5, ≤ 2 per organ):
  CR  disappearance of all target lesions (sum 0);
  PR  sum ≥ 30 % below the baseline sum;
  PD  sum ≥ 20 % above the nadir (smallest sum on study, baseline included) AND ≥ 5 mm absolute increase,
      or any new lesion, or unequivocal progression of non-target lesions;
  SD  neither PR nor PD.
mRECIST for HCC (Lencioni & Llovet, Semin Liver Dis 2010;30:52–60), on the sum of the diameters of the
*viable* (arterially enhancing) part of up to 2 intrahepatic target lesions:
  CR  disappearance of intratumoural arterial enhancement in all targets (viable sum 0);
  PR  viable sum ≥ 30 % below baseline;  PD  viable sum ≥ 20 % above the nadir (no absolute floor in the
  2010 definition), or a new lesion;  SD  otherwise.
Overall visit response combines target response, new lesions and non-target status (RECIST 1.1 table 1):
target CR with non-target "non-CR/non-PD" is PR.

Best overall response (BOR) is the best visit response from the start of treatment up to and including the
first PD. With `confirm=True` (RECIST 1.1 §4.4, required where response is the primary endpoint of a
non-randomised trial) a CR needs a later CR, and a PR a later CR/PR, at least `confirm_min_days` (default
28) after it; an unconfirmed CR/PR counts as SD. SD counts only when assessed at least `sd_min_days` after
baseline (default 0: any follow-up visit). No evaluable follow-up gives "NE".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from hccrad.clinical._inputs import as_series, categorical, log_missing, numeric, ordered, rows_text
from hccrad.core.errors import DataError, InputError

logger = logging.getLogger(__name__)

CATEGORIES = ["CR", "PR", "SD", "PD", "NE"]
_RANK = {"CR": 0, "PR": 1, "SD": 2, "PD": 3, "NE": 4}
Criteria = Literal["recist1.1", "mrecist"]


def _check_criteria(criteria: str) -> str:
    c = criteria.lower().replace(" ", "").replace("_", "")
    if c in ("recist1.1", "recist", "recist11"):
        return "recist1.1"
    if c == "mrecist":
        return "mrecist"
    raise InputError(f"criteria must be 'recist1.1' or 'mrecist', got {criteria!r}", field="criteria")


def _sum_mm(values: Any, name: str, index: pd.Index | None) -> pd.Series:
    s = numeric(values, name, index)
    bad = s.notna() & ((s < 0) | (s > 1000))
    if bad.any():
        raise DataError(f"{name}: sums of diameters must be in mm within [0, 1000]; rows {rows_text(s.index[bad])}",
                        field=str(s.name), case=str(s.index[bad][0]),
                        hint="give diameters in millimetres (a value > 1000 mm is not a tumour)")
    return s


def target_response(baseline_sum: Any, current_sum: Any, nadir_sum: Any = None, *,
                    criteria: Criteria = "recist1.1") -> pd.Series:
    """Target-lesion response per visit (vectorised). Sums in mm; `nadir_sum` is the smallest sum before
    this visit (baseline included; defaults to the baseline). Missing current sum → "NE"."""
    crit = _check_criteria(criteria)
    idx = baseline_sum.index if isinstance(baseline_sum, pd.Series) else None
    b = _sum_mm(baseline_sum, "baseline_sum_mm", idx)
    c = _sum_mm(current_sum, "current_sum_mm", b.index)
    n = b if nadir_sum is None else _sum_mm(nadir_sum, "nadir_sum_mm", b.index)
    zero_base = b.notna() & (b <= 0)
    if zero_base.any():
        raise DataError(f"baseline sum of diameters is 0 in rows {rows_text(b.index[zero_base])}: no measurable "
                        "target lesion", field="baseline_sum_mm", case=str(b.index[zero_base][0]),
                        hint="cases without a measurable target lesion at baseline cannot be assessed")
    if b.isna().any():
        raise DataError(f"baseline sum missing in rows {rows_text(b.index[b.isna()])}", field="baseline_sum_mm",
                        case=str(b.index[b.isna()][0]))
    n = n.fillna(b)
    increase = c - n
    pd_rule = (c >= 1.2 * n) & (increase > 0)
    if crit == "recist1.1":
        pd_rule &= increase >= 5.0
    out = np.select([c.isna().to_numpy(), (c == 0).to_numpy(), pd_rule.to_numpy(), (c <= 0.7 * b).to_numpy()],
                    ["NE", "CR", "PD", "PR"], default="SD")
    return ordered(pd.Series(out, index=b.index), CATEGORIES, "target_response")


NONTARGET = {"cr": "CR", "absent": "CR", "none": "CR", "non-cr/non-pd": "non-CR/non-PD",
             "non_cr_non_pd": "non-CR/non-PD", "present": "non-CR/non-PD", "pd": "PD", "ne": "NE"}


def overall_response(target: Any, new_lesions: Any, nontarget: Any = None) -> pd.Series:
    """Visit response (RECIST 1.1 table 1 / mRECIST): PD if target PD, a new lesion or non-target PD;
    CR only if target CR and non-target CR/absent (else PR); NE if target NE; else the target response.
    `nontarget`: "CR"/"absent", "non-CR/non-PD"/"present", "PD", "NE", or None (no non-target lesions)."""
    t = categorical(target, "target_response", {k: k for k in CATEGORIES},
                    target.index if isinstance(target, pd.Series) else None)
    new = as_series(new_lesions, "new_lesions", t.index).map(
        lambda v: pd.NA if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else bool(v))
    nt = (pd.Series("CR", index=t.index) if nontarget is None
          else categorical(nontarget, "nontarget", NONTARGET, t.index))
    res = []
    for ti, ni, ntv in zip(t, new, nt):
        ti = "NE" if ti is pd.NA else ti
        if ni is True or (ntv is not pd.NA and ntv == "PD") or ti == "PD":
            res.append("PD")
        elif ti == "NE" or ni is pd.NA:
            res.append("NE")
        elif ti == "CR":
            res.append("NE" if (ntv is pd.NA or ntv == "NE") else ("CR" if ntv == "CR" else "PR"))
        else:
            res.append(ti)
    return ordered(pd.Series(res, index=t.index), CATEGORIES, "overall_response")


def assess_visits(visits: pd.DataFrame, *, case: str = "case_id", time: str = "day", sum_mm: str = "sum_mm",
                  new_lesions: str | None = "new_lesions", nontarget: str | None = None,
                  criteria: Criteria = "recist1.1") -> pd.DataFrame:
    """Response at every follow-up visit from a long table (one row per case and visit).

    The earliest visit of each case is its baseline; the nadir for visit k is the smallest sum among the
    visits before k (baseline included). Returns the follow-up rows with columns case, time, sum_mm,
    baseline_mm, nadir_mm, pct_change_baseline, pct_change_nadir, target_response, overall_response.
    """
    need = [case, time, sum_mm] + [c for c in (new_lesions, nontarget) if c]
    absent = [c for c in need if c not in visits.columns]
    if absent:
        raise InputError(f"visit table lacks columns {absent}", field=absent[0], hint=f"it has {list(visits.columns)}")
    if visits.duplicated([case, time]).any():
        dup = visits.loc[visits.duplicated([case, time], keep=False), case].unique()
        raise DataError(f"two visits at the same time for cases {rows_text(dup)}", field=time, case=str(dup[0]))
    v = visits.sort_values([case, time]).reset_index(drop=True)
    s = _sum_mm(v[sum_mm], sum_mm, v.index)
    first = ~v[case].duplicated()
    base = s.where(first).groupby(v[case]).transform("first")
    prev_min = s.groupby(v[case]).transform(lambda x: x.shift(1).expanding().min())
    fu = ~first
    out = pd.DataFrame({case: v[case], time: v[time], "sum_mm": s, "baseline_mm": base, "nadir_mm": prev_min})[fu]
    out["pct_change_baseline"] = 100.0 * (out["sum_mm"] - out["baseline_mm"]) / out["baseline_mm"]
    out["pct_change_nadir"] = 100.0 * (out["sum_mm"] - out["nadir_mm"]) / out["nadir_mm"].replace(0, np.nan)
    out["target_response"] = target_response(out["baseline_mm"], out["sum_mm"], out["nadir_mm"], criteria=criteria)
    new = v.loc[fu, new_lesions] if new_lesions else pd.Series(False, index=out.index)
    nt = v.loc[fu, nontarget] if nontarget else None
    out["overall_response"] = overall_response(out["target_response"], new, nt)
    log_missing("visit response", out["sum_mm"].isna(), {"sum of diameters": out["sum_mm"].isna()})
    return out.reset_index(drop=True)


def best_overall_response(assessed: pd.DataFrame, *, case: str = "case_id", time: str = "day",
                          response: str = "overall_response", confirm: bool = False, confirm_min_days: float = 28,
                          sd_min_days: float = 0, baseline_time: pd.Series | None = None) -> pd.Series:
    """Best overall response per case (index = case id, ordered categorical "BOR"); rules in the module doc.

    `time` is days since baseline unless `baseline_time` (per case) is given; visits after the first PD are
    ignored."""
    out: dict[Any, str] = {}
    for cid, g in assessed.sort_values([case, time]).groupby(case, sort=False):
        t = g[time].to_numpy(dtype=float)
        if baseline_time is not None:
            t = t - float(baseline_time[cid])
        r = [str(x) if x is not pd.NA and x == x else "NE" for x in g[response].astype(object)]
        if "PD" in r:
            k = r.index("PD")
            r, t = r[: k + 1], t[: k + 1]
        best = "NE"
        for i, ri in enumerate(r):
            cand = ri
            if confirm and ri in ("CR", "PR"):
                later = [r[j] for j in range(i + 1, len(r)) if t[j] - t[i] >= confirm_min_days]
                if ri == "CR" and "CR" in later:
                    cand = "CR"
                elif any(x in ("CR", "PR") for x in later):
                    cand = "PR"
                else:
                    cand = "SD"
            if cand == "SD" and t[i] < sd_min_days:
                cand = "NE"
            if _RANK[cand] < _RANK[best]:  # CR < PR < SD < PD < NE
                best = cand
        out[cid] = best
    s = pd.Series(out, name="BOR")
    s.index.name = case
    return ordered(s, CATEGORIES, "BOR")


def objective_response(category: Any) -> pd.Series:
    """1 for CR or PR, 0 for SD or PD, pd.NA for NE or missing (Int64, "OR")."""
    c = categorical(category, "response", {k: k for k in CATEGORIES},
                    category.index if isinstance(category, pd.Series) else None)
    return c.map({"CR": 1, "PR": 1, "SD": 0, "PD": 0}, na_action="ignore").astype("Int64").rename("OR")


def disease_control(category: Any) -> pd.Series:
    """1 for CR, PR or SD, 0 for PD, pd.NA for NE or missing (Int64, "DC")."""
    c = categorical(category, "response", {k: k for k in CATEGORIES},
                    category.index if isinstance(category, pd.Series) else None)
    return c.map({"CR": 1, "PR": 1, "SD": 1, "PD": 0}, na_action="ignore").astype("Int64").rename("DC")


def proportion_ci(k: int, n: int, *, method: str = "clopper-pearson", level: float = 0.95) -> tuple[float, float]:
    """CI for a proportion k/n: "clopper-pearson" (exact) and "wilson" via scipy.stats.binomtest, or
    "wald" (p ± z·√(p(1−p)/n), clipped to [0, 1])."""
    if n <= 0:
        raise DataError("a rate needs at least one patient in the denominator", hint="check the group")
    if method == "wald":
        p = k / n
        z = stats.norm.ppf(0.5 + level / 2)
        h = z * np.sqrt(p * (1 - p) / n)
        return max(0.0, p - h), min(1.0, p + h)
    m = {"clopper-pearson": "exact", "exact": "exact", "wilson": "wilson"}.get(method)
    if m is None:
        raise InputError(f"CI method {method!r} unknown", field="ci", hint="use clopper-pearson, wilson or wald")
    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=level, method=m)
    return float(ci.low), float(ci.high)


@dataclass(frozen=True)
class ResponseRates:
    """ORR and DCR per group with [n/N] and CIs. `summary()` gives the table."""

    table: pd.DataFrame
    method: str
    level: float
    ne_as_failure: bool
    notes: dict = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        return self.table.copy()

    def __str__(self) -> str:
        return (f"Response rates ({self.method} {self.level:.0%} CI; NE counted as "
                f"{'non-response' if self.ne_as_failure else 'excluded'})\n{self.table.to_string(index=False)}")


def response_rates(bor: pd.Series, groups: pd.Series | None = None, *, ci: str = "clopper-pearson",
                   level: float = 0.95, ne_as_failure: bool = True) -> ResponseRates:
    """ORR (CR+PR) and DCR (CR+PR+SD) with counts shown as [n/N] and CIs, overall and per group.

    `bor`: best overall response per patient; `groups`: same index (e.g. cohort or risk group).
    NE counts in the denominator as a non-responder when `ne_as_failure` (the intention-to-treat
    convention), else it is excluded. Columns: group, endpoint, n, N, rate, ci_low, ci_high, text.
    """
    c = categorical(bor, "BOR", {k: k for k in CATEGORIES}, bor.index)
    if groups is None:
        g = pd.Series("all", index=c.index)
    else:
        g = as_series(groups, "group", c.index)
    rows = []
    for name, idx in [("all", c.index)] + ([] if groups is None else list(g.groupby(g, sort=True).groups.items())):
        cc = c.loc[idx]
        known = cc.notna() & ((cc != "NE") | ne_as_failure)
        N = int(known.sum())
        for ep, yes in (("ORR", ("CR", "PR")), ("DCR", ("CR", "PR", "SD"))):
            n = int(cc[known].isin(yes).sum())
            lo, hi = proportion_ci(n, N, method=ci, level=level) if N else (np.nan, np.nan)
            rate = n / N if N else np.nan
            rows.append({"group": name, "endpoint": ep, "n": n, "N": N, "rate": rate, "ci_low": lo, "ci_high": hi,
                         "text": f"{100 * rate:.1f}% [{n}/{N}] ({100 * lo:.1f}–{100 * hi:.1f})"})
    missing = int(c.isna().sum())
    if missing:
        logger.warning("response rates: %d patients without a response category were left out", missing)
    return ResponseRates(pd.DataFrame(rows), ci, level, ne_as_failure, {"missing": missing})
