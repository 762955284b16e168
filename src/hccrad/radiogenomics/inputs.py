"""Read bulk RNA-seq counts and join them to per-patient radiomics scores.

Layouts read (genes in rows, samples in columns, raw integer counts):

* a plain table (CSV, TSV or Parquet): the first column (or the index of a Parquet file) holds unique gene
  ids; an optional ``gene_name`` column holds symbols; an optional ``gene_type`` column is dropped; every
  other column is one sample;
* GDC "STAR - Counts" files (one file per aliquot, as the GDC portal delivers TCGA RNA-seq): a ``# gene-model``
  comment line, columns ``gene_id, gene_name, gene_type, unstranded, stranded_first, stranded_second,
  tpm_unstranded, ...`` and four ``N_unmapped``/``N_multimapping``/``N_noFeature``/``N_ambiguous`` rows,
  which are dropped. ``unstranded`` is the count DESeq2 wants (the GDC mRNA pipeline's HTSeq-equivalent
  column). ``gene_name`` is read as-is: symbols are never upper-cased, stripped or remapped; GENCODE has a
  few symbols shared by several Ensembl ids, so rows stay keyed by ``gene_id`` and symbols are only used for
  gene-set analyses (see `hccrad.radiogenomics.enrichment.collapse_to_symbols`).

Sample columns are matched to patients by truncating TCGA barcodes to the patient level (``TCGA-XX-YYYY``,
the first three dash-separated fields; Sanchez-Vega/GDC barcode format). With TCGA sample-level barcodes
(``TCGA-XX-YYYY-01A...``) only primary tumours (sample type ``01``) are kept by default.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from hccrad.core.errors import InputError

logger = logging.getLogger(__name__)

STAR_COLUMNS = ("gene_id", "gene_name", "gene_type", "unstranded")
_TCGA = re.compile(r"^(TCGA-[A-Z0-9]{2}-[A-Z0-9]{4})(?:-(\d{2}))?", re.IGNORECASE)


def _shown(ids: Sequence[str], n: int = 10) -> str:
    ids = [str(i) for i in ids]
    more = f" ... and {len(ids) - n} more" if len(ids) > n else ""
    return ", ".join(ids[:n]) + more


def patient_id(sample_id: str) -> str:
    """Patient-level id of a sample: a TCGA barcode truncated to ``TCGA-XX-YYYY`` (upper case); others as-is."""
    s = str(sample_id).strip()
    m = _TCGA.match(s)
    return m.group(1).upper() if m else s


def tcga_sample_type(sample_id: str) -> str | None:
    """The two-digit TCGA sample-type code (``01`` primary tumour, ``11`` solid normal), None if absent."""
    m = _TCGA.match(str(sample_id).strip())
    return m.group(2) if m else None


@dataclass(frozen=True)
class CountTable:
    """Raw counts (genes x samples, integer) with optional gene symbols (index = gene id)."""

    counts: pd.DataFrame
    gene_names: pd.Series | None = None
    source: str = "table"

    @property
    def n_genes(self) -> int:
        return int(self.counts.shape[0])

    @property
    def n_samples(self) -> int:
        return int(self.counts.shape[1])

    def symbols(self) -> pd.Series:
        """Gene symbol per gene id (the id itself where no symbol is known)."""
        if self.gene_names is None:
            return pd.Series(self.counts.index.astype(str), index=self.counts.index, name="gene_name")
        names = self.gene_names.reindex(self.counts.index)
        return names.where(names.notna() & (names.astype(str) != ""), self.counts.index.to_series()).rename(
            "gene_name")


def validate_counts(counts: pd.DataFrame, *, source: str = "counts") -> pd.DataFrame:
    """Check a genes x samples table of raw counts; return it as int64.

    Errors (`InputError`, listing the offenders): duplicated sample columns, duplicated gene ids,
    non-numeric, missing, negative or non-integer values (DESeq2 models raw counts; TPM/FPKM/log values
    must not be given).
    """
    if counts.shape[0] == 0 or counts.shape[1] == 0:
        raise InputError(f"count table is empty ({counts.shape[0]} genes x {counts.shape[1]} samples)",
                         file=source, hint="genes in rows, samples in columns")
    cols = pd.Index(counts.columns.astype(str))
    dup = cols[cols.duplicated()].unique().tolist()
    if dup:
        raise InputError(f"duplicated sample column(s): {_shown(dup)}", file=source, field="samples",
                         hint="each sample must appear once; remove or rename the repeated columns")
    idx = pd.Index(counts.index.astype(str))
    dupg = idx[idx.duplicated()].unique().tolist()
    if dupg:
        raise InputError(f"duplicated gene id(s): {_shown(dupg)}", file=source, field="gene_id",
                         hint="key rows by a unique id (e.g. Ensembl gene_id) and keep symbols in 'gene_name'")
    bad_type = [c for c in counts.columns if not pd.api.types.is_numeric_dtype(counts[c])]
    if bad_type:
        raise InputError(f"non-numeric sample column(s): {_shown(bad_type)}", file=source,
                         hint="only gene_id, gene_name and gene_type may be text columns")
    values = counts.to_numpy(dtype=float)
    problems = {"missing": np.isnan(values), "negative": values < 0,
                "non-integer": ~np.isnan(values) & (np.abs(values - np.round(values)) > 1e-8)}
    for what, mask in problems.items():
        if mask.any():
            samples = counts.columns[mask.any(axis=0)].astype(str).tolist()
            genes = counts.index[mask.any(axis=1)].astype(str).tolist()
            raise InputError(
                f"{int(mask.sum())} {what} count(s) in sample(s) {_shown(samples, 5)} (genes {_shown(genes, 5)})",
                file=source, field="counts",
                hint="give raw read counts (e.g. STAR 'unstranded'), not TPM/FPKM/normalised or log values")
    out = pd.DataFrame(np.round(values).astype(np.int64), index=idx, columns=cols)
    out.index.name = "gene_id"
    return out


def _from_frame(frame: pd.DataFrame, source: str) -> CountTable:
    if {"unstranded", "stranded_first", "tpm_unstranded"} <= set(map(str, frame.columns)):
        raise InputError("this is a single GDC STAR-Counts file, not a genes x samples table", file=source,
                         hint="combine the per-sample files with read_star_counts({sample_id: path})")
    frame = frame.copy()
    if "gene_id" in frame.columns:
        frame = frame.set_index("gene_id")
    names = frame.pop("gene_name").astype(str) if "gene_name" in frame.columns else None
    if "gene_type" in frame.columns:
        frame = frame.drop(columns="gene_type")
    star_meta = frame.index.astype(str).str.startswith("N_")
    if star_meta.any():
        frame = frame.loc[~star_meta]
        names = names.loc[~star_meta] if names is not None else None
    counts = validate_counts(frame, source=source)
    if names is not None:
        names.index = counts.index
        names.name = "gene_name"
    return CountTable(counts, names, source)


def read_counts(source: str | Path | pd.DataFrame) -> CountTable:
    """Read a genes x samples raw-count table (CSV, TSV, Parquet or a DataFrame); see the module doc."""
    if isinstance(source, pd.DataFrame):
        return _from_frame(source, "DataFrame")
    path = Path(source)
    if not path.is_file():
        raise InputError("count table not found", file=path, hint="give a CSV/TSV/Parquet file of raw counts")
    suffixes = "".join(path.suffixes).lower()
    try:
        if suffixes.endswith(".parquet"):
            frame = pd.read_parquet(path)
            if "gene_id" not in frame.columns:
                frame = frame.rename_axis("gene_id").reset_index()
        else:
            sep = "," if suffixes.endswith((".csv", ".csv.gz")) else "\t"
            header = pd.read_csv(path, sep=sep, comment="#", nrows=1, header=None).iloc[0]
            raw = [str(h) for h in header]
            dup = sorted({h for h in raw if raw.count(h) > 1})
            if dup:
                raise InputError(f"duplicated sample column(s): {_shown(dup)}", file=path, field="samples",
                                 hint="each sample must appear once; remove or rename the repeated columns")
            frame = pd.read_csv(path, sep=sep, comment="#")
            first = frame.columns[0]
            if first != "gene_id":
                frame = frame.rename(columns={first: "gene_id"})
    except InputError:
        raise
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read count table: {exc}", file=path) from exc
    return _from_frame(frame, str(path))


def read_star_counts(files: Mapping[str, str | Path], *, column: str = "unstranded") -> CountTable:
    """Combine GDC STAR-Counts files ({sample id: path}) into one CountTable keyed by ``gene_id``.

    Use `gdc_sample_ids` to build the mapping from a GDC sample sheet. All files must list the same genes.
    """
    if not files:
        raise InputError("no STAR-Counts files given", hint="pass {sample_id: path, ...}")
    columns: dict[str, pd.Series] = {}
    names: pd.Series | None = None
    for sample, path in files.items():
        try:
            tab = pd.read_csv(path, sep="\t", comment="#")
        except (OSError, ValueError) as exc:
            raise InputError(f"cannot read STAR-Counts file: {exc}", file=path, case=str(sample)) from exc
        missing = [c for c in ("gene_id", "gene_name", column) if c not in tab.columns]
        if missing:
            raise InputError(f"not a GDC STAR-Counts file: missing column(s) {missing}", file=path,
                             case=str(sample), hint=f"expected columns {list(STAR_COLUMNS)}")
        tab = tab.loc[~tab["gene_id"].astype(str).str.startswith("N_")].set_index("gene_id")
        if names is None:
            names = tab["gene_name"]
        elif not tab.index.equals(names.index):
            raise InputError("gene ids differ from the first STAR-Counts file", file=path, case=str(sample),
                             hint="all files must come from the same GDC release (same GENCODE model)")
        columns[str(sample)] = tab[column]
    frame = pd.DataFrame(columns)
    frame.insert(0, "gene_name", names)
    return _from_frame(frame.reset_index(), "GDC STAR-Counts")


def gdc_sample_ids(sample_sheet: str | Path, folder: str | Path) -> dict[str, Path]:
    """{Sample ID: path} from a GDC sample sheet (columns 'File ID', 'File Name', 'Sample ID').

    Files are looked up as ``folder/<File ID>/<File Name>`` (the GDC client layout) or ``folder/<File Name>``.
    """
    sheet = pd.read_csv(sample_sheet, sep="\t")
    need = ["File ID", "File Name", "Sample ID"]
    missing = [c for c in need if c not in sheet.columns]
    if missing:
        raise InputError(f"sample sheet lacks column(s) {missing}", file=sample_sheet,
                         hint="download the sample sheet from the GDC cart")
    out: dict[str, Path] = {}
    folder = Path(folder)
    for fid, fname, sid in sheet[need].itertuples(index=False, name=None):
        sid = str(sid)
        cands = [folder / str(fid) / str(fname), folder / str(fname)]
        path = next((c for c in cands if c.is_file()), None)
        if path is None:
            raise InputError("file of the sample sheet not found", file=cands[0], case=sid)
        if sid in out:
            raise InputError(f"sample {sid} appears twice in the sample sheet", file=sample_sheet, case=sid,
                             hint="keep one aliquot per sample")
        out[sid] = path
    return out


@dataclass(frozen=True)
class MatchedData:
    """Counts restricted to scored patients, in the order of `samples` (columns renamed to patient ids)."""

    counts: pd.DataFrame
    gene_names: pd.Series | None
    samples: pd.DataFrame  # index patient_id; columns sample_id, score (+ any other score-table columns)
    n_unscored_samples: int
    dropped_patients: tuple[str, ...]


def match_samples(
    table: CountTable,
    scores: pd.DataFrame,
    *,
    id_column: str,
    score_column: str = "score",
    sample_types: Sequence[str] | None = ("01",),
    drop_unmatched: bool = False,
) -> MatchedData:
    """Join count columns to the score table by patient id (TCGA barcodes truncated to ``TCGA-XX-YYYY``).

    Errors: `id_column`/`score_column` missing; a patient scored twice; two samples of one patient (after
    the sample-type filter); scored patients without expression (all listed) unless ``drop_unmatched``;
    no overlap at all. Samples without a score are ignored (logged).
    """
    for col in (id_column, score_column):
        if col not in scores.columns:
            raise InputError(f"score table has no column {col!r}", field=col,
                             hint=f"columns present: {list(scores.columns)}")
    sc = scores.copy()
    sc["_patient"] = sc[id_column].map(patient_id)
    dup = sc.loc[sc["_patient"].duplicated(), "_patient"].unique().tolist()
    if dup:
        raise InputError(f"patient(s) scored more than once: {_shown(dup)}", field=id_column,
                         hint="give one score per patient (TCGA ids are compared at the patient level)")
    numeric = pd.to_numeric(sc[score_column], errors="coerce")
    bad_num = sc.loc[numeric.isna() & sc[score_column].notna(), "_patient"].tolist()
    if bad_num:
        raise InputError(f"non-numeric score for patient(s) {_shown(bad_num)}", field=score_column)
    sc[score_column] = numeric
    if sc[score_column].isna().any():
        bad = sc.loc[sc[score_column].isna(), "_patient"].tolist()
        raise InputError(f"missing score for patient(s) {_shown(bad)}", field=score_column)
    cols = pd.Series(table.counts.columns, index=table.counts.columns)
    if sample_types is not None:
        types = cols.map(tcga_sample_type)
        keep = types.isna() | types.isin(list(sample_types))
        if (~keep).any():
            logger.info("skipping %d sample(s) of TCGA sample type not in %s", int((~keep).sum()), list(sample_types))
        cols = cols[keep]
    pats = cols.map(patient_id)
    scored = set(sc["_patient"])
    in_scored = pats[pats.isin(scored)]
    dups = in_scored[in_scored.duplicated(keep=False)]
    if len(dups):
        listing = "; ".join(f"{p}: {', '.join(dups.index[dups == p])}" for p in dups.unique()[:10])
        raise InputError(f"several expression samples for one patient: {listing}", field="samples",
                         hint="keep one sample per patient (e.g. the primary tumour, aliquot A)")
    have = set(in_scored)
    missing = [p for p in sc["_patient"] if p not in have]
    if len(have) == 0:
        raise InputError(
            f"no scored patient has expression data (score ids e.g. {_shown(sc['_patient'].tolist(), 5)}; "
            f"sample ids e.g. {_shown(cols.index.tolist(), 5)})", field=id_column,
            hint="ids are compared after truncating TCGA barcodes to TCGA-XX-YYYY; check the id column")
    if missing and not drop_unmatched:
        raise InputError(f"{len(missing)} scored patient(s) have no expression sample: {_shown(missing, 20)}",
                         field=id_column, hint="fix the ids, or pass drop_unmatched=True to analyse the rest")
    if missing:
        logger.warning("dropping %d scored patient(s) without expression: %s", len(missing), _shown(missing))
    sc = sc.loc[sc["_patient"].isin(have)].set_index("_patient")
    sc.index.name = "patient_id"
    sample_of = pd.Series(in_scored.index, index=in_scored.to_numpy())
    sc.insert(0, "sample_id", sample_of.reindex(sc.index).to_numpy())
    sc = sc.rename(columns={score_column: "score"})
    counts = table.counts.loc[:, sc["sample_id"].to_numpy()]
    counts.columns = pd.Index(sc.index, name="patient_id")
    n_unscored = int(len(table.counts.columns) - len(sc))
    logger.info("matched %d patients; %d expression sample(s) without a score ignored", len(sc), n_unscored)
    return MatchedData(counts, table.gene_names, sc, n_unscored, tuple(missing))
