"""DESeq2 (pydeseq2) on real RNA-seq: the airway experiment shipped in inmoose (Himes et al., PLoS One 2014).

Dexamethasone-treated vs untreated airway smooth-muscle cells of four donors, design ~cell + group.
The glucocorticoid-response genes FKBP5, TSC22D3, ZBTB16, KLF15, DUSP1 and PER1 are the textbook
responders of this experiment (Himes 2014; the DESeq2/rnaseqGene workflows) and must come out strongly
up-regulated. No published per-gene table ships in an installed package, so these are property tests;
the analysis runs on 606 genes to stay fast (the dispersion prior differs from a genome-wide run).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import DataError, InputError
from hccrad.radiogenomics import differential_expression
from hccrad.testing import assert_close

from .conftest import AIRWAY_GENES


@pytest.fixture(scope="module")
def airway_de(airway_subset):
    counts, groups, cell = airway_subset
    return differential_expression(counts, groups, covariates=cell, n_cpus=1, lfc_threshold=1.0, fdr=0.05)


def test_known_dexamethasone_responders_are_up(airway_de):
    t = airway_de.table.loc[list(AIRWAY_GENES.values())]
    assert (t["padj"] < 0.01).all(), t[["log2FoldChange", "padj"]]
    assert (t["log2FoldChange"] > 1.0).all(), t[["log2FoldChange", "padj"]]
    assert (t["direction"] == "up").all() and t["deg"].all()
    assert airway_de.design == "~cell + group" and airway_de.contrast == ("group", "high", "low")


def test_bh_adjustment_is_monotone_in_p(airway_de):
    t = airway_de.table.dropna(subset=["padj"]).sort_values("pvalue", kind="stable")
    assert np.all(np.diff(t["padj"].to_numpy()) >= -1e-15)
    assert (t["padj"] >= t["pvalue"] - 1e-15).all()


def test_deg_flags_follow_thresholds(airway_de):
    t = airway_de.table
    expected = (t["padj"] < 0.05) & (t["log2FoldChange"].abs() > 1.0)
    assert (t["deg"] == expected).all()
    assert set(airway_de.degs().index) == set(t.index[expected])
    s = airway_de.summary().iloc[0]
    assert s["n_up"] + s["n_down"] == expected.sum()


def test_vst_matches_pydeseq2_refit(airway_de, airway_subset):
    """Our blind=FALSE VST (the fitted model's trend, as DESeq2 R) against pydeseq2's vst(use_design=True),
    which refits the trend on re-estimated gene-wise dispersions: the two trends differ slightly."""
    from pydeseq2.dds import DeseqDataSet
    from pydeseq2.default_inference import DefaultInference

    counts, groups, cell = airway_subset
    meta = cell.assign(group=pd.Categorical(groups, categories=["low", "high"]))
    dds = DeseqDataSet(counts=counts.T, metadata=meta, design="~cell + group",
                       inference=DefaultInference(n_cpus=1), quiet=True)
    dds.deseq2()
    dds.vst(use_design=True)
    ref = pd.DataFrame(np.asarray(dds.layers["vst_counts"]).T, index=counts.index, columns=counts.columns)
    assert airway_de.vst.shape == (airway_de.n_genes_tested, 8)
    assert_close(airway_de.vst.to_numpy(), ref.loc[airway_de.vst.index].to_numpy(), rtol=0, atol=0.05,
                 what="VST (blind=FALSE)")


def test_bad_design_inputs(airway_subset):
    counts, groups, cell = airway_subset
    small = counts.iloc[:50]
    with pytest.raises(InputError, match="cannot enter a design formula"):
        differential_expression(small, groups, covariates=cell.rename(columns={"cell": "cell line"}), n_cpus=1)
    bad = cell.copy()
    bad.iloc[0, 0] = None
    with pytest.raises(InputError, match="missing covariate"):
        differential_expression(small, groups, covariates=bad, n_cpus=1)
    with pytest.raises(DataError, match="fdr"):
        differential_expression(small, groups, fdr=1.5, n_cpus=1)
    with pytest.raises(DataError, match="without a group"):
        differential_expression(small, pd.Series("low", index=groups.index[:4]), n_cpus=1)
