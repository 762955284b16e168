"""The HTML report in a real browser (headless Chromium): it loads from disk with no server, every image
decodes, and every section is there."""

from __future__ import annotations

import re
import shutil
import subprocess

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from hccrad.report.document import Report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _render(tmp_path, wide=False):
    rep = Report(tmp_path / "report", "Browser test report")
    for i in range(3):
        s = rep.section(f"Section {i}", "intro")
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, i])
        rep.add_figure(s, fig, f"Figure {i}", "caption")
        rep.add_table(s, pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "<y>"]}), f"Table {i}")
    if wide:  # 40 columns with long headers: far wider than the window unless it scrolls in its own box
        cols = {f"as_published_corrected_upper_bound_of_model_{j}": [123456.789, 0.5] for j in range(40)}
        rep.add_table(s, pd.DataFrame(cols), "Wide table")
    return rep.write({"spec": "name: test"})


def test_report_files(tmp_path):
    page = _render(tmp_path)
    html = page.read_text()
    assert html.count('class="report-section"') == 3
    assert "&lt;y&gt;" in html, "table cells must be HTML-escaped"
    assert len(list((tmp_path / "report" / "figures").glob("*.svg"))) == 3
    assert len(list((tmp_path / "report" / "tables").glob("*.csv"))) == 3
    assert "http://" not in html and "https://" not in html, "the report must not reference the network"


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs Debian's chromium)")
def test_report_loads_in_headless_chromium(tmp_path):
    page = _render(tmp_path)
    profile = tmp_path / "profile"
    res = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=5000",
                          "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    dom = res.stdout
    assert "<body" in dom, f"chromium produced no DOM: {res.stderr[-2000:]}"
    attrs = dict(re.findall(r'data-([a-z-]+)="(\d+)"', dom))
    assert attrs.get("images") == "3", attrs
    assert attrs.get("broken-images") == "0", attrs
    assert attrs.get("sections") == "3", attrs


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (make test installs Debian's chromium)")
def test_no_table_makes_the_page_wider_than_the_window(tmp_path):
    """document.documentElement.scrollWidth <= window.innerWidth at 1024 px, with a 40-column table that
    does not fit: the table scrolls inside its own box (and does overflow that box, so the check bites)."""
    page = _render(tmp_path, wide=True)
    res = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1024,768",
                          "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120)
    attrs = dict(re.findall(r'data-([a-z-]+)="(\d+)"', res.stdout))
    assert "page-overflow" in attrs, f"chromium produced no DOM: {res.stderr[-2000:]}"
    assert attrs["page-overflow"] == "0", f"the page is {attrs['page-overflow']} px wider than the window"
    assert attrs["wide-tables"] == "0", attrs
    assert attrs["scrolled-tables"] == "1", attrs  # only the wide table needs its scroll bar


def test_file_names_are_unique_even_for_long_titles(tmp_path):
    rep = Report(tmp_path / "report", "t")
    s = rep.section("A very long section title about survival by the risk group of the habitat model")
    long = "Model versus staging systems by C-index and time-dependent AUC in the cohort called "
    for cohort in ("training", "internal_test", "training"):
        rep.add_table(s, pd.DataFrame({"a": [1]}), long + cohort)
    files = sorted(p.name for p in (tmp_path / "report" / "tables").glob("*.csv"))
    assert len(files) == 3, files
    assert any(f.endswith("internal-test.csv") for f in files), files
