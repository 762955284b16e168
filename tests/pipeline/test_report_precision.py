"""Issue 26: the discrimination section puts a precision note under the AUC table for a small test cohort."""

import numpy as np
import pandas as pd

from hccrad.pipeline.evaluation import CohortData, Evaluation
from hccrad.pipeline.reporting import _section_discrimination
from hccrad.report.document import Report


class _Spec:
    class cohorts:  # noqa: N801 - mimics spec.cohorts.training
        training = "training"


def test_small_test_cohort_gets_its_note_after_the_auc_table(tmp_path):
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(11, int), np.ones(7, int)]
    metrics = pd.DataFrame({"model": ["m", "m"], "cohort": ["training", "external"], "n": [120, 18],
                            "events": [50, 7], "auc": [0.80, 0.74], "lower": [0.72, 0.49],
                            "upper": [0.88, 0.99], "method": ["DeLong"] * 2})
    cohorts = [CohortData("external", y, {"m": y + rng.normal(0, 1, y.size)})]
    ev = Evaluation(metrics, pd.DataFrame(), pd.DataFrame(), {}, {}, cohorts)
    rep = Report(tmp_path, "t")
    _section_discrimination(rep, _Spec(), None, ev)
    kinds = [(it.kind, it.key) for it in rep.sections[0].items]
    at = kinds.index(("table", "auc_table"))
    assert kinds[at + 1] == ("text", "auc_table"), kinds  # same key: the paper layouts carry it with the table
    note = rep.sections[0].items[at + 1].body
    assert sum(k == ("text", "auc_table") for k in kinds) == 1
    assert "'external'" in note and "n = 18" in note and "0.50–0.50 wide" in note and "'training'" not in note
