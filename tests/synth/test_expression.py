"""Synthetic RNA-seq for a synthetic cohort: files, determinism, the planted truth recovered from the counts,
and the radiogenomics stage (DESeq2 + GO ORA + GSEA + ssGSEA) finding the planted term and signatures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import InputError
from hccrad.radiogenomics import RadiogenomicsConfig, bundled_gene_sets, read_counts, read_gmt, run_radiogenomics
from hccrad.synth.expression import (COUNTS_FILE, SIGNATURE_SHIFTS, SIGNATURES_FILE, TRUTH_FILE, ExpressionCohort,
                                     choose_planted_term, generate_expression)
from hccrad.testing import assert_close

N = 40
FILES = (COUNTS_FILE, SIGNATURES_FILE, TRUTH_FILE)


def _fake_cohort(folder: Path, n: int = N, seed: int = 11) -> Path:
    """manifest.csv / clinical.csv with the columns generate_cohort writes that the generator reads."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    ids = [f"SYN{i + 1:04d}" for i in range(n)]
    response = np.zeros(n, int)
    response[rng.permutation(n)[: int(0.4 * n)]] = 1
    pd.DataFrame({"case_id": ids, "patient_id": [f"P{i + 1:04d}" for i in range(n)],
                  "cohort": np.where(np.arange(n) < 0.7 * n, "training", "internal_test")}).to_csv(
        folder / "manifest.csv", index=False)
    pd.DataFrame({"case_id": ids[::-1], "age": rng.integers(40, 80, n), "response": response[::-1],
                  "os_months": rng.exponential(20, n).round(1), "os_event": rng.integers(0, 2, n)}).to_csv(
        folder / "clinical.csv", index=False)
    return folder


@pytest.fixture(scope="module")
def go():
    return bundled_gene_sets("GO_Biological_Process_2023")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> tuple[Path, ExpressionCohort]:
    folder = _fake_cohort(tmp_path_factory.mktemp("expr") / "cohort")
    return folder, generate_expression(folder, seed=5)


def _response(folder: Path) -> pd.Series:
    m = pd.read_csv(folder / "manifest.csv")
    c = pd.read_csv(folder / "clinical.csv")
    return m.merge(c, on="case_id").set_index("patient_id")["response"]


def test_files_layout_and_truth(cohort, go):
    folder, ex = cohort
    assert ex.counts == folder / COUNTS_FILE and ex.signatures == folder / SIGNATURES_FILE
    table = read_counts(ex.counts)  # the radiogenomics reader accepts it (raw non-negative integers)
    raw = pd.read_csv(ex.counts, index_col=0)
    assert raw.index.name == "gene_id"
    assert list(table.counts.columns) == pd.read_csv(folder / "manifest.csv")["patient_id"].tolist()
    assert table.n_genes == 2000 and table.counts.index.is_unique
    assert set(table.counts.index) <= go.genes()  # real GO symbols
    truth = json.loads(ex.truth.read_text())
    assert truth["planted_term"] == choose_planted_term(go.sets)
    assert sorted(truth["planted_genes"]) == sorted(set(go.sets[truth["planted_term"]]))
    assert set(truth["planted_genes"]) <= set(table.counts.index)
    assert truth["seed"] == 5 and truth["log2fc"] == 1.0
    sigs = read_gmt(ex.signatures)
    assert list(sigs.sets) == list(SIGNATURE_SHIFTS) and all(k.startswith("SYNTHETIC_") for k in sigs.sets)
    planted = set(truth["planted_genes"])
    for name, (k, shift) in SIGNATURE_SHIFTS.items():
        genes = set(sigs.sets[name])
        assert len(genes) == k and genes <= set(table.counts.index) and not genes & planted
        assert truth["signatures"][name]["log2fc"] == shift
    s = ex.summary()
    assert list(s["set"]) == [truth["planted_term"], *SIGNATURE_SHIFTS]
    assert (s["n_patients"] == N).all() and (s["n_responders"] == int(0.4 * N)).all()


