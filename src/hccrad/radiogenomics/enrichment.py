"""Gene-set enrichment of the DEGs: over-representation (ORA) and pre-ranked GSEA, offline.

ORA follows clusterProfiler ``enricher``/``enrichGO`` (Yu et al., OMICS 2012; DOSE ``enricher_internal``),
which seed 004 used: the universe U is the background (the expressed, tested genes) intersected with the
genes annotated in the collection, N = |U|; the query is the DEG list within U, n; each term S is restricted
to U, M = |S|, tested only if min_size <= M <= max_size (clusterProfiler defaults 10 and 500) and it
contains >= 1 query gene, k = |S ∩ query|. One-sided hypergeometric p = P(X >= k) with
X ~ Hypergeom(N, M, n) (R ``phyper(k - 1, M, N - M, n, lower.tail = FALSE)``), Benjamini–Hochberg over the
tested terms. GeneRatio = k/n, BgRatio = M/N. Written with scipy because clusterProfiler has no Python port;
checked against a hand computation and against ``gseapy.enrich`` with the same universe (tests).

GSEA: ``gseapy.prerank`` (Subramanian et al., PNAS 2005; weighted Kolmogorov–Smirnov running sum with
weight p = 1, gene-set permutations, NES = ES / mean |ES_null| of the same sign, FDR q as in GSEA), ranking
the genes by the DESeq2 Wald statistic. Seed 004 used R fgsea, which estimates the same ES/NES with
adaptive multilevel p-values; permutation p-values here are bounded below by 1/(permutations + 1).
Gene sets are always passed as a dict, so gseapy never goes to the network.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from hccrad.core.errors import DataError
from hccrad.radiogenomics.genesets import GeneSets

logger = logging.getLogger(__name__)

ORA_COLUMNS = ["term", "gene_ratio", "bg_ratio", "count", "set_size", "n_query", "n_universe",
               "fold_enrichment", "pvalue", "padj", "genes"]
GSEA_COLUMNS = ["term", "es", "nes", "pvalue", "fdr", "fwer", "set_size", "lead_genes"]


def bh_adjust(p) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (statsmodels ``fdr_bh``); NaN stays NaN."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return out


def collapse_to_symbols(values: pd.Series, symbols: pd.Series, priority: pd.Series) -> pd.Series:
    """Re-key gene-id values by symbol; where ids share a symbol keep the one with the largest `priority`."""
    df = pd.DataFrame({"v": values, "sym": symbols.reindex(values.index), "p": priority.reindex(values.index)})
    df = df.dropna(subset=["v", "sym"])
    df = df.sort_values("p", ascending=False, kind="stable")
    df = df.loc[~df["sym"].duplicated()]
    return pd.Series(df["v"].to_numpy(), index=pd.Index(df["sym"].astype(str), name="gene_name"))


@dataclass(frozen=True)
class OraResult:
    """Over-representation of a gene list in a collection (clusterProfiler semantics; see module doc)."""

    table: pd.DataFrame
    collection: str
    label: str
    n_query: int
    n_universe: int

    def significant(self, alpha: float = 0.05) -> pd.DataFrame:
        return self.table.loc[self.table["padj"] < alpha]

    def summary(self) -> pd.DataFrame:
        return self.table.copy()


def over_representation(
    genes,
    universe,
    gene_sets: GeneSets,
    *,
    min_size: int = 10,
    max_size: int = 500,
    label: str = "DEGs",
) -> OraResult:
    """Hypergeometric over-representation of `genes` among `universe` (see module doc for the formula)."""
    annotated = gene_sets.genes()
    uni = set(map(str, universe)) & annotated
    query = set(map(str, genes)) & uni
    n_uni, n_q = len(uni), len(query)
    rows = []
    if n_q == 0:
        logger.warning("ORA %s: none of %d query genes is annotated in %s", label, len(set(genes)), gene_sets.name)
    else:
        for term, members in gene_sets.sets.items():
            s = uni.intersection(members)
            m = len(s)
            if m < min_size or m > max_size:
                continue
            hits = sorted(query & s)
            k = len(hits)
            if k == 0:
                continue
            p = float(stats.hypergeom.sf(k - 1, n_uni, m, n_q))
            rows.append({"term": term, "gene_ratio": f"{k}/{n_q}", "bg_ratio": f"{m}/{n_uni}", "count": k,
                         "set_size": m, "n_query": n_q, "n_universe": n_uni,
                         "fold_enrichment": (k / n_q) / (m / n_uni), "pvalue": p, "genes": ";".join(hits)})
    table = pd.DataFrame(rows, columns=[c for c in ORA_COLUMNS if c != "padj"])
    table.insert(table.columns.get_loc("pvalue") + 1, "padj", bh_adjust(table["pvalue"]))
    table = table.sort_values(["padj", "pvalue", "term"], kind="stable").reset_index(drop=True)
    logger.info("ORA %s: %d query genes in a universe of %d, %d terms tested", label, n_q, n_uni, len(table))
    return OraResult(table, gene_sets.name, label, n_q, n_uni)


@dataclass(frozen=True)
class GseaResult:
    """Pre-ranked GSEA (gseapy.prerank): the table, the ranking and running-sum curves of the top terms."""

    table: pd.DataFrame
    collection: str
    ranking: pd.Series = field(repr=False)
    curves: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)  # term -> (running ES, hit indices)
    permutations: int
    seed: int

    def summary(self) -> pd.DataFrame:
        return self.table.copy()


def gsea_prerank(
    ranking: pd.Series,
    gene_sets: GeneSets,
    *,
    permutations: int = 1000,
    min_size: int = 15,
    max_size: int = 500,
    seed: int = 0,
    threads: int = 1,
    n_curves: int = 10,
) -> GseaResult:
    """GSEA of a ranked gene list (index = symbol, value = e.g. Wald statistic), via ``gseapy.prerank``."""
    import gseapy  # lazy: optional heavy dependency (gseapy)

    r = pd.Series(ranking, dtype=float).dropna()
    if r.index.duplicated().any():
        raise DataError(f"duplicated genes in the ranking: {r.index[r.index.duplicated()][:5].tolist()}",
                        field="ranking", hint="collapse ids to symbols first (collapse_to_symbols)")
    if r.size < 2 * min_size:
        raise DataError(f"ranking has only {r.size} genes", field="ranking")
    if permutations < 1:
        raise DataError("permutations must be >= 1", field="permutations")
    r = r.sort_values(ascending=False, kind="stable")
    pre = gseapy.prerank(rnk=r, gene_sets=gene_sets.as_dict(), permutation_num=int(permutations),
                         min_size=int(min_size), max_size=int(max_size), seed=int(seed), threads=int(threads),
                         outdir=None, no_plot=True, verbose=False)
    res = pre.res2d
    if res is None or len(res) == 0:
        table = pd.DataFrame(columns=GSEA_COLUMNS)
        curves: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    else:
        table = pd.DataFrame({
            "term": res["Term"].astype(str).to_numpy(),
            "es": pd.to_numeric(res["ES"]).to_numpy(),
            "nes": pd.to_numeric(res["NES"]).to_numpy(),
            "pvalue": pd.to_numeric(res["NOM p-val"]).to_numpy(),
            "fdr": pd.to_numeric(res["FDR q-val"]).to_numpy(),
            "fwer": pd.to_numeric(res["FWER p-val"]).to_numpy(),
            "set_size": [len(pre.results[t]["hits"]) for t in res["Term"]],
            "lead_genes": res["Lead_genes"].astype(str).to_numpy(),
        })
        table = table.sort_values(["fdr", "pvalue", "term"], kind="stable").reset_index(drop=True)
        curves = {t: (np.asarray(pre.results[t]["RES"], dtype=float), np.asarray(pre.results[t]["hits"], dtype=int))
                  for t in table["term"].head(n_curves)}
    logger.info("GSEA prerank: %d genes, %d terms tested (%d permutations, seed %d)", r.size, len(table),
                permutations, seed)
    return GseaResult(table, gene_sets.name, r, curves, int(permutations), int(seed))
