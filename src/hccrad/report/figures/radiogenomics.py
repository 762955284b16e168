"""Radiogenomics figures (seed 004 Fig. 5): volcano plot, clustered DEG heatmap, GO dot plot, GSEA running
enrichment scores, ssGSEA box plots by score group.

Functions take a matplotlib Axes (or a Figure where several linked panels are drawn) and return it; they
never call ``plt.show``. They only draw result objects of :mod:`hccrad.radiogenomics`; the one computation
here is the display ordering of the heatmap (row z-scores and average-linkage clustering,
``scipy.cluster.hierarchy``), which changes no statistic.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from scipy.cluster import hierarchy

from hccrad.core.errors import DataError
from hccrad.radiogenomics.de import DEResult
from hccrad.radiogenomics.enrichment import GseaResult, OraResult
from hccrad.radiogenomics.immune import SsgseaResult
from hccrad.report.figures.survival import plot_km

GROUP_COLOURS = {"low": "#3B6FB6", "high": "#C8423B"}


def plot_volcano(ax: Axes, de: DEResult, *, n_labels: int = 10, title: str | None = None) -> Axes:
    """log2 fold change (high vs low) against -log10 adjusted p, DEGs coloured, thresholds dashed."""
    t = de.table.dropna(subset=["log2FoldChange", "padj"])
    y = -np.log10(t["padj"].clip(lower=np.finfo(float).tiny))
    colours = t["direction"].map({"up": GROUP_COLOURS["high"], "down": GROUP_COLOURS["low"], "ns": "0.7"})
    ax.scatter(t["log2FoldChange"], y, c=list(colours), s=8, linewidths=0, rasterized=True)
    ax.axhline(-np.log10(de.fdr), color="0.3", ls="--", lw=0.8)
    for x in (-de.lfc_threshold, de.lfc_threshold):
        ax.axvline(x, color="0.3", ls="--", lw=0.8)
    top = t.loc[t["deg"]].sort_values("padj").head(n_labels)
    x_span = max(float(np.ptp(t["log2FoldChange"])), 1e-9)
    y_span = max(float(np.ptp(y)), 1e-9)
    placed: list[tuple[float, float]] = []
    for gid, row in top.iterrows():  # most significant first; a label that would sit on another is left out
        px, py = float(row["log2FoldChange"]), float(-np.log10(max(row["padj"], 1e-300)))
        if any(abs(px - qx) < 0.15 * x_span and abs(py - qy) < 0.05 * y_span for qx, qy in placed):
            continue
        placed.append((px, py))
        ax.annotate(str(row["gene_name"]), (px, py), fontsize=7, xytext=(2, 2), textcoords="offset points")
    n_up, n_down = int((t["direction"] == "up").sum()), int((t["direction"] == "down").sum())
    ax.set_xlabel("log2 fold change (high vs low score)")
    ax.set_ylabel("-log10 adjusted p")
    ax.set_title(title or f"DESeq2: {n_up} up, {n_down} down (|log2FC| > {de.lfc_threshold:g}, FDR < {de.fdr:g})",
                 fontsize=9)
    return ax


def plot_deg_heatmap(fig: Figure, de: DEResult, *, max_genes: int = 100, show_gene_names: bool | None = None
                     ) -> Figure:
    """Row z-scored VST expression of the DEGs (top `max_genes` by padj), genes clustered (average linkage,
    Euclidean on z-scores), patients ordered low | high and clustered within each group."""
    degs = de.degs().head(max_genes)
    if degs.empty:
        raise DataError("no DEGs to draw", field="deg", hint="relax lfc_threshold/fdr or check the groups")
    x = de.vst.loc[degs.index]
    sd = x.std(axis=1, ddof=1).replace(0, np.nan)
    z = x.sub(x.mean(axis=1), axis=0).div(sd, axis=0).fillna(0.0)
    row_order = (hierarchy.leaves_list(hierarchy.linkage(z.to_numpy(), "average")) if len(z) > 2
                 else np.arange(len(z)))
    cols: list[str] = []
    for g in ("low", "high"):
        members = de.groups.index[de.groups == g]
        sub = z.loc[:, members]
        order = (hierarchy.leaves_list(hierarchy.linkage(sub.T.to_numpy(), "average")) if sub.shape[1] > 2
                 else np.arange(sub.shape[1]))
        cols += list(sub.columns[order])
    z = z.iloc[row_order].loc[:, cols]
    gs = fig.add_gridspec(2, 2, height_ratios=[1, 20], width_ratios=[30, 1], hspace=0.02, wspace=0.03)
    ax_bar, ax_map, ax_cb = fig.add_subplot(gs[0, 0]), fig.add_subplot(gs[1, 0]), fig.add_subplot(gs[1, 1])
    codes = np.array([[0 if de.groups[c] == "low" else 1 for c in cols]])
    ax_bar.imshow(codes, aspect="auto", cmap=ListedColormap([GROUP_COLOURS["low"], GROUP_COLOURS["high"]]),
                  vmin=0, vmax=1, interpolation="nearest")
    ax_bar.set_xticks([])
    ax_bar.set_yticks([])
    lim = float(np.nanmax(np.abs(z.to_numpy()))) or 1.0
    im = ax_map.imshow(z.to_numpy(), aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
    show = len(z) <= 60 if show_gene_names is None else show_gene_names
    ax_map.set_yticks(np.arange(len(z)) if show else [])
    if show:
        ax_map.set_yticklabels(de.table.loc[z.index, "gene_name"], fontsize=6)
    ax_map.set_xticks([])
    ax_map.set_xlabel(f"{len(cols)} patients (low | high radiomics score)")
    fig.colorbar(im, cax=ax_cb, label="z-score (VST)")
    ax_bar.legend(handles=[Patch(color=v, label=k) for k, v in GROUP_COLOURS.items()], loc="lower right",
                  bbox_to_anchor=(1.0, 1.0), ncol=2, fontsize=7, frameon=False)
    ax_bar.set_title(f"{len(z)} DEGs", fontsize=9, loc="left")
    return fig


def plot_ora_dots(ax: Axes, ora: OraResult, *, n_terms: int = 15, title: str | None = None) -> Axes:
    """clusterProfiler-style dot plot: GeneRatio on x, the top terms by padj, dot size = count, colour = padj."""
    t = ora.table.head(n_terms)
    if t.empty:
        ax.text(0.5, 0.5, "no term tested", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return ax
    t = t.iloc[::-1]
    ratio = t["count"] / t["n_query"]
    sc = ax.scatter(ratio, np.arange(len(t)), s=20 + 8 * t["count"], c=-np.log10(t["padj"]), cmap="viridis")
    ax.set_yticks(np.arange(len(t)))
    ax.set_yticklabels([_short(s) for s in t["term"]], fontsize=7)
    ax.set_xlabel("GeneRatio")
    ax.figure.colorbar(sc, ax=ax, label="-log10 adjusted p")
    ax.set_title(title or f"ORA ({ora.collection}): {ora.label}", fontsize=9)
    return ax


def _short(text: str, n: int = 55) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def plot_gsea_curves(ax: Axes, gsea: GseaResult, terms: Sequence[str] | None = None, *, n_terms: int = 6) -> Axes:
    """Running enrichment scores of several terms along the ranked list (as seed 004 Fig. 5C), hit ticks below."""
    terms = list(terms) if terms is not None else list(gsea.curves)[:n_terms]
    missing = [t for t in terms if t not in gsea.curves]
    if missing:
        raise DataError(f"no running-sum curve stored for {missing}", field="terms",
                        hint="curves are kept for the top terms only (gsea_prerank n_curves)")
    if not terms:
        ax.text(0.5, 0.5, "no term tested", ha="center", va="center", transform=ax.transAxes)
        return ax
    lo = min(float(np.min(gsea.curves[t][0])) for t in terms)
    span = max(float(np.max(gsea.curves[t][0])) for t in terms) - lo or 1.0
    for i, term in enumerate(terms):
        res, hits = gsea.curves[term]
        line, = ax.plot(np.arange(res.size), res, lw=1.2, label=_short(term, 45))
        y0 = lo - span * (0.08 + 0.06 * i)
        ax.vlines(hits, y0, y0 + span * 0.045, color=line.get_color(), lw=0.5)
    ax.axhline(0, color="0.4", lw=0.6)
    ax.set_xlim(0, gsea.ranking.size)
    ax.set_xlabel("rank in the ordered gene list (high score up → down)")
    ax.set_ylabel("running enrichment score")
    ax.legend(fontsize=6, loc="upper right", frameon=False)
    ax.set_title(f"GSEA ({gsea.collection})", fontsize=9)
    return ax


def plot_signature_boxes(ax: Axes, ss: SsgseaResult, groups: pd.Series, *, signatures: Sequence[str] | None = None,
                         alpha: float = 0.05) -> Axes:
    """Box plots of ssGSEA scores by group for each signature, BH-adjusted Mann–Whitney p marked (*, **, ***)."""
    names = list(signatures) if signatures is not None else list(ss.scores.index)
    g = groups.reindex(ss.scores.columns)
    pos_low = np.arange(len(names)) * 3.0
    for label, offset in (("low", 0.0), ("high", 1.0)):
        data = [ss.scores.loc[n, g.index[g == label]].to_numpy(float) for n in names]
        bp = ax.boxplot(data, positions=pos_low + offset, widths=0.8, patch_artist=True, showfliers=False)
        for box in bp["boxes"]:
            box.set_facecolor(GROUP_COLOURS[label])
            box.set_alpha(0.7)
    if ss.comparison is not None:
        padj = ss.comparison.set_index("signature")["padj"]
        top = float(np.nanmax(ss.scores.loc[names].to_numpy()))
        for x, n in zip(pos_low, names):
            p = float(padj.get(n, np.nan))
            stars = "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < alpha else "ns"
            ax.text(x + 0.5, top, stars, ha="center", va="bottom", fontsize=7)
    ax.set_xticks(pos_low + 0.5)
    ax.set_xticklabels([_short(n, 30) for n in names], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("ssGSEA score (normalised)")
    ax.legend(handles=[Patch(color=v, alpha=0.7, label=k) for k, v in GROUP_COLOURS.items()], fontsize=7,
              frameon=False)
    ax.set_title(f"{ss.collection}: low vs high score (Mann–Whitney, BH)", fontsize=9)
    return ax


def radiogenomics_figures(result) -> list[tuple[str, Figure]]:
    """(title, Figure) pairs for a `hccrad.radiogenomics.RadiogenomicsResult`: volcano, heatmap, ORA dot plots,
    GSEA curves, ssGSEA boxes, KM by group (the stage computes; this only draws)."""
    figs: list[tuple[str, Figure]] = []
    fig = Figure(figsize=(6, 5))
    plot_volcano(fig.add_subplot(), result.de)
    figs.append(("Differentially expressed genes (volcano)", fig))
    if result.de.table["deg"].sum() >= 2:
        fig = Figure(figsize=(7, 7))
        plot_deg_heatmap(fig, result.de, max_genes=result.config.heatmap_max_genes)
        figs.append(("Heatmap of DEGs (z-scored VST)", fig))
    for key, o in result.ora.items():
        if len(o.table):
            fig = Figure(figsize=(7, 5))
            plot_ora_dots(fig.add_subplot(), o)
            figs.append((f"Over-representation: {key}", fig))
    for key, g in result.gsea.items():
        if g.curves:
            fig = Figure(figsize=(7, 5))
            plot_gsea_curves(fig.add_subplot(), g)
            figs.append((f"GSEA: {key}", fig))
    for key, s in result.ssgsea.items():
        fig = Figure(figsize=(max(5.0, 0.5 * len(s.scores)), 5))
        plot_signature_boxes(fig.add_subplot(), s, result.samples["group"])
        figs.append((f"ssGSEA: {key}", fig))
    if result.km is not None:
        fig = Figure(figsize=(6, 5))
        plot_km(fig.add_subplot(), result.km, p_value=result.logrank.p_value if result.logrank else None,
                title="Overall survival by radiomics-score group")
        figs.append(("Kaplan–Meier: OS by group", fig))
    return figs
