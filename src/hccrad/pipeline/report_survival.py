"""Report sections on survival (seed 002 tables 2–3 and figs. 2, 3, 5; seed 004 fig. 4 and table 3): risk
groups at the training cut-point with Kaplan–Meier curves, univariable/multivariable Cox regression with a
forest plot, the Cox nomogram with its calibration at the horizons, time-dependent AUC and the comparison
with staging systems. Everything data-driven (cut-point, Cox fit, censoring weights) uses the training
cohort only and is applied unchanged to the other cohorts."""

from __future__ import annotations

from dataclasses import replace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hccrad.config.spec import StudySpec  # noqa: E402
from hccrad.core.errors import DataError, HccradError  # noqa: E402
from hccrad.pipeline.modelling import FittedModels  # noqa: E402
from hccrad.report.document import Report, Section  # noqa: E402
from hccrad.report.figures.panels import panel_row  # noqa: E402

__all__ = ["section_survival"]


def _score_model(spec: StudySpec, fitted: FittedModels) -> str:
    sv = spec.outcome.survival
    if sv.model is None:
        return next(iter(fitted.models))
    if sv.model not in fitted.models:
        raise DataError(f"outcome.survival.model {sv.model!r} is not a model of the study",
                        field="outcome.survival.model", hint=f"use one of {list(fitted.models)}")
    return sv.model


def section_survival(rep: Report, spec: StudySpec, data: pd.DataFrame, fitted: FittedModels) -> None:
    """The survival section; nothing when the study has no survival outcome or no model."""
    from hccrad.report.figures.survival import plot_km_with_risk_table
    from hccrad.survival.cutpoint import maxstat_cutpoint
    from hccrad.survival.kaplan_meier import kaplan_meier
    from hccrad.survival.logrank import logrank_test

    sv = spec.outcome.survival
    if sv is None or not fitted.models:
        return
    name = _score_model(spec, fitted)
    score = fitted.models[name].scores
    s = rep.section(f"Survival: {sv.label} by the '{name}' risk group",
                    "Cut-point chosen on the training cohort by maximally selected log-rank statistics "
                    "(Lausen–Schumacher corrected p) and applied unchanged to the other cohorts.")
    train = data["cohort"] == spec.cohorts.training
    _score_by_response(rep, s, spec, data, name, score)
    cut = maxstat_cutpoint(data.loc[train, sv.time], data.loc[train, sv.event], score[train])
    rep.add_table(s, cut.summary(), "Cut-point (training cohort)", index=False, key="km_cutpoint")
    for cohort in dict.fromkeys(data["cohort"]):
        idx = data["cohort"] == cohort
        groups = np.where(score[idx] > cut.cutpoint, "high score", "low score")
        if len(set(groups)) < 2:
            continue
        km = kaplan_meier(data.loc[idx, sv.time], data.loc[idx, sv.event], groups, time_unit=sv.unit)
        lr = logrank_test(data.loc[idx, sv.time], data.loc[idx, sv.event], groups)
        fig = plt.figure(figsize=(6.5, 5.2))
        plot_km_with_risk_table(fig, km, p_value=lr.p_value, title=f"{cohort}")
        rep.add_figure(s, fig, f"Kaplan–Meier by risk group — {cohort}", key="km")
        rep.add_table(s, km.summary(), f"Median survival by group — {cohort}", index=False, key="km_median")
    cox = _cox_tables(rep, s, spec, data, name, score)
    _nomogram_and_calibration(rep, s, spec, data.assign(**{f"{name}_score": score}), cox)
    risks = _risk_scores(spec, data, name, score, cox)
    _time_auc(rep, s, spec, data, risks)
    if sv.compare_with:
        _staging_comparison(rep, s, spec, data, risks)


def _risk_scores(spec: StudySpec, data: pd.DataFrame, name: str, score: pd.Series, cox) -> pd.DataFrame:
    """The model's risk ("<name> risk") and each staging column as numbers, higher = worse. The score is
    turned into a risk by the sign of its training-cohort Cox coefficient, as stages are ordered."""
    sign = np.sign(float(cox.coefficients.get(f"{name}_score", 1.0)) or 1.0)
    risks = pd.DataFrame({f"{name} risk": sign * score}, index=data.index)
    for col in spec.outcome.survival.compare_with:
        risks[col] = _ordinal(data[col])
    return risks


