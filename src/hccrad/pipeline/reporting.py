"""Report stage of a study run: one section per table/figure of a seed-000-style paper, cohorts side by side.

Each section is drawn from the stage results (`hccrad.pipeline.results.StudyResults`: every statistic is
computed in its stage) with the library's figure functions (`hccrad.report.figures`); this module only
arranges them. `build_report` is called by `hccrad run` after computing the results and by `hccrad report OUT`
(`rebuild_report`) after loading them from OUT/results.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from joblib import effective_n_jobs  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from hccrad.cohort.outcomes import POLARITY_NAMES, response_group_names, response_labels  # noqa: E402
from hccrad.config.spec import StudySpec  # noqa: E402
from hccrad.core.errors import HccradError  # noqa: E402
from hccrad.evaluate.associations import is_continuous  # noqa: E402
from hccrad.evaluate.classification import confusion_counts  # noqa: E402
from hccrad.models.bundle import ModelBundle  # noqa: E402
from hccrad.models.published import load_published  # noqa: E402
from hccrad.pipeline.evaluation import Evaluation  # noqa: E402
from hccrad.pipeline.results import CohortCounts, ModelsRecord, StudyResults, TruthRecord, load_results  # noqa: E402
from hccrad.report.document import Report  # noqa: E402
from hccrad.report.figure_writer import usable_jobs  # noqa: E402
from hccrad.report.precision import small_cohort_notes  # noqa: E402
from hccrad.report.figures.calibration import plot_calibration  # noqa: E402
from hccrad.report.figures.classification import plot_alluvial, plot_confusion_matrix  # noqa: E402
from hccrad.report.figures.decision import plot_decision_curve  # noqa: E402
from hccrad.report.figures.descriptive import plot_score_distribution  # noqa: E402
from hccrad.report.figures.discrimination import plot_roc  # noqa: E402
from hccrad.report.figures.radiogenomics import radiogenomics_figures  # noqa: E402
from hccrad.pipeline.report_imaging import section_features, section_habitats  # noqa: E402
from hccrad.pipeline.report_survival import section_survival  # noqa: E402
from hccrad.pipeline.report_table_one import section_table_one  # noqa: E402
from hccrad.report.figures.flow import plot_patient_flow  # noqa: E402
from hccrad.report.figures.models_compare import plot_auc_bars, plot_radar  # noqa: E402
from hccrad.report.figures.panels import panel_row  # noqa: E402
from hccrad.report.figures.scores import plot_waterfall  # noqa: E402
from hccrad.report.figures.survival import forest_plot, plot_nomogram  # noqa: E402
from hccrad.report.paper import PAPERS, paper_id, paper_sections  # noqa: E402

log = logging.getLogger(__name__)


def _section_overview(rep: Report, spec: StudySpec, listed: CohortCounts, data: pd.DataFrame,
                      errors: pd.DataFrame, order: list[str]) -> None:
    s = rep.section("Study population and cohorts",
                    "Cases per cohort; all data-driven steps are fitted on the training cohort only.")
    counts = data["cohort"].value_counts().reindex(order).rename("cases analysed").to_frame()
    counts["cases in manifest"] = listed.listed_per_cohort.reindex(order)
    if spec.outcome.response:
        r = spec.outcome.response
        y = response_labels(spec, data)  # events and % on the cases analysed for this outcome
        analysed = y.notna().groupby(data["cohort"]).sum()
        pos = y.fillna(0).groupby(data["cohort"]).sum()
        counts[f"{r.label}: cases analysed"] = [int(analysed.get(c, 0)) for c in counts.index]
        counts[f"{r.label} (n, %)"] = [f"{int(pos.get(c, 0))} ({100 * pos.get(c, 0) / max(analysed.get(c, 0), 1):.1f}%)"
                                       for c in counts.index]
    rep.add_table(s, counts, "Cases per cohort", key="cohort_counts")

    excluded = errors.drop_duplicates("case_id").groupby("stage").size().to_dict() if len(errors) else {}
    n_analysed = data["cohort"].value_counts().reindex(order).fillna(0).astype(int).to_dict()
    if spec.lesions is None:  # with several lesions per patient the manifest counts lesions, not patients
        fig, ax = plt.subplots(figsize=(8, 4.5))
        plot_patient_flow(ax, listed.n_cases_listed, {f"left out at {k}": int(v) for k, v in excluded.items()},
                          n_analysed)
        rep.add_figure(s, fig, "Patient flow", key="patient_flow")
    if len(errors):
        rep.add_table(s, errors, "Cases left out (with the reason)", index=False, key="excluded")
    else:
        rep.add_text(s, "No case was left out: every case in the manifest was read and analysed.", key="excluded")


def _section_table_one(rep: Report, record) -> None:
    section_table_one(rep, record)  # variables, levels, labels: pipeline.report_table_one


def _section_nomograms(rep: Report, spec: StudySpec, fitted: ModelsRecord) -> None:
    """Nomograms (points scales) of the logistic models fitted on unscaled inputs (seed 004 fig. 3F); the
    points are computed in the modelling stage (`pipeline.results`)."""
    drawn = [m for m in fitted.models.values() if m.nomogram is not None or m.nomogram_error]
    if not drawn:
        return
    what = spec.outcome.response.label if spec.outcome.response else "response"
    s = rep.section("Nomograms", "Points per variable on its own scale (training-cohort ranges); total "
                                 f"points map to the predicted probability of {what}.")
    for m in drawn:
        if m.nomogram_error:
            raise HccradError(m.nomogram_error)
        nomo = m.nomogram
        fig, ax = plt.subplots(figsize=(8, 1.0 + 0.55 * (len(nomo.scales["variable"].unique()) + 3)))
        plot_nomogram(ax, nomo)
        rep.add_figure(s, fig, f"Nomogram of model '{m.name}'", key="nomogram")


def _section_odds_ratios(rep: Report, spec: StudySpec, fitted: ModelsRecord) -> None:
    """Seed 000 table 2 / 003 table 2: ORs of the first clinical model's variables (computed in the modelling
    stage, `pipeline.results.odds_ratios`)."""
    rec = fitted.odds_ratios
    if rec is None:
        return
    s = rep.section("Table 2. Univariable and multivariable logistic regression of clinical variables",
                    f"Training cohort; multivariable model = the variables kept by model '{rec.model}'. A categorical "
                    "variable has one row per level against its reference; p_variable_uv/_mv test its levels "
                    "jointly (Wald).")
    if rec.error:
        raise HccradError(rec.error)
    table = rec.table
    per_unit = "; ".join(f"{v} per {'10-fold increase (fitted on log10)' if u == 'log10' else f'{float(u):g} units'}"
                         for v, u in spec.report.or_units.items())
    rep.add_table(s, table, "Odds ratios (95% CI)", index=False, key="odds_ratios",
                  caption=f"ORs per declared unit (report.or_units): {per_unit}." if per_unit else "")

    for kind in ("mv", "uv"):  # the multivariable model when there is one, else the univariable ORs
        shown = table[np.isfinite(table[f"or_{kind}"]) & (table[f"upper_{kind}"] < 1e6)]
        if len(shown):
            fig, ax = plt.subplots(figsize=(7.5, 0.9 + 0.45 * len(shown)))
            forest_plot(ax, shown, estimate=f"or_{kind}", lower=f"lower_{kind}", upper=f"upper_{kind}",
                        label="term", p=f"p_{kind}", xlabel="odds ratio (95% CI)")
            rep.add_figure(s, fig, "Forest plot of the " + ("multivariable" if kind == "mv" else "univariable")
                           + " odds ratios", key="or_forest")
            break


def _section_discrimination(rep: Report, spec: StudySpec, fitted: ModelsRecord, ev: Evaluation) -> None:
    s = rep.section("Discrimination: ROC curves and AUC per cohort",
                    "AUC with DeLong 95% CI; on the training cohort also Harrell's optimism-corrected AUC "
                    "(whole pipeline refitted in every bootstrap resample).")
    caption = ""
    if "as_published_auc" in ev.metrics.columns:
        caption = ("as_published_auc: the papers' protocol (features selected once on all training patients, "
                   "only the final model bootstrapped) — optimistic by design, shown to reproduce published "
                   "numbers; corrected_auc is the honest estimate (selection refitted in every resample).")
    rep.add_table(s, ev.metrics, "AUC by model and cohort", index=False, caption=caption, key="auc_table")
    for note in small_cohort_notes(ev.metrics, spec.cohorts.training):
        log.warning("%s", note)
        rep.add_text(s, note, "Precision of small cohorts", key="auc_table")  # travels with its table
    _bootstrap_table(rep, s, ev)
    cohorts = [c for c in ev.cohorts if len(np.unique(c.y)) == 2]
    fig, axes = panel_row(len(cohorts))
    for ax, c in zip(axes, cohorts):
        plot_roc(ax, c.y, c.scores, title=f"{c.name} (n = {c.y.size})")
    rep.add_figure(s, fig, "ROC curves", key="roc")
    fig, ax = plt.subplots(figsize=(7, 4))
    plot_auc_bars(ax, ev.metrics)
    rep.add_figure(s, fig, "AUC across models and cohorts", key="auc_bars")
    if len(ev.comparisons):
        rep.add_table(s, ev.comparisons, "Paired DeLong tests between models", index=False, key="delong")


def _bootstrap_table(rep: Report, s, ev: Evaluation) -> None:
    """Seed 000: bootstrap optimism-corrected C-index with its CI; seed 001: SD of the AUC over resamples;
    the as-published protocol beside the honest one when requested."""
    cols = [c for c in ("model", "cohort", "n", "auc", "optimism", "corrected_auc", "corrected_lower",
                        "corrected_upper", "corrected_sd", "as_published_auc", "as_published_lower",
                        "as_published_upper", "n_boot") if c in ev.metrics.columns]
    if "corrected_auc" not in cols:
        return
    table = ev.metrics.loc[ev.metrics["corrected_auc"].notna(), cols]
    table = _resamples_used_of_requested(table, ev.metrics.loc[table.index])
    flagged = ev.metrics.loc[table.index].get("resampling_warning", pd.Series(dtype=object)).dropna()
    for model, warning in zip(ev.metrics.loc[flagged.index, "model"], flagged):
        rep.add_text(s, f"Warning, model {model}: {warning}", key="bootstrap_warning")
    rep.add_table(s, table, "Bootstrap validation on the training cohort (C-index = AUC)", index=False,
                  key="bootstrap",
                  caption="corrected_*: Harrell's optimism correction with the whole pipeline (selection "
                          "included) refitted in each resample — the honest estimate; corrected_sd: SD of the "
                          "bootstrap-corrected AUC; as_published_*: selection once on all patients, only the "
                          "final model bootstrapped (the papers' protocol, optimistic).")


def _resamples_used_of_requested(table: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """Replace n_boot by "resamples": "n used of N requested" (failed resamples are never hidden)."""
    if "n_boot" not in table.columns or "n_boot_used" not in metrics.columns:
        return table
    used = [f"{int(u)} used of {int(r)} requested" for u, r in zip(metrics["n_boot_used"], metrics["n_boot"])]
    return table.drop(columns="n_boot").assign(resamples=used)


def _alluvial(rep: Report, s, fitted: ModelsRecord, cohorts,
              groups: tuple[str, str] = POLARITY_NAMES["favourable"]) -> None:
    """Seed 001 fig. 6C: observed response flowing to the predicted class (the last model, each cohort)."""
    name = list(fitted.models)[-1]
    fig, axes = panel_row(len(cohorts), 3.8, 4.0, layout="constrained")
    for ax, c in zip(axes, cohorts):
        pred = (c.scores[name] >= fitted.models[name].threshold).astype(int)
        plot_alluvial(ax, c.y, pred, labels=groups, title=f"{name}\n{c.name}")
    rep.add_figure(s, fig, f"Observed vs predicted outcome (Sankey), model '{name}'", key="alluvial")


def _section_published(rep: Report, spec: StudySpec) -> None:
    """Published model formulas the study names (`report.published`), with their coefficients and inputs."""
    if not spec.report.published:
        return
    s = rep.section("Published models", "Shipped formulas of the seed papers, for external validation on your "
                                        "cohort with `hccrad validate-published NAME TABLE --outcome COLUMN`.")
    for name in spec.report.published:
        pub = load_published(name)
        source = pub.spec.get("source", {})
        rep.add_table(s, pub.summary(), f"Published model '{name}': {pub.formula(3)}", key="published_model",
                      caption=f"{source.get('citation', '')} Outcome: {pub.spec.get('outcome', '')}. "
                              f"Reported: {source.get('reported_auc', 'n/a')}.")


def _section_served(rep: Report, out: Path) -> None:
    """The model bundles `hccrad serve` turns into the clinician-facing web page (seed 002 web nomogram)."""
    bundles = sorted((out / "models").glob("*/bundle.json"))
    rows = []
    for path in bundles:
        try:
            meta = json.loads(path.read_text())
            if not isinstance(meta, dict) or meta.get("format") != "hccrad-model-bundle":
                continue
            inputs = ModelBundle(meta).input_features
        except (OSError, ValueError, KeyError):
            continue
        rows.append({"model": meta.get("name", path.parent.name), "kind": meta.get("kind"),
                     "serve with": f"hccrad serve {path.parent}", "inputs": ", ".join(inputs)})
    if not rows:
        return
    s = rep.section("Web calculator", "Run `hccrad serve <model folder>` and open the printed address: a page "
                                      "for one patient at a time, with the probability, its CI and the nomogram.")
    rep.add_table(s, pd.DataFrame(rows), "Model bundles served by hccrad serve", index=False, key="served_models")


def _section_classification(rep: Report, fitted: ModelsRecord, ev: Evaluation,
                            groups: tuple[str, str] = POLARITY_NAMES["favourable"]) -> None:
    s = rep.section("Classification at the training-cohort Youden cut-off",
                    "Accuracy, sensitivity, specificity, PPV, NPV with Clopper–Pearson exact 95% CIs, [n/N].")
    wide = ev.classification.pivot_table(index=["model", "metric"], columns="cohort", values="display",
                                         aggfunc="first", sort=False)
    rep.add_table(s, wide, "Classification metrics (cohorts side by side)", key="classification")
    cohorts = [c for c in ev.cohorts if len(np.unique(c.y)) == 2]
    names = list(fitted.models)
    fig, axes = plt.subplots(len(cohorts), len(names), figsize=(3.4 * len(names), 3.2 * len(cohorts)),
                             squeeze=False, layout="constrained")  # tick labels clear of the next panel
    for i, c in enumerate(cohorts):
        for j, n in enumerate(names):
            pred = (c.scores[n] >= fitted.models[n].threshold).astype(int)
            plot_confusion_matrix(axes[i][j], confusion_counts(c.y, pred), labels=groups, title=f"{n}\n{c.name}")
    rep.add_figure(s, fig, "Confusion matrices", key="confusion")
    _alluvial(rep, s, fitted, cohorts, groups)
    radar = ev.classification.pivot_table(index=["model", "cohort"], columns="metric", values="estimate")
    radar = radar.reset_index()
    last = cohorts[-1].name
    sub = radar[radar["cohort"] == last].drop(columns="cohort").set_index("model")
    sub = sub.reindex([n for n in names if n in sub.index])  # model order (pivot_table sorts): same colours as ROC
    auc = ev.metrics[ev.metrics["cohort"] == last].set_index("model")["auc"]
    sub = sub.assign(auc=auc)
    fig, axes = panel_row(1, 5.5, 5.5, polar=True)
    plot_radar(axes[0], sub, title=f"Metrics in the {last} cohort")
    rep.add_figure(s, fig, "Radar chart of metrics across models", key="radar")


def _section_calibration(rep: Report, ev: Evaluation) -> None:
    s = rep.section("Calibration", "Binned and lowess-smoothed calibration curves; calibration-in-the-large, "
                                   "slope, Brier score and Hosmer–Lemeshow test per model and cohort.")
    cohorts = [c for c in ev.cohorts if len(np.unique(c.y)) == 2]
    fig, axes = panel_row(len(cohorts))
    for ax, c in zip(axes, cohorts):
        plot_calibration(ax, c.y, {k: np.clip(v, 1e-6, 1 - 1e-6) for k, v in c.scores.items()},
                         title=c.name)
    rep.add_figure(s, fig, "Calibration curves", key="calibration")
    rows = []
    for (model, cohort), cal in ev.calibration.items():
        t = cal.summary()
        t.insert(0, "cohort", cohort)
        t.insert(0, "model", model)
        rows.append(t)
    if rows:
        rep.add_table(s, pd.concat(rows, ignore_index=True), "Calibration statistics", index=False,
                      key="calibration_stats")


def _section_decision(rep: Report, ev: Evaluation, fitted: ModelsRecord,
                      groups: tuple[str, str] = POLARITY_NAMES["favourable"]) -> None:
    s = rep.section("Decision curve analysis", "Net benefit of each model versus treat-all and treat-none.")
    fig, axes = panel_row(len(ev.decision))
    for ax, (cohort, dca) in zip(axes, ev.decision.items()):
        plot_decision_curve(ax, dca, title=cohort)
    rep.add_figure(s, fig, "Decision curves", key="decision")
    fig, axes = panel_row(len(ev.cohorts))
    for ax, c in zip(axes, ev.cohorts):
        if len(np.unique(c.y)) == 2:
            first = next(iter(c.scores))
            plot_score_distribution(ax, c.y, c.scores[first], score_name=f"{first}: predicted probability",
                                    title=f"{c.name}", labels=groups)
    rep.add_figure(s, fig, "Score distributions by outcome", key="score_distribution")

    first = next(iter(fitted.models))
    fig, axes = panel_row(len(ev.cohorts), 5.0, 3.6, layout="constrained")
    for ax, c in zip(axes, ev.cohorts):
        plot_waterfall(ax, c.scores[first], c.y, threshold=fitted.models[first].threshold,
                       score_name=f"{first} probability", title=c.name, labels=groups)
    rep.add_figure(s, fig, f"Waterfall of the '{first}' model's scores",
                   "Bars: each patient's predicted probability minus the training-cohort Youden cut-off; "
                   "colour: observed outcome.", key="waterfall")


def _section_truth(rep: Report, truth: TruthRecord | None) -> None:
    if truth is None:
        return
    pop = truth.population
    s = rep.section("Synthetic cohort: validated AUC versus the Bayes-optimal AUC",
                    "The generator knows the true response probabilities; their AUC is the ceiling any model "
                    "can reach on these cases. The true model uses the habitat composition and the clinical "
                    "variables, so a combined model is the one to hold against it; in the population the "
                    f"habitat part alone reaches AUC {pop.get('auc_habitat_part', float('nan')):.3f} and the "
                    f"clinical part alone {pop.get('auc_clinical_part', float('nan')):.3f}.")
    rep.add_table(s, truth.table, "Validated and Bayes-optimal AUC", index=False, key="truth",
                  caption="validated AUC = optimism-corrected AUC on the training cohort, plain AUC on test "
                          "cohorts; difference = validated − Bayes AUC of the same cases; ceiling_habitat / "
                          "_clinical / _both = the expected Bayes AUC of the cohort's cases given only the "
                          "habitat part, only the clinical part, or both (hold each model against the ceiling "
                          "of the information it uses).")


def _section_deep(rep: Report, deep) -> None:
    """The CNN stage (`results.DeepRecord`): its own AUC per cohort, loss curves and Grad-CAM overlays, each
    figure drawn here from its recorded data. Its score (`cnn_score`) is also a column models can use, so it
    sits in the ROC/DeLong tables when a model is built on it."""
    if deep is None:
        return
    s = rep.section("Deep learning: CNN score",
                    "Training cases are scored out of fold (patient-grouped k-fold CV); other cohorts by one "
                    "network trained on the whole training cohort. Grad-CAM maps are written as NIfTI under "
                    "deep/gradcam/.")
    notes = list(deep.notes)
    if notes:  # how the networks were trained, a small inner split, the positive control, "no architecture learned"
        s.intro = f"{s.intro} Training: " + " ".join(f"{n}." for n in notes)
    caption = "" if deep.learned else next(n for n in notes if n.startswith("no architecture"))
    rep.add_table(s, deep.summary, "CNN score: AUC by cohort (DeLong CI)", caption, index=False, key="cnn_auc")
    for name, data in deep.figures:
        rep.add_figure(s, data.draw(), name.replace("_", " "), key=name)
    for name, table in deep.tables:
        rep.add_table(s, table, name.replace("_", " "), index=False, key=name)


def _skewed_positive(values: pd.Series) -> bool:
    """A positive marker spanning more than two decades above its median (shown on a log axis)."""
    values = pd.to_numeric(values, errors="coerce").dropna()
    return bool(len(values) and (values > 0).all() and values.max() / values.median() > 100)


def _level_label(level) -> str:
    """A category's tick label: 0/1 codes read from a numeric column as 0.0/1.0 are shown as 0/1."""
    if isinstance(level, float) and level.is_integer():
        return str(int(level))
    return str(level)


