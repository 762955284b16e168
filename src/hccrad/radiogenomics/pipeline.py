"""`run_radiogenomics`: seed 004's radiogenomics analysis on the user's own expression data, offline.

Steps (seed 004, "Gene ontology (GO) analysis and gene set enrichment analysis (GSEA)"):
1. join raw counts to per-patient radiomics scores (TCGA barcodes at patient level);
2. split patients into low/high score at a fixed cut-off (the model's) or the maxstat cut-point;
3. DESeq2 (pydeseq2) high vs low, DEGs at |log2FC| > 2 and BH FDR < 0.05;
4. GO over-representation of the DEGs (all, up, down) against the tested genes, GSEA prerank on the Wald
   statistic (seeded), both on gene sets given as dicts (bundled GO BP by default; no network);
5. ssGSEA of user-supplied signatures (Charoentong 28 immune cell types, TLS) with Mann–Whitney + BH;
6. Spearman correlation of the score with every gene (BH);
7. Kaplan–Meier and log-rank of OS by group when a clinical table is given.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from hccrad.core.errors import InputError
from hccrad.radiogenomics.de import DEResult, differential_expression
from hccrad.radiogenomics.enrichment import (GseaResult, OraResult, collapse_to_symbols, gsea_prerank,
                                             over_representation)
from hccrad.radiogenomics.genesets import BUNDLED, GeneSets, bundled_gene_sets, read_gmt
from hccrad.radiogenomics.groups import GroupAssignment, define_groups
from hccrad.radiogenomics.immune import SsgseaResult, run_ssgsea, score_gene_correlation
from hccrad.radiogenomics.inputs import CountTable, match_samples, patient_id, read_counts
from hccrad.survival.kaplan_meier import KaplanMeierResult, kaplan_meier
from hccrad.survival.logrank import LogrankResult, logrank_test

logger = logging.getLogger(__name__)


class RadiogenomicsConfig(BaseModel):
    """Settings of the radiogenomics stage (defaults: seed 004; DESeq2, clusterProfiler, GSEA defaults)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score_column: str = "score"
    time_column: str = "os_time"
    event_column: str = "os_event"
    covariates: list[str] = Field(default_factory=list)
    sample_types: list[str] | None = Field(default_factory=lambda: ["01"])
    drop_unmatched: bool = False
    lfc_threshold: float = Field(2.0, ge=0)
    fdr: float = Field(0.05, gt=0, lt=1)
    min_total_count: int = Field(10, ge=0)
    independent_filter: bool = True
    cooks_filter: bool = True
    ora_min_size: int = Field(10, ge=1)
    ora_max_size: int = Field(500, ge=1)
    gsea_permutations: int = Field(1000, ge=1)
    gsea_min_size: int = Field(15, ge=1)
    gsea_max_size: int = Field(500, ge=1)
    ssgsea_min_size: int = Field(2, ge=1)
    minprop: float = Field(0.1, gt=0, lt=0.5)
    heatmap_max_genes: int = Field(100, ge=2)
    n_cpus: int | None = Field(None, ge=1)  # DESeq2 workers (None = all cores); gseapy threads (None = 1)


GeneSetSource = GeneSets | str | Path


def resolve_gene_sets(source: GeneSetSource) -> GeneSets:
    """A GeneSets from a GeneSets, a bundled library name or a local ``.gmt`` path (never a remote name)."""
    if isinstance(source, GeneSets):
        return source
    text = str(source)
    if text in BUNDLED:
        return bundled_gene_sets(text)
    if text.lower().endswith(".gmt"):
        return read_gmt(text)
    raise InputError(f"gene sets {text!r} are neither a bundled library nor a .gmt file", field="gene_sets",
                     hint=f"use one of {sorted(BUNDLED)} or a local .gmt path; remote libraries are never fetched")


