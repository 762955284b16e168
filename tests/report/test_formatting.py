"""Number formatting in report tables and figures: counts as integers, p-values never 0.000, AUC CIs within
[0, 1], Hosmer–Lemeshow without a chi-squared reference said to be not computable, round time ticks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.evaluate.calibration import HL_NOT_COMPUTABLE, calibration
from hccrad.models.validation import OptimismResult
from hccrad.report.document import Report
from hccrad.report.formatting import format_p, format_table, round_time_ticks, tick_label


def test_counts_are_integers_and_p_values_never_zero():
    t = pd.DataFrame({"model": ["a", "b"], "n": [40.0, 18.0], "n_boot": [200.0, 200.0], "auc": [1.0, 0.75],
                      "p": [0.0002, 0.04567], "q_bh": [np.nan, 0.5], "df": [1.0, 2.0]})
    shown = format_table(t)
    assert shown["n_boot"].tolist() == ["200", "200"]
    assert shown["n"].tolist() == ["40", "18"]
    assert shown["df"].tolist() == ["1", "2"]
    assert shown["auc"].tolist() == ["1.000", "0.750"]  # an AUC of exactly 1 stays a float
    assert shown["p"].tolist() == ["< 0.001", "0.046"]
    assert shown["q_bh"].tolist() == ["", "0.500"]
    assert format_p(0.0) == "< 0.001" and format_p(0.001) == "0.001"


def test_small_values_never_show_as_zero():
    shown = format_table(pd.DataFrame({"OR_lower": [0.000248556, 0.5, 0.0], "citl": [-1e-9, -0.0, 0.25]}))
    assert shown["OR_lower"].tolist() == ["0.00025", "0.500", "0.000"]
    assert shown["citl"].tolist() == ["-1e-09", "0.000", "0.250"]


def test_report_table_html_uses_the_rules(tmp_path):
    rep = Report(tmp_path, "t")
    s = rep.section("S")
    item = rep.add_table(s, pd.DataFrame({"n_boot": [200.0], "p": [1e-9]}), "T", index=False)
    assert "200.000" not in item.body and ">200<" in item.body
    assert "0.000" not in item.body and "&lt; 0.001" in item.body
    assert "200.0" in (tmp_path / "tables" / "s--t.csv").read_text()  # the CSV keeps the values


@pytest.mark.parametrize("value,expected", [(-2.47411, "-2.474"), (123456.0, "123500"), (0.5, "0.5"),
                                            (100.0, "100"), (0.000123456, "0.0001235"), (0.0, "0")])
def test_tick_labels_have_at_most_four_significant_digits(value, expected):
    assert tick_label(value) == expected


@pytest.mark.parametrize("t_max,unit,expected", [
    (284.0, "weeks", [0, 50, 100, 150, 200, 250]),
    (40.0, "months", [0, 6, 12, 18, 24, 30, 36]),
    (70.0, "months", [0, 12, 24, 36, 48, 60]),
    (3.7, "years", [0, 1, 2, 3]),
])
def test_time_ticks_are_round_steps_of_the_unit(t_max, unit, expected):
    assert round_time_ticks(t_max, unit) == [float(v) for v in expected]


def test_corrected_auc_ci_is_clipped_to_the_auc_range():
    res = OptimismResult(apparent_auc=0.98, optimism=np.array([-0.06, -0.04, 0.0, 0.02, 0.05]), n_boot=5,
                         n_failed=0, selection_frequency=pd.Series(dtype=float), apparent_selected=(), seed=0)
    lo, hi = res.ci
    assert 0.0 <= lo <= hi <= 1.0, (lo, hi)
    assert hi == 1.0  # unclipped, the upper bound would be 1.036


def test_hosmer_lemeshow_with_no_degrees_of_freedom_is_not_computable():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, 60)  # one binary predictor: two distinct predicted risks, df = 2 - 2 = 0
    y = (rng.random(60) < np.where(x == 1, 0.7, 0.3)).astype(int)
    prob = np.where(x == 1, y[x == 1].mean(), y[x == 0].mean())
    row = calibration(y, prob).summary().iloc[-1]
    assert HL_NOT_COMPUTABLE in row["statistic"], row["statistic"]
    assert np.isnan(row["estimate"]) and np.isnan(row["p"])
