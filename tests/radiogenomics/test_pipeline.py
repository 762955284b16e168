"""End-to-end `run_radiogenomics` on synthetic negative-binomial counts of real GO genes with one planted
pathway (B-cell receptor signalling down 8-fold in the high-score group): DESeq2, ORA, GSEA prerank and
ssGSEA must each recover it with the right sign, with every socket blocked; then tables and figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from hccrad.core.errors import InputError  # noqa: E402
from hccrad.radiogenomics import RadiogenomicsConfig, read_counts, run_radiogenomics  # noqa: E402
from hccrad.survival import kaplan_meier, logrank_test  # noqa: E402

from .conftest import PLANTED, blocked_network  # noqa: E402


@pytest.fixture(scope="module")
def result(synthetic, go_sets, tmp_path_factory):
    gmt = tmp_path_factory.mktemp("sig") / "signatures.gmt"
    rng = np.random.default_rng(5)
    control = rng.choice(synthetic["counts"]["gene_name"].iloc[len(synthetic["planted"]):], 20, replace=False)
    gmt.write_text(f"BCR_planted\tplanted\t" + "\t".join(synthetic["planted"]) + "\n"
                   f"control\trandom\t" + "\t".join(control) + "\n")
    cfg = RadiogenomicsConfig(gsea_permutations=200, n_cpus=1, covariates=["age"])
    with blocked_network():
        return run_radiogenomics(synthetic["counts"], synthetic["scores"], id_column="patient", groups=0.0,
                                 clinical=synthetic["clinical"], gene_sets=[go_sets], signatures=[gmt],
                                 config=cfg, seed=3)


def test_join_and_groups(result, synthetic):
    assert result.samples.index.tolist() == synthetic["scores"]["patient"].tolist()
    assert (result.samples["group"] == np.where(synthetic["high"], "high", "low")).all()
    assert result.samples["sample_id"].str.endswith("-01A-11R-A00Z-07").all()  # normal sample skipped
    assert result.de.design == "~age + group"


def test_deseq2_recovers_planted_genes(result, synthetic):
    t = result.de.table
    planted = t["gene_name"].isin(synthetic["planted"])
    down = t["direction"] == "down"
    assert (down & planted).sum() >= 0.8 * planted.sum()  # true log2FC = -3
    assert (down & ~planted).sum() <= 3 and (t["direction"] == "up").sum() <= 3


def test_ora_finds_planted_term_among_down_genes(result):
    down = result.ora[f"GO_Biological_Process_2023: down in high"].table.set_index("term")
    assert down.loc[PLANTED, "padj"] < 1e-6
    assert down.loc[PLANTED, "fold_enrichment"] > 5
    up = result.ora.get("GO_Biological_Process_2023: up in high")
    assert up is None or PLANTED not in set(up.significant()["term"])


def test_gsea_planted_term_negative(result):
    g = result.gsea["GO_Biological_Process_2023"].table.set_index("term")
    assert g.loc[PLANTED, "nes"] < 0 and g.loc[PLANTED, "fdr"] < 0.05


def test_ssgsea_planted_signature_lower_in_high(result):
    comp = result.ssgsea["signatures"].comparison.set_index("signature")
    assert comp.loc["BCR_planted", "difference"] < 0 and comp.loc["BCR_planted", "padj"] < 0.05
    assert comp.loc["control", "padj"] > 0.05


def test_correlation_and_survival_wired(result, synthetic):
    corr = result.correlation
    top = corr.loc[corr["padj"] < 0.05, "gene_name"]
    assert len(top) > 0 and top.isin(synthetic["planted"]).mean() > 0.8
    assert (corr.loc[corr["gene_name"].isin(synthetic["planted"]), "rho"] < 0).mean() > 0.9
    clin = synthetic["clinical"]
    ref = logrank_test(clin["os_time"].to_numpy(), clin["os_event"].to_numpy(), result.samples["group"].to_numpy())
    assert result.logrank.chisq == ref.chisq and result.logrank.p_value == ref.p_value
    km = kaplan_meier(clin["os_time"].to_numpy(), clin["os_event"].to_numpy(), result.samples["group"].to_numpy())
    pd.testing.assert_frame_equal(result.km.summary(), km.summary())


def test_summary_tables_figures(result):
    s = result.summary()
    assert {"groups", "DESeq2", "OS log-rank"} <= set(s["analysis"])
    tables = result.tables()
    assert {"deseq2_results", "ssgsea_compare_signatures", "gsea_go_biological_process_2023",
            "score_gene_spearman", "os_logrank"} <= set(tables)
    assert all(isinstance(v, pd.DataFrame) for v in tables.values())
    figs = result.figures()
    titles = [t for t, _ in figs]
    assert any("volcano" in t for t in titles) and any("Heatmap" in t for t in titles)
    assert any(t.startswith("Kaplan") for t in titles) and any(t.startswith("ssGSEA") for t in titles)
    for _, fig in figs:
        assert isinstance(fig, Figure) and fig.axes


def test_config_rejects_typos_and_names_are_not_fetched(synthetic):
    with pytest.raises(ValidationError):
        RadiogenomicsConfig(lfc_treshold=1.0)
    with blocked_network(), pytest.raises(InputError, match="neither a bundled library"):
        run_radiogenomics(read_counts(synthetic["counts"]), synthetic["scores"], id_column="patient", groups=0.0,
                          gene_sets=["KEGG_2019_Human"], config=RadiogenomicsConfig(n_cpus=1, min_total_count=10**9))
