"""Paper layouts: each seed paper's tables and figures, in the paper's order, as report sections.

A study spec with ``report.paper: wu2025_cect_habitat`` (or another layout named in
``hccrad.config.spec.PAPER_ALIASES``; the paper ids ``seed000`` … ``seed004`` are aliases, and ``PAPERS`` is
keyed by them) gets an index.html whose sections are exactly
that paper's items (table below), each filled with the report items that show it; the stage-by-stage
report is kept beside it as stages.html. Report items carry a `key` (e.g. ``"roc"``); an item of the
layout lists the keys (shell-style patterns, e.g. ``"cnn_gradcam*"``) it is made of.

`paper_items_markdown()` renders every layout as the table of docs/paper_items.md (a test keeps the two
equal), so the documentation and the reports cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from hccrad.report.layout_names import PAPER_ALIASES
from hccrad.report.document import Item, Report, Section

__all__ = ["PAPERS", "PaperItem", "paper_id", "paper_items_markdown", "paper_sections"]


@dataclass(frozen=True)
class PaperItem:
    """One table or figure of a paper: id ("000-F2c"), its title, the hccrad function that makes it, the
    report-item keys it is made of, and what differs from the paper (empty when nothing does)."""

    id: str
    title: str
    function: str
    keys: tuple[str, ...]
    note: str = ""


def _i(id_: str, title: str, function: str, keys: str, note: str = "") -> PaperItem:
    return PaperItem(id_, title, function, tuple(keys.split()), note)


_F = "hccrad.report.figures."
_TABLE1 = "hccrad.evaluate.descriptive.table_one"
_FLOW = _F + "flow.plot_patient_flow"

#: paper -> (citation, items in the paper's order)
PAPERS: dict[str, tuple[str, tuple[PaperItem, ...]]] = {
    "seed000": ("Wu et al. 2025 — CECT habitat radiomics for HAIC-FOLFOX response", (
        _i("000-F1", "Fig. 1 Study design and patient flow", _FLOW, "cohort_counts patient_flow excluded"),
        _i("000-F2ab", "Fig. 2a–b AE and VE parametric maps", _F + "habitat.plot_example_maps", "example_maps"),
        _i("000-F2c", "Fig. 2c Elbow rule for the number of habitats", _F + "habitat.plot_k_selection",
           "k_selection k_indices"),
        _i("000-F2df", "Fig. 2d–f AE and VE per habitat, voxels coloured by habitat",
           _F + "habitat.plot_voxel_scatter", "habitat_summary habitat_descriptors"),
        _i("000-F3", "Fig. 3 MSI matrix and the habitat features", "hccrad.features.msi.msi_features",
           "msi_matrix msi_features"),
        _i("000-T1", "Table 1 Baseline characteristics", _TABLE1, "table1_cohort table1_outcome"),
        _i("000-F4", "Fig. 4 Representative habitat maps", _F + "habitat.plot_habitat_overlay",
           "habitat_overlays habitat_3d"),
        _i("000-F5a", "Fig. 5a Feature-importance bubble chart", _F + "models_compare.plot_feature_bubbles",
           "feature_bubbles icc", "importance = |coefficient| × SD of the feature in the training cohort"),
        _i("000-F5bc", "Fig. 5b–c LASSO cross-validation and coefficient path", _F + "lasso.plot_lasso_path",
           "lasso selection_frequency"),
        _i("000-F5d", "Fig. 5d Selected features and the habitat score formula", "hccrad.models.logistic.LogisticModel",
           "coefficients formula"),
        _i("000-F5e", "Fig. 5e Hierarchically clustered heatmap of the selected features",
           _F + "descriptive.plot_clustered_heatmap", "clustered_heatmap"),
        _i("000-T2", "Table 2 Univariable and multivariable logistic regression of clinical variables",
           "hccrad.evaluate.descriptive.odds_ratio_table", "odds_ratios or_forest"),
        _i("000-F6a", "Fig. 6a ROC curves and DeLong tests", "hccrad.evaluate.discrimination.delong_test",
           "roc auc_table delong"),
        _i("000-F6b", "Fig. 6b Calibration curves", "hccrad.evaluate.calibration.calibration",
           "calibration calibration_stats"),
        _i("000-F6c", "Fig. 6c Decision curves", "hccrad.evaluate.decision.decision_curve", "decision"),
        _i("000-F6d", "Fig. 6d Radar chart of the metrics", _F + "models_compare.plot_radar", "radar"),
        _i("000-F7", "Fig. 7 Confusion matrix and score distributions by response",
           _F + "classification.plot_confusion_matrix",
           "confusion classification score_distribution waterfall"),
        _i("000-BS", "Bootstrap (1,000×) optimism-corrected C-index, honest and as published",
           "hccrad.models.validation.optimism_bootstrap", "bootstrap bootstrap_warning"),
        _i("000-SF3", "sFig. 3 Habitat features vs CD34, CD31, Ki-67 and differentiation",
           "hccrad.evaluate.associations.feature_associations", "associations association_plots"),
    )),
    "seed001": ("MRI clinical–radiomics–habitat model for early HAIC response", (
        _i("001-F1", "Fig. 1 Patient enrolment and workflow", _FLOW, "cohort_counts patient_flow excluded"),
        _i("001-T1", "Table 1 Patients' characteristics", _TABLE1, "table1_cohort"),
        _i("001-T2", "Table 2 Baseline characteristics of the response groups", _TABLE1, "table1_outcome"),
        _i("001-F2AD", "Fig. 2A–D The tumour on each MRI phase", _F + "habitat.plot_example_maps", "example_maps"),
        _i("001-F2E", "Fig. 2E 3-D view of the habitat subregions", _F + "habitat.plot_habitat_3d",
           "habitat_3d habitat_overlays"),
        _i("001-F2F", "Fig. 2F Elbow rule for the number of clusters", _F + "habitat.plot_k_selection",
           "k_selection k_indices habitat_summary"),
        _i("001-STAB", "Feature stability: CV < 15 % and ICC ≥ 0.8", "hccrad.features.stability.stability_table",
           "icc"),
        _i("001-F3", "Fig. 3 Feature selection: importance bubbles, LASSO path and CV curve, correlations",
           "hccrad.selection.RFESelector", "feature_bubbles lasso feature_correlation selection_frequency"),
        _i("001-T3", "Table 3 Univariable and multivariable logistic regression of the risk factors",
           "hccrad.evaluate.descriptive.odds_ratio_table", "odds_ratios or_forest"),
        _i("001-F4", "Fig. 4 Correlation heatmaps and VIF of the combined models' features",
           "hccrad.selection.VIFPruner", "vif clustered_heatmap coefficients formula"),
        _i("001-F5", "Fig. 5 ROC, calibration, decision curves and AUC bar chart of the three models",
           "hccrad.models.factory.ScoreFusion",
           "roc auc_table delong calibration decision auc_bars"),
        _i("001-BS", "Bootstrap SD of the AUC", "hccrad.models.validation.optimism_bootstrap", "bootstrap bootstrap_warning"),
        _i("001-F6", "Fig. 6 Confusion matrix, risk score by response and Sankey diagram",
           _F + "classification.plot_alluvial", "confusion score_distribution alluvial classification"),
    )),
    "seed002": ("Multitask deep learning (MTM subtype + survival) for HAIC overall survival", (
        _i("002-F1", "Fig. 1 Patient recruitment and model construction", _FLOW, "cohort_counts patient_flow excluded"),
        _i("002-T1", "Table 1 Patient characteristics according to the MTM subtype", _TABLE1,
           "table1_group table1_cohort", "also by cohort"),
        _i("002-T2", "Table 2 Univariable and multivariable Cox regression for OS", "hccrad.survival.cox.cox_regression",
           "cox_table cox_forest"),
        _i("002-F2", "Fig. 2 OS nomogram and calibration at the horizons", "hccrad.survival.nomogram.nomogram_points",
           "cox_nomogram survival_calibration"),
        _i("002-F3", "Fig. 3 Time-dependent AUC and C-index of the models and the staging systems",
           "hccrad.survival.compare.compare_prognostic_scores", "c_index time_auc staging_comparison survival_notes"),
        _i("002-F4", "Fig. 4 Learned feature maps by predicted survival class and MTM subtype",
           "hccrad.deep.activation.activation_panels", "cnn_activation_panels cnn_activation_by_group"),
        _i("002-F5", "Fig. 5 Kaplan–Meier curves of the risk groups per cohort", "hccrad.survival.kaplan_meier.kaplan_meier",
           "risk_direction km_cutpoint km km_median logrank"),
        _i("002-DL", "Deep-learning model: training, scores and Grad-CAM", "hccrad.pipeline.deep_stage.run_deep_stage",
           "cnn_auc cnn_loss_curves cnn_gradcam*"),
        _i("002-WEB", "Web nomogram", "hccrad.serve.app.create_app", "served_models",
           "served by `hccrad serve <results>/models`"),
    )),
    "seed003": ("CNN on multi-sequence MRI fused with clinical variables (SVM) for HAIC response", (
        _i("003-F1", "Fig. 1 Study outline", _FLOW, "cohort_counts patient_flow excluded"),
        _i("003-T1", "Table 1 Clinical characteristics", _TABLE1, "table1_cohort table1_outcome"),
        _i("003-T2", "Table 2 Univariable and multivariable logistic regression for response",
           "hccrad.evaluate.descriptive.odds_ratio_table", "odds_ratios or_forest"),
        _i("003-F2", "Fig. 2 Cross-entropy loss of the CNN models", _F + "deep.plot_loss_curves",
           "cnn_loss_curves cnn_architecture_comparison cnn_architecture_selection"),
        _i("003-F3", "Fig. 3 Network architecture", "hccrad.deep.networks.build_network", "cnn_architecture"),
        _i("003-F4", "Fig. 4 ROC curves: cross-validation and internal validation",
           "hccrad.evaluate.discrimination.auc_ci", "roc auc_table cnn_auc delong"),
        _i("003-T3", "Table 3 Performance of the models and the radiologists (exact CIs)",
           "hccrad.evaluate.readers.reader_comparison", "classification readers readers_delong"),
        _i("003-F5", "Fig. 5 Grad-CAM heatmaps", "hccrad.deep.gradcam.grad_cam", "cnn_gradcam*"),
    )),
    "seed004": ("CT radiomics of the proliferative subtype for TACE outcomes and radiogenomics", (
        _i("004-F12", "Fig. 1–2 Study overview and cohort flowcharts", _FLOW, "cohort_counts patient_flow excluded"),
        _i("004-T1", "Table 1 Clinical and pathologic characteristics", _TABLE1, "table1_cohort table1_outcome"),
        _i("004-F3AB", "Fig. 3A–B LASSO feature selection", "hccrad.selection.LassoSelector",
           "lasso coefficients formula"),
        _i("004-F3CD", "Fig. 3C–D Radiomics scores of the training and validation sets",
           _F + "scores.plot_waterfall", "waterfall"),
        _i("004-F3E", "Fig. 3E Forest plot of the multivariable analysis", _F + "survival.forest_plot",
           "odds_ratios or_forest"),
        _i("004-F3F", "Fig. 3F Clinical-radiomics nomogram", "hccrad.survival.nomogram.nomogram_points", "nomogram"),
        _i("004-F3GH", "Fig. 3G–H ROC curves of the radiomics and clinical-radiomics models",
           "hccrad.evaluate.discrimination.auc_ci", "roc auc_table delong"),
        _i("004-T2", "Table 2 Performance with [n/N] at the training Youden cut-off",
           "hccrad.evaluate.classification.classification_metrics", "classification confusion"),
        _i("004-PUB", "Published clinical-radiomics formula (Y = −1.092 + 1.904·[AFP > 200] + 2.214·radscore)",
           "hccrad.models.published.load_published", "published_model"),
        _i("004-F4", "Fig. 4 Score by tumour response and PFS by the score cut-off",
           "hccrad.survival.cutpoint.maxstat_cutpoint", "score_by_response risk_direction km_cutpoint km km_median logrank"),
        _i("004-T3", "Table 3 Univariable and multivariable Cox regression for PFS", "hccrad.survival.cox.cox_regression",
           "cox_table cox_forest"),
        _i("004-F5", "Fig. 5 DEGs, GO, GSEA and immune infiltration by score group",
           "hccrad.radiogenomics.pipeline.run_radiogenomics", "radiogenomics*"),
    )),
}


def _matches(item: Item, keys: tuple[str, ...]) -> bool:
    return bool(item.key) and any(fnmatchcase(item.key, k) for k in keys)


def paper_id(paper: str) -> str:
    """The ``PAPERS`` key of a layout given by its spec name (``report.paper``) or by its paper id."""
    by_name = {name: pid for pid, name in PAPER_ALIASES.items()}
    return by_name.get(paper, paper)


def paper_sections(report: Report, paper: str) -> list[Section]:
    """Sections of `paper`'s layout (spec name or paper id), in its order, holding the report's items whose
    keys it names.

    An item may appear in several sections (e.g. the AUC table in Fig. 5 and Fig. 6 of one paper). A
    paper item that this run did not produce gets a text saying which stage makes it.
    """
    paper = paper_id(paper)
    if paper not in PAPERS:
        raise KeyError(f"unknown paper layout {paper!r}; known: {sorted(PAPER_ALIASES.values())} "
                       f"(or the paper ids {sorted(PAPERS)})")
    items = [it for s in report.sections for it in s.items]
    out = []
    for p in PAPERS[paper][1]:
        intro = f"{p.id}; made by {p.function}." + (f" {p.note}." if p.note else "")
        sec = Section(p.title, intro)
        order = {k: i for i, k in enumerate(p.keys)}
        chosen = [it for it in items if _matches(it, p.keys)]
        chosen.sort(key=lambda it: min(order.get(k, len(order)) for k in p.keys if fnmatchcase(it.key, k)))
        sec.items.extend(chosen)
        if not any(it.kind in ("figure", "table") for it in chosen):
            sec.items.append(Item("text", "Not produced in this run", body=(
                f"No table or figure with key(s) {', '.join(p.keys)} was made: the study spec does not "
                "enable the stage that makes it, or its data were missing (see the log and stages.html).")))
        out.append(sec)
    return out


def paper_items_markdown() -> str:
    """The table of docs/paper_items.md: paper item → hccrad function → report section (= the item)."""
    lines = ["| item | paper item | hccrad function | report keys | differs from the paper |",
             "|---|---|---|---|---|"]
    for _, (_, items) in PAPERS.items():
        for p in items:
            keys = ", ".join(f"`{k}`" for k in p.keys)
            lines.append(f"| {p.id} | {p.title} | `{p.function}` | {keys} | {p.note or '—'} |")
    return "\n".join(lines) + "\n"