def _section_associations(rep: Report, spec: StudySpec, data: pd.DataFrame, record) -> None:
    """Seed 000 sFig. 3: habitat features vs pathology / lab markers (tests in `pipeline.results`)."""
    if record is None:
        return
    s = rep.section("Associations of habitat features with pathology and laboratory markers",
                    "All analysed cases; Spearman's rho for continuous markers, Mann–Whitney U / Kruskal–Wallis "
                    "for categorical ones; q = Benjamini–Hochberg over all tests shown.")
    if record.error:
        raise HccradError(record.error)
    table = record.table
    rep.add_table(s, table, "Feature–marker tests", index=False, key="associations")
    pairs = table.sort_values("p").head(6)
    fig, axes = panel_row(len(pairs), 3.8, 3.4, layout="constrained")
    for ax, (_, r) in zip(axes, pairs.iterrows()):
        ax.locator_params(axis="x", nbins=4)  # marker values such as AFP 125000 ng/mL: few, apart
        sub = data[[r["feature"], r["marker"]]].dropna()
        marker_label = r["marker"]
        if is_continuous(data[r["marker"]]):
            ax.scatter(sub[r["marker"]], sub[r["feature"]], s=10, alpha=0.7)
            if _skewed_positive(sub[r["marker"]]):  # e.g. AFP 2-10^6 ng/mL: a linear axis piles the cases at 0
                ax.set_xscale("log")
                marker_label += " (log scale)"
        else:
            levels = sorted(sub[r["marker"]].unique(), key=str)
            ax.boxplot([sub.loc[sub[r["marker"]] == lv, r["feature"]] for lv in levels])
            ax.set_xticks(range(1, len(levels) + 1), labels=[_level_label(lv) for lv in levels])
        ax.set_xlabel(marker_label)
        ax.set_ylabel(r["feature"])
        ax.set_title(f"{r['test']}: q = {r['q_bh']:.3g}", fontsize="small")
    rep.add_figure(s, fig, "Strongest associations", key="association_plots")