def test_default_planted_term_is_a_cell_cycle_term(go):
    term = choose_planted_term(go.sets)
    assert "cell cycle" in term.lower() and "regulation" not in term.lower()
    assert 50 <= len(go.sets[term]) <= 300
    toy = {"Regulation Of Cell Cycle (GO:1)": list("ABCDEFGHIJ") * 10, "Cell Cycle Thing (GO:2)": [
        f"G{i}" for i in range(60)], "Mitotic Cell Cycle (GO:3)": [f"G{i}" for i in range(120)],
           "Cell Cycle Tiny (GO:4)": ["A"]}
    assert choose_planted_term(toy) == "Mitotic Cell Cycle (GO:3)"  # non-regulation, size nearest 100
    with pytest.raises(InputError, match="planted_term"):
        choose_planted_term({"Apoptosis (GO:9)": [f"G{i}" for i in range(80)]})


def test_same_seed_identical_files_other_seed_differs(tmp_path):
    a, b, c = (_fake_cohort(tmp_path / x) for x in "abc")
    generate_expression(a, seed=2, fraction=0.5)
    generate_expression(b, seed=2, fraction=0.5)
    generate_expression(c, seed=3, fraction=0.5)
    for f in FILES:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
    assert (a / COUNTS_FILE).read_bytes() != (c / COUNTS_FILE).read_bytes()
    assert not [p.name for p in a.iterdir() if p.name.startswith(".tmp-")]  # atomic writes leave no temp files


def test_fraction_samples_a_seeded_subset_in_manifest_order(tmp_path):
    folder = _fake_cohort(tmp_path / "c")
    ex = generate_expression(folder, seed=4, fraction=0.5)
    cols = pd.read_csv(ex.counts, index_col=0, nrows=1).columns.tolist()
    order = pd.read_csv(folder / "manifest.csv")["patient_id"].tolist()
    assert len(cols) == N // 2 and cols == [p for p in order if p in set(cols)]
    truth = json.loads(ex.truth.read_text())
    assert truth["patients"] == cols and truth["n_responders"] == int(_response(folder).loc[cols].sum())


def test_planted_genes_up_and_signatures_down_in_responders(cohort):
    folder, ex = cohort
    counts = pd.read_csv(ex.counts, index_col=0)
    truth = json.loads(ex.truth.read_text())
    resp = _response(folder).reindex(counts.columns).to_numpy() == 1
    lib = counts.sum(axis=0)
    logn = np.log2(counts / (lib / lib.mean()) + 1.0)  # library-size normalised log counts
    diff = logn.loc[:, resp].mean(axis=1) - logn.loc[:, ~resp].mean(axis=1)
    planted = truth["planted_genes"]
    shifted = {g for s in truth["signatures"].values() for g in s["genes"]} | set(planted)
    background = [g for g in counts.index if g not in shifted]
    # library-size normalisation absorbs part of the planted shift (planted genes are ~6% of the counts)
    assert_close(diff.loc[planted].mean(), 1.0, rtol=0, atol=0.2, what="planted genes: mean log2 FC, responders")
    assert (diff.loc[planted] > 0).mean() > 0.9
    assert_close(diff.loc[background].mean(), 0.0, rtol=0, atol=0.12, what="background genes: mean log2 FC")
    for name, s in truth["signatures"].items():
        assert_close(diff.loc[s["genes"]].mean(), s["log2fc"], rtol=0, atol=0.3, what=f"{name}: mean log2 FC")


