"""Names of the report's paper layouts (`report.paper` in a study spec): each layout is named after the example
study that reproduces its paper; the paper ids ``seed000`` … ``seed004`` (hccrad's design notes) are accepted
as aliases. Kept free of imports so that the spec (`hccrad.config`) can read it without the report's
plotting stack."""

PAPER_ALIASES = {"seed000": "wu2025_cect_habitat", "seed001": "mri_clinical_radiomics_habitat",
                 "seed002": "multitask_dl_mtm", "seed003": "cnn_mri_clinical_svm",
                 "seed004": "ct_radiomics_proliferative"}