def _section_readers(rep: Report, record) -> None:
    """Seed 003 table 3: each model against each radiologist, per cohort (DeLong, exact CIs; computed in
    `pipeline.results.readers_record`)."""
    if record is None:
        return
    s = rep.section("Comparison with radiologists",
                    "Readers' calls (or ratings at their stated threshold) against the models at the "
                    "training-cohort Youden cut-off; AUC with DeLong CI, rates with Clopper–Pearson CIs, "
                    "paired DeLong tests of each reader against each model.")
    for cohort, res in zip(record.cohorts, record.results):
        rep.add_table(s, res.metrics, f"Readers and models — {cohort}", index=False, key="readers")
        if len(res.tests):
            rep.add_table(s, res.tests, f"DeLong tests, readers vs models — {cohort}", index=False,
                          key="readers_delong")
    if record.error:
        raise HccradError(record.error)


def _section_radiogenomics(rep: Report, result) -> None:
    if result is None:
        return
    s = rep.section("Radiogenomics: gene expression by score group",
                    "High vs low score at the training cut-off; DESeq2 (Wald, BH), GO over-representation "
                    "and GSEA prerank on gene sets shipped inside the blitzgsea package (GO Biological Process "
                    "2023: CC BY 4.0; KEGG 2021: free for academic use) or user .gmt files; ssGSEA of "
                    "user-supplied signatures. Computed offline.")
    rep.add_table(s, result.summary(), "Analyses", index=False, key="radiogenomics_summary")
    for name, table in result.tables().items():
        if isinstance(table, pd.DataFrame) and len(table):
            rep.add_table(s, table, name, index=False, max_rows=200, key="radiogenomics_table")
    for title, fig in radiogenomics_figures(result):
        rep.add_figure(s, fig, title, key="radiogenomics_figure")


