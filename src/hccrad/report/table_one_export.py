"""Table 1 as a journal takes it: a CSV and a plain HTML table that pastes into Word with its layout.

The HTML is one `<table>` with inline styles only (no classes, scripts or external CSS, which Word drops):
a three-line table (rules above and below the header and below the last row), the variable in the first
column with its levels indented beneath it, one column per group headed "name (n = k)", then p, the test,
the missing count and, when asked for, the SMD; a footnote says what the cells hold. Word keeps the rules,
the indentation and the bold variable names when the page is opened in a browser and copied, or when the
file is opened in Word directly.
"""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd

from hccrad.evaluate.descriptive import TableOneResult
from hccrad.core.files import atomic_write_text

__all__ = ["table_one_for_paper", "table_one_html", "write_table_one"]

_CELL = "padding:2px 8px;font-family:'Times New Roman',serif;font-size:10pt;"
_FOOTNOTE = ("Values are n (%), mean ± SD or median [Q1, Q3] (normality by Shapiro–Wilk in every group); "
             "percentages of the patients with a known value; p from the test named on the row; "
             "missing: patients without the value.")


def table_one_for_paper(result: TableOneResult) -> pd.DataFrame:
    """The journal layout: Characteristic (variable, its levels indented), the groups headed with their n,
    p, test, missing (and SMD). Drops the internal `summary` column (stated in the footnote instead)."""
    t = result.table
    n_row = t.iloc[0]
    groups = list(result.groups)
    shown = result.group_levels or tuple(groups)
    heads = {"Overall": f"Overall (n = {n_row['Overall']})",
             **{g: f"{lv} (n = {n_row[g]})" for g, lv in zip(groups, shown)}}
    body = t.iloc[1:]
    char = [f"    {lv}" if lv else (f"{v}, {s}" if s in ("mean ± SD", "median [Q1, Q3]") else f"{v}, n (%)")
            for v, lv, s in zip(body["variable"], body["level"], body["summary"])]
    out = pd.DataFrame({"Characteristic": char})
    for col in ["Overall", *groups]:
        out[heads[col]] = body[col].to_numpy()
    if groups:
        out["p"] = body["p"].to_numpy()
        out["Test"] = body["test"].to_numpy()
    out["Missing"] = [str(m) if lv == "" else "" for m, lv in zip(body["missing"], body["level"])]
    if "SMD" in t.columns:
        out["SMD"] = body["SMD"].to_numpy()
    return out


def table_one_html(result: TableOneResult, title: str) -> str:
    """A self-contained HTML page holding Table 1 (see the module docstring)."""
    paper = table_one_for_paper(result)
    top = "border-top:1.5px solid black;"
    head = "".join(f'<th style="{_CELL}{top}border-bottom:1px solid black;text-align:'
                   f'{"left" if i == 0 else "center"};">{html.escape(str(c))}</th>'
                   for i, c in enumerate(paper.columns))
    rows = []
    last = len(paper) - 1
    for i, (_, r) in enumerate(paper.iterrows()):
        bottom = "border-bottom:1.5px solid black;" if i == last else ""
        cells = []
        for j, v in enumerate(r):
            text = str(v)
            if j == 0 and text.startswith("    "):
                cell = f'<td style="{_CELL}{bottom}padding-left:20px;">{html.escape(text.strip())}</td>'
            elif j == 0:
                cell = f'<td style="{_CELL}{bottom}font-weight:bold;">{html.escape(text)}</td>'
            else:
                cell = f'<td style="{_CELL}{bottom}text-align:center;">{html.escape(text)}</td>'
            cells.append(cell)
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + html.escape(title) + "</title></head>"
            "<body>\n<p style=\"font-family:'Times New Roman',serif;font-size:11pt;font-weight:bold;\">"
            + html.escape(title) + "</p>\n<table style=\"border-collapse:collapse;\">\n<thead><tr>" + head
            + "</tr></thead>\n<tbody>\n" + "\n".join(rows) + "\n</tbody></table>\n"
            "<p style=\"font-family:'Times New Roman',serif;font-size:9pt;\">" + html.escape(_FOOTNOTE)
            + "</p>\n</body></html>\n")


def write_table_one(result: TableOneResult, title: str, stem: Path) -> list[Path]:
    """`stem`.csv (the journal layout) and `stem`.html; returns both paths."""
    csv = atomic_write_text(stem.with_suffix(".csv"), table_one_for_paper(result).to_csv(index=False))
    page = atomic_write_text(stem.with_suffix(".html"), table_one_html(result, title))
    return [csv, page]
