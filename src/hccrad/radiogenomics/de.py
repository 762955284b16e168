"""Differential expression between radiomics-score groups with DESeq2 (pydeseq2).

Model (Love, Huber & Anders, Genome Biol 2014; pydeseq2: Muzellec et al., Bioinformatics 2023):
K_ij ~ NB(mu_ij = s_j q_ij, alpha_i), log2 q_ij = x_j' beta_i, size factors s_j by median of ratios,
dispersions alpha_i shrunk towards a parametric mean–dispersion trend. Design ``~ [covariates +] group``;
the log2 fold change is high vs low (MLE, no shrinkage, as DESeq2 ``results()``); Wald test
z = beta / SE(beta); p-values adjusted by Benjamini–Hochberg after DESeq2's independent filtering on the
mean count and Cook's-distance outlier handling (both DESeq2 defaults, switchable).

Seed 004 calls a gene differentially expressed when |log2FC| > 2 and FDR < 0.05 (defaults here; both
configurable). Genes with fewer than `min_total_count` reads over all samples are dropped first (the
DESeq2 vignette's pre-filter, rowSums >= 10). The heatmap uses DESeq2's variance-stabilising
transformation fitted with the design (``blind = FALSE``: the dispersion trend of the fitted model).
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hccrad.core.errors import DataError, InputError

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class DEResult:
    """DESeq2 results (high vs low) and the VST matrix; `table` index is the gene id.

    table columns: gene_name, baseMean, log2FoldChange, lfcSE, stat, pvalue, padj, direction ('up', 'down',
    'ns'), deg (bool).
    """

    table: pd.DataFrame
    vst: pd.DataFrame  # genes x patients, variance-stabilised (log2-like scale)
    groups: pd.Series
    design: str
    contrast: tuple[str, str, str]
    lfc_threshold: float
    fdr: float
    n_genes_in: int
    n_genes_tested: int

    def degs(self) -> pd.DataFrame:
        """DEGs (|log2FC| > threshold and padj < fdr), ordered by padj."""
        return self.table.loc[self.table["deg"]].sort_values("padj")

    def summary(self) -> pd.DataFrame:
        d = self.table["direction"]
        return pd.DataFrame([{"design": self.design, "contrast": f"{self.contrast[1]} vs {self.contrast[2]}",
                              "n_samples": int(self.vst.shape[1]), "n_genes_in": self.n_genes_in,
                              "n_genes_tested": self.n_genes_tested, "lfc_threshold": self.lfc_threshold,
                              "fdr": self.fdr, "n_up": int((d == "up").sum()), "n_down": int((d == "down").sum()),
                              "test": "DESeq2 Wald (pydeseq2), BH"}])


def _design_frame(groups: pd.Series, covariates: pd.DataFrame | None, patients: pd.Index) -> pd.DataFrame:
    meta = pd.DataFrame(index=patients)
    meta["group"] = pd.Categorical(groups.reindex(patients).astype(str), categories=["low", "high"])
    if meta["group"].isna().any():
        raise DataError("patients without a group", field="group", case=str(meta.index[meta["group"].isna()][0]))
    if covariates is not None:
        for col in covariates.columns:
            if not _NAME.match(str(col)) or col == "group":
                raise InputError(f"covariate name {col!r} cannot enter a design formula", field=str(col),
                                 hint="rename it to letters, digits and '_' (not 'group')")
        cov = covariates.reindex(patients)
        bad = cov.columns[cov.isna().any()].tolist()
        if bad:
            who = cov.index[cov[bad].isna().any(axis=1)].tolist()
            raise InputError(f"missing covariate value(s) in {bad} for patient(s) {who[:10]}", field=bad[0],
                             hint="impute or drop those patients; DESeq2 needs complete covariates")
        for col in cov.columns:
            meta[col] = cov[col] if pd.api.types.is_numeric_dtype(cov[col]) else pd.Categorical(cov[col].astype(str))
    return meta


def _vst_blind_false(dds) -> np.ndarray:
    """DESeq2 ``vst(blind = FALSE)``: the fitted model's parametric trend alpha(mu) = a0 + a1/mu gives
    vst(q) = log2((1 + a1 + 2 a0 q + 2 sqrt(a0 q (1 + a1 + a0 q))) / (4 a0)) on normalised counts q
    (DESeq2 getVarianceStabilizedData). Falls back to pydeseq2's refit when no parametric trend exists."""
    if dds.fit_type == "parametric" and "trend_coeffs" in dds.uns:
        dds.vst_fit_type = "parametric"
        dds.uns["vst_trend_coeffs"] = dds.uns["trend_coeffs"]
        return np.asarray(dds.vst_transform())
    dds.vst(use_design=True)
    return np.asarray(dds.layers["vst_counts"])


