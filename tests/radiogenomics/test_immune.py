"""ssGSEA (gseapy) against Barbie et al.'s formula by hand, determinism, group comparison and Spearman."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from hccrad.core.errors import DataError
from hccrad.radiogenomics import compare_groups, gene_sets_from_dict, run_ssgsea, score_gene_correlation, ssgsea_scores
from hccrad.testing import assert_close


def _hand_ssgsea(x: pd.Series, members, weight: float = 0.25) -> float:
    """Barbie 2009 ssGSEA: genes ranked (scaled 10000 * rank / N), ES = sum_i [P_hit(i) - P_miss(i)] with
    P_hit weighted by |r|^0.25 (ssGSEA2.0 / GSVA ssgsea)."""
    r = x.rank(method="average") * 10000 / x.size
    o = r.sort_values(ascending=False, kind="stable")
    hit = o.index.isin(list(members))
    w = np.abs(o.to_numpy()) ** weight
    p_hit = np.cumsum(np.where(hit, w, 0.0)) / w[hit].sum()
    p_miss = np.cumsum(~hit) / (~hit).sum()
    return float((p_hit - p_miss).sum())


@pytest.fixture
def toy():
    rng = np.random.default_rng(1)
    genes = [f"G{i}" for i in range(200)]
    expr = pd.DataFrame(rng.normal(size=(200, 8)), index=genes, columns=[f"P{i}" for i in range(8)])
    expr.loc[genes[:10], ["P4", "P5", "P6", "P7"]] += 2.0  # S1 up in the 'high' patients
    sets = gene_sets_from_dict({"S1": genes[:10], "S2": genes[50:70], "S3": genes[100:103] + ["ABSENT"]},
                               name="toy")
    groups = pd.Series(["low"] * 4 + ["high"] * 4, index=expr.columns)
    return expr, sets, groups


def test_ssgsea_equals_hand_formula(toy, no_network):
    expr, sets, _ = toy
    nes, es, matched = ssgsea_scores(expr, sets)
    hand = pd.DataFrame({c: {t: _hand_ssgsea(expr[c], g) for t, g in sets.sets.items()} for c in expr.columns})
    assert_close(es.loc[hand.index, hand.columns].to_numpy(), hand.to_numpy(), rtol=1e-9, atol=1e-9,
                 what="ssGSEA ES")
    span = hand.to_numpy().max() - hand.to_numpy().min()
    assert_close(nes.loc[hand.index, hand.columns].to_numpy(), hand.to_numpy() / span, rtol=1e-9, atol=1e-9,
                 what="ssGSEA NES = ES / range")
    assert matched.to_dict() == {"S1": 10, "S2": 20, "S3": 3}


def test_ssgsea_is_deterministic_and_recovers_the_shift(toy, no_network):
    expr, sets, groups = toy
    a = run_ssgsea(expr, sets, groups, seed=0)
    b = run_ssgsea(expr, sets, groups, seed=0)
    pd.testing.assert_frame_equal(a.scores, b.scores)
    row = a.comparison.set_index("signature").loc["S1"]
    assert row["difference"] > 0 and row["pvalue"] < 0.05


def test_compare_groups_is_mann_whitney_with_bh(toy):
    expr, _, groups = toy
    scores = expr.iloc[:3]
    out = compare_groups(scores, groups).set_index("signature")
    for g in scores.index:
        ref = stats.mannwhitneyu(scores.loc[g, groups == "high"], scores.loc[g, groups == "low"],
                                 alternative="two-sided")
        assert_close(out.loc[g, "pvalue"], ref.pvalue, rtol=1e-12, atol=0, what=f"MWU p {g}")
    assert (out["padj"] >= out["pvalue"]).all()


def test_too_few_matched_genes_is_an_error(toy):
    expr, _, _ = toy
    with pytest.raises(DataError, match="no signature"):
        ssgsea_scores(expr, gene_sets_from_dict({"X": ["CD19", "MS4A1"]}))


def test_spearman_matches_scipy(rng):
    expr = pd.DataFrame(rng.normal(size=(30, 12)), columns=[f"P{i}" for i in range(12)],
                        index=[f"g{i}" for i in range(30)])
    expr.iloc[5] = 1.0  # constant gene -> NaN, not an error
    expr.iloc[6, :6] = expr.iloc[6, 6:].to_numpy()  # ties
    score = pd.Series(rng.normal(size=12), index=expr.columns)
    out = score_gene_correlation(expr, score)
    for g in ["g0", "g6", "g17"]:
        ref = stats.spearmanr(expr.loc[g], score)
        assert_close(out.loc[g, "rho"], ref.statistic, rtol=1e-10, atol=1e-12, what=f"rho {g}")
        assert_close(out.loc[g, "pvalue"], ref.pvalue, rtol=1e-8, atol=1e-12, what=f"p {g}")
    assert np.isnan(out.loc["g5", "rho"]) and out["padj"].notna().sum() == 29
    with pytest.raises(DataError, match="score missing"):
        score_gene_correlation(expr, score.iloc[:10])
