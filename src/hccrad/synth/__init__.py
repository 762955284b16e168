"""Synthetic multi-phase CT cohort with planted habitats and known outcome models (ARCHITECTURE §6).

`generate_cohort(out_dir, n, seed, ...)` writes images, masks, a manifest, a clinical table and a
`truth.json` holding the generating parameters and the Bayes-optimal AUC; `generate_expression(cohort_dir)`
adds RNA-seq counts with a planted GO term for the radiogenomics stage; see docs/synthetic.md.
"""

from hccrad.synth.cohort import SynthCohort, generate_cohort
from hccrad.synth.expression import ExpressionCohort, generate_expression
from hccrad.synth.model import GenerativeModel

__all__ = ["ExpressionCohort", "GenerativeModel", "SynthCohort", "generate_cohort", "generate_expression"]
