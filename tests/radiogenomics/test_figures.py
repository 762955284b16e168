"""Radiogenomics figures draw what the result objects hold (Agg backend, no files written)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from hccrad.core.errors import DataError  # noqa: E402
from hccrad.radiogenomics.de import DEResult  # noqa: E402
from hccrad.report.figures.radiogenomics import (plot_deg_heatmap, plot_gsea_curves, plot_ora_dots,  # noqa: E402
                                                 plot_signature_boxes, plot_volcano)


def test_volcano_plots_every_tested_gene(rg_result):
    ax = Figure().add_subplot()
    assert plot_volcano(ax, rg_result.de) is ax
    n = int(rg_result.de.table[["log2FoldChange", "padj"]].notna().all(axis=1).sum())
    assert ax.collections[0].get_offsets().shape[0] == n
    n_deg = int(rg_result.de.table["deg"].sum())
    assert 1 <= len(ax.texts) <= min(10, n_deg)  # the most significant DEGs, none drawn on another
    assert ax.texts[0].get_text() == rg_result.de.table.loc[rg_result.de.table["deg"]].sort_values("padj")[
        "gene_name"].iloc[0]
    from hccrad.report.lint import lint_figure

    assert not [f for f in lint_figure(ax.figure, "volcano") if "overlaps" in str(f)]


def test_heatmap_orders_patients_by_group(rg_result):
    fig = plot_deg_heatmap(Figure(figsize=(6, 6)), rg_result.de, max_genes=30)
    bar, heat = fig.axes[0], fig.axes[1]
    codes = bar.images[0].get_array()[0]
    assert list(codes) == sorted(codes)  # all 'low' (0) before 'high' (1)
    z = heat.images[0].get_array()
    assert z.shape == (30, rg_result.samples.shape[0])
    assert np.allclose(np.asarray(z).mean(axis=1), 0, atol=1e-9)  # row z-scores


def test_heatmap_without_degs_is_an_error(rg_result):
    de = rg_result.de
    empty = DEResult(de.table.assign(deg=False), de.vst, de.groups, de.design, de.contrast, de.lfc_threshold,
                     de.fdr, de.n_genes_in, de.n_genes_tested)
    with pytest.raises(DataError, match="no DEGs"):
        plot_deg_heatmap(Figure(), empty)


def test_dots_curves_and_boxes(rg_result):
    ora = rg_result.ora["GO_Biological_Process_2023: down in high"]
    ax = plot_ora_dots(Figure().add_subplot(), ora, n_terms=5)
    assert len(ax.get_yticklabels()) == min(5, len(ora.table))
    gsea = rg_result.gsea["GO_Biological_Process_2023"]
    ax = plot_gsea_curves(Figure().add_subplot(), gsea, n_terms=3)
    assert len(ax.lines) == 3 + 1  # three running sums and the zero line
    with pytest.raises(DataError, match="no running-sum curve"):
        plot_gsea_curves(Figure().add_subplot(), gsea, terms=["not a term"])
    ss = rg_result.ssgsea["signatures"]
    ax = plot_signature_boxes(Figure().add_subplot(), ss, rg_result.samples["group"])
    assert [t.get_text() for t in ax.texts].count("ns") == 1  # the control signature