def test_radiogenomics_finds_the_planted_term_and_signatures(cohort, go):
    folder, ex = cohort
    resp = _response(folder)
    # the score is the response itself (+ jitter): the groups are the responders, as a perfect model would give
    jitter = np.random.default_rng(0).uniform(-0.1, 0.1, len(resp))
    scores = pd.DataFrame({"patient_id": resp.index, "score": resp.to_numpy() + jitter})
    cfg = RadiogenomicsConfig(sample_types=None, lfc_threshold=0.5, gsea_permutations=50, n_cpus=1)
    res = run_radiogenomics(ex.counts, scores, id_column="patient_id", groups=0.5, gene_sets=[go],
                            signatures=[ex.signatures], config=cfg, seed=0)
    term = json.loads(ex.truth.read_text())["planted_term"]
    assert res.grouping.counts() == {"low": int((resp == 0).sum()), "high": int((resp == 1).sum())}
    up = res.ora[f"{go.name}: up in high"].table
    assert up["term"].iloc[0] == term and up["padj"].iloc[0] < 1e-10
    gsea = res.gsea[go.name].table.sort_values("nes", ascending=False, kind="stable")
    assert term in gsea["term"].head(3).tolist()
    assert gsea.set_index("term").loc[term, "fdr"] < 0.05
    comp = res.ssgsea["immune_signatures"].comparison.set_index("signature")
    shifted = [name for name, (_, shift) in SIGNATURE_SHIFTS.items() if shift < 0]
    assert (comp.loc[shifted, "padj"] < 0.05).all() and (comp.loc[shifted, "difference"] < 0).all()
    # the unshifted control moves only a little: ssGSEA ranks genes within a sample, and the planted genes
    # going up push every other gene's rank down a bit in responders (a compositional effect, not a planted one)
    smallest = comp.loc[shifted, "difference"].abs().min()
    assert abs(comp.loc["SYNTHETIC_CONTROL", "difference"]) < 0.25 * smallest


def test_works_on_a_generated_imaging_cohort(tmp_path):
    from hccrad.synth import generate_cohort

    generate_cohort(tmp_path, n=10, seed=3)
    ex = generate_expression(tmp_path, seed=1, n_genes=400)
    table = read_counts(ex.counts)
    assert list(table.counts.columns) == pd.read_csv(tmp_path / "manifest.csv")["patient_id"].tolist()
    assert table.n_genes == 400


@pytest.mark.parametrize("drop, file, column", [("response", "clinical.csv", "response"),
                                                ("case_id", "clinical.csv", "case_id"),
                                                ("patient_id", "manifest.csv", "patient_id")])
def test_missing_column_names_file_and_column(tmp_path, drop, file, column):
    folder = _fake_cohort(tmp_path / "c")
    t = pd.read_csv(folder / file)
    t.drop(columns=drop).to_csv(folder / file, index=False)
    with pytest.raises(InputError) as err:
        generate_expression(folder)
    assert err.value.field == column and err.value.file.endswith(file) and repr(column) in str(err.value)


def test_missing_file_and_bad_arguments(tmp_path):
    with pytest.raises(InputError, match="manifest not found") as err:
        generate_expression(tmp_path)
    assert err.value.file.endswith("manifest.csv")
    folder = _fake_cohort(tmp_path / "c")
    (folder / "clinical.csv").unlink()
    with pytest.raises(InputError, match="clinical table not found"):
        generate_expression(folder)
    folder = _fake_cohort(tmp_path / "d")
    with pytest.raises(InputError, match="not a term") as err:
        generate_expression(folder, planted_term="Cell Cycle")
    assert err.value.field == "planted_term"
    with pytest.raises(InputError, match="n_genes >= "):
        generate_expression(folder, n_genes=150)
    with pytest.raises(InputError, match="fraction"):
        generate_expression(folder, fraction=0.0)
    with pytest.raises(InputError, match="too few"):
        generate_expression(folder, fraction=0.05)
    clin = pd.read_csv(folder / "clinical.csv")
    clin.loc[3, "response"] = np.nan
    clin.to_csv(folder / "clinical.csv", index=False)
    with pytest.raises(InputError, match="response must be 0 or 1") as err:
        generate_expression(folder)
    assert err.value.case == clin.loc[3, "case_id"]
    assert not any((folder / f).exists() for f in FILES)  # nothing written on error


def test_custom_planted_term_and_fold_change(tmp_path, go):
    folder = _fake_cohort(tmp_path / "c")
    term = "B Cell Receptor Signaling Pathway (GO:0050853)"
    ex = generate_expression(folder, seed=1, planted_term=term, log2fc=-1.5)
    truth = json.loads(ex.truth.read_text())
    assert truth["planted_term"] == term and truth["log2fc"] == -1.5
    assert sorted(truth["planted_genes"]) == sorted(set(go.sets[term]))
