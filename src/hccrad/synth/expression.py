"""Synthetic bulk RNA-seq counts for a synthetic imaging cohort, with one planted GO pathway (seed 004 stand-in).

`generate_expression(cohort_dir, seed=...)` reads ``manifest.csv`` and ``clinical.csv`` of a cohort written by
`hccrad.synth.generate_cohort` and writes, next to them::

    expression_counts.csv     genes x patients raw counts; index "gene_id" (= HGNC symbol), one column per patient_id
    immune_signatures.gmt     SYNTHETIC signatures for ssGSEA (NOT real immune / TLS signatures, see below)
    expression_truth.json     planted term and genes, fold changes, seed, generating parameters

Generating model (negative binomial, the DESeq2 model of Love, Huber & Anders, Genome Biol 2014)::

    K_ij ~ NB(mean mu_ij, dispersion alpha_i),  Var K_ij = mu_ij + alpha_i mu_ij^2
    mu_ij = s_j * q_i * 2^(b_i * r_j)

with r_j = response of patient j (0/1; ``response`` stands in for seed 004's proliferative subtype),
s_j = exp(N(0, 0.25^2)) per-sample size factors, q_i = exp(N(log 150, 1.3^2)) gene base means,
alpha_i ~ U(0.05, 0.2) gene-wise dispersions, and b_i the planted log2 fold change in responders:
``log2fc`` (default +1) for every gene of the planted GO term, `SIGNATURE_SHIFTS` for the genes of the
synthetic signatures, 0 otherwise. NB draws use numpy's (n, p) parametrisation, n = 1/alpha,
p = n / (n + mu).

Genes are REAL human symbols from the GO Biological Process 2023 library bundled with blitzgsea (see
`hccrad.radiogenomics.genesets`): all genes of the planted term (default: a cell-cycle term chosen by
`choose_planted_term`, the proliferation signal of the seed-004 subtype) plus background genes drawn from the
library's other genes, so that GO over-representation and GSEA on these counts have something real to find.

The signatures in ``immune_signatures.gmt`` (``SYNTHETIC_IMMUNE_A``, ``SYNTHETIC_IMMUNE_B``, ``SYNTHETIC_TLS``,
``SYNTHETIC_CONTROL``) are random background genes with a planted shift down in responders (the control has
none). They are NOT real immune cell-type or tertiary-lymphoid-structure signatures (for those use
Charoentong et al., Cell Rep 2017, Table S6, as a .gmt); they only let the ssGSEA stage run end to end with a
known answer. ssGSEA ranks genes within each sample, so the planted up-shift of the GO term pushes every
other gene's rank down a little in responders: even the unshifted control differs slightly between groups
(compositional effect, about a tenth of the planted signatures' difference at n = 40).

Randomness: one `numpy.random.Generator` per purpose, seeded by ``[seed, stream]``; the same seed and inputs
give byte-identical files. Every file is written to a temporary file in the same folder, then moved into place
with `os.replace`.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hccrad.core.errors import InputError
from hccrad.core.files import shareable

logger = logging.getLogger(__name__)

LIBRARY = "GO_Biological_Process_2023"
COUNTS_FILE, SIGNATURES_FILE, TRUTH_FILE = "expression_counts.csv", "immune_signatures.gmt", "expression_truth.json"
MANIFEST_COLUMNS = ("case_id", "patient_id")
CLINICAL_COLUMNS = ("case_id", "response")
#: synthetic signature -> (number of genes, log2 fold change in responders). Not real immune signatures.
SIGNATURE_SHIFTS: dict[str, tuple[int, float]] = {
    "SYNTHETIC_IMMUNE_A": (25, -1.0),
    "SYNTHETIC_IMMUNE_B": (25, -0.7),
    "SYNTHETIC_TLS": (15, -1.0),
    "SYNTHETIC_CONTROL": (20, 0.0),
}
PLANTED_KEYWORD, PLANTED_MIN, PLANTED_MAX, PLANTED_TARGET = "cell cycle", 50, 300, 100
BASE_LOG_MEAN, BASE_LOG_SD = float(np.log(150.0)), 1.3
SIZE_FACTOR_SD = 0.25
DISPERSION_RANGE = (0.05, 0.2)
MIN_BACKGROUND = 100
_STREAM_SUBSET, _STREAM_GENES, _STREAM_SIGNATURES, _STREAM_COUNTS = 1, 2, 3, 4


@dataclass(frozen=True)
class ExpressionCohort:
    """Paths of the generated expression files (counts, signatures, truth) and the cohort folder."""

    counts: Path
    signatures: Path
    truth: Path
    out_dir: Path

    def summary(self) -> pd.DataFrame:
        """One row per planted gene set: kind, genes, log2 fold change in responders, patients (truth.json)."""
        t = json.loads(self.truth.read_text(encoding="utf-8"))
        common = {"n_patients": t["n_patients"], "n_responders": t["n_responders"], "n_genes_total": t["n_genes"]}
        rows = [{"set": t["planted_term"], "kind": "GO term (planted)", "n_genes": len(t["planted_genes"]),
                 "log2fc_responders": t["log2fc"], **common}]
        for name, s in t["signatures"].items():
            rows.append({"set": name, "kind": "synthetic signature (not a real immune signature)",
                         "n_genes": len(s["genes"]), "log2fc_responders": s["log2fc"], **common})
        return pd.DataFrame(rows)


def choose_planted_term(sets: dict[str, tuple[str, ...]] | dict[str, list[str]]) -> str:
    """The default planted term: a GO term whose name contains "cell cycle" with 50-300 genes.

    Among those, terms that are not "regulation of" terms come first, then the size closest to 100 genes,
    then the name (so the choice is deterministic; in the 2023 library it is "Mitotic Cell Cycle Phase
    Transition (GO:0044772)", 111 genes).
    """
    sizes = {term: len(set(genes)) for term, genes in sets.items()}
    cands = [("regulation" in term.lower(), abs(size - PLANTED_TARGET), term) for term, size in sizes.items()
             if PLANTED_KEYWORD in term.lower() and PLANTED_MIN <= size <= PLANTED_MAX]
    if not cands:
        raise InputError(f"no gene set named '*{PLANTED_KEYWORD}*' with {PLANTED_MIN}-{PLANTED_MAX} genes",
                         field="planted_term", hint="pass planted_term= explicitly")
    return min(cands)[2]


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        shareable(tmp)  # mkstemp makes 0600 files; these are shareable data files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read_table(path: Path, columns: tuple[str, ...], what: str) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"{what} not found", file=path,
                         hint="generate the imaging cohort first (hccrad.synth.generate_cohort(cohort_dir, n, seed))")
    try:
        table = pd.read_csv(path, dtype={"case_id": str, "patient_id": str})
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read the {what}: {exc}", file=path) from exc
    for col in columns:
        if col not in table.columns:
            raise InputError(f"the {what} has no column {col!r}", file=path, field=col,
                             hint=f"columns present: {list(table.columns)}; need {list(columns)}")
    return table


def _patients(cohort_dir: Path) -> pd.DataFrame:
    """patient_id, response (0/1) per patient, in manifest order."""
    mpath, cpath = cohort_dir / "manifest.csv", cohort_dir / "clinical.csv"
    manifest = _read_table(mpath, MANIFEST_COLUMNS, "manifest")
    clinical = _read_table(cpath, CLINICAL_COLUMNS, "clinical table")
    for table, path in ((manifest, mpath), (clinical, cpath)):
        dup = table.loc[table["case_id"].duplicated(), "case_id"].unique().tolist()
        if dup:
            raise InputError(f"case id(s) repeated: {dup[:10]}", file=path, field="case_id")
    dup = manifest.loc[manifest["patient_id"].duplicated(), "patient_id"].unique().tolist()
    if dup:
        raise InputError(f"patient id(s) with several cases: {dup[:10]}", file=mpath, field="patient_id",
                         hint="expression is simulated per patient; keep one case per patient")
    if manifest["patient_id"].isna().any():
        raise InputError("missing patient_id", file=mpath, field="patient_id",
                         case=str(manifest.loc[manifest["patient_id"].isna(), "case_id"].iloc[0]))
    joined = manifest[["case_id", "patient_id"]].merge(clinical[["case_id", "response"]], on="case_id",
                                                       how="left", validate="one_to_one")
    resp = pd.to_numeric(joined["response"], errors="coerce")
    bad = joined.loc[~resp.isin([0, 1]), "case_id"].tolist()
    if bad:
        raise InputError(f"response must be 0 or 1 for every manifest case; not so for {bad[:10]}", file=cpath,
                         field="response", case=str(bad[0]),
                         hint="every case of the manifest needs a clinical row with response 0/1")
    return pd.DataFrame({"patient_id": joined["patient_id"].to_numpy(), "response": resp.astype(int).to_numpy()})


def _validate(seed, n_genes, fraction, log2fc) -> None:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}", field="seed")
    if isinstance(n_genes, bool) or not isinstance(n_genes, (int, np.integer)):
        raise InputError(f"n_genes must be an integer, got {n_genes!r}", field="n_genes")
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction <= 1:
        raise InputError(f"fraction must be in (0, 1], got {fraction!r}", field="fraction")
    if isinstance(log2fc, bool) or not isinstance(log2fc, (int, float)) or not np.isfinite(log2fc):
        raise InputError(f"log2fc must be finite, got {log2fc!r}", field="log2fc")


def generate_expression(
    cohort_dir: str | Path,
    *,
    seed: int = 0,
    n_genes: int = 2000,
    fraction: float = 1.0,
    planted_term: str | None = None,
    log2fc: float = 1.0,
) -> ExpressionCohort:
    """Write synthetic raw counts, synthetic ssGSEA signatures and their truth into ``cohort_dir`` (module doc).

    fraction: share of the manifest's patients that get expression (a seeded random subset, at least 4 with
    both response classes). planted_term: a term of the bundled GO BP 2023 library whose genes are up by
    ``log2fc`` (log2, responders vs non-responders); None = `choose_planted_term`. n_genes: genes written
    (planted + signature + background genes). Raises `InputError` naming the file/column/argument at fault.
    """
    # lazy: hccrad.radiogenomics loads lifelines and statsmodels; the synthetic cohort does not need them
    from hccrad.radiogenomics.genesets import bundled_gene_sets

    cohort_dir = Path(cohort_dir)
    _validate(seed, n_genes, fraction, log2fc)
    seed = int(seed)
    patients = _patients(cohort_dir)
    library = bundled_gene_sets(LIBRARY)
    term = choose_planted_term(library.sets) if planted_term is None else planted_term
    if term not in library.sets:
        near = [t for t in library.sets if term.lower().split(" (go:")[0] in t.lower()][:5]
        raise InputError(f"planted_term {term!r} is not a term of {LIBRARY}", field="planted_term",
                         hint=f"similar terms: {near}" if near else "give an exact term name, e.g. "
                                                                     f"{choose_planted_term(library.sets)!r}")
    planted = sorted(set(library.sets[term]))
    n_sig = sum(k for k, _ in SIGNATURE_SHIFTS.values())
    need = len(planted) + n_sig + MIN_BACKGROUND
    if n_genes < need:
        raise InputError(f"n_genes = {n_genes} is too few for the {len(planted)} planted genes, {n_sig} "
                         f"signature genes and {MIN_BACKGROUND} background genes", field="n_genes",
                         hint=f"use n_genes >= {need}")
    others = sorted(library.genes() - set(planted))
    if n_genes - len(planted) > len(others):
        raise InputError(f"n_genes = {n_genes} exceeds the {len(others) + len(planted)} genes of {LIBRARY}",
                         field="n_genes")

    # patients: a seeded subset, kept in manifest order
    n_all = len(patients)
    n_keep = int(round(fraction * n_all))
    keep = np.sort(np.random.default_rng([seed, _STREAM_SUBSET]).choice(n_all, n_keep, replace=False))
    sub = patients.iloc[keep].reset_index(drop=True)
    n_resp = int(sub["response"].sum())
    if len(sub) < 4 or n_resp < 2 or len(sub) - n_resp < 2:
        raise InputError(f"the expression subset has {len(sub)} patients ({n_resp} responders): too few for a "
                         "two-group comparison", field="fraction",
                         hint="use a larger cohort or fraction (>= 2 responders and >= 2 non-responders)")

    # genes: planted + background (signatures are drawn from the background)
    rg = np.random.default_rng([seed, _STREAM_GENES])
    background = sorted(rg.choice(others, n_genes - len(planted), replace=False).tolist())
    rs = np.random.default_rng([seed, _STREAM_SIGNATURES])
    pool = rs.permutation(background).tolist()
    signatures: dict[str, dict] = {}
    start = 0
    for name, (k, shift) in SIGNATURE_SHIFTS.items():
        signatures[name] = {"genes": sorted(pool[start:start + k]), "log2fc": shift}
        start += k

    genes = sorted(planted + background)
    index = {g: i for i, g in enumerate(genes)}
    b = np.zeros(len(genes))
    b[[index[g] for g in planted]] = log2fc
    for s in signatures.values():
        b[[index[g] for g in s["genes"]]] = s["log2fc"]

    rc = np.random.default_rng([seed, _STREAM_COUNTS])
    base = np.exp(rc.normal(BASE_LOG_MEAN, BASE_LOG_SD, len(genes)))
    dispersion = rc.uniform(*DISPERSION_RANGE, len(genes))
    size = np.exp(rc.normal(0.0, SIZE_FACTOR_SD, len(sub)))
    r = sub["response"].to_numpy(dtype=float)
    mu = base[:, None] * size[None, :] * np.exp2(b[:, None] * r[None, :])
    nb_n = 1.0 / dispersion[:, None]
    counts = rc.negative_binomial(np.broadcast_to(nb_n, mu.shape), nb_n / (nb_n + mu))

    frame = pd.DataFrame(counts.astype(np.int64), index=pd.Index(genes, name="gene_id"),
                         columns=sub["patient_id"].astype(str).tolist())
    counts_path = cohort_dir / COUNTS_FILE
    gmt_path = cohort_dir / SIGNATURES_FILE
    truth_path = cohort_dir / TRUTH_FILE
    _atomic_write_text(counts_path, frame.to_csv(lineterminator="\n"))
    gmt = "".join(f"{name}\tsynthetic, NOT a real immune/TLS signature: random background genes, log2FC "
                  f"{s['log2fc']:+g} in responders (hccrad.synth.expression)\t" + "\t".join(s["genes"]) + "\n"
                  for name, s in signatures.items())
    _atomic_write_text(gmt_path, gmt)
    truth = {
        "generator": "hccrad.synth.generate_expression", "seed": seed, "library": LIBRARY,
        "planted_term": term, "planted_genes": planted, "log2fc": float(log2fc),
        "signatures": signatures, "n_genes": len(genes), "n_patients": int(len(sub)), "n_responders": n_resp,
        "fraction": float(fraction), "patients": sub["patient_id"].astype(str).tolist(),
        "model": {"base_log_mean": BASE_LOG_MEAN, "base_log_sd": BASE_LOG_SD, "size_factor_sd": SIZE_FACTOR_SD,
                  "dispersion_range": list(DISPERSION_RANGE),
                  "counts": "NB(mu = s_j q_i 2^(b_i r_j), alpha_i); r_j = response"},
    }
    _atomic_write_text(truth_path, json.dumps(truth, indent=1) + "\n")
    logger.info("wrote %d genes x %d patients (%d responders), planted %r (%d genes, log2FC %+g) to %s",
                len(genes), len(sub), n_resp, term, len(planted), log2fc, cohort_dir)
    return ExpressionCohort(counts_path, gmt_path, truth_path, cohort_dir)