def differential_expression(
    counts: pd.DataFrame,
    groups: pd.Series,
    *,
    covariates: pd.DataFrame | None = None,
    gene_names: pd.Series | None = None,
    lfc_threshold: float = 2.0,
    fdr: float = 0.05,
    min_total_count: int = 10,
    independent_filter: bool = True,
    cooks_filter: bool = True,
    n_cpus: int | None = None,
) -> DEResult:
    """DESeq2 Wald test of group high vs low on raw `counts` (genes x patients); see the module doc."""
    # lazy: optional heavy dependency (pydeseq2)
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference
    from pydeseq2.ds import DeseqStats

    if not 0 < fdr < 1 or lfc_threshold < 0:
        raise DataError(f"need 0 < fdr < 1 and lfc_threshold >= 0 (got {fdr}, {lfc_threshold})", field="fdr")
    meta = _design_frame(groups, covariates, counts.columns)
    n_in = int(counts.shape[0])
    keep = counts.sum(axis=1) >= min_total_count
    kept = counts.loc[keep]
    if kept.shape[0] < 2:
        raise DataError(f"only {kept.shape[0]} gene(s) with >= {min_total_count} reads", field="counts")
    terms = [c for c in meta.columns if c != "group"] + ["group"]
    design = "~" + " + ".join(terms)
    contrast = ("group", "high", "low")
    inference = DefaultInference(n_cpus=n_cpus)
    logger.info("DESeq2 %s on %d genes x %d samples", design, kept.shape[0], kept.shape[1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dds = DeseqDataSet(counts=kept.T.astype(np.int64), metadata=meta, design=design, inference=inference,
                           refit_cooks=cooks_filter, quiet=True)
        dds.deseq2()
        stats_ = DeseqStats(dds, contrast=list(contrast), alpha=fdr, cooks_filter=cooks_filter,
                            independent_filter=independent_filter, inference=inference, quiet=True)
        stats_.summary()
        vst_values = _vst_blind_false(dds)
    for w in caught:
        logger.info("pydeseq2: %s", w.message)
    res = stats_.results_df.copy()
    res.index.name = "gene_id"
    names = (gene_names.reindex(res.index) if gene_names is not None
             else pd.Series(res.index, index=res.index))
    res.insert(0, "gene_name", names.fillna(pd.Series(res.index, index=res.index)).astype(str))
    sig = (res["padj"] < fdr) & (res["log2FoldChange"].abs() > lfc_threshold)
    res["direction"] = np.where(sig & (res["log2FoldChange"] > 0), "up",
                                np.where(sig & (res["log2FoldChange"] < 0), "down", "ns"))
    res["deg"] = sig.to_numpy()
    vst = pd.DataFrame(vst_values.T, index=kept.index, columns=kept.columns)
    out = DEResult(res, vst, meta["group"].astype(str), design, contrast, float(lfc_threshold), float(fdr),
                   n_in, int(kept.shape[0]))
    logger.info("DEGs: %d up, %d down", int((res["direction"] == "up").sum()), int((res["direction"] == "down").sum()))
    return out
