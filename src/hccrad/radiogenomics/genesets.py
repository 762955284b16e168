"""Gene-set collections, read offline: user ``.gmt`` files and the libraries bundled inside ``blitzgsea``.

Never pass a library *name* to gseapy: gseapy then downloads it (Enrichr / MSigDB). hccrad always hands
gseapy a dict {term: [genes]} built here.

Bundled defaults (files inside the installed ``blitzgsea`` 1.3.54 wheel, Enrichr text format: term, an empty
description, genes; read as GMT):

* ``GO_Biological_Process_2023`` (5,407 terms): Enrichr's build of the Gene Ontology biological-process
  annotations, human symbols. GO data: Gene Ontology Consortium, licence CC BY 4.0 (geneontology.org).
* ``KEGG_2021_Human`` (320 pathways): Enrichr's build of KEGG pathways. KEGG data are (c) Kanehisa
  Laboratories; academic use is free, commercial use needs a KEGG licence (kegg.jp/kegg/legal.html).

The 28 immune cell-type signatures of Charoentong et al. (Cell Rep 2017, Table S6) and TLS signatures are
not shipped: give them as ``.gmt`` files (see docs/radiogenomics.md).
"""

from __future__ import annotations

import importlib.resources
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from hccrad.core.errors import InputError

logger = logging.getLogger(__name__)

BUNDLED = {
    "GO_Biological_Process_2023": "Gene Ontology biological process (Enrichr 2023 build, shipped in blitzgsea "
                                  "1.3.54); GO Consortium, CC BY 4.0",
    "KEGG_2021_Human": "KEGG pathways (Enrichr 2021 build, shipped in blitzgsea 1.3.54); (c) Kanehisa "
                       "Laboratories, free for academic use",
}


@dataclass(frozen=True)
class GeneSets:
    """A named collection {term: genes} with where it came from."""

    name: str
    sets: dict[str, tuple[str, ...]] = field(repr=False)
    source: str = ""

    def __len__(self) -> int:
        return len(self.sets)

    def as_dict(self) -> dict[str, list[str]]:
        """A fresh {term: [genes]} dict (the form gseapy takes without any network access)."""
        return {k: list(v) for k, v in self.sets.items()}

    def genes(self) -> set[str]:
        return {g for genes in self.sets.values() for g in genes}


def _parse_gmt(lines, source: str) -> dict[str, tuple[str, ...]]:
    sets: dict[str, tuple[str, ...]] = {}
    for i, line in enumerate(lines, start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) < 3:
            raise InputError(f"line {i}: a GMT line needs term, description and >= 1 gene (tab-separated)",
                             file=source, hint="GMT format: TERM<TAB>DESCRIPTION<TAB>GENE1<TAB>GENE2 ...")
        term = parts[0].strip()
        genes = tuple(dict.fromkeys(g.strip() for g in parts[2:] if g.strip()))
        if term in sets:
            raise InputError(f"line {i}: term {term!r} appears twice", file=source)
        if not genes:
            raise InputError(f"line {i}: term {term!r} has no genes", file=source)
        sets[term] = genes
    if not sets:
        raise InputError("no gene sets found", file=source)
    return sets


def read_gmt(path: str | Path, *, name: str | None = None) -> GeneSets:
    """Read a ``.gmt`` file (one set per line: term, description, genes; tab-separated)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("gene-set file not found", file=path, hint="give a local .gmt file")
    with open(path, encoding="utf-8") as fh:
        sets = _parse_gmt(fh, str(path))
    return GeneSets(name or path.stem, sets, f"file {path}")


def gene_sets_from_dict(sets: dict[str, list[str]], *, name: str = "user") -> GeneSets:
    """Wrap a {term: [genes]} dict (validated: non-empty, string genes)."""
    if not sets:
        raise InputError("empty gene-set dict", field=name)
    clean = {}
    for term, genes in sets.items():
        g = tuple(dict.fromkeys(str(x) for x in genes))
        if not g:
            raise InputError(f"term {term!r} has no genes", field=name)
        clean[str(term)] = g
    return GeneSets(name, clean, "dict")


def bundled_gene_sets(name: str = "GO_Biological_Process_2023") -> GeneSets:
    """One of the libraries shipped inside the installed ``blitzgsea`` package (see module doc); offline."""
    if name not in BUNDLED:
        raise InputError(f"unknown bundled gene-set library {name!r}", field="gene_sets",
                         hint=f"choose one of {sorted(BUNDLED)} or give a .gmt file")
    try:
        res = importlib.resources.files("blitzgsea").joinpath("data", name)
    except ModuleNotFoundError as exc:
        raise InputError("the 'blitzgsea' package (bundled gene sets) is not installed", field="gene_sets",
                         hint="pip install -r requirements/radiogenomics.txt") from exc
    if not res.is_file():
        raise InputError(f"blitzgsea has no bundled file {name}", file=str(res),
                         hint="install blitzgsea==1.3.54, whose wheel ships it")
    with res.open(encoding="utf-8") as fh:
        sets = _parse_gmt(fh, str(res))
    return GeneSets(name, sets, BUNDLED[name])


def export_bundled_gmt(name: str, folder: str | Path) -> Path:
    """Copy a bundled library to ``folder/<name>.gmt`` (once) for use by other tools; returns the path."""
    bundled_gene_sets(name)  # validates the name and the file
    out = Path(folder) / f"{name}.gmt"
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        with importlib.resources.as_file(importlib.resources.files("blitzgsea").joinpath("data", name)) as src:
            shutil.copyfile(src, out)
        logger.info("wrote %s", out)
    return out
