"""The study report as data: sections holding figures and tables, rendered to one self-contained HTML file.

Figures are saved as PNG and SVG under `report/figures/` and embedded in the HTML as base64 PNG, so the
page opens from disk with no server and no network. Tables are saved as CSV under `report/tables/` and
rendered as HTML. The study spec and package versions close the report.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from collections.abc import Callable, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from jinja2 import Environment, PackageLoader, select_autoescape  # noqa: E402

from hccrad.core.files import atomic_write_text  # noqa: E402
from hccrad.report.figure_writer import FigureWriter  # noqa: E402
from hccrad.report.formatting import format_table  # noqa: E402


# Called with (figure, title) by `Report.add_figure` before the figure is saved and closed; empty unless a
# check is installed (e.g. `hccrad.report.lint.collecting()` in the tests of a whole run).
FIGURE_CHECKS: list[Callable[[plt.Figure, str], None]] = []


def slug(text: str, limit: int = 80) -> str:
    """Lower-case file-name stem; a long one keeps its start and its end (where cohort names usually are)."""
    s = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "item"
    if len(s) <= limit:
        return s
    head = (limit * 2) // 3
    return s[:head].strip("-") + "--" + s[-(limit - head - 2):].strip("-")


@dataclass
class Item:
    kind: str                  # "figure" | "table" | "text"
    title: str
    caption: str = ""
    body: str = ""             # HTML for tables, base64 PNG for figures, text for text
    files: list[str] = field(default_factory=list)
    key: str = ""              # what it shows, e.g. "roc" (paper layouts pick items by key)


@dataclass
class Section:
    title: str
    intro: str = ""
    items: list[Item] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return slug(self.title)


class Report:
    """Collects sections; `add_figure` / `add_table` write the files and keep the rendered content.

    `jobs` > 1: figures are saved by up to `jobs` forked processes while the next ones are built
    (`hccrad.report.figure_writer`; same bytes); a figure item's body is filled once its PNG is written, at
    the latest by `wait_for_figures` (which `write` calls)."""

    def __init__(self, out_dir: Path, title: str, *, jobs: int = 1) -> None:
        self.dir = Path(out_dir)
        self.title = title
        self.sections: list[Section] = []
        self._names: set[str] = set()
        self._figures = FigureWriter(jobs)
        (self.dir / "figures").mkdir(parents=True, exist_ok=True)
        (self.dir / "tables").mkdir(parents=True, exist_ok=True)

    def _file_name(self, section: Section, title: str) -> str:
        """A file stem unique within the report: section and item title, each shortened, then -2, -3, …"""
        base = f"{slug(section.title, 40)}--{slug(title, 70)}"
        name, i = base, 1
        while name in self._names:
            i += 1
            name = f"{base}-{i}"
        self._names.add(name)
        return name

    def section(self, title: str, intro: str = "") -> Section:
        s = Section(title, intro)
        self.sections.append(s)
        return s

    def add_figure(self, section: Section, fig: plt.Figure, title: str, caption: str = "", *, key: str = "") -> Item:
        name = self._file_name(section, title)
        png = self.dir / "figures" / f"{name}.png"
        svg = self.dir / "figures" / f"{name}.svg"
        for check in FIGURE_CHECKS:
            check(fig, f"{section.title} / {title}")
        item = Item("figure", title, caption, "", [f"figures/{png.name}", f"figures/{svg.name}"], key)

        def embed() -> None:
            item.body = base64.b64encode(png.read_bytes()).decode("ascii")

        self._figures.save(fig, png, svg, f"{section.title} / {title}", embed)
        section.items.append(item)
        return item

    def wait_for_figures(self) -> None:
        """Wait until every figure is saved and embedded; raise the first failure of a saving process."""
        self._figures.finish()

    def add_table(self, section: Section, table: pd.DataFrame, title: str, caption: str = "",
                  index: bool = True, float_format: str = "{:.3f}", max_rows: int | None = None,
                  key: str = "") -> Item:
        """Write the whole table as CSV; show it (its first `max_rows` rows, if given) in the page."""
        name = self._file_name(section, title)
        csv = self.dir / "tables" / f"{name}.csv"
        atomic_write_text(csv, table.to_csv(index=index))
        if max_rows is not None and len(table) > max_rows:
            caption = (caption + " " if caption else "") + f"First {max_rows} of {len(table)} rows; the CSV holds all."
            table = table.head(max_rows)
        shown = format_table(table, float_format)
        body = shown.to_html(index=index, border=0, classes="tbl", escape=True, na_rep="")
        item = Item("table", title, caption, body, [f"tables/{csv.name}"], key)
        section.items.append(item)
        return item

    def add_text(self, section: Section, text: str, title: str = "", *, key: str = "") -> Item:
        item = Item("text", title, "", text, key=key)  # escaped by the template (autoescape)
        section.items.append(item)
        return item

    def write(self, appendix: dict[str, str], paper: Sequence[Section] | None = None,
              paper_name: str = "") -> Path:
        """Write index.html and return its path.

        Without `paper`, index.html holds the stage-by-stage sections. With `paper` (sections built by
        `hccrad.report.paper.paper_sections`), index.html holds the paper's items in the paper's order and
        the stage-by-stage report goes to stages.html; the two pages link to each other.
        """
        self.wait_for_figures()
        env = Environment(loader=PackageLoader("hccrad.report", "templates"),
                          autoescape=select_autoescape(["html", "j2"]))
        template = env.get_template("report.html.j2")
        if paper is None:
            page = template.render(title=self.title, sections=self.sections, appendix=appendix, other=None)
            return atomic_write_text(self.dir / "index.html", page)
        stages = template.render(title=f"{self.title} — all results by pipeline stage", sections=self.sections,
                                 appendix=appendix,
                                 other=("index.html", f"the same results arranged as the {paper_name} paper"))
        atomic_write_text(self.dir / "stages.html", stages)
        page = template.render(title=self.title, sections=list(paper), appendix=appendix,
                               other=("stages.html", "all results by pipeline stage (with the items no "
                                                     "paper section shows)"))
        return atomic_write_text(self.dir / "index.html", page)