def build_report(results: StudyResults, spec: StudySpec, out: Path) -> Path:
    """Write `out/report/index.html` (+ figures and tables) from the stage results and return its path. Reads
    results only (`hccrad.pipeline.results`): `hccrad run` calls it after computing them, `hccrad report`
    after loading them from OUT/results."""
    # issue 24: figures saved by up to validation.n_jobs forked processes (as many as CPUs are idle) while the
    # next ones are drawn; the same bytes as a serial save
    jobs = 1 if spec.validation.scheduler else usable_jobs(effective_n_jobs(spec.validation.n_jobs))
    rep = Report(out / "report", spec.report.title or spec.name, jobs=jobs)
    data, imaging, fitted, ev = results.data, results.imaging, results.models, results.evaluation
    errors, stability, survival = results.errors, results.stability, results.survival
    order = [c.name for c in ev.cohorts]
    groups = response_group_names(spec.outcome.response) if spec.outcome.response else POLARITY_NAMES["favourable"]
    steps = [
        ("overview", lambda: _section_overview(rep, spec, results.cohort, data, errors, order)),
        ("table 1", lambda: _section_table_one(rep, results.table_one)),
        ("habitats", lambda: section_habitats(rep, imaging, results.habitat_features)),
        ("features", lambda: section_features(rep, spec, data, fitted, stability)),
        ("odds ratios", lambda: _section_odds_ratios(rep, spec, fitted)),
        ("nomograms", lambda: _section_nomograms(rep, spec, fitted)),
        ("discrimination", lambda: _section_discrimination(rep, spec, fitted, ev)),
        ("classification", lambda: _section_classification(rep, fitted, ev, groups)),
        ("calibration", lambda: _section_calibration(rep, ev)),
        ("decision curves", lambda: _section_decision(rep, ev, fitted, groups)),
        ("deep learning", lambda: _section_deep(rep, results.deep)),
        ("readers", lambda: _section_readers(rep, results.readers)),
        ("associations", lambda: _section_associations(rep, spec, data, results.associations)),
        ("survival", lambda: section_survival(rep, spec, data, survival)),
        ("synthetic truth", lambda: _section_truth(rep, results.truth)),
        ("radiogenomics", lambda: _section_radiogenomics(rep, results.radiogenomics)),
        ("published models", lambda: _section_published(rep, spec)),
        ("web calculator", lambda: _section_served(rep, out)),
    ]
    model_steps = {"features", "odds ratios", "nomograms", "discrimination", "classification", "calibration",
                   "decision curves", "readers"}
    for name, fn in steps:
        if not fitted.models and name in model_steps:  # e.g. a survival-only study: no response model
            continue
        try:
            fn()
        except HccradError as exc:  # a statistic undefined on these data: say so in the report
            log.warning("report section %s incomplete: %s", name, exc)
            sec = rep.sections[-1] if rep.sections else rep.section(name)
            rep.add_text(sec, f"Section '{name}' could not be completed: {exc}", "Not computed")
    appendix = results.appendix
    if spec.report.paper is None:
        return rep.write(appendix)

    return rep.write(appendix, paper=paper_sections(rep, spec.report.paper),
                     paper_name=f"{spec.report.paper} ({PAPERS[paper_id(spec.report.paper)][0]})")


def rebuild_report(out: Path) -> Path:
    """`hccrad report OUT`: the report of a finished run rebuilt from its saved results (OUT/results) and its
    resolved spec (OUT/run.json); nothing is recomputed. Refused, saying what is missing, for a folder without
    them (a run by an older hccrad, or one that did not finish)."""
    out = Path(out).resolve()
    run_json = out / "run.json"
    rerun = f"rerun the study with this version of hccrad (hccrad run STUDY --out {out})"
    if not run_json.is_file():
        raise HccradError(f"{out} is not the folder of a finished run: run.json is missing", file=run_json,
                          hint=rerun)
    try:
        spec = StudySpec.model_validate(json.loads(run_json.read_text(encoding="utf-8"))["spec"])
    except (ValueError, KeyError, ValidationError) as exc:
        raise HccradError(f"the resolved spec in run.json cannot be read: {exc}", file=run_json, field="spec",
                          hint=rerun) from None
    results = load_results(out)
    return build_report(results, spec, out)
