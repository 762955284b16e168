"""Survival stage of a study run: every survival statistic the report shows, computed once, here.

From `outcome.survival` of the spec and the analysed table (one row per patient, a `cohort` column):

* **Groupings.** Kaplan–Meier curves (Greenwood variance, log CI as R `survfit`) and the log-rank test
  (R `survdiff`) per cohort for every declared grouping column (`outcome.survival.groups`, e.g. BCLC) and,
  when the study names a model (`outcome.survival.model`), for the model's risk groups at the training
  cut-point (maximally selected log-rank statistic, Lausen & Schumacher 1992 corrected p), applied
  unchanged to the other cohorts.
* **Cox regression** (Efron ties, R `coxph`'s default, or Breslow: `outcome.survival.ties`) on the training cohort: each covariate alone and all
  together; the model's score enters only when the study names the model.
* **Risk direction of the model score, from its definition.** A response model's score is the predicted
  probability of response, P(response); unless `outcome.survival.score_direction` says otherwise a higher
  score means a *lower* risk ("lower_risk"), so the risk is r = -score (r = +score for "higher_risk"); with
  `outcome.response.polarity: adverse` (the positive class is death or progression) the default is
  "higher_risk". The
  direction is checked against the univariable Cox coefficient of the score alone on the training cohort
  (beta > 0: higher score, higher hazard) and both are reported, with a warning when they disagree. It is
  never taken from a multivariable coefficient, whose sign flips when covariates are collinear with the
  score.
* **Discrimination.** Harrell's C (U-statistic CI) and cumulative/dynamic AUC(t) (Uno et al. 2007; IPCW
  with the censoring distribution of the training cohort) of the model's risk and of each staging column
  (`compare_with`, ordinal, higher = worse) per cohort, and the paired comparison with the model (seed 002
  table 3). A horizon is used only where AUC(t) is defined: before the last follow-up of the cohort and of
  the training cohort (after it the censoring survival G(t) is zero or unknown) and after at least one
  event; every skipped horizon is named with its reason in `notes`.
* The Cox model as a nomogram and its calibration at each horizon in every cohort.

The report (`pipeline.report_survival`) draws and arranges the returned `SurvivalResult` and computes
nothing. Everything data-driven (cut-point, Cox fit, censoring weights) uses the training cohort only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hccrad.clinical.categorical import as_levels, coding_of, codings_for, values_outside
from hccrad.cohort.outcomes import default_score_direction
from hccrad.cohort.study import order_cohorts
from hccrad.config.spec import StudySpec, SurvivalOutcome
from hccrad.core.errors import DataError, HccradError
from hccrad.evaluate.decision_survival import survival_decision_curve
from hccrad.survival.calibration import SurvivalCalibrationResult, survival_calibration
from hccrad.survival.compare import ScoreComparison, compare_prognostic_scores
from hccrad.survival.concordance import harrell_c
from hccrad.survival.cox import CoxResult, cox_regression
from hccrad.survival.cutpoint import CutpointResult, maxstat_cutpoint
from hccrad.survival.kaplan_meier import KaplanMeierResult, kaplan_meier
from hccrad.survival.logrank import LogrankResult, logrank_test
from hccrad.survival.nomogram import Nomogram, nomogram_points
from hccrad.survival.time_auc import TimeAUCResult, time_dependent_auc

__all__ = ["GroupedSurvival", "RiskDirection", "StagingComparison", "CalibrationCell", "SurvivalResult",
           "SurvivalDecisionCell", "run_survival", "risk_direction", "usable_horizons"]

log = logging.getLogger(__name__)

TIME_AUC_BOOT = 100   # bootstrap resamples for the AUC(t) error bars
STAGING_BOOT = 200    # paired bootstrap resamples of the staging comparison
DIRECTIONS = ("lower_risk", "higher_risk")


@dataclass(frozen=True)
class GroupedSurvival:
    """Kaplan–Meier curves and the log-rank test of one grouping in one cohort."""

    grouping: str     # the column, or "<model> risk group"
    cohort: str
    km: KaplanMeierResult
    logrank: LogrankResult


@dataclass(frozen=True)
class RiskDirection:
    """Which way the model's score points, from its definition, and the data's univariable check."""

    model: str
    declared: str             # "lower_risk" (higher score = lower risk) or "higher_risk"
    source: str               # where `declared` came from
    univariable_coef: float   # training-cohort Cox coefficient of the score alone
    univariable_hr: float
    univariable_p: float
    observed: str             # the direction of the univariable coefficient

    @property
    def sign(self) -> int:
        """+1 when a higher score means a higher risk, -1 otherwise (risk = sign * score)."""
        return 1 if self.declared == "higher_risk" else -1

    @property
    def agrees(self) -> bool:
        return self.observed == self.declared

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"model": self.model, "direction (definition)": self.declared,
                              "source": self.source, "univariable Cox coef": self.univariable_coef,
                              "HR": self.univariable_hr, "p": self.univariable_p,
                              "direction (univariable Cox)": self.observed, "agree": self.agrees}])


@dataclass(frozen=True)
class CalibrationCell:
    """The Cox model's calibration at one horizon in one cohort, or why it was not computed."""

    cohort: str
    horizon: float
    result: SurvivalCalibrationResult | None
    reason: str = ""