def _score_by_response(rep: Report, s: Section, spec: StudySpec, data: pd.DataFrame, name: str,
                       score: pd.Series) -> None:
    """Seed 004 fig. 4A/C: the score by tumour response, per cohort (Mann–Whitney p in the title)."""
    from hccrad.cohort.outcomes import response_labels
    from hccrad.report.figures.descriptive import plot_score_distribution

    r = spec.outcome.response
    if r is None:
        return
    cohorts = list(dict.fromkeys(data["cohort"]))
    fig, axes = panel_row(len(cohorts), 4.4, 3.8)
    for ax, cohort in zip(axes, cohorts):
        labels = response_labels(spec, data)
        idx = (data["cohort"] == cohort) & labels.notna()  # the cases analysed for the response
        y = labels[idx].to_numpy(dtype=int)
        plot_score_distribution(ax, y, score[idx].to_numpy(float), score_name=f"{name} score", title=cohort)
    rep.add_figure(s, fig, f"'{name}' score by {r.label}", key="score_by_response")


def _cox_tables(rep: Report, s: Section, spec: StudySpec, data: pd.DataFrame, name: str, score: pd.Series):
    """Univariable and multivariable Cox regression of the score and `outcome.survival.covariates` on the
    training cohort (seed 002 table 2, seed 004 table 3), with a forest plot of the multivariable HRs."""
    from hccrad.report.figures.survival import forest_plot
    from hccrad.survival.cox import cox_regression

    sv = spec.outcome.survival
    train = data["cohort"] == spec.cohorts.training
    score_col = f"{name}_score"
    covs = [score_col, *[c for c in sv.covariates if c != score_col]]
    missing = [c for c in sv.covariates if c not in data.columns]
    if missing:
        raise DataError(f"Cox covariates {missing} are not columns of the clinical table",
                        field="outcome.survival.covariates", hint="check the column names")
    df = data.loc[train, [sv.time, sv.event, *sv.covariates]].assign(**{score_col: score[train]})
    cox = cox_regression(df, sv.time, sv.event, covs, time_unit=sv.unit)
    rep.add_table(s, cox.univariable, "Univariable Cox regression (training cohort)", index=False, key="cox_table")
    if len(covs) > 1:
        rep.add_table(s, cox.summary(), "Multivariable Cox regression (training cohort)", index=False,
                      key="cox_table")
    shown = cox.summary()
    shown = shown[np.isfinite(shown["hr_upper"]) & (shown["hr_upper"] < 1e6)]
    if len(shown):
        fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.45 * len(shown)))
        forest_plot(ax, shown)
        rep.add_figure(s, fig, "Forest plot of the " + ("multivariable" if len(covs) > 1 else "")
                       + " hazard ratios", key="cox_forest")
    return cox


def _nomogram_and_calibration(rep: Report, s: Section, spec: StudySpec, data: pd.DataFrame, cox) -> None:
    """`data` holds the Cox covariates (the score included). Seed 002 fig. 2: the Cox model as a nomogram (survival at the first horizon) and its calibration at
    each horizon in every cohort (KM observed vs mean predicted per quintile of predicted survival)."""
    from hccrad.report.figures.survival import plot_nomogram, plot_survival_calibration
    from hccrad.survival.calibration import survival_calibration
    from hccrad.survival.nomogram import nomogram_points

    sv = spec.outcome.survival
    train = data["cohort"] == spec.cohorts.training
    design = data.loc[train, list(cox.covariates)]
    nomo = nomogram_points(cox, design, horizon=sv.horizons[0])
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.55 * (len(nomo.scales["variable"].unique()) + 3)))
    plot_nomogram(ax, nomo)
    rep.add_figure(s, fig, f"Cox nomogram: {sv.label} at {sv.horizons[0]:g} {sv.unit}", key="cox_nomogram")
    cohorts = list(dict.fromkeys(data["cohort"]))
    fig, axes = plt.subplots(len(cohorts), len(sv.horizons), figsize=(3.6 * len(sv.horizons), 3.6 * len(cohorts)),
                             squeeze=False)
    for i, cohort in enumerate(cohorts):
        sub = data[data["cohort"] == cohort]
        for j, h in enumerate(sv.horizons):
            ax = axes[i][j]
            try:
                pred = cox.predict_survival(sub, [h]).iloc[:, 0].to_numpy()
                cal = survival_calibration(sub[sv.time], sub[sv.event], pred, h, n_groups=3, time_unit=sv.unit)
                plot_survival_calibration(ax, cal)
                ax.set_title(f"{cohort}, {h:g} {sv.unit}", fontsize="small")
            except HccradError as exc:
                ax.set_axis_off()
                ax.text(0.5, 0.5, f"{cohort}, {h:g} {sv.unit}:\nnot computed\n({exc.message[:60]})",
                        ha="center", va="center", fontsize="x-small", transform=ax.transAxes)
    fig.tight_layout()
    rep.add_figure(s, fig, "Calibration of the Cox model at each horizon",
                   "Observed Kaplan–Meier survival against mean predicted survival in tertiles of prediction.",
                   key="survival_calibration")


