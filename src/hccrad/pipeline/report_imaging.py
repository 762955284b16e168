"""Report sections of the imaging side: tumour habitats (maps, k, descriptors, MSI) and feature stability
and selection (ICC, LASSO, importance, VIF, correlation heatmaps). Arranged from library functions; every
item carries a key the paper layouts (`hccrad.report.paper`) pick it by."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from hccrad.config.spec import StudySpec  # noqa: E402
from hccrad.core.errors import HccradError  # noqa: E402
from hccrad.pipeline.imaging import ImagingResult  # noqa: E402
from hccrad.pipeline.results import ModelsRecord  # noqa: E402
from hccrad.report.document import Report, Section  # noqa: E402
from hccrad.report.figures.descriptive import plot_clustered_heatmap, plot_correlation_heatmap  # noqa: E402
from hccrad.report.figures.habitat import (  # noqa: E402
    LIVER_WINDOW_HU,
    habitat_colour_legend,
    plot_example_maps,
    plot_habitat_3d,
    plot_habitat_descriptors,
    plot_habitat_overlay,
    plot_k_selection,
    plot_msi_matrix,
    plot_voxel_scatter,
    tumour_zoom,
)
from hccrad.report.figures.habitat_stability import plot_k_frequency, plot_stability_ari  # noqa: E402
from hccrad.report.figures.lasso import plot_lasso_cv, plot_lasso_path  # noqa: E402
from hccrad.report.figures.models_compare import plot_feature_bubbles  # noqa: E402
from hccrad.report.figures.panels import panel_row  # noqa: E402

__all__ = ["section_features", "section_habitats"]


def _importance_and_vif(rep: Report, s: Section, fitted: ModelsRecord) -> None:
    """Feature importance bubbles (seed 000 fig. 5a, seed 001 fig. 3A/E) and VIF of each logistic model's
    terms (seed 001: "mean VIF 2.445, max 4.930"), computed in the modelling stage (`pipeline.results`)."""
    for name, m in fitted.models.items():
        if m.summary_error:
            raise HccradError(m.summary_error)
        table, vif = m.importance, m.vif
        if table is None:
            continue
        fig, ax = plt.subplots(figsize=(6.5, 1.2 + 0.35 * len(table)))
        plot_feature_bubbles(ax, table, x="importance", color="-log10 p", title=f"Model '{name}'")
        rep.add_figure(s, fig, f"Model '{name}': feature importance", "Importance = |coefficient| × SD of the "
                       "term in the training cohort; colour: −log10 p of the coefficient.", key="feature_bubbles")
        if vif is not None:
            rep.add_table(s, vif, f"Model '{name}': variance inflation factors (mean {vif['VIF'].mean():.2f}, "
                                  f"max {vif['VIF'].max():.2f})", index=False, key="vif")


def section_habitats(rep: Report, imaging: ImagingResult | None, feature_summary: pd.DataFrame | None) -> None:
    """Seed 000 fig. 2–4, seed 001 fig. 2: habitat maps, k selection, descriptors, MSI; `feature_summary`:
    the habitat (MSI) features on the training cohort (`pipeline.results.habitat_feature_summary`)."""
    if imaging is None:  # clinical-only study
        return
    k = imaging.n_habitats
    s = rep.section("Tumour habitats",
                    f"{k} habitats from the training cohort's tumour voxels; habitat 1 has the lowest and "
                    f"habitat {k} the highest value of the ordering descriptor in every patient.")
    _liver_masks_note(rep, s, imaging)
    if len(imaging.warnings):
        rep.add_table(s, imaging.warnings, "Input warnings (cases analysed, but check them)", index=False,
                      key="input_warnings")
    _registration_qc(rep, s, imaging)
    _preprocess_qc(rep, s, imaging)
    _cache_and_ring_notes(rep, s, imaging)
    _example_maps(rep, s, imaging)
    _k_selection(rep, s, imaging)
    _habitat_robustness(rep, s, imaging)
    rep.add_table(s, imaging.habitat_summary, "Habitat descriptors (training cohort)", index=False,
                  key="habitat_summary")
    _descriptor_figures(rep, s, imaging)
    if feature_summary is not None:
        rep.add_table(s, feature_summary, f"The {len(feature_summary)} habitat (MSI) features, training cohort",
                      key="msi_features")
    _habitat_overlays(rep, s, imaging)


def _liver_masks_note(rep: Report, s: Section, imaging: ImagingResult) -> None:
    if imaging.liver_record and imaging.liver_record.get("model") == "nnunet":
        r = imaging.liver_record
        rep.add_text(s, f"Liver masks of {len(r['predicted_cases'])} case(s) were predicted by the user's nnU-Net v2 "
                        f"model {r.get('folder')} (folds {r.get('folds')}, {r.get('configuration')}); it was trained "
                        "elsewhere, so hccrad reports no Dice for it; written to liver_masks/.", "Liver segmentation",
                     key="liver_segmentation")
    elif imaging.liver_record:
        r = imaging.liver_record
        dice_text = (f"mean Dice {r['mean_dice']:.3f} on {len(r['held_out'])} held-out labelled case(s)"
                     if r.get("held_out") else "no labelled case could be held out for a Dice check")
        rep.add_text(s, f"Liver masks of {len(r['predicted_cases'])} case(s) were predicted by a 3-D U-Net trained "
                        f"on the labelled cases ({dice_text}); written to liver_masks/.", "Liver segmentation", key="liver_segmentation")


def _cache_and_ring_notes(rep: Report, s: Section, imaging: ImagingResult) -> None:
    rep.add_text(s, f"{imaging.cache_hits} case(s) came from the cache of an earlier run (same inputs, settings "
                    f"and hccrad version); {imaging.cache_computed} were computed in this run.", "Cache",
                 key="cache_cases")
    if imaging.ring_cases:
        rep.add_text(s, f"{len(imaging.ring_cases)} case(s) have no liver mask, so MSI label 0 there is a dilation "
                        "ring around the tumour instead of liver parenchyma; this changes the border features "
                        f"(b01, 2border0, msi_border_*_0). Cases: {', '.join(imaging.ring_cases[:20])}"
                        + (" …" if len(imaging.ring_cases) > 20 else ""), "Warning", key="ring_warning")


def _example_maps(rep: Report, s: Section, imaging: ImagingResult) -> None:
    if imaging.example_slices is not None:
        ex = imaging.example_slices
        n = len(ex["phases"]) + len(ex["descriptors"])
        fig = plt.figure(figsize=(2.9 * n, 3.2), layout="constrained")  # colour bars clear of the next map
        hu = imaging.intensity_unit == "HU"
        plot_example_maps(fig, ex, units=imaging.descriptor_units, phase_window=LIVER_WINDOW_HU if hu else None,
                          intensity_unit=imaging.intensity_unit)
        grey = (f"phases in the liver window {LIVER_WINDOW_HU[0]:g} to {LIVER_WINDOW_HU[1]:g} HU" if hu else
                f"phases from each slice's 1st to 99th percentile ({imaging.intensity_unit})")
        rep.add_figure(s, fig, f"Phases and descriptor maps of {ex['case_id']}",
                       f"Zoomed to the tumour (8 voxels around it); {grey}; descriptor maps are shown inside the "
                       "tumour only (the region habitats are built from), colour bars in their units.",
                       key="example_maps")


def _k_selection(rep: Report, s: Section, imaging: ImagingResult) -> None:
    if imaging.k_selection is not None:
        fig = plt.figure(figsize=(10, 4))
        plot_k_selection(fig, imaging.k_selection)
        rep.add_figure(s, fig, "Choice of the number of habitats (elbow rule and silhouette)",
                       f"Rule: {imaging.k_selection.method}; chosen k = {imaging.k_selection.k}.",
                       key="k_selection")
        rep.add_table(s, imaging.k_selection.summary(), "Cluster-quality indices by k", index=False,
                      key="k_indices")


def _descriptor_figures(rep: Report, s: Section, imaging: ImagingResult) -> None:
    """Descriptors per habitat, training voxels by habitat, the 3-D habitat map and the MSI matrix."""
    names = imaging.descriptor_names
    if imaging.voxel_sample is not None and len(names) >= 2:
        fig, axes = panel_row(2, 5.5, 4.3)
        plot_habitat_descriptors(axes[0], imaging.habitat_summary, names, units=imaging.descriptor_units)
        plot_voxel_scatter(axes[1], *imaging.voxel_sample, names, imaging.n_habitats, units=imaging.descriptor_units)
        rep.add_figure(s, fig, "Descriptors per habitat and training voxels by habitat",
                       "Left: mean ± SD of each descriptor per habitat; right: up to 5,000 training voxels.",
                       key="habitat_descriptors")
    if imaging.example_map is not None:
        fig = plt.figure(figsize=(6, 5))
        ax3d = fig.add_subplot(projection="3d")
        plot_habitat_3d(ax3d, imaging.example_map[1], imaging.n_habitats, imaging.example_map[2])
        rep.add_figure(s, fig, f"3-D view of the habitat map of {imaging.example_map[0]}", key="habitat_3d")
    if imaging.example_msi is not None:
        cid, matrix = imaging.example_msi
        fig, ax = plt.subplots(figsize=(5.2, 4.4))
        plot_msi_matrix(ax, matrix, title=f"MSI matrix of {cid}")
        rep.add_figure(s, fig, f"Multiregional spatial interaction (MSI) matrix of {cid}",
                       "Counts of neighbouring voxel pairs by habitat (0 = outside the tumour) from which the MSI "
                       "features are computed.", key="msi_matrix")


def _habitat_overlays(rep: Report, s: Section, imaging: ImagingResult) -> None:
    k = imaging.n_habitats
    if imaging.overlays:
        fig, axes = panel_row(len(imaging.overlays), 4.0, 4.0, layout="constrained")
        window = LIVER_WINDOW_HU if imaging.intensity_unit == "HU" else None
        for ax, ov in zip(axes, imaging.overlays):
            plot_habitat_overlay(ax, *tumour_zoom(ov["image"], ov["labels"]), k, window=window,
                                 unit=imaging.intensity_unit)
            ax.set_title(f"{ov['case_id']} ({ov['cohort']})")
        shown = (f"liver window {window[0]:g} to {window[1]:g} HU" if window else
                 "grey levels from the slice's 1st to 99th percentile")
        rep.add_figure(s, fig, "Habitat maps on the reference phase",
                       f"Largest tumour slice of the first cases, zoomed to the tumour (10 voxels around it; "
                       f"{shown}); {habitat_colour_legend(k)} (k = {k}).", key="habitat_overlays")


def _preprocess_qc(rep: Report, s: Section, imaging: ImagingResult) -> None:
    """The per-case resampling and intensity QC (preprocess.spacing_mm, hu_window, n4, normalise;
    `hccrad.preprocess.steps`): spacing and tumour volume before/after, share of tumour voxels clipped, the
    range of the N4 bias field and the z-score's mean and SD in the intensity region, per phase."""
    qc = imaging.preprocess_qc
    if not len(qc):
        return
    shown = qc.dropna(axis=1, how="all")
    shown = shown.loc[:, [c for c in shown.columns if c in ("case_id", "phase") or (shown[c].astype(str) != "").any()]]
    flagged = qc.loc[qc["warning"].astype(str) != "", "case_id"].nunique()
    rep.add_table(s, shown, f"Preprocessing QC after registration ({qc['steps'].iloc[0]}): spacing (x × y × z mm) "
                            "and tumour volume (mL) before/after resampling, % of tumour voxels clipped by the HU "
                            "window, range of the N4 bias field and the mean/SD the z-score used, per phase"
                            + (f"; {flagged} case(s) warn (tumour volume changed by more than 10 %)" if flagged
                               else ""), index=False, key="preprocess_qc")


