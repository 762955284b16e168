"""Reading count tables (CSV/TSV/Parquet/GDC STAR-Counts), validation errors, and the patient-level join."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import DataError, InputError
from hccrad.radiogenomics import (define_groups, gdc_sample_ids, match_samples, patient_id, read_counts,
                                  read_star_counts, tcga_sample_type)


def _frame(n_genes: int = 5, samples=("TCGA-AA-0001-01A", "TCGA-AA-0002-01A", "TCGA-AA-0003-01A")) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    f = pd.DataFrame(rng.integers(0, 100, (n_genes, len(samples))), columns=list(samples))
    f.insert(0, "gene_name", ["TP53", "C1orf112", "AFP", "AFP", "MKI67"][:n_genes])
    f.insert(0, "gene_id", [f"ENSG{i:011d}.5" for i in range(n_genes)])
    return f


def _scores(ids=("TCGA-AA-0001", "TCGA-AA-0002", "TCGA-AA-0003")) -> pd.DataFrame:
    return pd.DataFrame({"pid": list(ids), "score": np.linspace(-1, 1, len(ids))})


def test_patient_id_truncates_tcga_barcodes():
    assert patient_id("TCGA-DD-A1EB-01A-11R-A131-07") == "TCGA-DD-A1EB"
    assert patient_id("tcga-dd-a1eb") == "TCGA-DD-A1EB"
    assert patient_id("HOSP_17") == "HOSP_17"
    assert tcga_sample_type("TCGA-DD-A1EB-11A-11R") == "11"
    assert tcga_sample_type("HOSP_17") is None


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet"])
def test_read_counts_formats_keep_gene_names_as_is(tmp_path, suffix):
    f = _frame()
    path = tmp_path / f"counts{suffix}"
    if suffix == ".parquet":
        f.set_index("gene_id").to_parquet(path)
    else:
        f.to_csv(path, sep="," if suffix == ".csv" else "\t", index=False)
    t = read_counts(path)
    assert t.counts.shape == (5, 3)
    assert t.counts.dtypes.unique().tolist() == [np.dtype("int64")]
    assert t.gene_names.tolist() == ["TP53", "C1orf112", "AFP", "AFP", "MKI67"]  # duplicates and case kept
    assert t.counts.index[0] == "ENSG00000000000.5"
    pd.testing.assert_frame_equal(t.counts.reset_index(drop=True), f.iloc[:, 2:].astype(np.int64),
                                  check_names=False)


def _write_star(path, counts, genes=("ENSG1.1", "ENSG2.3", "ENSG3.1"), names=("A1BG", "c1orf112", "A1BG")):
    lines = ["# gene-model: GENCODE v36",
             "gene_id\tgene_name\tgene_type\tunstranded\tstranded_first\tstranded_second\ttpm_unstranded",
             "N_unmapped\t\t\t10\t10\t10\t", "N_multimapping\t\t\t5\t5\t5\t", "N_noFeature\t\t\t7\t7\t7\t",
             "N_ambiguous\t\t\t3\t3\t3\t"]
    lines += [f"{g}\t{n}\tprotein_coding\t{c}\t{c // 2}\t{c // 2}\t1.5" for g, n, c in zip(genes, names, counts)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_read_gdc_star_counts_and_sample_sheet(tmp_path):
    (tmp_path / "f1").mkdir()
    _write_star(tmp_path / "f1" / "a.tsv", [5, 0, 12])
    _write_star(tmp_path / "b.tsv", [7, 1, 30])
    sheet = pd.DataFrame({"File ID": ["f1", "f2"], "File Name": ["a.tsv", "b.tsv"],
                          "Sample ID": ["TCGA-AA-0001-01A", "TCGA-AA-0002-01A"]})
    sheet.to_csv(tmp_path / "sheet.tsv", sep="\t", index=False)
    files = gdc_sample_ids(tmp_path / "sheet.tsv", tmp_path)
    t = read_star_counts(files)
    assert t.counts.index.tolist() == ["ENSG1.1", "ENSG2.3", "ENSG3.1"]  # N_* rows dropped
    assert t.counts["TCGA-AA-0002-01A"].tolist() == [7, 1, 30]  # the 'unstranded' column
    assert t.gene_names.tolist() == ["A1BG", "c1orf112", "A1BG"]


def test_single_star_file_is_not_a_count_table(tmp_path):
    with pytest.raises(InputError, match="single GDC STAR-Counts file"):
        read_counts(_write_star(tmp_path / "one.tsv", [1, 2, 3]))


def test_star_file_with_wrong_columns(tmp_path):
    p = tmp_path / "x.tsv"
    p.write_text("gene\tcount\nG1\t3\n")
    with pytest.raises(InputError, match="not a GDC STAR-Counts file"):
        read_star_counts({"S1": p})


@pytest.mark.parametrize("value, what", [(-1, "negative"), (2.5, "non-integer"), (np.nan, "missing")])
def test_bad_count_values_are_named(value, what):
    f = _frame()
    f = f.astype({c: float for c in f.columns[2:]})
    f.iloc[2, 3] = value
    with pytest.raises(InputError, match=what) as err:
        read_counts(f)
    assert "TCGA-AA-0002-01A" in str(err.value) and "ENSG00000000002.5" in str(err.value)


def test_integral_floats_are_accepted():
    f = _frame()
    f = f.astype({c: float for c in f.columns[2:]})
    assert read_counts(f).counts.dtypes.unique().tolist() == [np.dtype("int64")]


def test_duplicated_samples_and_genes(tmp_path):
    f = _frame()
    path = tmp_path / "dup.csv"
    f.rename(columns={"TCGA-AA-0003-01A": "TCGA-AA-0001-01A"}).to_csv(path, index=False)
    with pytest.raises(InputError, match="duplicated sample column.*TCGA-AA-0001-01A"):
        read_counts(path)
    g = _frame()
    g.loc[1, "gene_id"] = g.loc[0, "gene_id"]
    with pytest.raises(InputError, match="duplicated gene id"):
        read_counts(g)


def test_match_joins_at_patient_level_and_skips_normals():
    f = _frame(samples=("TCGA-AA-0001-01A", "TCGA-AA-0001-11A", "TCGA-AA-0002-01A", "TCGA-AA-0003-01A",
                        "TCGA-AA-0009-01A"))
    m = match_samples(read_counts(f), _scores(), id_column="pid")
    assert m.counts.columns.tolist() == ["TCGA-AA-0001", "TCGA-AA-0002", "TCGA-AA-0003"]
    assert m.samples["sample_id"].tolist() == ["TCGA-AA-0001-01A", "TCGA-AA-0002-01A", "TCGA-AA-0003-01A"]
    assert m.counts["TCGA-AA-0002"].tolist() == f["TCGA-AA-0002-01A"].tolist()
    assert m.n_unscored_samples == 2


def test_unmatched_ids_are_listed_or_dropped():
    f = _frame()
    scores = _scores(("TCGA-AA-0001", "TCGA-AA-0002", "TCGA-AA-0003", "TCGA-XX-0404", "TCGA-XX-0405"))
    with pytest.raises(InputError, match="2 scored patient.*TCGA-XX-0404, TCGA-XX-0405"):
        match_samples(read_counts(f), scores, id_column="pid")
    m = match_samples(read_counts(f), scores, id_column="pid", drop_unmatched=True)
    assert m.dropped_patients == ("TCGA-XX-0404", "TCGA-XX-0405") and m.counts.shape[1] == 3
    with pytest.raises(InputError, match="no scored patient has expression"):
        match_samples(read_counts(f), _scores(("P1", "P2")), id_column="pid")


def test_two_samples_of_one_patient_and_repeated_scores():
    f = _frame(samples=("TCGA-AA-0001-01A", "TCGA-AA-0001-01B", "TCGA-AA-0002-01A"))
    with pytest.raises(InputError, match="several expression samples for one patient: TCGA-AA-0001"):
        match_samples(read_counts(f), _scores(("TCGA-AA-0001", "TCGA-AA-0002")), id_column="pid")
    with pytest.raises(InputError, match="scored more than once"):
        match_samples(read_counts(_frame()), _scores(("TCGA-AA-0001", "TCGA-AA-0001-01A", "TCGA-AA-0002")),
                      id_column="pid")
    with pytest.raises(InputError, match="no column 'patient'"):
        match_samples(read_counts(_frame()), _scores(), id_column="patient")


def test_groups_fixed_and_maxstat():
    s = pd.Series([-1.0, 0.015, 0.02, 0.5, -0.3, 0.9], index=list("abcdef"))
    g = define_groups(s, 0.015)
    assert g.groups.tolist() == ["low", "low", "high", "high", "low", "high"]  # high = score > cut-off
    assert g.method == "fixed" and g.counts() == {"low": 3, "high": 3}
    with pytest.raises(DataError, match="too few"):
        define_groups(s, 0.8)
    with pytest.raises(DataError, match="unknown cut-off"):
        define_groups(s, "median")
    with pytest.raises(DataError, match="needs survival"):
        define_groups(s, "maxstat")
    rng = np.random.default_rng(3)
    sc = pd.Series(rng.normal(size=40), index=[f"p{i}" for i in range(40)])
    time = pd.Series(np.where(sc > 0.3, 100.0, 1000.0) * rng.uniform(0.5, 1.5, 40), index=sc.index)
    event = pd.Series(np.ones(40, bool), index=sc.index)
    m = define_groups(sc, "maxstat", time=time, event=event)
    from hccrad.survival import maxstat_cutpoint
    ref = maxstat_cutpoint(time.to_numpy(), event.to_numpy(), sc.to_numpy())
    assert m.method == "maxstat" and m.cutoff == ref.cutpoint
    assert m.summary()["maxstat_p_lausen"].iloc[0] == ref.p_value


def test_non_numeric_scores():
    s = _scores()
    s["score"] = ["0.1", "high", "0.3"]
    with pytest.raises(InputError, match="non-numeric score.*TCGA-AA-0002"):
        match_samples(read_counts(_frame()), s, id_column="pid")
