"""docs/paper_items.md stays true: its table is the paper layouts the report uses, every function it names
imports, and every report-item key a layout asks for is one the report writer produces."""

from __future__ import annotations

import importlib
import re
from fnmatch import fnmatchcase
from pathlib import Path

import pytest

from hccrad.report.paper import PAPERS, paper_items_markdown, paper_sections

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "paper_items.md"
WRITERS = [*(ROOT / "src" / "hccrad" / "pipeline").glob("report*.py"), ROOT / "src" / "hccrad" / "pipeline" / "deep_stage.py",
           *(ROOT / "src" / "hccrad" / "deep").glob("*.py")]


def _produced_keys() -> set[str]:
    keys: set[str] = set()
    for path in WRITERS:
        text = path.read_text()
        keys |= set(re.findall(r'key="([a-z0-9_]+)"', text))
        keys |= set(re.findall(r'\(\s*"(cnn_[a-z0-9_]+)"', text))  # deep figure / table names
        keys |= {m + "_" for m in re.findall(r'f"(cnn_[a-z0-9_]+)_\{', text)}  # per-cohort names
        keys |= set(re.findall(r'"(table1_[a-z]+)",', text))  # Table 1 entries: _entry(..., key, name)
    return keys


def test_doc_table_is_the_layouts():
    text = DOC.read_text()
    table = text.split("<!-- BEGIN TABLE (generated) -->\n", 1)[1].split("<!-- END TABLE -->", 1)[0]
    assert table == paper_items_markdown(), "docs/paper_items.md is stale: regenerate its table (see the doc)"


def test_all_five_papers_with_unique_ids():
    assert set(PAPERS) == {"seed000", "seed001", "seed002", "seed003", "seed004"}
    ids = [p.id for _, items in PAPERS.values() for p in items]
    assert len(ids) == len(set(ids)) and len(ids) >= 50
    for paper, (_, items) in PAPERS.items():
        assert all(p.id.startswith(paper[-3:]) for p in items), paper


def test_every_named_function_imports():
    for _, items in PAPERS.values():
        for p in items:
            module, _, attr = p.function.rpartition(".")
            assert hasattr(importlib.import_module(module), attr), f"{p.id}: {p.function} does not exist"


def test_every_key_is_produced_by_the_report():
    produced = _produced_keys()
    assert {"roc", "km", "example_maps", "cnn_loss_curves"} <= produced
    for _, items in PAPERS.values():
        for p in items:
            for k in p.keys:
                assert any(fnmatchcase(q, k) or fnmatchcase(q + "x", k) for q in produced), (
                    f"{p.id}: no report item is written with key {k!r}")


def test_paper_sections_pick_items_by_key(tmp_path):
    import matplotlib.pyplot as plt
    import pandas as pd

    from hccrad.report.document import Report

    rep = Report(tmp_path, "t")
    s = rep.section("Discrimination")
    rep.add_table(s, pd.DataFrame({"auc": [0.7]}), "AUC", key="auc_table")
    fig, _ = plt.subplots()
    rep.add_figure(s, fig, "ROC", key="roc")
    rep.add_figure(s, plt.subplots()[0], "Grad-CAM training", key="cnn_gradcam_training")
    sections = paper_sections(rep, "seed003")
    assert [x.title for x in sections] == [p.title for p in PAPERS["seed003"][1]]
    f4 = sections[[p.id for p in PAPERS["seed003"][1]].index("003-F4")]
    assert [it.key for it in f4.items] == ["roc", "auc_table"]  # in the layout's key order
    f5 = sections[-1]
    assert [it.key for it in f5.items] == ["cnn_gradcam_training"]
    missing = sections[0]
    assert missing.items[-1].title == "Not produced in this run"
    with pytest.raises(KeyError, match="seed009"):
        paper_sections(rep, "seed009")


def test_write_with_a_paper_layout_writes_both_pages(tmp_path):
    import matplotlib.pyplot as plt
    import pandas as pd

    from hccrad.report.document import Report

    rep = Report(tmp_path, "study")
    s = rep.section("Discrimination")
    rep.add_figure(s, plt.subplots()[0], "ROC", key="roc")
    rep.add_table(s, pd.DataFrame({"x": [1]}), "unclaimed", key="nothing_claims_this")
    index = rep.write({"spec": "x"}, paper=paper_sections(rep, "seed000"), paper_name="seed000")
    html, stages = index.read_text(), (tmp_path / "stages.html").read_text()
    assert html.count('class="report-section"') == len(PAPERS["seed000"][1])
    assert 'href="stages.html"' in html and 'href="index.html"' in stages
    assert "unclaimed" in stages and "unclaimed" not in html  # only the stage page shows unclaimed items
    assert "Not produced in this run" in html
