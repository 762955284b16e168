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
from hccrad.report.figures.radiogenomics import radiogenomics_figures  # noqa: E402

from .conftest import PLANTED, blocked_network  # noqa: E402


def test_join_and_groups(rg_result, synthetic):
    assert rg_result.samples.index.tolist() == synthetic["scores"]["patient"].tolist()
    assert (rg_result.samples["group"] == np.where(synthetic["high"], "high", "low")).all()
    assert rg_result.samples["sample_id"].str.endswith("-01A-11R-A00Z-07").all()  # normal sample skipped
    assert rg_result.de.design == "~age + group"


def test_deseq2_recovers_planted_genes(rg_result, synthetic):
    t = rg_result.de.table
    planted = t["gene_name"].isin(synthetic["planted"])
    down = t["direction"] == "down"
    assert (down & planted).sum() >= 0.8 * planted.sum()  # true log2FC = -3
    assert (down & ~planted).sum() <= 3 and (t["direction"] == "up").sum() <= 3


def test_ora_finds_planted_term_among_down_genes(rg_result):
    down = rg_result.ora["GO_Biological_Process_2023: down in high"].table.set_index("term")
    assert down.loc[PLANTED, "padj"] < 1e-6
    assert down.loc[PLANTED, "fold_enrichment"] > 5
    up = rg_result.ora.get("GO_Biological_Process_2023: up in high")
    assert up is None or PLANTED not in set(up.significant()["term"])


def test_gsea_planted_term_negative(rg_result):
    g = rg_result.gsea["GO_Biological_Process_2023"].table.set_index("term")
    assert g.loc[PLANTED, "nes"] < 0 and g.loc[PLANTED, "fdr"] < 0.05


def test_ssgsea_planted_signature_lower_in_high(rg_result):
    comp = rg_result.ssgsea["signatures"].comparison.set_index("signature")
    assert comp.loc["BCR_planted", "difference"] < 0 and comp.loc["BCR_planted", "padj"] < 0.05
    assert comp.loc["control", "padj"] > 0.05


def test_correlation_and_survival_wired(rg_result, synthetic):
    corr = rg_result.correlation
    top = corr.loc[corr["padj"] < 0.05, "gene_name"]
    assert len(top) > 0 and top.isin(synthetic["planted"]).mean() > 0.8
    assert (corr.loc[corr["gene_name"].isin(synthetic["planted"]), "rho"] < 0).mean() > 0.9
    clin = synthetic["clinical"]
    ref = logrank_test(clin["os_time"].to_numpy(), clin["os_event"].to_numpy(), rg_result.samples["group"].to_numpy())
    assert rg_result.logrank.chisq == ref.chisq and rg_result.logrank.p_value == ref.p_value
    km = kaplan_meier(clin["os_time"].to_numpy(), clin["os_event"].to_numpy(), rg_result.samples["group"].to_numpy())
    pd.testing.assert_frame_equal(rg_result.km.summary(), km.summary())


def test_summary_tables_figures(rg_result):
    s = rg_result.summary()
    assert {"groups", "DESeq2", "OS log-rank"} <= set(s["analysis"])
    tables = rg_result.tables()
    assert {"deseq2_results", "ssgsea_compare_signatures", "gsea_go_biological_process_2023",
            "score_gene_spearman", "os_logrank"} <= set(tables)
    assert all(isinstance(v, pd.DataFrame) for v in tables.values())
    figs = radiogenomics_figures(rg_result)
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
                          gene_sets=["KEGG_2019_Human"], config=RadiogenomicsConfig(n_cpus=1))


def test_spec_section_validates():
    from hccrad.radiogenomics import RadiogenomicsSpec

    spec = RadiogenomicsSpec(counts="c.tsv", signatures=["immune.gmt"], cutoff=0.015,
                             settings={"lfc_threshold": 1.0})
    assert spec.settings.lfc_threshold == 1.0 and spec.gene_sets == ["GO_Biological_Process_2023"]
    assert RadiogenomicsSpec(counts="c.tsv").cutoff == "model"
    with pytest.raises(ValidationError, match="never fetched"):
        RadiogenomicsSpec(counts="c.tsv", gene_sets=["GO_Biological_Process_2021"])
    with pytest.raises(ValidationError):
        RadiogenomicsSpec(counts="c.tsv", signatures=["immune.txt"])
    with pytest.raises(ValidationError):
        RadiogenomicsSpec(counts="c.tsv", settings={"fdr_cutoff": 0.1})


def test_result_reads_back_from_its_record_with_the_same_tables_and_figure_data(rg_result, tmp_path):
    """`hccrad report OUT` (issue 26): the result is recorded (JSON + Parquet + npz, allow-listed types) and
    read back with every table and every array the figures are drawn from equal (the figures redrawn pixel
    for pixel: tests/pipeline/test_run_radiogenomics.py)."""
    from hccrad.pipeline.records import RecordError, read_record, write_record

    write_record(rg_result, tmp_path, "radiogenomics")
    back = read_record(tmp_path, "radiogenomics")
    pd.testing.assert_frame_equal(back.summary(), rg_result.summary())
    tables, again = rg_result.tables(), back.tables()
    assert list(again) == list(tables)
    for name, table in tables.items():
        pd.testing.assert_frame_equal(again[name], table, obj=name)
    pd.testing.assert_frame_equal(back.de.vst, rg_result.de.vst)  # the heatmap's data
    for key, g in rg_result.gsea.items():  # the GSEA curves: running ES and hit indices per term
        assert list(back.gsea[key].curves) == list(g.curves)
        for term, (es, hits) in g.curves.items():
            np.testing.assert_array_equal(back.gsea[key].curves[term][0], es)
            np.testing.assert_array_equal(back.gsea[key].curves[term][1], hits)
    assert back.config == rg_result.config and back.grouping.cutoff == rg_result.grouping.cutoff
    path = tmp_path / "radiogenomics.json"  # a tampered record is refused, naming the field
    path.write_text(path.read_text().replace("hccrad.radiogenomics.de.DEResult", "os.system", 1))
    with pytest.raises(RecordError, match="unknown result type 'os.system'") as err:
        read_record(tmp_path, "radiogenomics")
    assert err.value.field == "radiogenomics.de"
