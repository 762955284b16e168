"""The CNN score as a model input: joined only when the CNN learned (issue 27).

`hccrad.pipeline.deep_stage.run_deep_stage` marks its result `learned = False` when the cross-validated held-out
cross-entropy is not clearly below chance ("no architecture learned", `hccrad.deep.cv`). Such a score is
noise, so it is not given to the models: the column is left out of the modelling table with a warning (and
the stage's notes in the report and run.json), never silently; a model or other spec entry that names
cnn_score is then an error naming it. `deep.keep_unlearned_score: true` keeps it anyway (smoke runs with
few epochs); the report still says the CNN did not learn.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from hccrad.core.errors import ModelError

log = logging.getLogger(__name__)

__all__ = ["join_cnn_score", "uses_of"]

SCORE = "cnn_score"


def uses_of(spec_data: Any, column: str = SCORE, where: str = "") -> list[str]:
    """Spec locations (e.g. "models[1] 'dlr'.clinical") whose value names `column`, outside `deep`."""
    found: list[str] = []
    if isinstance(spec_data, dict):
        for k, v in spec_data.items():
            if where == "" and k == "deep":
                continue
            found += uses_of(v, column, f"{where}.{k}" if where else str(k))
    elif isinstance(spec_data, list):
        for i, v in enumerate(spec_data):
            name = f" {v['name']!r}" if isinstance(v, dict) and isinstance(v.get("name"), str) else ""
            found += uses_of(v, column, f"{where}[{i}]{name}")
    elif spec_data == column:
        found.append(where)
    return found


def join_cnn_score(spec, data: pd.DataFrame, deep) -> pd.DataFrame:
    """`data` with the `cnn_score` column when the CNN learned (or `deep.keep_unlearned_score`); otherwise
    `data` unchanged, with a warning — or a `ModelError` naming the spec entries that need the score."""
    if deep.learned:
        return data.join(deep.scores, how="left")
    if spec.deep.keep_unlearned_score:
        log.warning("no architecture learned, but deep.keep_unlearned_score is true: cnn_score is still given "
                    "to the models (the report says it did not learn)")
        return data.join(deep.scores, how="left")
    users = uses_of(spec.model_dump(mode="json"))
    if users:
        raise ModelError(f"no architecture learned, so cnn_score is not available, but {', '.join(users)} "
                         "uses it", field=users[0].split(".")[0],
                         hint="see the CNN notes in the log (more data, deep.min_steps, deep.lr, deep.sanity), "
                              "remove cnn_score from the model, or set deep.keep_unlearned_score: true")
    log.warning("no architecture learned: cnn_score is left out of the modelling table (see deep/cnn_scores.csv "
                "and the report's CNN section)")
    return data
