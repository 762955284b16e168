"""Small figures for the result page: the patient on the training score distribution (inline SVG, drawn
here so the page needs no JavaScript or external assets; inline in HTML5, so without an ``xmlns`` URL: no page
names another host) and the habitat overlay (PNG via matplotlib and
:func:`hccrad.report.figures.habitat.plot_habitat_overlay`)."""

from __future__ import annotations

import base64
import io
import math
from html import escape

import numpy as np
from matplotlib.figure import Figure  # the object API: no pyplot, no global backend switch

from hccrad.report.figures.habitat import plot_habitat_overlay
from hccrad.serve.predict import Prediction

W, H, PAD = 520, 110, 30


def score_position_svg(pred: Prediction, link: str | None) -> str | None:
    """Box plot of the training scores (min, quartiles, max) with the patient's score and thresholds marked.

    None when the bundle stores no training score summary.
    """
    t = pred.training
    if not t or any(t.get(k) is None for k in ("min", "p25", "median", "p75", "max")):
        return None
    lo, hi = min(float(t["min"]), pred.score), max(float(t["max"]), pred.score)
    span = (hi - lo) or 1.0
    lo, hi = lo - 0.05 * span, hi + 0.05 * span

    def x(v: float) -> float:
        return PAD + (v - lo) / (hi - lo) * (W - 2 * PAD)

    y0, y1 = 30, 60
    parts = [f'<svg width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             'role="img" aria-label="patient score on the training score distribution" class="score-figure">',
             f'<line x1="{x(t["min"]):.1f}" x2="{x(t["max"]):.1f}" y1="45" y2="45" stroke="#555"/>',
             f'<rect x="{x(t["p25"]):.1f}" y="{y0}" width="{max(x(t["p75"]) - x(t["p25"]), 1):.1f}" '
             f'height="{y1 - y0}" fill="#dde6f0" stroke="#555"/>',
             f'<line x1="{x(t["median"]):.1f}" x2="{x(t["median"]):.1f}" y1="{y0}" y2="{y1}" stroke="#222" '
             'stroke-width="2"/>']
    for k in ("min", "max"):
        parts.append(f'<line x1="{x(t[k]):.1f}" x2="{x(t[k]):.1f}" y1="38" y2="52" stroke="#555"/>')
    for g in pred.risk_groups:
        v = g.threshold
        if g.scale == "probability":
            if link != "logit" or not 0 < v < 1:
                continue
            v = math.log(v / (1 - v))
        if lo <= v <= hi:
            parts.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="20" y2="70" stroke="#b35900" '
                         'stroke-dasharray="4 3"/>')
            parts.append(f'<text x="{x(v):.1f}" y="16" font-size="10" text-anchor="middle" fill="#b35900">'
                         f'{escape(g.threshold_name)}</text>')
    px = x(pred.score)
    parts.append(f'<path d="M {px:.1f} 74 l -6 10 l 12 0 z" fill="#c0392b"/>')
    parts.append(f'<text x="{px:.1f}" y="98" font-size="11" text-anchor="middle" fill="#c0392b">'
                 f'patient {pred.score:.2f}</text>')
    for v in (t["min"], t["median"], t["max"]):
        parts.append(f'<text x="{x(v):.1f}" y="{y0 - 4}" font-size="9" text-anchor="middle" fill="#333">'
                     f'{float(v):.2f}</text>')
    parts.append("</svg>")
    return "".join(parts)


def overlay_png(image: np.ndarray, labels: np.ndarray, n_habitats: int) -> tuple[str, int]:
    """Base64 PNG of the axial slice with the most tumour voxels, habitats overlaid; returns (data, slice)."""
    z = int(np.argmax((labels > 0).reshape(labels.shape[0], -1).sum(1)))
    fig = Figure(figsize=(4, 4), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    plot_habitat_overlay(ax, image[z], labels[z], n_habitats)
    ax.set_title(f"habitat map, slice {z}", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii"), z


def survival_svg(spec: dict, lp: float) -> str:
    """Step curves S(t | x) = S0(t) ** exp(LP) of the patient and S0(t) (a patient at the training means)."""
    times = np.asarray(spec["baseline_survival"]["time"], float)
    s0 = np.asarray(spec["baseline_survival"]["survival"], float)
    tmax = float(times.max()) if times.size else 1.0
    w, h, left, bottom = W, 220, 45, 30

    def px(t: float) -> float:
        return left + t / tmax * (w - left - 10)

    def py(s: float) -> float:
        return 10 + (1 - s) * (h - bottom - 10)

    def path(surv: np.ndarray) -> str:
        d, prev = f"M {px(0):.1f} {py(1):.1f}", 1.0
        for t, s in zip(times, surv):
            d += f" L {px(t):.1f} {py(prev):.1f} L {px(t):.1f} {py(s):.1f}"
            prev = s
        return d + f" L {px(tmax):.1f} {py(prev):.1f}"

    unit = escape(str(spec.get("time_unit", "")))
    parts = [f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
             'aria-label="predicted survival curve" class="survival-figure">',
             f'<line x1="{left}" y1="{py(0):.1f}" x2="{w - 10}" y2="{py(0):.1f}" stroke="#555"/>',
             f'<line x1="{left}" y1="{py(0):.1f}" x2="{left}" y2="{py(1):.1f}" stroke="#555"/>']
    for s in (0.0, 0.5, 1.0):
        parts.append(f'<text x="{left - 4}" y="{py(s) + 3:.1f}" font-size="9" text-anchor="end">{s:.1f}</text>')
    for t in np.linspace(0, tmax, 5):
        parts.append(f'<text x="{px(t):.1f}" y="{h - bottom + 14}" font-size="9" text-anchor="middle">{t:.0f}</text>')
    parts.append(f'<text x="{(left + w) / 2:.0f}" y="{h - 4}" font-size="10" text-anchor="middle">time ({unit})</text>')
    parts.append(f'<path d="{path(s0)}" fill="none" stroke="#888" stroke-dasharray="4 3"/>')
    parts.append(f'<path d="{path(s0 ** math.exp(lp))}" fill="none" stroke="#c0392b" stroke-width="2"/>')
    for t in spec.get("horizons", []):
        parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{py(0):.1f}" y2="{py(1):.1f}" stroke="#ccc"/>')
    parts.append(f'<text x="{w - 12}" y="22" font-size="10" text-anchor="end" fill="#c0392b">this patient</text>')
    parts.append(f'<text x="{w - 12}" y="36" font-size="10" text-anchor="end" fill="#888">at the training means</text>')
    parts.append("</svg>")
    return "".join(parts)
