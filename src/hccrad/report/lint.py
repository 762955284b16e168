"""Figure lint: what a journal's figure check would send back, found on the matplotlib Figure itself.

Checks, per figure:
- tick labels with more than `max_digits` significant digits ("−2.47411"; trailing zeros of a whole number
  do not count: "123500" has four; the digits of an identifier such as "GO:0045787" are not a number);
- two visible texts of one axes whose bounding boxes overlap by more than `tolerance_px` pixels in both
  directions (tick labels, texts, title, axis labels, legend entries) — drawn once with the Agg renderer;
- across the axes of one figure (panels, colour bars), in the figure's pixel space after that draw: a text
  of one axes over another axes' plotting area (its background patch, e.g. a confusion matrix's tick labels
  running into the next panel), or over a text of another axes. An inset or twin axes (one area inside
  the other) may hold texts over its parent's area; an empty, axis-less axes has no area to cover;
- a legend whose entries do not match the labelled series of its axes (a legend entry naming no series).

`lint_figure(fig)` returns the findings as strings ("" when clean). `collecting()` lints every figure a
`Report` writes, at `add_figure`, for tests that run a whole study (the Figure objects are closed there).
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_hex, to_rgba
from matplotlib.figure import Figure
from matplotlib.text import Text

from hccrad.report import document

# a number on its own, not the digits of an identifier ("GO:0045787", "K11", "G1/S", "habitat3")
_NUMBER = re.compile(r"(?<![\w:.])\d+(?:\.\d+)?(?!\w)")


def significant_digits(token: str) -> int:
    """Significant digits of a plain decimal number token ("0.0120" → 3, "123500" → 4, "2.474" → 4)."""
    if "." in token:
        whole, frac = token.split(".", 1)
        digits = (whole + frac).lstrip("0")
        return len(digits.rstrip("0")) if digits else 1
    digits = token.lstrip("0").rstrip("0")
    return max(len(digits), 1)


def too_many_digits(label: str, max_digits: int = 4) -> bool:
    text = label.replace("\u2212", "-")
    if "$" in text:  # mathtext (log axes: 10^{-2}) is written by matplotlib's formatter, not by us
        return False
    return any(significant_digits(t) > max_digits for t in _NUMBER.findall(text))


def _visible_texts(ax: Axes) -> list[tuple[str, Text]]:
    found: list[tuple[str, Text]] = []
    for kind, axis in (("x tick", ax.xaxis), ("y tick", ax.yaxis)):
        if ax.axison and axis.get_visible():  # ax.axis("off") hides ticks and axis labels
            found += [(kind, t) for t in axis.get_ticklabels()] + [("label", axis.label)]
    found += [("text", t) for t in ax.texts]
    found += [("title", t) for t in (ax.title, ax._left_title, ax._right_title)]
    legend = ax.get_legend()
    if legend is not None and legend.get_visible():
        found += [("legend", t) for t in legend.get_texts()]
    return [(k, t) for k, t in found if t.get_visible() and t.get_text().strip()]


def _tick_in_view(ax: Axes, kind: str, t: Text) -> bool:
    """Tick labels outside the axis limits are not drawn; skip them."""
    x, y = t.get_position()
    lo, hi = sorted(ax.get_xlim() if kind == "x tick" else ax.get_ylim())
    v = x if kind == "x tick" else y
    return lo - 1e-9 * max(abs(lo), abs(hi), 1) <= v <= hi + 1e-9 * max(abs(lo), abs(hi), 1)


@dataclass(frozen=True)
class Finding:
    figure: str
    axes: int
    problem: str

    def __str__(self) -> str:
        return f"{self.figure} [axes {self.axes}]: {self.problem}"


def lint_figure(fig: Figure, name: str = "figure", *, max_digits: int = 4, tolerance_px: float = 1.5
                ) -> list[Finding]:
    """Every finding of the checks above for one figure."""
    if not hasattr(fig.canvas, "get_renderer"):  # a bare Figure(): give it the Agg canvas savefig would use
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    findings: list[Finding] = []
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        texts = [(k, t) for k, t in _visible_texts(ax) if not k.endswith("tick") or _tick_in_view(ax, k, t)]
        for kind, t in texts:
            if kind.endswith("tick") and too_many_digits(t.get_text(), max_digits):
                findings.append(Finding(name, i, f"{kind} label {t.get_text()!r} has more than {max_digits} "
                                                 "significant digits"))
        boxes = [(k, t, t.get_window_extent(renderer)) for k, t in texts]
        for (k1, t1, b1), (k2, t2, b2) in itertools.combinations(boxes, 2):
            dx = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
            dy = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
            if dx > tolerance_px and dy > tolerance_px:
                findings.append(Finding(name, i, f"{k1} {t1.get_text()!r} overlaps {k2} {t2.get_text()!r}"))
        findings += _legend_findings(ax, name, i)
    return findings + _cross_axes_findings(fig, renderer, name, tolerance_px)


def _overlap(b1, b2, tolerance_px: float) -> bool:
    dx = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
    dy = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
    return dx > tolerance_px and dy > tolerance_px


def _contains(outer, inner) -> bool:
    return (outer.x0 <= inner.x0 + 0.5 and inner.x1 <= outer.x1 + 0.5 and outer.y0 <= inner.y0 + 0.5
            and inner.y1 <= outer.y1 + 0.5)


def _draws_an_area(ax: Axes) -> bool:
    """Whether an axes shows something in its area (axis lines, an image, data): an empty `axis("off")` panel of
    a grid does not."""
    return ax.axison or bool(ax.images or ax.lines or ax.collections or ax.patches or ax.texts)


def _cross_axes_findings(fig: Figure, renderer, name: str, tolerance_px: float) -> list[Finding]:
    """Texts of one axes over another axes' area or texts, in figure pixels (module docstring)."""
    shown = [(i, ax) for i, ax in enumerate(fig.axes) if ax.get_visible()]
    area = {i: ax.get_window_extent(renderer) for i, ax in shown}
    texts = {i: [(k, t, t.get_window_extent(renderer)) for k, t in _visible_texts(ax)
                 if not k.endswith("tick") or _tick_in_view(ax, k, t)] for i, ax in shown}
    findings: list[Finding] = []
    for (i, a), (j, b) in itertools.permutations(shown, 2):
        nested = _contains(area[i], area[j]) or _contains(area[j], area[i])  # an inset, a twin
        if not nested and _draws_an_area(b):
            findings += [Finding(name, i, f"{k} {t.get_text()!r} runs into the area of axes {j}")
                         for k, t, box in texts[i] if _overlap(box, area[j], tolerance_px)]
        if i < j:
            findings += [Finding(name, i, f"{k1} {t1.get_text()!r} overlaps {k2} {t2.get_text()!r} of axes {j}")
                         for (k1, t1, b1), (k2, t2, b2) in itertools.product(texts[i], texts[j])
                         if _overlap(b1, b2, tolerance_px)]
    return findings