@dataclass(frozen=True)
class SurvivalDecisionCell:
    """Survival decision curve (net benefit at the horizon, dcurves' `time =`) of the training Cox model's
    predicted event probability 1 − S(horizon | x) in one cohort, or why it was not computed."""

    cohort: str
    horizon: float
    curve: pd.DataFrame | None          # hccrad.evaluate.decision_survival.survival_decision_curve's table
    reason: str = ""


@dataclass(frozen=True)
class StagingComparison:
    """The model (or the first staging column) against the staging columns in one cohort."""

    cohort: str
    result: ScoreComparison
    dropped_horizons: tuple[float, ...]


@dataclass(frozen=True)
class SurvivalResult:
    """Everything the survival section of the report shows; built by `run_survival` only."""

    outcome: SurvivalOutcome
    training: str
    cohorts: tuple[str, ...]
    model: str | None                       # the model whose score is analysed (outcome.survival.model)
    scores: pd.Series | None                # that model's score, every case
    direction: RiskDirection | None
    cutpoint: CutpointResult | None         # of the score, training cohort
    risk_group_labels: tuple[str, str]      # (score <= cut-point, score > cut-point)
    groupings: tuple[GroupedSurvival, ...]
    cox: CoxResult | None                   # training cohort; covariates (+ the score when a model is named)
    nomogram: Nomogram | None
    calibration: tuple[CalibrationCell, ...]
    risks: pd.DataFrame                     # risk scores (higher = worse): the model's and each staging column
    c_indices: pd.DataFrame                 # cohort, score, c_index, lower, upper, n, events
    time_auc: Mapping[str, Mapping[str, TimeAUCResult]]  # cohort -> score -> AUC(t) at the usable horizons
    staging: tuple[StagingComparison, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)
    decision_curves: tuple[SurvivalDecisionCell, ...] = field(default_factory=tuple)  # cohort x horizon

    def risk_groups(self) -> pd.Series | None:
        """Each case's risk group by the training cut-point of the model's score (as in the Kaplan–Meier
        figures); None without a model or a cut-point."""
        if self.scores is None or self.cutpoint is None:
            return None
        low, high = self.risk_group_labels
        return pd.Series(np.where(self.scores > self.cutpoint.cutpoint, high, low), index=self.scores.index,
                         name=f"{self.model}_risk_group")

    def describe(self) -> dict:
        """A JSON-able record for run.json."""
        d = self.direction
        return {
            "model": self.model,
            "risk_direction": None if d is None else {
                "declared": d.declared, "source": d.source, "univariable_coef": d.univariable_coef,
                "univariable_p": d.univariable_p, "observed": d.observed, "agree": d.agrees},
            "cutpoint": None if self.cutpoint is None else float(self.cutpoint.cutpoint),
            "groupings": sorted({g.grouping for g in self.groupings}),
            "cox_covariates": None if self.cox is None else list(self.cox.covariates),
            "c_indices": self.c_indices.to_dict(orient="records"),
            "notes": list(self.notes),
        }