@dataclass(frozen=True)
class RadiogenomicsResult:
    """Everything `run_radiogenomics` computed; `summary()`, `tables()` (for CSV) and `figures()`."""

    samples: pd.DataFrame  # index patient_id: sample_id, score, group
    grouping: GroupAssignment
    de: DEResult
    ora: dict[str, OraResult]
    gsea: dict[str, GseaResult]
    ssgsea: dict[str, SsgseaResult]
    correlation: pd.DataFrame
    km: KaplanMeierResult | None
    logrank: LogrankResult | None
    config: RadiogenomicsConfig = field(repr=False)
    seed: int = 0

    def summary(self) -> pd.DataFrame:
        """One row per analysis: what was done and its headline numbers."""
        n = self.grouping.counts()
        rows = [{"analysis": "groups", "result": f"cut-off {self.grouping.cutoff:g} ({self.grouping.method}); "
                                                f"low n={n['low']}, high n={n['high']}"}]
        d = self.de.summary().iloc[0]
        rows.append({"analysis": "DESeq2", "result": f"{d['design']}: {d['n_up']} up, {d['n_down']} down of "
                                                     f"{d['n_genes_tested']} genes (|log2FC| > {d['lfc_threshold']:g},"
                                                     f" FDR < {d['fdr']:g})"})
        for key, o in self.ora.items():
            rows.append({"analysis": f"ORA {key}", "result": f"{len(o.significant())} of {len(o.table)} terms "
                                                            f"padj < 0.05 ({o.n_query} genes)"})
        for key, g in self.gsea.items():
            rows.append({"analysis": f"GSEA {key}", "result": f"{int((g.table['fdr'] < 0.25).sum())} of "
                                                             f"{len(g.table)} terms FDR < 0.25"})
        for key, s in self.ssgsea.items():
            comp = s.comparison
            sig = comp.loc[comp["padj"] < 0.05, "signature"].tolist() if comp is not None else []
            rows.append({"analysis": f"ssGSEA {key}", "result": f"{len(sig)} of {len(s.scores)} differ "
                                                               f"(padj < 0.05): {', '.join(sig[:8])}"})
        rows.append({"analysis": "Spearman score-gene",
                     "result": f"{int((self.correlation['padj'] < 0.05).sum())} genes padj < 0.05"})
        if self.logrank is not None:
            note = " (cut-point searched on this cohort: optimistic)" if self.grouping.method == "maxstat" else ""
            rows.append({"analysis": "OS log-rank", "result": f"chi2 = {self.logrank.chisq:.3f}, "
                                                              f"p = {self.logrank.p_value:.4g}{note}"})
        return pd.DataFrame(rows)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Named result tables (the lead's report writes each as CSV)."""
        out = {"radiogenomics_samples": self.samples.reset_index(), "radiogenomics_groups": self.grouping.summary(),
               "deseq2_results": self.de.table.reset_index(), "deseq2_summary": self.de.summary(),
               "score_gene_spearman": self.correlation.reset_index()}
        for key, o in self.ora.items():
            out[f"ora_{_slug(key)}"] = o.table
        for key, g in self.gsea.items():
            out[f"gsea_{_slug(key)}"] = g.table
        for key, s in self.ssgsea.items():
            out[f"ssgsea_scores_{_slug(key)}"] = s.scores.reset_index()
            if s.comparison is not None:
                out[f"ssgsea_compare_{_slug(key)}"] = s.comparison
        if self.km is not None:
            out["os_km_summary"] = self.km.summary()
        if self.logrank is not None:
            out["os_logrank"] = self.logrank.summary()
        return out


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in text).strip("_").lower()


def _vst_by_symbol(de: DEResult) -> pd.DataFrame:
    """VST rows re-keyed by symbol; where ids share a symbol the row with the highest mean VST is kept."""
    order = de.vst.mean(axis=1).sort_values(ascending=False, kind="stable").index
    sym = de.table["gene_name"].reindex(order)
    keep = ~sym.duplicated().to_numpy()
    return de.vst.loc[order[keep]].set_axis(pd.Index(sym.to_numpy()[keep], name="gene_name"), axis=0)


def _clinical_by_patient(clinical: pd.DataFrame, id_column: str, patients: pd.Index) -> pd.DataFrame:
    if id_column not in clinical.columns:
        raise InputError(f"clinical table has no column {id_column!r}", field=id_column)
    c = clinical.copy()
    c.index = c[id_column].map(patient_id)
    dup = c.index[c.index.duplicated()].unique().tolist()
    if dup:
        raise InputError(f"patient(s) repeated in the clinical table: {dup[:10]}", field=id_column)
    missing = patients.difference(c.index).tolist()
    if missing:
        raise InputError(f"{len(missing)} analysed patient(s) missing from the clinical table: {missing[:20]}",
                         field=id_column, hint="add them, or leave clinical=None to skip survival/covariates")
    return c.reindex(patients)


