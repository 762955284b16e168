"""Radiogenomics stage of a study run (seed 004): the study's model score per patient, split at the
model's training cut-off (or a given / maxstat cut-point), linked to the user's RNA-seq counts.

The score and the cut-off are frozen from the training cohort; the expression data only describe the
groups. Tables go to the report as CSV, figures as PNG/SVG.
"""

from __future__ import annotations

import logging

import pandas as pd

from hccrad.cohort.study import Study
from hccrad.core.errors import SpecError
from hccrad.pipeline.modelling import FittedModels
from hccrad.radiogenomics.pipeline import run_radiogenomics

log = logging.getLogger(__name__)


def run_study_radiogenomics(study: Study, fitted: FittedModels):
    """Run `hccrad.radiogenomics.run_radiogenomics` with the spec's `radiogenomics` section."""
    spec = study.spec
    rg = spec.radiogenomics
    cfg = rg.settings
    model = next(iter(fitted.models.values())) if fitted.models else None
    if rg.scores is not None:
        scores = pd.read_csv(rg.scores)
    else:
        if "patient_id" not in study.table.columns and rg.id_column != spec.data.id_column:
            raise SpecError([f"radiogenomics.id_column {rg.id_column!r}: the manifest has no such column"])
        ids = study.table.loc[model.scores.index]
        key = ids[rg.id_column] if rg.id_column in ids.columns else pd.Series(ids.index, index=ids.index)
        scores = pd.DataFrame({rg.id_column: key.astype(str).to_numpy(),
                               cfg.score_column: model.scores.to_numpy()})
    if rg.cutoff == "model":
        if model is None:
            raise SpecError(["radiogenomics.cutoff 'model' needs a fitted model"])
        cutoff: float | str = model.threshold
    else:
        cutoff = rg.cutoff
    clinical = pd.read_csv(rg.clinical) if rg.clinical is not None else None
    if clinical is None and spec.outcome.survival is not None:
        sv = spec.outcome.survival
        t = study.table
        key = t[rg.id_column] if rg.id_column in t.columns else pd.Series(t.index, index=t.index)
        clinical = pd.DataFrame({rg.id_column: key.astype(str).to_numpy(),
                                 cfg.time_column: t[sv.time].to_numpy(), cfg.event_column: t[sv.event].to_numpy()})
    return run_radiogenomics(rg.counts, scores, id_column=rg.id_column, groups=cutoff, clinical=clinical,
                             gene_sets=rg.gene_sets, signatures=[str(p) for p in rg.signatures], config=cfg,
                             seed=rg.seed)
