"""docs/paper_items.md stays true: every function it names imports, and every report section it names is
one the report writer produces (a renamed section or function fails here)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "paper_items.md"
REPORTING = Path(__file__).resolve().parents[2] / "src" / "hccrad" / "pipeline" / "reporting.py"


def _rows():
    rows = []
    for line in DOC.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 4 and re.match(r"^\d{3}-", cells[0]):
            rows.append(cells)
    return rows


def test_table_covers_all_five_papers():
    ids = {r[0][:3] for r in _rows()}
    assert ids == {"000", "001", "002", "003", "004"}
    assert len(_rows()) >= 40


def test_every_named_function_imports():
    for item, _, func, _ in _rows():
        for dotted in re.findall(r"`(hccrad\.[\w.]+)`", func):
            module, _, attr = dotted.rpartition(".")
            assert hasattr(importlib.import_module(module), attr), f"{item}: {dotted} does not exist"


def test_every_named_section_is_written_by_the_report():
    source = REPORTING.read_text()
    for item, _, func, section in _rows():
        if section.startswith("—"):
            continue
        if section.startswith("not done"):
            assert "not done:" in func or "not done:" in section, f"{item}: an item not done must say why"
            continue
        assert section in source, f"{item}: report section {section!r} is not produced by pipeline/reporting.py"