def run_survival(spec: StudySpec, data: pd.DataFrame,
                 scores: Mapping[str, pd.Series] | None = None) -> SurvivalResult | None:
    """The survival analyses of `spec` on `data` (one row per patient with a `cohort` column); `scores`:
    model name -> predicted probability of response for every row. None when the study has no survival
    outcome."""
    sv = spec.outcome.survival
    if sv is None:
        return None
    _check_columns(sv, data)
    # cases with a blank time or event are in the left-out table already (`cohort.outcomes.survival_left_out`)
    analysed = pd.to_numeric(data[sv.time], errors="coerce").notna() & data[sv.event].notna()
    if not analysed.all():
        data = data.loc[analysed]
        scores = {name: s.loc[data.index] for name, s in (scores or {}).items()}
    notes: list[str] = []
    cohorts = tuple(order_cohorts(data["cohort"], spec.cohorts))
    train = (data["cohort"] == spec.cohorts.training).to_numpy()
    model, score = _model_score(sv, scores or {})
    direction = cut = None
    labels = ("low risk", "high risk")
    groupings: list[GroupedSurvival] = []
    if score is not None:
        explicit = sv.score_direction is not None
        direction = risk_direction(data.loc[train, sv.time], data.loc[train, sv.event], score[train], model,
                                   declared=sv.score_direction if explicit else
                                   default_score_direction(spec.outcome.response),
                                   explicit=explicit, unit=sv.unit)
        if direction.observed.startswith("not estimable"):
            notes.append(f"the univariable Cox check of the '{model}' score's direction was {direction.observed}; "
                         f"its direction follows its definition ({direction.declared})")
        elif not direction.agrees:
            notes.append(_disagreement(direction))
        labels = ("low risk", "high risk") if direction.sign > 0 else ("high risk", "low risk")
        try:
            cut = maxstat_cutpoint(data.loc[train, sv.time], data.loc[train, sv.event], score[train])
        except HccradError as exc:
            notes.append(f"no cut-point of the '{model}' score on the training cohort ({exc.message}): no risk groups")
        if cut is not None:
            groups = pd.Series(np.where(score > cut.cutpoint, labels[1], labels[0]), index=data.index)
            groupings += _km_by(data, sv, groups, f"{model} risk group", cohorts, notes)
    for col in sv.groups:
        groupings += _km_by(data, sv, data[col], col, cohorts, notes)
    # categorical covariates (declared, or text: levels of the training cohort) as level texts, dummy-coded
    codings = codings_for(sv.covariates, data.loc[train], spec.data.categorical)
    coded = data.assign(**{c: as_levels(data[c]) for c in codings})
    cox = _cox(coded.loc[train], sv, model, score, notes, {c: k.reference for c, k in codings.items()})
    nomogram, calibration = _nomogram_and_calibration(coded, sv, model, score, cox, train, cohorts, notes)
    decision_curves = _decision_curves(coded, sv, model, score, cox, cohorts, notes)
    risks = _risk_table(sv, _ordered_stages(data, sv, spec.data.categorical), model, score, direction)
    c_indices = _c_indices(data, sv, risks, cohorts, notes)
    time_auc = _time_auc(data, sv, risks, cohorts, train, spec.seed, notes)
    staging = _staging(data, sv, risks, cohorts, train, spec.seed, notes) if sv.compare_with else ()
    for note in notes:
        log.warning("survival: %s", note)
    return SurvivalResult(sv, spec.cohorts.training, cohorts, model, score, direction, cut, labels,
                          tuple(groupings), cox, nomogram, tuple(calibration), risks, c_indices, time_auc,
                          tuple(staging), tuple(notes), decision_curves=tuple(decision_curves))


def _check_columns(sv: SurvivalOutcome, data: pd.DataFrame) -> None:
    """Every column the survival outcome names must be in the analysed table."""
    for fld, cols in (("time", [sv.time]), ("event", [sv.event]), ("groups", sv.groups),
                      ("covariates", sv.covariates), ("compare_with", sv.compare_with)):
        missing = [c for c in cols if c not in data.columns]
        if missing:
            raise DataError(f"outcome.survival.{fld}: column(s) {missing} are not in the clinical table",
                            field=f"outcome.survival.{fld}", hint="check the column names (case matters)")


def _model_score(sv: SurvivalOutcome, scores: Mapping[str, pd.Series]) -> tuple[str | None, pd.Series | None]:
    if sv.model is None:
        return None, None
    if sv.model not in scores:
        raise DataError(f"outcome.survival.model {sv.model!r} is not a model of the study",
                        field="outcome.survival.model", hint=f"use one of {list(scores)} or leave it out")
    return sv.model, scores[sv.model].astype(float)