def _colour(artist) -> tuple | None:
    """The RGBA colour an artist is drawn with (line colour, patch or collection face colour)."""
    try:
        if hasattr(artist, "get_color") and not hasattr(artist, "get_facecolor"):
            return tuple(float(v) for v in np.round(to_rgba(artist.get_color()), 3))
        face = artist.get_facecolor()
        face = np.asarray(face, float)
        if face.ndim == 2:
            if not len(face):
                return None
            face = face[0]
        return tuple(float(v) for v in np.round(face, 3))
    except (AttributeError, ValueError, TypeError):
        return None


def _all_colours(artist) -> set[tuple]:
    """Every face colour of a collection (e.g. one bar per patient in a single PolyCollection), or the one
    colour of another artist."""
    try:
        face = np.asarray(artist.get_facecolor(), float) if hasattr(artist, "get_facecolor") else None
    except (AttributeError, ValueError, TypeError):
        face = None
    if face is not None and face.ndim == 2 and len(face) > 1:
        return {tuple(float(v) for v in row) for row in np.unique(np.round(face, 3), axis=0)}
    colour = _colour(artist)
    return set() if colour is None else {colour}


def _legend_findings(ax: Axes, name: str, i: int) -> list[Finding]:
    """Legend entries must name a plotted series in that series' colour. A legend of proxy artists (no
    labelled series, e.g. a colour key of bars) must use colours that appear in the axes; over an image
    (a colour map) it is not checked."""
    legend = ax.get_legend()
    if legend is None:
        return []
    handles, labels = ax.get_legend_handles_labels()
    by_label = dict(zip(labels, handles))
    drawn = {c for a in [*ax.lines, *ax.patches, *ax.collections] for c in _all_colours(a)}
    out = []
    for text, proxy in zip(legend.get_texts(), legend.legend_handles):
        label, colour = text.get_text(), _colour(proxy)
        if label in by_label:
            want = _colour(by_label[label])
            if want is not None and colour is not None and want[:3] != colour[:3]:
                out.append(Finding(name, i, f"legend entry {label!r} is drawn in {to_hex(colour)}, "
                                           f"its series in {to_hex(want)}"))
        elif labels:
            out.append(Finding(name, i, f"legend entry {label!r} names no plotted series"))
        elif not ax.images and colour is not None and all(c[:3] != colour[:3] for c in drawn):
            out.append(Finding(name, i, f"legend entry {label!r}: colour {to_hex(colour)} appears in no series"))
    return out


def legend_colours(fig: Figure) -> dict[str, tuple]:
    """{legend entry: its RGB colour} over every legend of a figure."""
    out: dict[str, tuple] = {}
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        for text, proxy in zip(legend.get_texts(), legend.legend_handles):
            colour = _colour(proxy)
            if colour is not None:
                out[text.get_text()] = colour[:3]
    return out


class Findings(list):
    """The findings of `collecting`, plus where each legend label was drawn in which colour."""

    def __init__(self) -> None:
        super().__init__()
        self.colours: dict[str, dict[tuple, list[str]]] = {}

    def add_colours(self, fig: Figure, name: str) -> None:
        for label, colour in legend_colours(fig).items():
            self.colours.setdefault(label, {}).setdefault(colour, []).append(name)

    def inconsistent_colours(self) -> list[str]:
        """A model (or any legend label) drawn in different colours in different figures of one report."""
        return [f"legend label {label!r} has {len(by)} colours: "
                + "; ".join(f"{to_hex(c)} in {figs[0]!r}" for c, figs in by.items())
                for label, by in self.colours.items() if len(by) > 1]


@contextlib.contextmanager
def collecting(**options) -> Iterator[Findings]:
    """Lint every figure `Report.add_figure` writes while inside; yields the (growing) list of findings,
    whose `inconsistent_colours()` compares the legends across the figures."""
    found = Findings()

    def check(fig: Figure, title: str) -> None:
        found.extend(lint_figure(fig, title, **options))
        found.add_colours(fig, title)

    document.FIGURE_CHECKS.append(check)
    try:
        yield found
    finally:
        document.FIGURE_CHECKS.remove(check)
