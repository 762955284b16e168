"""Net reclassification improvement (NRI) and integrated discrimination improvement (IDI).

Pencina, D'Agostino Sr, D'Agostino Jr & Vasan, Stat Med 2008;27:157–172, and Pencina, D'Agostino &
Steyerberg, Stat Med 2011;30:11–21 (continuous NRI). For a new model versus an old (nested) one:

    NRI = [P(up | event) − P(down | event)] + [P(down | non-event) − P(up | non-event)]
        categorical: up/down = moving to a higher/lower risk category (cut-points given);
        continuous ("category-free", NRI>0): up/down = p_new > p_old / p_new < p_old.
    SE (Pencina 2008, eq. 4) = √[(p_up,e + p_down,e)/n_e + (p_up,ne + p_down,ne)/n_ne]  (under H0)

    IDI = (mean p_new − mean p_old | events) − (mean p_new − mean p_old | non-events)
    SE  = √(se_e² + se_ne²), se_· = SD of (p_new − p_old) within the group / √n_group  (eq. 6)

CIs: estimate ± z · SE (asymptotic), or percentile of a stratified bootstrap (`n_boot`, `seed`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hccrad.core.errors import DataError
from hccrad.evaluate import _checks

__all__ = ["ReclassificationResult", "nri", "idi"]


@dataclass(frozen=True)
class ReclassificationResult(_checks.ResultDisplay):
    """NRI or IDI of a new model over an old one, with CI, z test and the components."""

    statistic: str
    estimate: float
    lower: float
    upper: float
    z: float
    p: float
    method: str
    components: pd.DataFrame
    level: float = 0.95

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"statistic": self.statistic, "estimate": self.estimate, "lower": self.lower,
                              "upper": self.upper, "z": self.z, "p": self.p, "level": self.level,
                              "method": self.method}])


def _prep(y, p_old, p_new):
    yy = _checks.binary_outcome(y)
    return (yy, _checks.probabilities(p_old, yy.size, field="p_old"),
            _checks.probabilities(p_new, yy.size, field="p_new"))


def _nri_parts(y, old, new, cuts):
    if cuts is None:
        up, down = new > old, new < old
    else:
        co, cn = np.digitize(old, cuts, right=False), np.digitize(new, cuts, right=False)
        up, down = cn > co, cn < co
    e, ne = y == 1, y == 0
    pu_e, pd_e = up[e].mean(), down[e].mean()
    pu_ne, pd_ne = up[ne].mean(), down[ne].mean()
    return pu_e, pd_e, pu_ne, pd_ne, e.sum(), ne.sum()


def _idi_parts(y, old, new):
    d = new - old
    e, ne = y == 1, y == 0
    return d[e].mean(), d[ne].mean(), d[e].std(ddof=1) / np.sqrt(e.sum()), d[ne].std(ddof=1) / np.sqrt(ne.sum())


def _boot(y, old, new, fn, n_boot, seed):
    rng = np.random.default_rng(seed)
    ie, ine = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    out = np.empty(n_boot)
    for b in range(n_boot):
        idx = np.concatenate([rng.choice(ie, ie.size), rng.choice(ine, ine.size)])
        out[b] = fn(y[idx], old[idx], new[idx])
    return out


def _finish(stat, est, se, lv, ci, boots, comps, method_label, n_boot, seed):
    z = est / se if se > 0 else float("nan")
    p = 2.0 * stats.norm.sf(abs(z)) if se > 0 else float("nan")
    if ci == "asymptotic":
        half = stats.norm.ppf(0.5 + lv / 2.0) * se
        lo, hi, meth = est - half, est + half, f"{method_label}; asymptotic CI (Pencina 2008)"
    else:
        lo, hi = (float(v) for v in np.quantile(boots, [(1 - lv) / 2, (1 + lv) / 2]))
        meth = f"{method_label}; stratified bootstrap percentile CI (n_boot={n_boot}, seed={seed})"
    return ReclassificationResult(stat, float(est), float(lo), float(hi), float(z), float(p), meth, comps, lv)


def _check_ci(ci, n_boot):
    if ci not in ("asymptotic", "bootstrap"):
        raise DataError(f"unknown CI method {ci!r}", field="ci", hint='use "asymptotic" or "bootstrap"')
    if ci == "bootstrap" and n_boot < 10:
        raise DataError(f"n_boot={n_boot} is too small", field="n_boot", hint="use e.g. 1000")


def nri(y: Sequence | np.ndarray, p_old: Sequence | np.ndarray, p_new: Sequence | np.ndarray, *,
        categories: Sequence[float] | None = None, ci: str = "asymptotic", n_boot: int = 1000, seed: int = 0,
        level: float = 0.95) -> ReclassificationResult:
    """NRI of `p_new` over `p_old`: categorical with risk cut-points `categories` (e.g. [0.2, 0.5]),
    or continuous (category-free) when `categories` is None."""
    lv = _checks.level(level)
    _check_ci(ci, n_boot)
    y, old, new = _prep(y, p_old, p_new)
    cuts = None if categories is None else np.sort(np.asarray(categories, dtype=float))
    if cuts is not None and (cuts.size == 0 or (cuts <= 0).any() or (cuts >= 1).any()):
        raise DataError(f"risk cut-points must lie in (0, 1), got {categories}", field="categories",
                        hint="e.g. categories=[0.2, 0.5] for low/intermediate/high risk")
    pu_e, pd_e, pu_ne, pd_ne, ne_, nn_ = _nri_parts(y, old, new, cuts)
    est = (pu_e - pd_e) + (pd_ne - pu_ne)
    se = np.sqrt((pu_e + pd_e) / ne_ + (pu_ne + pd_ne) / nn_)
    comps = pd.DataFrame({"group": ["events", "non-events"], "n": [int(ne_), int(nn_)],
                          "p_up": [pu_e, pu_ne], "p_down": [pd_e, pd_ne],
                          "nri_component": [pu_e - pd_e, pd_ne - pu_ne]})

    def fn(yb, ob, nb):
        a, b, c, d, _, _ = _nri_parts(yb, ob, nb, cuts)
        return (a - b) + (d - c)

    boots = _boot(y, old, new, fn, n_boot, seed) if ci == "bootstrap" else None
    label = "continuous NRI (>0)" if cuts is None else f"categorical NRI (cut-points {cuts.tolist()})"
    return _finish("NRI", est, se, lv, ci, boots, comps, label, n_boot, seed)


def idi(y: Sequence | np.ndarray, p_old: Sequence | np.ndarray, p_new: Sequence | np.ndarray, *,
        ci: str = "asymptotic", n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> ReclassificationResult:
    """IDI of `p_new` over `p_old` (difference in discrimination slopes)."""
    lv = _checks.level(level)
    _check_ci(ci, n_boot)
    y, old, new = _prep(y, p_old, p_new)
    de, dne, se_e, se_ne = _idi_parts(y, old, new)
    est = de - dne
    se = np.sqrt(se_e ** 2 + se_ne ** 2)
    e = y == 1
    comps = pd.DataFrame({"group": ["events", "non-events"], "n": [int(e.sum()), int((~e).sum())],
                          "mean_p_old": [old[e].mean(), old[~e].mean()],
                          "mean_p_new": [new[e].mean(), new[~e].mean()], "mean_change": [de, dne]})

    def fn(yb, ob, nb):
        a, b, _, _ = _idi_parts(yb, ob, nb)
        return a - b

    boots = _boot(y, old, new, fn, n_boot, seed) if ci == "bootstrap" else None
    return _finish("IDI", est, se, lv, ci, boots, comps, "IDI", n_boot, seed)
