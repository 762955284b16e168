"""JSON shapes of the API (pydantic models, so FastAPI documents them in OpenAPI)."""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

from hccrad.serve.predict import Prediction


class Contribution(BaseModel):
    variable: str
    value: float
    unit: str | None = None
    coefficient: float | None = Field(None, description="coefficient per unit of the variable (linear models)")
    contribution: float | None = Field(None, description="coefficient x value, on the score (logit) scale")
    points: float | None = Field(None, description="nomogram points (0-100 scale of the widest variable)")


class RiskGroupOut(BaseModel):
    threshold_name: str
    threshold: float
    scale: str = Field(description="'probability' or 'score': the scale the threshold is compared on")
    group: str = Field(description="'high risk' (at or above the threshold) or 'low risk'")


class SurvivalPoint(BaseModel):
    time: float
    survival: float = Field(description="S(t | x) = S0(t) ** exp(LP)")
    lower: float | None = None
    upper: float | None = None


class PredictionOut(BaseModel):
    model: str
    outcome: str | None
    score: float = Field(description="linear predictor (logit) for linear bundles; the model's score otherwise")
    probability: float | None = Field(description="predicted probability of the outcome (logit-link bundles)")
    ci_lower: float | None = None
    ci_upper: float | None = None
    uncertainty: str = Field(description="what the interval is, or why there is none")
    percentile: float | None = Field(description="approximate percentile of the score among the training patients")
    percentile_note: str
    intercept: float | None = Field(description="intercept on the variables' own units (contributions + intercept = score)")
    total_points: float | None = None
    contributions: list[Contribution]
    risk_groups: list[RiskGroupOut]
    warnings: dict[str, str] = Field(description="field -> warning (e.g. value outside the training range)")
    image_features: dict[str, float] = Field(default_factory=dict, description="features computed from the upload")
    survival: list[SurvivalPoint] | None = Field(None, description="Cox bundles: survival at the bundle's horizons")


def _num(v) -> float | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def prediction_json(pred: Prediction) -> PredictionOut:
    rows = [Contribution(variable=str(r["variable"]), value=float(r["value"]), unit=r.get("unit"),
                         coefficient=_num(r.get("coefficient")), contribution=_num(r.get("contribution")),
                         points=_num(r.get("points"))) for r in pred.contributions.to_dict("records")]
    return PredictionOut(
        model=pred.model, outcome=pred.outcome, score=pred.score, probability=pred.probability,
        ci_lower=pred.ci[0] if pred.ci else None, ci_upper=pred.ci[1] if pred.ci else None,
        uncertainty=pred.uncertainty, percentile=pred.percentile, percentile_note=pred.percentile_note,
        intercept=pred.intercept, total_points=pred.total_points, contributions=rows,
        risk_groups=[RiskGroupOut(threshold_name=g.threshold_name, threshold=g.threshold, scale=g.scale, group=g.label)
                     for g in pred.risk_groups],
        warnings=pred.warnings, image_features=pred.features,
        survival=None if pred.survival is None else [
            SurvivalPoint(time=float(r["time"]), survival=float(r["survival"]), lower=_num(r["lower"]),
                          upper=_num(r["upper"])) for r in pred.survival.to_dict("records")])
