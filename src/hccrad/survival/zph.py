"""Proportional-hazards test of a fitted Cox model: the score test of R survival >= 3.0 `cox.zph`.

Grambsch & Therneau (Biometrika 1994) test H0: beta_k(t) = beta_k against beta_k(t) = beta_k + theta_k g(t)
by a score test for theta = 0 at the fitted beta (Therneau, survival 3.0 `cox.zph`, C routine zph1.c):
with g(t) = 1 - KM(t-) (transform "km", cox.zph's default: the left-continuous Kaplan–Meier of all subjects,
centred at its mean over the events), x-bar_k(t) and V_k(t) the risk-weighted mean and covariance of the
covariates in the k-th of the d Efron terms of a tied event time (the deaths enter the risk set in steps
of 1/d; with Breslow ties all d deaths enter at once and each uses the full risk set),

    U2 = sum_events g(t_i) x_i - sum_times sum_k (1/d) g(t) x-bar_k(t),
    I  = sum_times sum_k (1/d) [[V_k, g V_k], [g V_k, g^2 V_k]]        (2p x 2p),

and for a term with columns J (a categorical covariate's dummies together, df = |J|) and for the GLOBAL
test (all p columns):  chi2 = u' I[K, K]^-1 u,  u = (0_p, U2_J),  K = (1..p, p + J),  on |J| df.
Unlike lifelines' `proportional_hazard_test` (the 1994 approximation with a single variance), this is the
exact score test and reproduces `cox.zph(fit)$table` (tests/reference/test_r_cox_zph.py, 1e-6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from hccrad.core.errors import DataError


def km_left_transform(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """1 - S(t_i-) for every subject, S the Kaplan–Meier estimate of all subjects (cox.zph "km")."""
    u, inverse = np.unique(time, return_inverse=True)
    deaths = np.bincount(inverse, weights=event.astype(float), minlength=u.size)
    at_risk = time.size - np.concatenate([[0], np.cumsum(np.bincount(inverse, minlength=u.size))[:-1]])
    surv_before = np.concatenate([[1.0], np.cumprod(1.0 - deaths / at_risk)])[:-1]
    return 1.0 - surv_before[inverse]


def zph_score_and_information(time: np.ndarray, event: np.ndarray, x: np.ndarray, beta: np.ndarray,
                              gtime: np.ndarray, ties: str = "efron") -> tuple[np.ndarray, np.ndarray]:
    """(U2, I): the time-weighted score (p) and the 2p x 2p information matrix, as zph1.c.

    ties "efron": the d deaths at a time join the risk set 1/d at a time; "breslow": all at once.
    """
    x = x - x.mean(axis=0)
    risk = np.exp(x @ beta)
    p = x.shape[1]
    denom, a, cmat = 0.0, np.zeros(p), np.zeros((p, p))
    u2 = np.zeros(p)
    info = np.zeros((2 * p, 2 * p))
    for t in np.unique(time)[::-1]:  # backwards in time: the risk set grows
        at = time == t
        dead = at & (event == 1)
        cens = at & (event == 0)
        rc = risk[cens]
        denom += rc.sum()
        a += rc @ x[cens]
        cmat += (x[cens] * rc[:, None]).T @ x[cens]
        d = int(dead.sum())
        if d == 0:
            continue
        g = gtime[dead][0]
        rd = risk[dead]
        denom2, a2, cmat2 = rd.sum(), rd @ x[dead], (x[dead] * rd[:, None]).T @ x[dead]
        u2 += g * x[dead].sum(axis=0)
        share = 1.0 / d if ties == "efron" else 1.0
        for k in range(d):  # Efron: the deaths join the risk set 1/d at a time; Breslow: all at once
            if ties == "efron" or k == 0:
                denom += denom2 * share
                a += a2 * share
                cmat += cmat2 * share
            mean = a / denom
            u2 -= g * mean
            var = cmat / denom - np.outer(mean, mean)
            info[:p, :p] += var
            info[:p, p:] += g * var
            info[p:, p:] += g * g * var
    info[p:, :p] = info[:p, p:].T
    return u2, info


def cox_zph(time, event, design: pd.DataFrame, beta: Sequence[float],
            terms: Mapping[str, Sequence[str]] | None = None, ties: str = "efron") -> pd.DataFrame:
    """cox.zph(fit, transform = "km") table: one row per term (chisq, df, p) and the GLOBAL row.

    `design`: the model's covariate columns (one row per subject, no missing value); `beta`: the fitted
    coefficients in the same order; `terms`: term name -> its design columns (default: one term per column),
    so a categorical covariate's dummies are tested jointly, as cox.zph(terms = TRUE); `ties`: the fit's
    method for tied death times ("efron" or "breslow").
    """
    if ties not in ("efron", "breslow"):
        raise DataError(f"PH test: unknown ties method {ties!r}", field="ties", hint='use "efron" or "breslow"')
    t = np.asarray(time, dtype=float)
    e = np.asarray(event, dtype=int)
    x = design.to_numpy(dtype=float)
    b = np.asarray(beta, dtype=float)
    columns = list(design.columns)
    terms = dict(terms) if terms is not None else {c: [c] for c in columns}
    unknown = [c for cols in terms.values() for c in cols if c not in columns]
    if unknown or b.size != len(columns) or not e.any():
        raise DataError(f"PH test: design columns {columns}, {b.size} coefficients, terms {terms}, "
                        f"{int(e.sum())} events", field=(unknown or columns)[0],
                        hint="pass the fitted model's design matrix, its coefficients and at least one event")
    ttimes = km_left_transform(t, e)
    gtime = ttimes - ttimes[e == 1].mean()
    u2, info = zph_score_and_information(t, e, x, b, gtime, ties)
    p = len(columns)
    rows = []
    for name, cols in [*terms.items(), ("GLOBAL", columns)]:
        jj = [columns.index(c) for c in cols]
        kk = list(range(p)) + [p + j for j in jj]
        u = np.concatenate([np.zeros(p), u2[jj]])
        chisq = float(u @ np.linalg.solve(info[np.ix_(kk, kk)], u))
        rows.append({"covariate": name, "chisq": chisq, "df": len(jj), "p": float(stats.chi2.sf(chisq, len(jj)))})
    return pd.DataFrame(rows)
