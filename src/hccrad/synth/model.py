"""The known generating model of the synthetic cohort: clinical variables, habitat composition, outcomes.

Clinical marginals follow the seed-000 cohort (Wu et al. 2025, CECT habitat imaging for HAIC in
unresectable HCC; ARCHITECTURE §5): comorbidity 22.3%, cirrhosis 70.9%, Vp4 25.7%, TBIL 20.6 +/- 11.7
umol/L (log-normal with that mean and SD), objective response 52.7%. Variables are drawn independently
(the seed does not publish their joint distribution), so every pair is independent in the generator.

Habitat composition: (p1, p2, p3) ~ Dirichlet(alpha0 * (0.35, 0.45, 0.20)), seed 000's population
proportions rounded. Habitat centres in (AE, VE) are separable versions of seed 000's (whose habitats 1
and 2 differ by < 1 HU and cannot be recovered from AE/VE).

Response (1 = objective response, OR): Y ~ Bernoulli(sigmoid(lp)) with

    lp = b0 + b_high * (p3 - 0.20) / 0.10 + b_low * (p1 - 0.35) / 0.10                     (habitat part)
            + c_com * comorbidities + c_vp4 * vp4 + c_tbil * (tbil - 20.6) + c_cir * cirrhosis  (clinical part)

with signs as in seed 000's combined model (comorbidities -, VP4 +, TBIL -, cirrhosis -) and a habitat part
that dominates. Overall survival (months): Weibull proportional hazards,

    h(t | x) = lambda * k * t^(k - 1) * exp(eta),
    eta = -s_hab * habitat_part + d_com * comorbidities + d_vp4 * vp4 + d_tbil * (tbil - 20.6) + d_cir * cirrhosis,

sampled by inversion T = (-log U / (lambda * exp(eta)))^(1/k), censored by administrative end of study
(accrual uniform over ``accrual_months``, follow-up until ``study_months``) and by exponential loss to
follow-up: the observed time is min(T, C) and os_event = 1[T <= C].

Bayes-optimal AUC: the AUC of the true probabilities sigmoid(lp). On the realised cohort it is the sample
AUC against the drawn responses; in the population it is computed from a Monte-Carlo sample of covariates
(>= 200,000 draws) with each draw entering once as a positive with weight p and once as a negative with
weight 1 - p, i.e. P(p_i > p_j | Y_i = 1, Y_j = 0) over independent draws, with no Bernoulli noise in the
responses.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.metrics import roc_auc_score

VP_GRADES = ("Vp0", "Vp1", "Vp2", "Vp3", "Vp4")


@dataclass(frozen=True)
class GenerativeModel:
    """All constants of the generating distribution (written to truth.json)."""

    # Habitat centres (AE, VE) in HU, habitat 1 = low, 2 = moderate, 3 = high enhancement.
    habitat_centres_hu: tuple[tuple[float, float], ...] = ((5.0, 25.0), (45.0, 55.0), (85.0, 90.0))
    habitat_case_shift_sd_hu: float = 3.0  # per-case common shift of all centres (AE and VE separately)
    proportion_mean: tuple[float, float, float] = (0.35, 0.45, 0.20)
    dirichlet_concentration: float = 12.0
    # Tumour diameter (cm): log-normal, clipped.
    diameter_log_mean: float = float(np.log(5.0))
    diameter_log_sd: float = 0.35
    diameter_range_cm: tuple[float, float] = (2.0, 8.4)
    # Clinical marginals (seed 000).
    p_comorbidities: float = 0.223
    p_cirrhosis: float = 0.709
    vp_grade_probs: tuple[float, ...] = (0.30, 0.05, 0.14, 0.253, 0.257)
    tbil_mean: float = 20.6
    tbil_sd: float = 11.7
    p_male: float = 0.86
    age_mean: float = 53.0
    age_sd: float = 11.0
    alb_mean: float = 37.5
    alb_sd: float = 4.5
    afp_log10_mean: float = 2.6
    afp_log10_sd: float = 1.3
    tumor_number_probs: tuple[float, ...] = (0.45, 0.20, 0.15, 0.10, 0.10)  # 1, 2, 3, 4, 5
    # Response model (logit scale).
    b0: float = 0.66
    b_high: float = 1.00  # per 0.10 of habitat-3 proportion above 0.20
    b_low: float = -0.80  # per 0.10 of habitat-1 proportion above 0.35
    c_comorbidities: float = -1.00
    c_vp4: float = 0.80
    c_tbil: float = -0.025  # per umol/L above 20.6
    c_cirrhosis: float = -0.60
    # Survival (Weibull PH, months).
    weibull_shape: float = 1.2
    weibull_median_months: float = 22.0  # median OS at eta = 0
    s_habitat: float = 0.45  # hazard log-ratio per unit of the response model's habitat part (negated)
    d_comorbidities: float = 0.35
    d_vp4: float = 0.50
    d_tbil: float = 0.012
    d_cirrhosis: float = 0.30
    accrual_months: float = 24.0
    study_months: float = 48.0
    dropout_rate_per_month: float = 0.015
    extra: dict = field(default_factory=dict)

    @property
    def weibull_lambda(self) -> float:
        """lambda such that the median of T at eta = 0 is `weibull_median_months`: S(m) = exp(-lambda m^k) = 1/2."""
        return float(np.log(2.0) / self.weibull_median_months ** self.weibull_shape)

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("extra")
        d["weibull_lambda"] = self.weibull_lambda
        return d

    # ---- draws ---------------------------------------------------------------------------------
    def draw_proportions(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """(n, 3) Dirichlet draws of habitat proportions, each floored at 2% and renormalised."""
        p = rng.dirichlet(self.dirichlet_concentration * np.asarray(self.proportion_mean), size=n)
        p = np.maximum(p, 0.02)
        return p / p.sum(axis=1, keepdims=True)

    def draw_diameters(self, rng: np.random.Generator, n: int) -> np.ndarray:
        d = np.exp(rng.normal(self.diameter_log_mean, self.diameter_log_sd, size=n))
        return np.clip(d, *self.diameter_range_cm)

    def draw_clinical(self, rng: np.random.Generator, n: int) -> pd.DataFrame:
        """Clinical variables except the tumour diameter and the outcomes (drawn independently)."""
        s2 = np.log1p((self.tbil_sd / self.tbil_mean) ** 2)
        tbil = np.exp(rng.normal(np.log(self.tbil_mean) - s2 / 2, np.sqrt(s2), size=n))
        vp = rng.choice(len(VP_GRADES), size=n, p=np.asarray(self.vp_grade_probs) / sum(self.vp_grade_probs))
        return pd.DataFrame({
            "age": np.clip(np.rint(rng.normal(self.age_mean, self.age_sd, size=n)), 20, 85).astype(int),
            "sex": np.where(rng.random(n) < self.p_male, "M", "F"),
            "comorbidities": (rng.random(n) < self.p_comorbidities).astype(int),
            "cirrhosis": (rng.random(n) < self.p_cirrhosis).astype(int),
            "vp_grade": [VP_GRADES[i] for i in vp],
            "vp4": (vp == 4).astype(int),
            "tbil_umol_l": np.round(tbil, 1),
            "alb_g_l": np.round(np.clip(rng.normal(self.alb_mean, self.alb_sd, size=n), 20, 55), 1),
            "afp_ng_ml": np.round(np.clip(10 ** rng.normal(self.afp_log10_mean, self.afp_log10_sd, size=n),
                                          1.0, 1.21e6), 1),
            "tumor_number": 1 + rng.choice(len(self.tumor_number_probs), size=n,
                                           p=np.asarray(self.tumor_number_probs)),
        })

    # ---- linear predictors ------------------------------------------------------------------------
    def habitat_part(self, proportions: np.ndarray) -> np.ndarray:
        p = np.asarray(proportions, dtype=float)
        return self.b_high * (p[:, 2] - 0.20) / 0.10 + self.b_low * (p[:, 0] - 0.35) / 0.10

    def clinical_part(self, clinical: pd.DataFrame) -> np.ndarray:
        return (self.c_comorbidities * clinical["comorbidities"].to_numpy(float)
                + self.c_vp4 * clinical["vp4"].to_numpy(float)
                + self.c_tbil * (clinical["tbil_umol_l"].to_numpy(float) - 20.6)
                + self.c_cirrhosis * clinical["cirrhosis"].to_numpy(float))

    def hazard_lp(self, habitat_part: np.ndarray, clinical: pd.DataFrame) -> np.ndarray:
        return (-self.s_habitat * habitat_part
                + self.d_comorbidities * clinical["comorbidities"].to_numpy(float)
                + self.d_vp4 * clinical["vp4"].to_numpy(float)
                + self.d_tbil * (clinical["tbil_umol_l"].to_numpy(float) - 20.6)
                + self.d_cirrhosis * clinical["cirrhosis"].to_numpy(float))

    def draw_response(self, rng: np.random.Generator, lp: np.ndarray) -> np.ndarray:
        return (rng.random(lp.size) < sigmoid(lp)).astype(int)

    def draw_survival(self, rng: np.random.Generator, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Observed OS (months, 1 decimal, >= 0.1) and event indicator."""
        n = eta.size
        t = (-np.log(rng.random(n)) / (self.weibull_lambda * np.exp(eta))) ** (1.0 / self.weibull_shape)
        admin = self.study_months - rng.uniform(0.0, self.accrual_months, size=n)
        dropout = rng.exponential(1.0 / self.dropout_rate_per_month, size=n)
        c = np.minimum(admin, dropout)
        obs = np.maximum(np.round(np.minimum(t, c), 1), 0.1)
        return obs, (t <= c).astype(int)

    # ---- Bayes AUC -----------------------------------------------------------------------------
    def population_auc(self, rng: np.random.Generator, n_draws: int = 200_000) -> dict:
        """Monte-Carlo Bayes AUCs (full model, habitat part alone, clinical part alone) and prevalence."""
        props = self.draw_proportions(rng, n_draws)
        clin = self.draw_clinical(rng, n_draws)
        hab = self.habitat_part(props)
        cli = self.clinical_part(clin)
        p = sigmoid(self.b0 + hab + cli)
        return {
            "n_draws": int(n_draws),
            "prevalence": float(p.mean()),
            "auc": weighted_auc(p, p),
            "auc_habitat_part": weighted_auc(hab, p),
            "auc_clinical_part": weighted_auc(cli, p),
        }


def sigmoid(x: np.ndarray) -> np.ndarray:
    return expit(np.asarray(x, dtype=float))


def weighted_auc(score: np.ndarray, prob: np.ndarray) -> float:
    """Population AUC of `score` when Y ~ Bernoulli(prob) independently: each draw is a positive with weight
    prob and a negative with weight 1 - prob (Mann-Whitney with weights, ties counted 1/2)."""
    score = np.asarray(score, dtype=float)
    prob = np.asarray(prob, dtype=float)
    y = np.r_[np.ones(score.size), np.zeros(score.size)]
    return float(roc_auc_score(y, np.r_[score, score], sample_weight=np.r_[prob, 1.0 - prob]))
