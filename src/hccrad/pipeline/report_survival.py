"""Report sections on survival (seed 002 tables 2–3 and figs. 2, 3, 5; seed 004 fig. 4 and table 3): the
model's risk direction, Kaplan–Meier curves with log-rank tests by every grouping (the model's risk groups
at the training cut-point, declared columns such as BCLC), univariable/multivariable Cox regression with a
forest plot, the Cox nomogram with its calibration at the horizons, C-index and time-dependent AUC, and the
comparison with staging systems. Every number comes from `pipeline.survival_stage.SurvivalResult`; this
module only draws and arranges it."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hccrad.cohort.outcomes import response_group_names, response_labels  # noqa: E402
from hccrad.config.spec import StudySpec  # noqa: E402
from hccrad.pipeline.survival_stage import SurvivalResult  # noqa: E402
from hccrad.report.document import Report, Section  # noqa: E402
from hccrad.report.figures.decision import plot_decision_curve  # noqa: E402
from hccrad.report.figures.descriptive import plot_score_distribution  # noqa: E402
from hccrad.report.figures.panels import panel_row  # noqa: E402
from hccrad.report.figures.survival import (  # noqa: E402
    forest_plot, plot_km_with_risk_table, plot_nomogram, plot_survival_calibration, plot_time_auc,
)

__all__ = ["section_survival"]


def section_survival(rep: Report, spec: StudySpec, data: pd.DataFrame, result: SurvivalResult | None) -> None:
    """The survival section; nothing when the study has no survival outcome."""
    if result is None:
        return
    sv = result.outcome
    by = f"the '{result.model}' risk group" if result.model else "clinical factors"
    s = rep.section(f"Survival: {sv.label} by {by}",
                    "Cut-point, Cox models and censoring weights from the training cohort, applied unchanged to "
                    "the other cohorts." if result.model else
                    "Kaplan–Meier and log-rank by the declared groupings; Cox regression on the training cohort.")
    _direction(rep, s, result)
    _score_by_response(rep, s, spec, data, result)
    if result.cutpoint is not None:
        rep.add_table(s, result.cutpoint.summary(), "Cut-point (training cohort)", index=False, key="km_cutpoint")
    for g in result.groupings:
        _km(rep, s, g, result)
    _cox_tables(rep, s, result)
    _nomogram_and_calibration(rep, s, result)
    _survival_decision_curves(rep, s, result)
    if len(result.c_indices):
        rep.add_table(s, result.c_indices, "Harrell's C (95% CI, U-statistic) per cohort", index=False,
                      key="c_index")
    _time_auc(rep, s, result)
    for st in result.staging:
        _staging_table(rep, s, st, sv.unit, with_model=result.model is not None)
    if result.notes:
        rep.add_text(s, "\n".join(f"• {n}" for n in result.notes), "Notes and warnings", key="survival_notes")


def _direction(rep: Report, s: Section, result: SurvivalResult) -> None:
    d = result.direction
    if d is None:
        return
    caption = ("The direction comes from the model's definition and is checked against the univariable Cox "
               "association of the score alone (never a multivariable coefficient).")
    if not d.agrees:
        caption += " WARNING: the two disagree, or the check was not possible (see the notes below)."
    rep.add_table(s, d.summary(), f"Risk direction of the '{d.model}' score", index=False, key="risk_direction",
                  caption=caption)


def _score_by_response(rep: Report, s: Section, spec: StudySpec, data: pd.DataFrame, result: SurvivalResult) -> None:
    """Seed 004 fig. 4A/C: the score by tumour response, per cohort (Mann–Whitney p in the title)."""
    r = spec.outcome.response
    if r is None or result.scores is None:
        return
    labels = response_labels(spec, data)
    fig, axes = panel_row(len(result.cohorts), 4.4, 3.8, layout="constrained")
    for ax, cohort in zip(axes, result.cohorts):
        idx = (data["cohort"] == cohort) & labels.notna()  # the cases analysed for the response
        y = labels[idx].to_numpy(dtype=int)
        plot_score_distribution(ax, y, result.scores[idx].to_numpy(float), score_name=f"{result.model} score",
                                title=cohort, labels=response_group_names(r))
    rep.add_figure(s, fig, f"'{result.model}' score by {r.label}", key="score_by_response")


def _km(rep: Report, s: Section, g, result: SurvivalResult) -> None:
    fig = plt.figure(figsize=(6.5, 5.2))
    plot_km_with_risk_table(fig, g.km, p_value=g.logrank.p_value, title=f"{g.cohort}")
    rep.add_figure(s, fig, f"Kaplan–Meier by {g.grouping} — {g.cohort}", key="km")
    rep.add_table(s, g.km.summary(), f"Median survival by {g.grouping} — {g.cohort}", index=False, key="km_median")
    rep.add_table(s, g.logrank.summary(), f"Log-rank test by {g.grouping} — {g.cohort} "
                  f"(χ² = {g.logrank.chisq:.3f}, df = {g.logrank.df}, p = {g.logrank.p_value:.3g})",
                  index=False, key="logrank")


def _cox_tables(rep: Report, s: Section, result: SurvivalResult) -> None:
    """Seed 002 table 2, seed 004 table 3, with a forest plot of the multivariable HRs."""
    cox = result.cox
    if cox is None:
        return
    ties = (f"Tied event times: {cox.ties.capitalize()} method (R coxph(ties = \"{cox.ties}\"); "
            "outcome.survival.ties).")
    rep.add_table(s, cox.univariable, "Univariable Cox regression (training cohort)", index=False, key="cox_table",
                  caption=ties)
    multi = len(cox.covariates) > 1
    if multi:
        rep.add_table(s, cox.summary(), "Multivariable Cox regression (training cohort)", index=False,
                      key="cox_table", caption=ties)
    if len(cox.joint_tests):  # a categorical covariate's levels (rows `X=level` above) tested together
        rep.add_table(s, cox.joint_tests, "Categorical covariates as a whole: univariable likelihood-ratio and "
                      "multivariable Wald test of their levels", index=False, key="cox_table")
    shown = cox.summary()
    shown = shown[np.isfinite(shown["hr_upper"]) & (shown["hr_upper"] < 1e6)]
    if len(shown):
        fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.45 * len(shown)))
        forest_plot(ax, shown)
        rep.add_figure(s, fig, "Forest plot of the " + ("multivariable " if multi else "") + "hazard ratios",
                       key="cox_forest")


def _nomogram_and_calibration(rep: Report, s: Section, result: SurvivalResult) -> None:
    """Seed 002 fig. 2: the Cox nomogram and its calibration at each horizon in every cohort."""
    sv = result.outcome
    nomo = result.nomogram
    if nomo is not None:
        fig, ax = plt.subplots(figsize=(8, 1.0 + 0.55 * (len(nomo.scales["variable"].unique()) + 3)))
        plot_nomogram(ax, nomo, time_unit=sv.unit)
        rep.add_figure(s, fig, f"Cox nomogram: {sv.label} at {sv.horizons[0]:g} {sv.unit}", key="cox_nomogram")
    if not result.calibration:
        return
    cohorts = list(dict.fromkeys(c.cohort for c in result.calibration))
    horizons = list(dict.fromkeys(c.horizon for c in result.calibration))
    fig, axes = plt.subplots(len(cohorts), len(horizons), figsize=(3.6 * len(horizons), 3.6 * len(cohorts)),
                             squeeze=False)
    for cell in result.calibration:
        ax = axes[cohorts.index(cell.cohort)][horizons.index(cell.horizon)]
        if cell.result is not None:
            plot_survival_calibration(ax, cell.result)
            ax.set_title(f"{cell.cohort}, {cell.horizon:g} {sv.unit}", fontsize="small")
        else:
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"{cell.cohort}, {cell.horizon:g} {sv.unit}:\nnot computed\n({cell.reason[:60]})",
                    ha="center", va="center", fontsize="x-small", transform=ax.transAxes)
    fig.tight_layout()
    rep.add_figure(s, fig, "Calibration of the Cox model at each horizon",
                   "Observed Kaplan–Meier survival against mean predicted survival in tertiles of prediction.",
                   key="survival_calibration")


def _survival_decision_curves(rep: Report, s: Section, result: SurvivalResult) -> None:
    """Net benefit at each horizon of the training Cox model's predicted event probability, per cohort
    (survival decision curve, Vickers et al. 2008; as dcurves `dca(Surv(...) ~ risk, time = t)`)."""
    cells = result.decision_curves
    if not cells:
        return
    sv = result.outcome
    cohorts = list(dict.fromkeys(c.cohort for c in cells))
    horizons = list(dict.fromkeys(c.horizon for c in cells))
    fig, axes = plt.subplots(len(cohorts), len(horizons), figsize=(3.6 * len(horizons), 3.6 * len(cohorts)),
                             squeeze=False)
    for cell in cells:
        ax = axes[cohorts.index(cell.cohort)][horizons.index(cell.horizon)]
        if cell.curve is not None:
            plot_decision_curve(ax, cell.curve, title=f"{cell.cohort}, {cell.horizon:g} {sv.unit}")
            ax.title.set_fontsize("small")
        else:
            ax.set_axis_off()
            ax.text(0.5, 0.5, f"{cell.cohort}, {cell.horizon:g} {sv.unit}:\nnot computed\n({cell.reason[:60]})",
                    ha="center", va="center", fontsize="x-small", transform=ax.transAxes)
    fig.tight_layout()
    rep.add_figure(s, fig, "Survival decision curves of the Cox model at each horizon",
                   "Net benefit of treating patients whose predicted probability of the event by the horizon "
                   "is at least the threshold; the event risk among them is the Kaplan–Meier estimate.",
                   key="survival_dca")


def _time_auc(rep: Report, s: Section, result: SurvivalResult) -> None:
    """Seed 002 fig. 3: AUC(t) of the model's risk and each staging system, per cohort."""
    if not result.time_auc:
        return
    cohorts = [c for c in result.cohorts if c in result.time_auc]
    fig, axes = panel_row(len(cohorts), 4.6, 4.0)
    for ax, cohort in zip(axes, cohorts):
        plot_time_auc(ax, dict(result.time_auc[cohort]))
        ax.set_title(cohort)
    rep.add_figure(s, fig, "Time-dependent AUC" + (" of the model and the staging systems" if result.model else ""),
                   "Cumulative/dynamic AUC(t) with inverse-probability-of-censoring weights from the training "
                   "cohort; error bars: bootstrap resamples. Horizons without follow-up or events are left out "
                   "(see the notes).", key="time_auc")


def _staging_table(rep: Report, s: Section, st, unit: str, *, with_model: bool) -> None:
    """Seed 002 table 3: C-index and AUC(t) of each score against the reference, per cohort."""
    caption = (f"AUC(t) not estimable at {', '.join(f'{h:g}' for h in st.dropped_horizons)} {unit} in this cohort "
               "(too few events or too little follow-up)." if st.dropped_horizons else "")
    title = "Model vs staging systems" if with_model else "Staging systems compared"
    caption = f"Paired tests against {st.result.reference}. " + caption
    rep.add_table(s, st.result.summary(), f"{title}: C-index and AUC(t) — {st.cohort}", index=False,
                  key="staging_comparison", caption=caption)
