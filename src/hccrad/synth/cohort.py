"""Write a synthetic multi-phase CT cohort with planted habitats and known outcome models (ARCHITECTURE §6).

Layout under ``out_dir``::

    images/<case>_<phase>.nii.gz         int16 HU, phases pre, arterial, portal (+ delayed)
    masks/<case>_tumor.nii.gz            uint8 0/1; also _liver and _tumor_reader2
    truth/<case>_habitats.nii.gz         uint8 planted habitats 0..3 (1 = lowest AE .. 3 = highest AE)
    manifest.csv                         case_id, patient_id, cohort, image_<phase>..., mask_... (relative paths)
    clinical.csv                         case_id, centre, age, sex, ..., response, os_months, os_event, mtm
    truth.json                           generating parameters, per-case truth, Bayes AUCs

Randomness: one `numpy.random.Generator` per purpose, all derived from ``seed`` (cohort-level clinical
draws, per-case image streams keyed by the case index, outcome draws, Monte-Carlo population), so the same
seed gives byte-identical CSV/JSON files and identical image arrays.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from hccrad.core.errors import SpecError
from hccrad.core.files import shareable
from hccrad.core.image import Image
from hccrad.io.volume import write_image
from hccrad.synth.model import GenerativeModel, sigmoid
from hccrad.synth.phantom import REFERENCE_PHASE, PhantomSpec, make_phantom

log = logging.getLogger(__name__)

PHASES = ("pre", "arterial", "portal")
MASKS = ("tumor", "liver", "tumor_reader2")
POPULATION_DRAWS = 200_000
_STREAM_CLINICAL, _STREAM_CASE, _STREAM_OUTCOME, _STREAM_POPULATION, _STREAM_SPLIT, _STREAM_STAGING = 1, 2, 3, 4, 5, 6
_STREAM_MTM = 7
#: MTM subtype (seed 002): logit P(MTM) = MTM_B0 + MTM_B_HIGH·(p3 − 0.20)/0.10 (p3 = high-enhancement habitat
#: fraction); known (resected) with probability MTM_KNOWN, else missing.
MTM_B0, MTM_B_HIGH, MTM_KNOWN = -1.0, 1.5, 0.6


@dataclass(frozen=True)
class SynthCohort:
    """Paths of a generated cohort."""

    manifest: Path
    clinical: Path
    truth: Path
    out_dir: Path

    def summary(self) -> pd.DataFrame:
        """One row per cohort: cases, response prevalence, censoring, sample Bayes AUC (from truth.json)."""
        truth = json.loads(self.truth.read_text())
        rows = [{"cohort": name, **{k: v for k, v in d.items()}} for name, d in truth["cohorts"].items()]
        rows.append({"cohort": "all", "n": truth["n"], "prevalence": truth["prevalence_sample"],
                     "censored": truth["censored_fraction"], "bayes_auc_sample": truth["bayes_auc_sample"],
                     "bayes_auc_population": truth["bayes_auc_population"]})
        return pd.DataFrame(rows)


def _validate(n, seed, cohorts, misregistration_mm, noise_hu, out_dir) -> None:
    problems: list[str] = []
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 10:
        problems.append(f"n: must be an integer >= 10, got {n!r}")
    elif n > 9999:
        problems.append(f"n: at most 9999 cases (case ids SYN0001..SYN9999), got {n}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        problems.append(f"seed: must be a non-negative integer, got {seed!r}")
    if not isinstance(cohorts, dict) or not cohorts:
        problems.append(f"cohorts: must be a non-empty mapping name -> fraction, got {cohorts!r}")
    else:
        for name, frac in cohorts.items():
            if not isinstance(name, str) or not name or not name.replace("_", "").isalnum():
                problems.append(f"cohorts: name {name!r} must be a non-empty word (letters, digits, _)")
            if not isinstance(frac, (int, float)) or isinstance(frac, bool) or not (0 < float(frac) <= 1):
                problems.append(f"cohorts[{name!r}]: fraction must be in (0, 1], got {frac!r}")
            elif isinstance(n, (int, np.integer)) and n * float(frac) < 1:
                problems.append(f"cohorts[{name!r}]: fraction {frac:g} of n={n} gives no case; "
                                "raise n or the fraction")
        try:
            total = float(sum(float(f) for f in cohorts.values()))
            if not math.isclose(total, 1.0, abs_tol=1e-6):
                problems.append(f"cohorts: fractions must sum to 1, got {total:g}")
        except (TypeError, ValueError):
            pass
    for name, v, hi in (("misregistration_mm", misregistration_mm, 10.0), ("noise_hu", noise_hu, 200.0)):
        if not isinstance(v, (int, float)) or isinstance(v, bool) or not (0 <= float(v) <= hi):
            problems.append(f"{name}: must be a number in [0, {hi:g}], got {v!r}")
    if out_dir.exists() and not out_dir.is_dir():
        problems.append(f"out_dir: {out_dir} exists and is not a folder")
    if problems:
        raise SpecError(problems)


def _split(rng: np.random.Generator, y: np.ndarray, cohorts: dict[str, float]) -> list[str]:
    """Assign exactly round(n * fraction) cases per cohort (largest remainders), stratified by response.

    Cases are shuffled within each response stratum and the strata concatenated; this order is dealt along
    an evenly interleaved sequence of cohort labels (each step goes to the cohort furthest behind its
    quota), so every cohort receives its share of responders and non-responders to within one case.
    """
    n = y.size
    names = list(cohorts)
    raw = np.array([cohorts[k] * n for k in names], dtype=float)
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: n - counts.sum()]:
        counts[i] += 1
    rate = counts / n
    given = np.zeros(len(names), dtype=int)
    sequence = []
    for j in range(n):
        deficit = np.where(given < counts, rate * (j + 1) - given, -np.inf)
        c = int(np.argmax(deficit))
        given[c] += 1
        sequence.append(names[c])
    order = np.concatenate([rng.permutation(np.flatnonzero(y == v)) for v in (0, 1)])
    out = [""] * n
    for pos, case in enumerate(order):
        out[case] = sequence[pos]
    return out


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        shareable(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _auc_or_none(y: np.ndarray, score: np.ndarray) -> float | None:
    return float(roc_auc_score(y, score)) if 0 < y.sum() < y.size else None


def _r(x: float, nd: int = 6) -> float:
    return float(round(float(x), nd))


def generate_cohort(
    out_dir: str | Path,
    n: int = 150,
    seed: int = 0,
    *,
    cohorts: dict[str, float] | None = None,
    delayed: bool = False,
    misregistration_mm: float = 0.0,
    noise_hu: float = 8.0,
    progress: Callable[[int, int], None] | None = None,
) -> SynthCohort:
    """Generate ``n`` synthetic cases into ``out_dir`` and return the paths of manifest, clinical and truth.

    cohorts: name -> fraction (default training 0.7, internal_test 0.3), split stratified by response;
    cohorts whose name starts with "external" get their own centre (C2, C3, ...), the others centre C1.
    delayed: also write a delayed phase. misregistration_mm: RMS 3-D norm (mm) of a random rigid translation
    of the pre / arterial / delayed phases relative to the portal phase, with which the masks and planted
    labels align. noise_hu: SD of the Gaussian image noise. progress(i, n) is called after each case is
    written (i = 1..n). Raises `SpecError` listing every invalid argument. See docs/synthetic.md.
    """
    cohorts = {"training": 0.7, "internal_test": 0.3} if cohorts is None else dict(cohorts)
    out = Path(out_dir)
    _validate(n, seed, cohorts, misregistration_mm, noise_hu, out)
    n, seed = int(n), int(seed)
    model = GenerativeModel()
    spec = PhantomSpec()
    phases = PHASES + (("delayed",) if delayed else ())
    if (out / "manifest.csv").exists():
        log.warning("overwriting the synthetic cohort in %s (files of cases beyond n=%d are left as they are)",
                    out, n)
    for sub in ("images", "masks", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    rng_c = np.random.default_rng([seed, _STREAM_CLINICAL])
    clinical = model.draw_clinical(rng_c, n)
    target = model.draw_proportions(rng_c, n)
    diam = model.draw_diameters(rng_c, n)
    shifts = rng_c.normal(0.0, model.habitat_case_shift_sd_hu, size=(n, 2))
    r2_target = rng_c.uniform(0.85, 0.95, size=n)

    ids = [f"SYN{i + 1:04d}" for i in range(n)]
    manifest_rows, realised, measured_d, dice, case_centres, case_shifts = [], [], [], [], [], []
    centres = np.asarray(model.habitat_centres_hu, dtype=float)
    ext_spacing = spec.spacing
    for i, cid in enumerate(ids):
        rng_i = np.random.default_rng([seed, _STREAM_CASE, i])
        ctr = centres + shifts[i]
        ph = make_phantom(rng_i, spec, diameter_cm=float(diam[i]), target_proportions=target[i],
                          habitat_centres=ctr, phases=phases, noise_hu=float(noise_hu),
                          misregistration_mm=float(misregistration_mm), reader2_target_dice=float(r2_target[i]))
        row = {"case_id": cid, "patient_id": f"P{i + 1:04d}", "cohort": ""}  # cohort set after the outcomes
        for p in phases:
            rel = f"images/{cid}_{p}.nii.gz"
            write_image(Image(ph.phases[p], ext_spacing, name=p), out / rel)
            row[f"image_{p}"] = rel
        for m, arr in (("tumor", ph.tumour), ("liver", ph.liver), ("tumor_reader2", ph.tumour_reader2)):
            rel = f"masks/{cid}_{m}.nii.gz"
            write_image(Image(arr, ext_spacing, name=m), out / rel)
            row[f"mask_{m}"] = rel
        write_image(Image(ph.habitats, ext_spacing, name="habitats"), out / f"truth/{cid}_habitats.nii.gz")
        manifest_rows.append(row)
        realised.append(ph.proportions)
        measured_d.append(ph.diameter_cm)
        dice.append(ph.reader2_dice)
        case_centres.append(ctr)
        case_shifts.append(ph.shift_mm)
        if progress is not None:
            progress(i + 1, n)
        log.debug("wrote case %s (%d/%d)", cid, i + 1, n)

    props = np.asarray(realised)
    hab = model.habitat_part(props)
    cli = model.clinical_part(clinical)
    lp = model.b0 + hab + cli
    prob = sigmoid(lp)
    rng_o = np.random.default_rng([seed, _STREAM_OUTCOME])
    y = model.draw_response(rng_o, lp)
    eta = model.hazard_lp(hab, clinical)
    os_m, os_e = model.draw_survival(rng_o, eta)
    cohort_of = _split(np.random.default_rng([seed, _STREAM_SPLIT]), y, cohorts)
    externals = [c for c in cohorts if c.startswith("external")]
    centre_of = {c: (f"C{2 + externals.index(c)}" if c in externals else "C1") for c in cohorts}
    for row, c in zip(manifest_rows, cohort_of):
        row["cohort"] = c

    clin = clinical.copy()
    clin.insert(0, "case_id", ids)
    clin.insert(1, "centre", [centre_of[c] for c in cohort_of])
    clin.insert(clin.columns.get_loc("tumor_number"), "tumor_diameter_cm", np.round(measured_d, 1))
    # Staging inputs (BCLC needs performance status and extrahepatic spread): drawn on their own stream,
    # independent of the outcomes, so adding them left every other synthetic value unchanged.
    staging_rng = np.random.default_rng([seed, _STREAM_STAGING])
    clin["ecog_ps"] = staging_rng.choice(3, size=len(clin), p=[0.60, 0.35, 0.05])
    clin["extrahepatic"] = (staging_rng.random(len(clin)) < 0.15).astype(int)
    clin["inr"] = np.round(np.clip(staging_rng.lognormal(np.log(1.1), 0.12, size=len(clin)), 0.8, 3.0), 2)
    clin["ascites"] = staging_rng.choice(["none", "mild", "moderate_severe"], size=len(clin), p=[0.80, 0.15, 0.05])
    clin["encephalopathy"] = staging_rng.choice(["none", "grade_1_2"], size=len(clin), p=[0.95, 0.05])
    clin["response"] = y
    clin["os_months"] = os_m
    clin["os_event"] = os_e
    # MTM subtype: its own stream, drawn after everything else, so adding it changed no other value.
    rng_m = np.random.default_rng([seed, _STREAM_MTM])
    mtm_prob = sigmoid(MTM_B0 + MTM_B_HIGH * (props[:, 2] - 0.20) / 0.10)
    mtm = (rng_m.random(n) < mtm_prob).astype(int)
    resected = rng_m.random(n) < MTM_KNOWN
    clin["mtm"] = pd.array(np.where(resected, mtm, 0), dtype="Int64")
    clin.loc[~resected, "mtm"] = pd.NA
    cols = ["case_id", "centre", "age", "sex", "comorbidities", "cirrhosis", "vp_grade", "vp4", "tbil_umol_l",
            "alb_g_l", "afp_ng_ml", "tumor_diameter_cm", "tumor_number", "ecog_ps", "extrahepatic", "inr", "ascites",
            "encephalopathy", "response", "os_months", "os_event", "mtm"]
    clin = clin[cols]
    manifest = pd.DataFrame(manifest_rows)

    pop = model.population_auc(np.random.default_rng([seed, _STREAM_POPULATION]), POPULATION_DRAWS)
    coh_arr = np.asarray(cohort_of, dtype=object)
    per_cohort = {}
    for c in cohorts:
        sel = coh_arr == c
        per_cohort[c] = {
            "n": int(sel.sum()),
            "prevalence": _r(y[sel].mean()) if sel.any() else None,
            "censored": _r(1 - os_e[sel].mean()) if sel.any() else None,
            "bayes_auc_sample": _auc_or_none(y[sel], prob[sel]),
            "bayes_auc_population": _r(pop["auc"]),
        }
    cases = []
    for i, cid in enumerate(ids):
        cases.append({
            "case_id": cid, "cohort": cohort_of[i],
            "target_proportions": [_r(v) for v in target[i]],
            "proportions": [_r(v) for v in props[i]],
            "habitat_centres_hu": [[_r(a, 3), _r(b, 3)] for a, b in case_centres[i]],
            "tumor_diameter_nominal_cm": _r(diam[i], 3),
            "reader2_dice": _r(dice[i]),
            "phase_shift_mm": {k: [_r(v, 4) for v in s] for k, s in case_shifts[i].items()},
            "lp_habitat": _r(hab[i]), "lp_clinical": _r(cli[i]), "lp": _r(lp[i]), "probability": _r(prob[i]),
            "hazard_lp": _r(eta[i]), "mtm_probability": _r(mtm_prob[i]), "mtm": int(mtm[i]),
            "resected": bool(resected[i]),
        })
    truth = {
        "generator": "hccrad.synth.generate_cohort",
        "seed": seed, "n": n, "noise_hu": float(noise_hu), "misregistration_mm": float(misregistration_mm),
        "delayed": bool(delayed), "phases": list(phases), "cohort_fractions": cohorts,
        "reference_phase": REFERENCE_PHASE,
        "grid": {"shape_zyx": list(spec.shape), "spacing_zyx_mm": list(spec.spacing)},
        "habitat_labels": {"1": "low enhancement (lowest AE)", "2": "moderate", "3": "high (highest AE)"},
        "habitat_centres_hu": {str(h + 1): {"AE": c[0], "VE": c[1]} for h, c in enumerate(centres.tolist())},
        "response_model": {
            "formula": "logit P(OR) = b0 + b_high*(p3-0.20)/0.10 + b_low*(p1-0.35)/0.10 + c_comorbidities*"
                       "comorbidities + c_vp4*vp4 + c_tbil*(tbil_umol_l-20.6) + c_cirrhosis*cirrhosis",
            **{k: getattr(model, k) for k in ("b0", "b_high", "b_low", "c_comorbidities", "c_vp4", "c_tbil",
                                                "c_cirrhosis")},
        },
        "survival_model": {
            "formula": "Weibull PH: h(t) = lambda*k*t^(k-1)*exp(eta), eta = -s_habitat*lp_habitat + "
                       "d_comorbidities*comorbidities + d_vp4*vp4 + d_tbil*(tbil_umol_l-20.6) + d_cirrhosis*cirrhosis;"
                       " censoring min(study_months - U(0, accrual_months), Exp(dropout_rate_per_month))",
            "weibull_shape": model.weibull_shape, "weibull_lambda": model.weibull_lambda,
            **{k: getattr(model, k) for k in ("weibull_median_months", "s_habitat", "d_comorbidities", "d_vp4",
                                                "d_tbil", "d_cirrhosis", "accrual_months", "study_months",
                                                "dropout_rate_per_month")},
        },
        "mtm_model": {
            "formula": "logit P(MTM) = mtm_b0 + mtm_b_high*(p3-0.20)/0.10; mtm recorded only when resected "
                       "(probability p_resected), else missing",
            "mtm_b0": MTM_B0, "mtm_b_high": MTM_B_HIGH, "p_resected": MTM_KNOWN,
        },
        "parameters": model.to_dict(),
        "prevalence_sample": _r(y.mean()),
        "censored_fraction": _r(1 - os_e.mean()),
        "bayes_auc_sample": _auc_or_none(y, prob),
        "bayes_auc_population": _r(pop["auc"]),
        "population": {k: (_r(v) if isinstance(v, float) else v) for k, v in pop.items()},
        "cohorts": per_cohort,
        "cases": cases,
    }
    manifest_path, clinical_path, truth_path = out / "manifest.csv", out / "clinical.csv", out / "truth.json"
    _atomic_write_text(manifest_path, manifest.to_csv(index=False, lineterminator="\n"))
    _atomic_write_text(clinical_path, clin.to_csv(index=False, lineterminator="\n"))
    _atomic_write_text(truth_path, json.dumps(truth, indent=1, sort_keys=False) + "\n")
    log.info("synthetic cohort: %d cases in %s (Bayes AUC sample %.3f, population %.3f)", n, out,
             truth["bayes_auc_sample"] or float("nan"), pop["auc"])
    return SynthCohort(manifest=manifest_path, clinical=clinical_path, truth=truth_path, out_dir=out)