def _habitat_robustness(rep: Report, s: Section, imaging: ImagingResult) -> None:
    """Habitat stability over bootstrap resamples of the training patients and the main habitat model's
    corrected AUC at k−1, k, k+1 (habitat.stability_resamples, habitat.k_sensitivity; issue 23)."""
    rob = imaging.robustness
    if rob is None:
        return
    st = rob.stability
    if st is not None:
        fig, axes = panel_row(2, 5.0, 3.8)
        plot_stability_ari(axes[0], st.ari)
        plot_k_frequency(axes[1], st.k_frequency(), st.k_full)
        rep.add_figure(s, fig, f"Habitat stability over {st.n_resamples} bootstrap resamples of the training patients",
                       "Left: adjusted Rand index (unitless; 1 = same partition, ≈ 0 = chance) of each refit's "
                       f"habitats against the full fit's on {st.n_voxels_ari:,} training voxels; right: the k "
                       "chosen by the study's k rule in each resample (red: the full fit's k).",
                       key="habitat_stability")
        rep.add_table(s, st.k_frequency(), "Habitat stability: k chosen across resamples", index=False,
                      key="habitat_stability_k")
        rep.add_table(s, st.centre_table(rob.units),
                      "Habitat stability: centre agreement (resample centres matched to the full fit's by the "
                      "Hungarian algorithm)",
                      "|Δ| = absolute difference between the full fit's habitat centre and the matched resample "
                      "centre, in the descriptor's unit; matched_share: resamples with a centre matched to the "
                      "habitat (fewer when a resample chose a smaller k).", index=False,
                      key="habitat_stability_centres")
    if rob.sensitivity is not None:
        rep.add_table(s, rob.sensitivity, "Sensitivity of the main habitat model to the number of habitats",
                      f"The habitat model refitted with k−1 and k+1 habitats on the training cases and the model "
                      f"rebuilt through the same MSI features, selection and classifier; AUC on the training "
                      f"cohort, apparent and optimism-corrected ({int(rob.sensitivity['n_boot'].iloc[0])} "
                      "bootstrap resamples, 95% percentile interval; AUC unitless). Row is_study_k: the study's k.",
                      index=False, key="habitat_k_sensitivity")
    for note in rob.notes:
        rep.add_text(s, note, "Habitat robustness", key="habitat_robustness_note")


