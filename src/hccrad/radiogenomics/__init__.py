"""Radiogenomics (seed 004): link a radiomics score to bulk RNA-seq, offline.

Counts joined to per-patient scores, low/high groups at a cut-off, DESeq2 (pydeseq2), GO over-representation
and GSEA prerank (gseapy, local gene sets only), ssGSEA of user-supplied immune/TLS signatures, Spearman
score-gene correlation, Kaplan–Meier of OS by group. See docs/radiogenomics.md.
Needs the optional requirements in requirements/radiogenomics.txt.
"""

from hccrad.radiogenomics.de import DEResult, differential_expression
from hccrad.radiogenomics.enrichment import (GseaResult, OraResult, bh_adjust, collapse_to_symbols, gsea_prerank,
                                             over_representation)
from hccrad.radiogenomics.genesets import (BUNDLED, GeneSets, bundled_gene_sets, export_bundled_gmt,
                                           gene_sets_from_dict, read_gmt)
from hccrad.radiogenomics.groups import GroupAssignment, define_groups
from hccrad.radiogenomics.immune import (SsgseaResult, compare_groups, run_ssgsea, score_gene_correlation,
                                         ssgsea_scores)
from hccrad.radiogenomics.inputs import (CountTable, MatchedData, gdc_sample_ids, match_samples, patient_id,
                                         read_counts, read_star_counts, tcga_sample_type, validate_counts)
from hccrad.radiogenomics.pipeline import (RadiogenomicsConfig, RadiogenomicsResult, resolve_gene_sets,
                                           run_radiogenomics)
from hccrad.radiogenomics.spec import RadiogenomicsSpec

__all__ = [
    "BUNDLED", "CountTable", "DEResult", "GeneSets", "GroupAssignment", "GseaResult", "MatchedData", "OraResult",
    "RadiogenomicsConfig", "RadiogenomicsResult", "RadiogenomicsSpec", "SsgseaResult", "bh_adjust", "bundled_gene_sets",
    "collapse_to_symbols", "compare_groups", "define_groups", "differential_expression", "export_bundled_gmt",
    "gdc_sample_ids", "gene_sets_from_dict", "gsea_prerank", "match_samples", "over_representation",
    "patient_id", "read_counts", "read_gmt", "read_star_counts", "resolve_gene_sets", "run_radiogenomics",
    "run_ssgsea", "score_gene_correlation", "ssgsea_scores", "tcga_sample_type", "validate_counts",
]
