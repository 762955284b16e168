"""Per-patient signature scores (ssGSEA), their comparison between score groups, and gene–score correlation.

ssGSEA (Barbie et al., Nature 2009; as used for immune infiltration by Charoentong et al., Cell Rep 2017,
and by seed 004): genes of one sample are ranked by expression, the enrichment score is the sum over
positions of the difference between the rank-weighted (|r|^0.25) empirical CDF of the set's genes and the
CDF of the other genes; gseapy then normalises the scores by the range over all samples and sets
(NES = ES / (max ES - min ES), GSVA's ``ssgsea.norm``). Computed by ``gseapy.ssgsea`` on the
variance-stabilised expression keyed by gene symbol, with the gene sets passed as a dict (no network).

hccrad ships no immune signature: the 28 cell types of Charoentong et al. 2017 (their Table S6) and the
TLS signatures must be supplied by the user as ``.gmt`` files (docs/radiogenomics.md).

Group comparison: two-sided Mann–Whitney U (scipy) per signature, Benjamini–Hochberg over signatures.
Correlation: Spearman rho of the radiomics score with every gene = Pearson correlation of the ranks
(average ranks for ties), p from t = rho sqrt((n - 2) / (1 - rho^2)) with n - 2 df (as
``scipy.stats.spearmanr``), BH over genes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hccrad.core.errors import DataError
from hccrad.radiogenomics.enrichment import bh_adjust
from hccrad.radiogenomics.genesets import GeneSets

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SsgseaResult:
    """ssGSEA scores (signatures x patients, normalised) and the per-signature group comparison."""

    scores: pd.DataFrame
    raw_scores: pd.DataFrame
    comparison: pd.DataFrame | None
    collection: str
    genes_matched: pd.Series  # signature -> number of its genes present in the expression data

    def summary(self) -> pd.DataFrame:
        return self.comparison.copy() if self.comparison is not None else self.scores.T.describe().T


def ssgsea_scores(
    expression: pd.DataFrame,
    gene_sets: GeneSets,
    *,
    min_size: int = 2,
    max_size: int = 2000,
    weight: float = 0.25,
    seed: int = 0,
    threads: int = 1,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """(normalised scores, raw ES, matched-gene counts) of each set in each sample; expression genes x samples."""
    import gseapy  # lazy: optional heavy dependency (gseapy)

    if expression.index.duplicated().any():
        raise DataError("duplicated gene symbols in the expression matrix", field="expression",
                        hint="collapse ids to symbols first (collapse_to_symbols)")
    if expression.isna().any().any():
        raise DataError("missing values in the expression matrix", field="expression")
    present = set(expression.index.astype(str))
    matched = pd.Series({t: len(present.intersection(g)) for t, g in gene_sets.sets.items()}, name="n_genes")
    usable = matched[(matched >= min_size) & (matched <= max_size)]
    if usable.empty:
        raise DataError(f"no signature of {gene_sets.name} has >= {min_size} genes in the expression data",
                        field="signatures", hint="check that both use the same gene symbols (e.g. HGNC)")
    short = matched.index.difference(usable.index).tolist()
    if short:
        logger.warning("ssGSEA: %d signature(s) skipped for too few matched genes: %s", len(short), short[:10])
    ss = gseapy.ssgsea(data=expression.astype(float), gene_sets={t: list(gene_sets.sets[t]) for t in usable.index},
                       sample_norm_method="rank", correl_norm_type="rank", weight=float(weight),
                       min_size=int(min_size), max_size=int(max_size), permutation_num=0, seed=int(seed),
                       threads=int(threads), outdir=None, no_plot=True, verbose=False)
    res = ss.res2d
    nes = res.pivot(index="Term", columns="Name", values="NES").astype(float)
    es = res.pivot(index="Term", columns="Name", values="ES").astype(float)
    cols = [c for c in expression.columns if c in nes.columns]
    return nes.loc[:, cols], es.loc[:, cols], matched


def compare_groups(scores: pd.DataFrame, groups: pd.Series, *,
                   labels: tuple[str, str] = ("low", "high")) -> pd.DataFrame:
    """Two-sided Mann–Whitney U of each row of `scores` (rows x patients) between the groups; BH-adjusted."""
    g = groups.reindex(scores.columns)
    a_cols = g.index[g == labels[0]]
    b_cols = g.index[g == labels[1]]
    if len(a_cols) < 1 or len(b_cols) < 1:
        raise DataError(f"need patients in both groups {labels}", field="group")
    rows = []
    for name, row in scores.iterrows():
        a, b = row[a_cols].to_numpy(float), row[b_cols].to_numpy(float)
        u, p = stats.mannwhitneyu(b, a, alternative="two-sided")
        rows.append({"signature": name, f"median_{labels[0]}": float(np.median(a)),
                     f"median_{labels[1]}": float(np.median(b)),
                     "difference": float(np.median(b) - np.median(a)), "u_statistic": float(u), "pvalue": float(p)})
    out = pd.DataFrame(rows)
    out["padj"] = bh_adjust(out["pvalue"])
    out["test"] = "Mann-Whitney U (two-sided), BH"
    return out.sort_values(["padj", "pvalue"], kind="stable").reset_index(drop=True)


def run_ssgsea(
    expression: pd.DataFrame,
    gene_sets: GeneSets,
    groups: pd.Series | None = None,
    *,
    min_size: int = 2,
    seed: int = 0,
    threads: int = 1,
) -> SsgseaResult:
    """ssGSEA scores per patient and, when `groups` is given, their Mann–Whitney comparison."""
    nes, es, matched = ssgsea_scores(expression, gene_sets, min_size=min_size, seed=seed, threads=threads)
    comp = compare_groups(nes, groups) if groups is not None else None
    return SsgseaResult(nes, es, comp, gene_sets.name, matched)


def score_gene_correlation(expression: pd.DataFrame, score: pd.Series, *, gene_names: pd.Series | None = None
                           ) -> pd.DataFrame:
    """Spearman rho between `score` (per patient) and each gene of `expression` (genes x patients), BH."""
    s = score.reindex(expression.columns)
    if s.isna().any():
        raise DataError("score missing for some expression columns", field="score",
                        case=str(s.index[s.isna()][0]))
    n = s.size
    if n < 4:
        raise DataError(f"Spearman correlation needs >= 4 patients (got {n})", field="score")
    x = expression.to_numpy(float)
    varying = np.ptp(x, axis=1) > 0
    rx = stats.rankdata(x[varying], axis=1)
    rs = stats.rankdata(s.to_numpy(float))
    if np.ptp(rs) == 0:
        raise DataError("the score is constant", field="score")
    rho = np.full(x.shape[0], np.nan)
    rho[varying] = stats.pearsonr(rx, np.broadcast_to(rs, rx.shape), axis=1).statistic
    with np.errstate(divide="ignore", invalid="ignore"):
        t = rho * np.sqrt((n - 2) / ((1.0 - rho) * (1.0 + rho)))
    p = 2 * stats.t.sf(np.abs(t), n - 2)
    out = pd.DataFrame({"rho": rho, "pvalue": p}, index=expression.index)
    out["padj"] = bh_adjust(out["pvalue"])
    if gene_names is not None:
        out.insert(0, "gene_name", gene_names.reindex(out.index).fillna(pd.Series(out.index, index=out.index)))
    out.index.name = expression.index.name or "gene_id"
    return out.sort_values("pvalue", kind="stable")