def run_radiogenomics(
    counts: CountTable | pd.DataFrame | str | Path,
    scores: pd.DataFrame,
    *,
    id_column: str,
    groups: float | Literal["maxstat"],
    clinical: pd.DataFrame | None = None,
    gene_sets: Sequence[GeneSetSource] = ("GO_Biological_Process_2023",),
    signatures: Sequence[GeneSetSource] = (),
    config: RadiogenomicsConfig | None = None,
    seed: int = 0,
) -> RadiogenomicsResult:
    """Run the radiogenomics analysis (module doc); `groups` is the cut-off or "maxstat"."""
    cfg = config or RadiogenomicsConfig()
    collections = [resolve_gene_sets(src) for src in gene_sets]  # fail fast, before DESeq2
    signature_sets = [resolve_gene_sets(src) for src in signatures]
    table = counts if isinstance(counts, CountTable) else read_counts(counts)
    matched = match_samples(table, scores, id_column=id_column, score_column=cfg.score_column,
                            sample_types=cfg.sample_types, drop_unmatched=cfg.drop_unmatched)
    patients = matched.samples.index
    clin = _clinical_by_patient(clinical, id_column, patients) if clinical is not None else None
    time = event = None
    if clin is not None and {cfg.time_column, cfg.event_column} <= set(clin.columns):
        time, event = clin[cfg.time_column], clin[cfg.event_column]
    elif clin is not None:
        logger.warning("clinical table lacks %s/%s: no survival analysis", cfg.time_column, cfg.event_column)
    score = matched.samples["score"].astype(float)
    grouping = define_groups(score, groups, time=time, event=event, minprop=cfg.minprop)
    covariates = None
    if cfg.covariates:
        source = clin if clin is not None else matched.samples
        missing = [c for c in cfg.covariates if c not in source.columns]
        if missing:
            raise InputError(f"covariate column(s) {missing} not found", field="covariates",
                             hint="covariates are read from the clinical table (or the score table without one)")
        covariates = source[cfg.covariates]
    de = differential_expression(matched.counts, grouping.groups, covariates=covariates,
                                 gene_names=table.symbols(), lfc_threshold=cfg.lfc_threshold, fdr=cfg.fdr,
                                 min_total_count=cfg.min_total_count, independent_filter=cfg.independent_filter,
                                 cooks_filter=cfg.cooks_filter, n_cpus=cfg.n_cpus)
    res = de.table
    universe = res["gene_name"].unique().tolist()
    lists = {"all DEGs": res.loc[res["deg"], "gene_name"], "up in high": res.loc[res["direction"] == "up", "gene_name"],
             "down in high": res.loc[res["direction"] == "down", "gene_name"]}
    ranking = collapse_to_symbols(res["stat"], res["gene_name"], res["baseMean"])
    vst_sym = _vst_by_symbol(de)
    threads = cfg.n_cpus or 1
    ora: dict[str, OraResult] = {}
    gsea: dict[str, GseaResult] = {}
    for gs in collections:
        for label, genes in lists.items():
            if len(genes):
                ora[f"{gs.name}: {label}"] = over_representation(genes, universe, gs, min_size=cfg.ora_min_size,
                                                                 max_size=cfg.ora_max_size, label=label)
        gsea[gs.name] = gsea_prerank(ranking, gs, permutations=cfg.gsea_permutations, min_size=cfg.gsea_min_size,
                                     max_size=cfg.gsea_max_size, seed=seed, threads=threads)
    ssgsea: dict[str, SsgseaResult] = {}
    for gs in signature_sets:
        ssgsea[gs.name] = run_ssgsea(vst_sym, gs, grouping.groups, min_size=cfg.ssgsea_min_size, seed=seed,
                                     threads=threads)
    correlation = score_gene_correlation(de.vst, score, gene_names=res["gene_name"])
    km = lr = None
    if time is not None:
        g = grouping.groups.to_numpy()
        km = kaplan_meier(time.to_numpy(), event.to_numpy(), g)
        lr = logrank_test(time.to_numpy(), event.to_numpy(), g)
    samples = matched.samples[["sample_id", "score"]].assign(group=grouping.groups)
    return RadiogenomicsResult(samples, grouping, de, ora, gsea, ssgsea, correlation, km, lr, cfg, int(seed))
