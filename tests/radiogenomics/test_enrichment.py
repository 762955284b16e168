"""Gene-set files, over-representation against a hand computation and gseapy.enrich, seeded GSEA prerank."""

from __future__ import annotations

from math import comb

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import DataError, InputError
from hccrad.radiogenomics import (BUNDLED, bh_adjust, bundled_gene_sets, collapse_to_symbols, export_bundled_gmt,
                                  gene_sets_from_dict, gsea_prerank, over_representation, read_gmt,
                                  resolve_gene_sets)
from hccrad.testing import assert_close

UNIVERSE = [f"G{i:02d}" for i in range(20)]
TOY = {
    "A": ["G00", "G01", "G02", "G03", "G04"],
    "B": ["G05", "G06", "G07", "G08", "G09", "G10", "G99"],  # G99 outside the universe: dropped, size 6
    "C": ["G11", "G12"],  # too small for min_size 3
    "D": ["G13", "G14", "G15", "G16"],  # no query gene: not tested
}
QUERY = ["G00", "G01", "G02", "G05", "G98"]  # G98 not in the universe


def _hyper_upper(k: int, N: int, M: int, n: int) -> float:
    """P(X >= k), X ~ Hypergeometric(N population, M successes, n draws), by exact counting."""
    return sum(comb(M, j) * comb(N - M, n - j) for j in range(k, min(M, n) + 1)) / comb(N, n)


def test_ora_equals_hand_computed_hypergeometric():
    gs = gene_sets_from_dict(TOY, name="toy")
    res = over_representation(QUERY, UNIVERSE, gs, min_size=3, max_size=500).table.set_index("term")
    # universe = 20 genes given ∩ annotated (A, B, C, D cover G00..G16) -> N = 17; query in universe n = 4
    assert sorted(res.index) == ["A", "B"]
    assert res.loc["A", "n_universe"] == 17 and res.loc["A", "n_query"] == 4
    p_a, p_b = _hyper_upper(3, 17, 5, 4), _hyper_upper(1, 17, 6, 4)
    assert_close(res.loc["A", "pvalue"], p_a, rtol=1e-12, atol=0, what="ORA p, term A")
    assert_close(res.loc["B", "pvalue"], p_b, rtol=1e-12, atol=0, what="ORA p, term B")
    # BH by hand for two p-values: p_(2) * 2/2 and min(p_(1) * 2/1, p_(2))
    lo, hi = sorted([p_a, p_b])
    assert_close(res["padj"].sort_values().to_numpy(), [min(2 * lo, hi), hi], rtol=1e-12, atol=0, what="BH")
    assert res.loc["A", "gene_ratio"] == "3/4" and res.loc["A", "bg_ratio"] == "5/17"
    assert res.loc["A", "genes"] == "G00;G01;G02"


def test_ora_matches_gseapy_enrich_with_the_same_universe(no_network):
    import gseapy

    gs = gene_sets_from_dict(TOY, name="toy")
    ours = over_representation(QUERY, UNIVERSE, gs, min_size=1, max_size=500).table.set_index("term")
    annotated_universe = sorted(set(UNIVERSE) & gs.genes())
    theirs = gseapy.enrich(gene_list=QUERY, gene_sets=gs.as_dict(), background=annotated_universe, outdir=None,
                           no_plot=True).results.set_index("Term")
    assert sorted(ours.index) == sorted(theirs.index)
    for term in ours.index:
        assert_close(ours.loc[term, "pvalue"], theirs.loc[term, "P-value"], rtol=1e-10, atol=0, what=f"p {term}")
        assert_close(ours.loc[term, "padj"], theirs.loc[term, "Adjusted P-value"], rtol=1e-10, atol=0,
                     what=f"padj {term}")


def test_bh_matches_hand_computation_and_is_monotone():
    p = np.array([0.01, 0.04, 0.03, 0.2, np.nan])
    # sorted 0.01, 0.03, 0.04, 0.2 -> 0.04, 0.0533, 0.0533, 0.2 (step-up minimum)
    assert_close(bh_adjust(p), [0.04, 0.16 / 3, 0.16 / 3, 0.2, np.nan], rtol=1e-12, atol=0, what="BH")


def test_gmt_reading_and_errors(tmp_path):
    ok = tmp_path / "sig.gmt"
    ok.write_text("T1\tdesc\tCD19\tMS4A1\tCD19\nT2\t\tNKG7\n")
    gs = read_gmt(ok)
    assert gs.name == "sig" and gs.sets == {"T1": ("CD19", "MS4A1"), "T2": ("NKG7",)}
    bad = tmp_path / "bad.gmt"
    bad.write_text("T1 CD19 MS4A1\n")
    with pytest.raises(InputError, match="line 1"):
        read_gmt(bad)
    dup = tmp_path / "dup.gmt"
    dup.write_text("T1\t\tA\nT1\t\tB\n")
    with pytest.raises(InputError, match="twice"):
        read_gmt(dup)
    with pytest.raises(InputError, match="not found"):
        read_gmt(tmp_path / "none.gmt")


def test_library_names_are_never_fetched(no_network):
    with pytest.raises(InputError, match="neither a bundled library nor a .gmt"):
        resolve_gene_sets("GO_Biological_Process_2021")  # an Enrichr name gseapy would download
    with pytest.raises(InputError, match="unknown bundled"):
        bundled_gene_sets("MSigDB_Hallmark_2020")


@pytest.mark.parametrize("name, n_terms", [("GO_Biological_Process_2023", 5407), ("KEGG_2021_Human", 320)])
def test_bundled_libraries_offline(no_network, tmp_path, name, n_terms):
    gs = resolve_gene_sets(name)
    assert len(gs) == n_terms and name in BUNDLED and "blitzgsea" in gs.source
    path = export_bundled_gmt(name, tmp_path)
    assert path.suffix == ".gmt" and read_gmt(path).sets == gs.sets


def test_collapse_to_symbols_keeps_highest_priority():
    values = pd.Series([1.0, 2.0, 3.0], index=["id1", "id2", "id3"])
    symbols = pd.Series(["X", "Y", "X"], index=values.index)
    priority = pd.Series([10.0, 5.0, 50.0], index=values.index)
    out = collapse_to_symbols(values, symbols, priority)
    assert out.to_dict() == {"X": 3.0, "Y": 2.0}


def _ranking(seed: int = 0):
    rng = np.random.default_rng(seed)
    genes = [f"G{i}" for i in range(600)]
    sets = {f"S{j}": list(rng.choice(genes, 25, replace=False)) for j in range(8)}
    stat = pd.Series(rng.normal(size=600), index=genes)
    stat[sets["S0"]] -= 2.5  # planted: S0 at the bottom of the ranking
    return stat, gene_sets_from_dict(sets, name="toy")


def test_prerank_is_seeded_and_finds_the_planted_set(no_network):
    stat, gs = _ranking()
    a = gsea_prerank(stat, gs, permutations=200, seed=11)
    b = gsea_prerank(stat, gs, permutations=200, seed=11)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.table, gsea_prerank(stat, gs, permutations=200, seed=11, threads=2).table)
    top = a.table.iloc[0]
    assert top["term"] == "S0" and top["nes"] < 0 and top["fdr"] < 0.05
    res, hits = a.curves["S0"]
    assert res.size == stat.size and hits.size == 25
    with pytest.raises(DataError, match="duplicated genes"):
        gsea_prerank(pd.concat([stat, stat.head(1)]), gs)