def risk_direction(time, event, score, model: str, *, declared: str = "lower_risk", explicit: bool = False,
                   unit: str = "months") -> RiskDirection:
    """The model's risk direction from its definition (`declared`), checked against the univariable Cox
    coefficient of the score alone (never a multivariable one)."""
    if declared not in DIRECTIONS:
        raise DataError(f"unknown score direction {declared!r}", field="outcome.survival.score_direction",
                        hint=f"use one of {DIRECTIONS}")
    df = pd.DataFrame({"time": np.asarray(time, float), "event": np.asarray(event), "score": np.asarray(score, float)})
    source = ("declared in outcome.survival.score_direction" if explicit else
              "default: the score is the predicted probability of response, so a higher score means a lower risk"
              if declared == "lower_risk" else
              "default (outcome.response.polarity: adverse): the score is the predicted probability of the adverse "
              "outcome, so a higher score means a higher risk")
    try:
        row = cox_regression(df, "time", "event", ["score"], time_unit=unit).univariable.iloc[0]
    except HccradError as exc:
        return RiskDirection(model, declared, source, np.nan, np.nan, np.nan,
                             f"not estimable ({exc.message})")
    coef = float(row["coef"])
    return RiskDirection(model, declared, source, coef, float(np.exp(coef)), float(row["p"]),
                         "higher_risk" if coef > 0 else "lower_risk")


def _disagreement(d: RiskDirection) -> str:
    said = "a higher score means a higher risk" if d.declared == "higher_risk" else "a higher score means a lower risk"
    return (f"WARNING: the '{d.model}' score is read as risk by its definition ({said}; {d.source}), but alone in "
            f"a Cox model on the training cohort its hazard ratio per unit is {d.univariable_hr:.3g} "
            f"(p = {d.univariable_p:.3g}), the other direction. The definition is kept; check the response "
            "coding (outcome.response.positive, outcome.response.polarity) or declare "
            "outcome.survival.score_direction.")


def _km_by(data: pd.DataFrame, sv: SurvivalOutcome, groups: pd.Series, name: str, cohorts: Sequence[str],
           notes: list[str]) -> list[GroupedSurvival]:
    out = []
    for cohort in cohorts:
        idx = (data["cohort"] == cohort).to_numpy()
        g = groups[idx]
        if g.dropna().nunique() < 2:
            notes.append(f"{cohort}: Kaplan–Meier by {name} not shown (one group only)")
            continue
        t, e = data.loc[idx, sv.time], data.loc[idx, sv.event]
        try:
            km = kaplan_meier(t, e, g.to_numpy(dtype=object), time_unit=sv.unit)
            lr = logrank_test(t, e, g.to_numpy(dtype=object))
        except HccradError as exc:
            notes.append(f"{cohort}: Kaplan–Meier / log-rank by {name} not computed ({exc.message})")
            continue
        if km.n_dropped:
            notes.append(f"{cohort}: {km.n_dropped} case(s) without {name} (or time/event) left out of its "
                         "Kaplan–Meier curves and log-rank test")
        out.append(GroupedSurvival(name, cohort, km, lr))
    return out


def _cox(train: pd.DataFrame, sv: SurvivalOutcome, model: str | None, score: pd.Series | None,
         notes: list[str], references: Mapping[str, str] | None = None) -> CoxResult | None:
    """Univariable and multivariable Cox regression on the training cohort: the covariates, and the model's
    score (as `<model>_score`) only when the study names the model."""
    df = train[[sv.time, sv.event, *sv.covariates]]
    covs = list(sv.covariates)
    if score is not None:
        score_col = f"{model}_score"
        df = df.assign(**{score_col: score.loc[train.index]})
        covs = [score_col, *[c for c in covs if c != score_col]]
    if not covs:
        return None
    try:
        return cox_regression(df, sv.time, sv.event, covs, time_unit=sv.unit, categorical=references or None,
                              ties=sv.ties)
    except HccradError as exc:
        notes.append(f"Cox regression not computed: {exc.message}")
        return None


def _nomogram_and_calibration(data, sv, model, score, cox, train, cohorts, notes):
    """The Cox model as a nomogram (survival at the first horizon) and its calibration at each horizon in
    every cohort (KM observed vs mean predicted per tertile of predicted survival)."""
    if cox is None:
        return None, []
    frame = data if score is None else data.assign(**{f"{model}_score": score})
    nomogram = None
    try:
        design = pd.DataFrame(cox._matrix(frame.loc[train]), index=frame.index[train], columns=list(cox.covariates))
        levels = {col: {str(ref): None, **{c.split("=", 1)[1]: c for c in cox.covariates if c.startswith(f"{col}=")}}
                  for col, ref in cox.categorical.items()}  # a categorical covariate: one axis, a tick per level
        nomogram = nomogram_points(cox, design, horizon=sv.horizons[0], categorical=levels)
    except HccradError as exc:
        notes.append(f"Cox nomogram not drawn: {exc.message}")
    cells = []
    for cohort in cohorts:
        sub = frame[frame["cohort"] == cohort]
        for h in sv.horizons:
            try:
                pred = cox.predict_survival(sub, [h]).iloc[:, 0].to_numpy()
                cal = survival_calibration(sub[sv.time], sub[sv.event], pred, h, n_groups=3, time_unit=sv.unit)
                cells.append(CalibrationCell(cohort, float(h), cal))
            except HccradError as exc:
                cells.append(CalibrationCell(cohort, float(h), None, exc.message))
    return nomogram, cells


