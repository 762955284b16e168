"""Issue 19 (6): the report states resamples used of requested and warns when too many failed."""

import numpy as np
import pandas as pd

from hccrad.pipeline.evaluation import Evaluation
from hccrad.pipeline.reporting import _bootstrap_table
from hccrad.report.document import Report


def test_bootstrap_table_shows_used_of_requested_and_the_warning(tmp_path):
    metrics = pd.DataFrame({
        "model": ["ok", "shaky"], "cohort": ["training"] * 2, "n": [40, 40], "auc": [0.7, 0.6],
        "corrected_auc": [0.65, 0.52], "n_boot": [200, 200], "n_boot_used": [199, 150],
        "resampling_warning": [None, "50 of 200 bootstrap resamples (25.0 %) could not be fitted"]})
    ev = Evaluation(metrics, pd.DataFrame(), pd.DataFrame(), {}, {})
    rep = Report(tmp_path, "t")
    s = rep.section("Discrimination")
    _bootstrap_table(rep, s, ev)
    texts = [i.body for i in s.items if i.kind == "text"]
    assert len(texts) == 1 and "shaky" in texts[0] and "25.0 %" in texts[0]
    table = next(i for i in s.items if i.kind == "table")
    assert "199 used of 200 requested" in table.body and "150 used of 200 requested" in table.body
    assert np.isfinite(metrics["corrected_auc"]).all()
