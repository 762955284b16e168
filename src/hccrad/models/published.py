"""Published models shipped as bundles, and their external validation on a user's cohort.

Bundles (``hccrad/models/published/*.json``), each with variable definitions, units, coding and source:

* ``wu2025_habitat``, ``wu2025_clinical``, ``wu2025_combined`` -- seed 000 (Wu et al. 2025, CECT habitat
  radiomics, HAIC-FOLFOX response), section 3.3; logit scale.
* ``seed001_clinical``, ``seed001_cr``, ``seed001_crh`` -- seed 001 (MRI clinical-radiomics-habitat, Front
  Oncol 2026, doi 10.3389/fonc.2026.1764150), section 3.3. The text as extracted lost several minus signs;
  each bundle marks which signs are inferred and why, and the normalisation of the variables is unpublished.

:func:`validate_published` scores a cohort and reports discrimination (AUC, DeLong 95 % CI), calibration
(calibration-in-the-large with the slope fixed at 1, and the calibration slope; Steyerberg, Clinical
Prediction Models, 2nd ed., §15.3; Van Calster et al., J Clin Epidemiol 2016) for logit-scale models, and
logistic recalibration (logit P = a + b * score, "recalibration in the large and slope"), giving the updated
formula.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy.special import expit

from hccrad.core.errors import DataError, ModelError
from hccrad.evaluate.calibration import calibration
from hccrad.evaluate.discrimination import auc_ci
from hccrad.models.bundle import ModelBundle, bundle_scores
from hccrad.models.bundle import list_published, load_published  # noqa: F401  (their home; names kept here)
from hccrad.models.logistic import format_formula

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedValidation:
    """External validation of a published model on one cohort."""

    name: str
    n: int
    n_positive: int
    auc: float
    auc_lower: float
    auc_upper: float
    citl: float | None
    citl_ci: tuple[float, float] | None
    slope: float | None
    slope_ci: tuple[float, float] | None
    recal_intercept: float
    recal_slope: float
    recalibrated_formula: str
    scores: np.ndarray
    standardize: str
    notes: tuple[str, ...]

    def summary(self) -> pd.DataFrame:
        rows = [
            ("AUC", self.auc, self.auc_lower, self.auc_upper, "Mann-Whitney AUC, DeLong 95% CI"),
            ("calibration-in-the-large", self.citl, *(self.citl_ci or (None, None)),
             "logistic intercept with the published logit as offset"),
            ("calibration slope", self.slope, *(self.slope_ci or (None, None)),
             "logistic regression of y on the published logit"),
            ("recalibration intercept a", self.recal_intercept, None, None, "logit P = a + b*score"),
            ("recalibration slope b", self.recal_slope, None, None, "logit P = a + b*score"),
        ]
        return pd.DataFrame(rows, columns=["statistic", "estimate", "lower", "upper", "method"]).set_index("statistic")


def validate_published(
    name_or_path: str | Path,
    df: pd.DataFrame,
    outcome_col: str,
    *,
    standardize: str = "none",
    id_col: str = "case_id",
    check_ranges: bool = True,
) -> PublishedValidation:
    """Externally validate a published model on ``df`` (one row per patient, the model's variables and the
    binary ``outcome_col``; the positive class is the larger value, e.g. 1 = objective response).

    ``standardize="cohort"`` z-scores variables whose normalisation the source did not publish (see
    :func:`hccrad.models.bundle.bundle_scores`); calibration is then not reported as external (a note says so).
    """
    bundle = load_published(name_or_path)
    if outcome_col not in df.columns:
        raise DataError("outcome column not in the table", field=outcome_col)
    yraw = df[outcome_col]
    if yraw.isna().any():
        raise DataError("outcome has missing values", field=outcome_col, hint="drop those patients")
    classes = np.unique(yraw)
    if classes.size != 2:
        raise DataError(f"outcome must have two classes, found {classes.size}", field=outcome_col)
    y = (yraw.to_numpy() == classes[1]).astype(int)
    s = bundle_scores(bundle, df, id_col=id_col, check_ranges=check_ranges, standardize=standardize)
    a = auc_ci(y, s, method="delong")
    notes = list(bundle.spec.get("warnings", []))
    citl = slope = None
    citl_ci = slope_ci = None
    used_cohort_scaling = standardize == "cohort" and _needs_cohort_scaling(bundle.spec, df)
    if bundle.spec.get("link") == "logit" and not used_cohort_scaling:
        cal = calibration(y, np.clip(expit(s), 1e-12, 1 - 1e-12))
        citl, citl_ci = cal.citl, (cal.citl_lower, cal.citl_upper)
        slope, slope_ci = cal.slope, (cal.slope_lower, cal.slope_upper)
    elif bundle.spec.get("link") != "logit":
        notes.append("the published score is not on a stated logit scale: calibration-in-the-large and slope "
                     "are not defined; use the recalibrated model")
    else:
        notes.append("variables were z-scored on this cohort: calibration would not be an external test")
    try:
        rec = sm.Logit(y, sm.add_constant(s, has_constant="add")).fit(disp=0)
    except (np.linalg.LinAlgError, ValueError) as exc:
        raise ModelError(f"recalibration fit failed ({exc})", hint="check that scores vary") from exc
    ra, rb = float(rec.params[0]), float(rec.params[1])
    formula = _recalibrated_formula(bundle, ra, rb, df if used_cohort_scaling else None)
    return PublishedValidation(bundle.name, int(y.size), int(y.sum()), a.auc, a.lower, a.upper, citl, citl_ci,
                               slope, slope_ci, ra, rb, formula, s, standardize, tuple(notes))


def _needs_cohort_scaling(spec: dict, df: pd.DataFrame) -> bool:
    """True if scoring ``df`` z-scores any variable on the cohort (here or in a derived score it computes)."""
    if any(v.get("center") is None or v.get("scale") is None for v in spec["variables"]):
        return True
    for name, d in spec.get("derived", {}).items():
        if name in df.columns:
            continue
        inner = d["spec"] if "spec" in d else load_published(d["bundle"]).spec
        if _needs_cohort_scaling(inner, df):
            return True
    return False


def _recalibrated_formula(bundle: ModelBundle, a: float, b: float, cohort: pd.DataFrame | None) -> str:
    """logit P = a + b * (b0 + sum c_j (x_j - m_j) / s_j), rewritten on the variables' own units."""
    spec = bundle.spec
    b0 = a + b * float(spec["intercept"])
    coefs: dict[str, float] = {}
    for v in spec["variables"]:
        m, s = v.get("center", 0.0), v.get("scale", 1.0)
        if (m is None or s is None) and cohort is not None and v["name"] in cohort.columns:
            x = cohort[v["name"]].to_numpy(float)
            m, s = x.mean(), x.std(ddof=1)
        if m is None or s is None:  # derived score (e.g. HabitatScore) or unknown scaling: keep symbolic
            m, s = 0.0, 1.0
        coefs[v["name"]] = b * v["coefficient"] / s
        b0 -= b * v["coefficient"] * m / s
    return format_formula(b0, coefs, name="logit P (recalibrated)", digits=4)