def _registration_qc(rep: Report, s: Section, imaging: ImagingResult) -> None:
    """The per-case registration QC (preprocess.registration): NCC with the reference phase inside the tumour
    box grown by 10 mm before/after, the transform's translation (mm) and rotation (degrees), and the phases
    whose QC warns (`hccrad.preprocess.alignment`)."""
    qc = imaging.registration_qc
    if not len(qc):
        return
    flagged = qc[qc["warning"].astype(str) != ""]
    if len(flagged):
        rep.add_table(s, flagged[["case_id", "phase", "ncc_before", "ncc_after", "translation_mm", "rotation_deg",
                                  "warning"]],
                      f"Registration warnings: {len(flagged)} phase(s) of {flagged['case_id'].nunique()} case(s) "
                      "to check (NCC after below the threshold or fallen, or a large translation)", index=False,
                      key="registration_warnings")
    shown = qc.drop(columns=["reference"])
    rep.add_table(s, shown, f"Registration QC: each phase registered to the reference phase "
                            f"({qc['reference'].iloc[0]}; {qc['transform'].iloc[0]}); median NCC in the tumour box "
                            f"{qc['ncc_before'].median():.2f} before, {qc['ncc_after'].median():.2f} after; "
                            "translation in mm (physical x, y, z), rotation in degrees", index=False,
                  key="registration_qc")