def _decision_curves(data, sv, model, score, cox, cohorts, notes) -> list[SurvivalDecisionCell]:
    """Survival decision curve of the training Cox model's predicted event probability at each horizon in
    every cohort (the model is fitted on the training cohort only, so the other cohorts are held out)."""
    if cox is None:
        return []
    frame = data if score is None else data.assign(**{f"{model}_score": score})
    cells = []
    for cohort in cohorts:
        sub = frame[frame["cohort"] == cohort]
        for h in sv.horizons:
            try:
                risk = 1.0 - cox.predict_survival(sub, [h]).iloc[:, 0].to_numpy()
                curve = survival_decision_curve(sub[sv.time], sub[sv.event], {"Cox model": risk}, float(h))
                cells.append(SurvivalDecisionCell(cohort, float(h), curve))
            except HccradError as exc:
                notes.append(f"{cohort}: survival decision curve at {h:g} {sv.unit} not computed ({exc.message})")
                cells.append(SurvivalDecisionCell(cohort, float(h), None, exc.message))
    return cells


def _ordinal(col: pd.Series) -> pd.Series:
    """A staging column as numbers (higher = more advanced): ordered categoricals by their order."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        if not col.cat.ordered:
            raise DataError(f"staging column {col.name!r} is an unordered category",
                            field="outcome.survival.compare_with", hint="give an ordered stage column")
        return col.cat.codes.where(col.notna()).astype(float)
    out = pd.to_numeric(col, errors="coerce")
    bad = col.notna() & out.isna()
    if bad.any():
        raise DataError(f"staging column {col.name!r} has non-numeric values, e.g. {col[bad].iloc[0]!r}",
                        field="outcome.survival.compare_with",
                        hint="derive the stage with hccrad's clinical scores (ordered) or code it 0, 1, 2, …")
    return out.astype(float)


def _ordered_stages(data: pd.DataFrame, sv: SurvivalOutcome, declared: Mapping) -> pd.DataFrame:
    """Staging columns (`compare_with`) declared in `data.categorical` with ordered levels, as ordered
    categoricals (first level = least advanced); a value outside the levels is an error naming the case."""
    out = {}
    for col in sv.compare_with:
        if col in declared and declared[col].ordered:
            coding = coding_of(col, data[col], declared[col])
            outside = values_outside(data[col], coding)
            if len(outside):
                raise DataError(f"value {outside.iloc[0]!r} of staging column {col!r} is not one of its declared "
                                f"levels {list(coding.levels)}", case=str(outside.index[0]), field=col,
                                hint="add the level to data.categorical, or recode it with data.recode")
            out[col] = pd.Categorical(as_levels(data[col]), categories=list(coding.levels), ordered=True)
    return data.assign(**out) if out else data


def _risk_table(sv, data, model, score, direction) -> pd.DataFrame:
    """The model's risk ("<model> risk" = sign * score) and each staging column, higher = worse."""
    risks = pd.DataFrame(index=data.index)
    if score is not None:
        risks[f"{model} risk"] = direction.sign * score
    for col in sv.compare_with:
        risks[col] = _ordinal(data[col])
    return risks


def _c_indices(data, sv, risks, cohorts, notes) -> pd.DataFrame:
    rows = []
    for cohort in cohorts:
        idx = (data["cohort"] == cohort).to_numpy()
        for name in risks.columns:
            try:
                c = harrell_c(data.loc[idx, sv.time], data.loc[idx, sv.event], risks.loc[idx, name])
            except HccradError as exc:
                notes.append(f"{cohort}: C-index of {name} not computed ({exc.message})")
                continue
            rows.append({"cohort": cohort, "score": name, "c_index": c.c_index, "lower": c.lower,
                         "upper": c.upper, "n": c.n, "events": c.n_events})
    return pd.DataFrame(rows, columns=["cohort", "score", "c_index", "lower", "upper", "n", "events"])


