"""AIC stepwise logistic regression (hccrad.models.logistic.stepwise_logistic) against R step(glm).

Reference: tests/reference/r/results/stepwise_glm.csv, written by tests/reference/r/stepwise_glm.R
(`make references`) on the seeded data of stepwise_glm_input.csv: backward from the full model and forward
from the null model. The same variables must leave or enter in the same order, with the same AIC (1e-6).
direction="both" differs by design (hccrad: each addition followed by removals; R: the best of all adds and
drops at each step) and criterion="p" has no R counterpart; see docs/references.md.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from hccrad.models.logistic import stepwise_logistic
from hccrad.testing import assert_close

RESULTS = Path(__file__).resolve().parent / "r" / "results"
DATA = pd.read_csv(RESULTS / "stepwise_glm_input.csv")
REF = pd.read_csv(RESULTS / "stepwise_glm.csv", keep_default_na=False)
CANDIDATES = [f"x{i}" for i in range(1, 7)]


@pytest.mark.parametrize("direction", ["backward", "forward"])
def test_aic_stepwise_equals_step_glm(direction):
    ref = REF[REF["direction"] == direction]
    res = stepwise_logistic(DATA, "y", CANDIDATES, direction=direction, criterion="aic", screen_p=None)
    sign = {"add": "+", "remove": "-"}
    changes = [f"{sign[a]} {v}" for a, v in zip(res.steps["action"], res.steps["variable"])]
    assert changes == ref["change"].tolist()[1:]
    assert_close(res.steps["aic"].to_numpy(dtype=float), ref["aic"].to_numpy()[1:], rtol=1e-6, atol=1e-9,
                 what=f"{direction}: AIC after each step")