def section_features(rep: Report, spec: StudySpec, data: pd.DataFrame, fitted: ModelsRecord,
                      stability: pd.DataFrame | None) -> None:
    s = rep.section("Feature stability and selection",
                    "Selection steps run inside a scikit-learn pipeline fitted on the training cohort "
                    "(and refitted in every bootstrap resample).")
    if stability is not None:
        thr = spec.features.icc_min
        rep.add_table(s, stability, f"Inter-reader stability (training cohort; kept when ICC ≥ {thr})",
                      index=False, key="icc")
    for note in fitted.notes:
        rep.add_text(s, note, "Note", key="selection_note")
    for name, m in fitted.models.items():
        if m.coefficients is not None:
            rep.add_table(s, m.coefficients, f"Model '{name}': coefficients and odds ratios",
                          key="coefficients")
        if m.formula:
            rep.add_text(s, m.formula, f"Model '{name}': fitted formula", key="formula")
        if m.optimism is not None and len(m.optimism.selection_frequency):
            freq = m.optimism.selection_frequency.sort_values(ascending=False).head(15)
            rep.add_table(s, freq.rename("selected in resamples (fraction)").to_frame(),
                          f"Model '{name}': selection frequency over {m.optimism.n_boot} bootstrap resamples",
                          key="selection_frequency")
    if fitted.lasso is not None and getattr(fitted.lasso, "coef_path_", None) is not None:
        fig, axes = panel_row(2, 5.5, 4.2)
        plot_lasso_cv(axes[0], fitted.lasso, title="LASSO cross-validation")
        plot_lasso_path(axes[1], fitted.lasso, title="LASSO coefficient path")
        rep.add_figure(s, fig, "LASSO: cross-validation curve and coefficient path (training cohort)",
                       key="lasso")
    _importance_and_vif(rep, s, fitted)
    imaging_sel = [f for m in fitted.models.values() if m.spec.features != "none" for f in m.selected
                   if f in data.columns]
    imaging_sel = list(dict.fromkeys(imaging_sel))
    train = data[data["cohort"] == spec.cohorts.training]
    if len(imaging_sel) >= 2:
        fig, ax = plt.subplots(figsize=(1.2 + 0.6 * len(imaging_sel), 0.9 + 0.5 * len(imaging_sel)))
        plot_correlation_heatmap(ax, train[imaging_sel], method="spearman")
        rep.add_figure(s, fig, "Spearman correlation of the selected imaging features (training cohort)",
                       key="feature_correlation")
    if imaging_sel:
        fig, ax = plt.subplots(figsize=(2.5 + 0.45 * len(imaging_sel), 5.5))
        y_train = fitted.y.loc[train.index].dropna()  # the cases analysed for the response
        plot_clustered_heatmap(ax, train.loc[y_train.index, imaging_sel], row_colors=y_train.to_numpy(dtype=int))
        rep.add_figure(s, fig, "Hierarchical clustering of the selected imaging features (training cohort)",
                       "z-scored features; left strip: observed outcome (dark = positive).",
                       key="clustered_heatmap")