def _time_auc(rep: Report, s: Section, spec: StudySpec, data: pd.DataFrame, risks: pd.DataFrame) -> None:
    """Seed 002 fig. 3: AUC(t) of the model's risk and each staging system (`_risk_scores`), per cohort
    (censoring weights from the training cohort)."""
    from hccrad.report.figures.survival import plot_time_auc
    from hccrad.survival.time_auc import time_dependent_auc

    sv = spec.outcome.survival
    train = data["cohort"] == spec.cohorts.training
    cohorts = list(dict.fromkeys(data["cohort"]))
    fig, axes = panel_row(len(cohorts), 4.6, 4.0)
    drawn = False
    for ax, cohort in zip(axes, cohorts):
        idx = data["cohort"] == cohort
        horizons = [h for h in sv.horizons if h < data.loc[idx, sv.time].max()]
        results = {}
        for label, r in risks.items():
            parts, failed = [], []
            for h in horizons:  # one horizon at a time: a late horizon without cases does not hide the others
                try:
                    parts.append(time_dependent_auc(
                        data.loc[train, sv.time], data.loc[train, sv.event], data.loc[idx, sv.time],
                        data.loc[idx, sv.event], r[idx], [h], n_boot=100, seed=spec.seed, time_unit=sv.unit))
                except HccradError as exc:
                    failed.append(f"{h:g} ({exc.message})")
            if failed:
                rep.add_text(s, f"{cohort}, {label}: AUC(t) not computed at {'; '.join(failed)}",
                             "Time-dependent AUC")
            if parts:
                results[label] = replace(parts[0], table=pd.concat([p.table for p in parts], ignore_index=True))
        if results:
            plot_time_auc(ax, results)
            ax.set_title(cohort)
            drawn = True
    if drawn:
        rep.add_figure(s, fig, "Time-dependent AUC of the model and the staging systems",
                       "Cumulative/dynamic AUC(t) with inverse-probability-of-censoring weights from the training "
                       "cohort; error bars: 100 bootstrap resamples.", key="time_auc")
    else:
        plt.close(fig)


def _ordinal(col: pd.Series) -> pd.Series:
    """A staging column as numbers (higher = more advanced): ordered categoricals by their order."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        if not col.cat.ordered:
            raise HccradError(f"staging column {col.name!r} is an unordered category",
                              field=f"outcome.survival.compare_with", hint="give an ordered stage column")
        return col.cat.codes.where(col.notna()).astype(float)
    out = pd.to_numeric(col, errors="coerce")
    bad = col.notna() & out.isna()
    if bad.any():
        raise HccradError(f"staging column {col.name!r} has non-numeric values, e.g. {col[bad].iloc[0]!r}",
                          field="outcome.survival.compare_with",
                          hint="derive the stage with hccrad's clinical scores (ordered) or code it 0, 1, 2, …")
    return out


def _staging_comparison(rep: Report, s, spec: StudySpec, data: pd.DataFrame, risks: pd.DataFrame) -> None:
    """Seed 002 table 3: the model's risk against staging systems (`_risk_scores`; its first column is the
    model) by C-index and AUC(t), per cohort; the censoring distribution of AUC(t) comes from the training
    cohort."""
    from hccrad.survival.compare import compare_prognostic_scores

    sv = spec.outcome.survival
    risk_name = risks.columns[0]
    frame = data[[sv.time, sv.event]].join(risks)
    train = data["cohort"] == spec.cohorts.training
    for cohort in dict.fromkeys(data["cohort"]):
        sub = frame[data["cohort"] == cohort]
        horizons = [h for h in sv.horizons if h < sub[sv.time].max()]
        res, dropped = None, []
        while res is None:  # drop the latest horizon until every bootstrap resample has cases and controls
            try:
                res = compare_prognostic_scores(
                    sub, time=sv.time, event=sv.event, scores=[risk_name, *sv.compare_with], reference=risk_name,
                    horizons=horizons, train_time=frame.loc[train, sv.time].to_numpy(float),
                    train_event=frame.loc[train, sv.event].to_numpy(), time_unit=sv.unit, n_boot=200,
                    seed=spec.seed)
            except HccradError as exc:
                if len(horizons) <= 1:
                    rep.add_text(s, f"{cohort}: comparison not computed ({exc})", "Model vs staging systems")
                    break
                dropped.append(horizons.pop())
        if res is None:
            continue
        caption = (f"AUC(t) not estimable at {', '.join(f'{h:g}' for h in dropped)} {sv.unit} in this cohort "
                   "(too few events or too little follow-up)." if dropped else "")
        rep.add_table(s, res.summary(), f"Model vs staging systems: C-index and AUC(t) — {cohort}",
                      index=False, key="staging_comparison", caption=caption)