def usable_horizons(train_time, train_event, time, event, horizons: Sequence[float]
                    ) -> tuple[list[float], list[str]]:
    """The horizons at which AUC(t) is defined in a cohort, and a reason for each one that is not: it needs
    follow-up beyond t in the cohort and in the training cohort (whose censoring survival G(t) weights the
    cases; past the training cohort's last follow-up G is zero or unknown), and an event at or before t."""
    tt, te = np.asarray(train_time, float), np.asarray(train_event)
    t, e = np.asarray(time, float), np.asarray(event)
    keep_t, keep_e = ~np.isnan(tt) & ~pd.isna(te), ~np.isnan(t) & ~pd.isna(e)
    tt, t, e = tt[keep_t], t[keep_e], e[keep_e].astype(float)
    ok, skipped = [], []
    for h in sorted(float(x) for x in horizons):
        if t.size == 0 or h >= t.max():
            skipped.append(f"{h:g} (at or past the last follow-up of the cohort, {t.max() if t.size else 0:g})")
        elif h >= tt.max():
            skipped.append(f"{h:g} (at or past the last follow-up of the training cohort, {tt.max():g}: the "
                           "censoring survival is zero or unknown there)")
        elif h < t.min() or not np.any((t <= h) & (e == 1)):
            skipped.append(f"{h:g} (no event at or before it)")
        else:
            ok.append(h)
    return ok, skipped


def _time_auc(data, sv, risks, cohorts, train, seed, notes) -> dict[str, dict[str, TimeAUCResult]]:
    """AUC(t) of every risk column per cohort, one horizon at a time (a horizon that fails does not hide
    the others), censoring weights from the training cohort."""
    tr_t, tr_e = data.loc[train, sv.time], data.loc[train, sv.event]
    out: dict[str, dict[str, TimeAUCResult]] = {}
    for cohort in cohorts:
        idx = (data["cohort"] == cohort).to_numpy()
        t, e = data.loc[idx, sv.time], data.loc[idx, sv.event]
        horizons, skipped = usable_horizons(tr_t, tr_e, t, e, sv.horizons)
        if skipped:
            notes.append(f"{cohort}: AUC(t) not estimable at {'; '.join(skipped)} {sv.unit}")
        per_score = {}
        for name in risks.columns:
            parts, failed = [], []
            for h in horizons:
                try:
                    parts.append(time_dependent_auc(tr_t, tr_e, t, e, risks.loc[idx, name], [h], n_boot=TIME_AUC_BOOT,
                                                    seed=seed, time_unit=sv.unit))
                except HccradError as exc:
                    failed.append(f"{h:g} ({exc.message})")
            if failed:
                notes.append(f"{cohort}, {name}: AUC(t) not computed at {'; '.join(failed)}")
            if parts:
                table = pd.concat([p.table for p in parts], ignore_index=True)
                p0 = parts[0]
                per_score[name] = TimeAUCResult(table, p0.n_boot, p0.seed, p0.conf_level, p0.time_unit,
                                                p0.n_dropped)
        if per_score:
            out[cohort] = per_score
    return out


def _staging(data, sv, risks, cohorts, train, seed, notes) -> list[StagingComparison]:
    """Seed 002 table 3: the model's risk (the reference; without a model, the first staging column)
    against the staging columns by C-index and AUC(t), per cohort; the latest horizon is dropped until every
    bootstrap resample has cases and controls."""
    reference = risks.columns[0]
    frame = data[[sv.time, sv.event]].join(risks)
    tr_t = frame.loc[train, sv.time].to_numpy(float)
    tr_e = frame.loc[train, sv.event].to_numpy()
    out = []
    for cohort in cohorts:
        sub = frame[(data["cohort"] == cohort).to_numpy()]
        horizons, _ = usable_horizons(tr_t, tr_e, sub[sv.time], sub[sv.event], sv.horizons)
        res, dropped = None, []
        while res is None and horizons:
            try:
                res = compare_prognostic_scores(
                    sub, time=sv.time, event=sv.event, scores=list(risks.columns), reference=reference,
                    horizons=horizons, train_time=tr_t, train_event=tr_e, time_unit=sv.unit,
                    n_boot=STAGING_BOOT, seed=seed)
            except HccradError as exc:
                if len(horizons) <= 1:
                    notes.append(f"{cohort}: comparison with the staging systems not computed ({exc.message})")
                    break
                dropped.append(horizons.pop())
        if res is None and not horizons:
            notes.append(f"{cohort}: comparison with the staging systems not computed (no horizon with "
                         "follow-up and events)")
        if res is not None:
            out.append(StagingComparison(cohort, res, tuple(dropped)))
    return out
