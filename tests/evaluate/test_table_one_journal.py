"""Table 1 as a journal takes it: levels as read or declared (no "1.0", no empty level), labels, missing
counts, tests named, p formatted, SMD, and the CSV/HTML export."""

import numpy as np
import pandas as pd
import pytest

from hccrad.evaluate.descriptive import level_text, table_one
from hccrad.report.table_one_export import table_one_for_paper, table_one_html, write_table_one


@pytest.fixture(scope="module")
def tiny() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 60
    return pd.DataFrame({
        "group": pd.Categorical(np.where(np.arange(n) < 30, "event", "no event"), categories=["event", "no event", "x"]),
        "ecog": np.tile([0.0, 1.0, 2.0, np.nan], n // 4),             # integer-coded, read as float (blank -> NaN)
        "bclc": pd.Categorical(np.tile(["B", "A", "C"], n // 3), categories=["0", "A", "B", "C"]),  # "0" unused
        "afp": np.r_[rng.lognormal(5, 1, 30), rng.lognormal(3, 1, 30)],
    })


def _row(t, variable, level=""):
    return t.table[(t.table.variable == variable) & (t.table.level == level)].iloc[0]


def test_levels_missing_tests_and_p(tiny):
    t = table_one(tiny, "group", ["afp"], ["ecog", "bclc"], labels={"afp": "AFP (ng/mL)"},
                  levels={"bclc": ["C", "B", "A"]}, order=["bclc", "afp", "ecog"])
    assert list(t.groups) == ["event", "no event"]                      # the unused group level "x" is not shown
    assert t.table.loc[t.table.variable == "ecog", "level"].tolist() == ["", "0", "1", "2"]   # never "1.0"
    assert t.table.loc[t.table.variable == "bclc", "level"].tolist() == ["", "C", "B", "A"]   # declared order, no "0"
    assert _row(t, "ecog")["missing"] == 15 and _row(t, "AFP (ng/mL)")["missing"] == 0
    assert _row(t, "AFP (ng/mL)")["test"] == "Mann–Whitney U" and _row(t, "AFP (ng/mL)")["p"] == "< 0.001"
    assert _row(t, "bclc")["test"].startswith("Pearson χ²")
    assert _row(t, "bclc")["p"] == "1.000"                               # the same 10/10/10 split in both groups
    assert t.table.variable.drop_duplicates().tolist() == ["n", "bclc", "AFP (ng/mL)", "ecog"]  # the order asked for
    assert _row(t, "ecog", "1")["event"] == "8 (34.8)"                  # 8 of the 23 known ecog in "event"
    cells = t.table.drop(columns=["p"]).astype(str).to_numpy().ravel()
    assert not [c for c in cells if c.endswith(".0") or "=" in c or "_outcome" in c]
    assert "SMD" not in t.table.columns


def test_level_text():
    assert [level_text(v) for v in (1.0, 2, np.int64(3), 1.5, "A5")] == ["1", "2", "3", "1.5", "A5"]


def test_smd_against_closed_forms(tiny):
    t = table_one(tiny, "group", ["afp"], ["ecog"], smd=True)
    a, b = tiny.loc[tiny.group == "event", "afp"], tiny.loc[tiny.group == "no event", "afp"]
    expected = abs(a.mean() - b.mean()) / np.sqrt((a.var() + b.var()) / 2)
    assert _row(t, "afp")["SMD"] == f"{expected:.3f}"
    binary = pd.DataFrame({"g": [0] * 10 + [1] * 10, "x": [1] * 3 + [0] * 7 + [1] * 6 + [0] * 4})
    p1, p2 = 0.3, 0.6  # |p1 − p2| / sqrt((p1 q1 + p2 q2) / 2)
    want = abs(p1 - p2) / np.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / 2)
    assert _row(table_one(binary, "g", [], ["x"], smd=True), "x")["SMD"] == f"{want:.3f}"


def test_export_csv_and_html(tiny, tmp_path):
    t = table_one(tiny, "group", ["afp"], ["ecog"], labels={"afp": "AFP (ng/mL)"}, smd=True)
    paper = table_one_for_paper(t)
    assert list(paper.columns) == ["Characteristic", "Overall (n = 60)", "event (n = 30)", "no event (n = 30)",
                                   "p", "Test", "Missing", "SMD"]
    assert paper["Characteristic"].tolist()[:2] == ["AFP (ng/mL), median [Q1, Q3]", "ecog, n (%)"]
    assert paper["Characteristic"].tolist()[2] == "    0"
    page = table_one_html(t, "Table 1. <Baseline>")
    assert page.count("<tr>") == 1 + len(paper) and "&lt;Baseline&gt;" in page and "class=" not in page
    assert "&lt; 0.001" in page and "padding-left:20px" in page
    csv, html_path = write_table_one(t, "Table 1", tmp_path / "table1_outcome")
    assert pd.read_csv(csv, dtype=str, keep_default_na=False).equals(paper.astype(str))
    assert html_path.read_text().startswith("<!DOCTYPE html>")


def test_level_counts_equal_the_level_by_level_counts():
    """The one-pass counts (a 2,000-level column took seconds per table) equal counting each level in each group."""
    rng = np.random.default_rng(7)
    n = 300
    col = pd.Series(rng.choice([1.0, 2.0, 3.0, np.nan, 5.0], n))
    group = pd.Series(rng.choice(["a", "b", "c"], n))
    t = table_one(pd.DataFrame({"x": col, "g": group}), "g", [], ["x"])
    for level in (1.0, 2.0, 3.0, 5.0):
        row = _row(t, "x", level_text(level))
        known = int(col.notna().sum())
        k = int((col == level).sum())
        assert row["Overall"] == f"{k} ({100 * k / known:.1f})"
        for g in ("a", "b", "c"):
            sub = col[group == g]
            kk, d = int((sub == level).sum()), int(sub.notna().sum())
            assert row[g] == f"{kk} ({100 * kk / d:.1f})"
    text = pd.DataFrame({"g": ["a", "b"] * 50,   # rows a: u, w, u, w ...; rows b: v, u, v, u ...
                         "y": pd.Categorical(["u", "v", "w", "u"] * 25, categories=["w", "v", "u", "z"])})
    t = table_one(text, "g", [], ["y"])
    assert t.table.loc[t.table.variable == "y", "level"].tolist() == ["", "w", "v", "u"]   # declared order, no "z"
    assert [_row(t, "y", lv)["a"] for lv in ("w", "v", "u")] == ["25 (50.0)", "0 (0.0)", "25 (50.0)"]
    assert [_row(t, "y", lv)["b"] for lv in ("w", "v", "u")] == ["0 (0.0)", "25 (50.0)", "25 (50.0)"]
