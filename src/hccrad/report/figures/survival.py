"""Survival figures: Kaplan–Meier curves with CI bands and a numbers-at-risk table, forest plots of HRs/ORs,
time-dependent AUC, survival calibration at a horizon, and nomograms.

Functions take a matplotlib Axes (or a Figure where two linked panels are drawn) and return it; they never
call ``plt.show``. They only draw result objects from :mod:`hccrad.survival` (or a tidy DataFrame for the
forest plot); no statistic is computed here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hccrad.core.errors import DataError
from hccrad.report.formatting import round_time_ticks, tick_label
from hccrad.survival.calibration import SurvivalCalibrationResult
from hccrad.survival.kaplan_meier import KaplanMeierResult
from hccrad.survival.nomogram import Nomogram
from hccrad.survival.time_auc import TimeAUCResult


def _t_max(km: KaplanMeierResult) -> float:
    return max(float(c.time.max()) for c in km.curves)


def _risk_times(km: KaplanMeierResult, times: Sequence[float] | None, n: int = 7) -> list[float]:
    """The given times, else round steps of the time unit (0, 50, 100 weeks; 0, 12, 24 months)."""
    if times is not None:
        return [float(t) for t in times]
    return round_time_ticks(_t_max(km), km.time_unit, max_ticks=n)


def plot_km(
    ax: Axes,
    km: KaplanMeierResult,
    *,
    ci: bool = True,
    censor_marks: bool = True,
    p_value: float | None = None,
    title: str | None = None,
) -> Axes:
    """Step curves S(t) per group with shaded CI bands (the result's conf_type) and '+' censoring marks."""
    for i, curve in enumerate(km.curves):
        tab = curve.table
        t = np.r_[0.0, tab["time"].to_numpy()]
        s = np.r_[1.0, tab["survival"].to_numpy()]
        colour = f"C{i}"
        ax.step(t, s, where="post", color=colour, label=f"{curve.group} (n={curve.time.size})")
        if ci:
            lo = np.r_[1.0, tab["lower"].to_numpy()]
            up = np.r_[1.0, tab["upper"].to_numpy()]
            ok = np.isfinite(lo) & np.isfinite(up)
            ax.fill_between(t[ok], lo[ok], up[ok], step="post", color=colour, alpha=0.15, lw=0)
        if censor_marks:
            cens = tab[tab["n_censor"] > 0]
            ax.plot(cens["time"], cens["survival"], "+", color=colour, ms=6)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xticks(_risk_times(km, None))
    ax.set_xlim(0, _t_max(km) * 1.02 if _t_max(km) > 0 else 1)
    ax.set_xlabel(f"time ({km.time_unit})")
    ax.set_ylabel("survival probability")
    if p_value is not None:
        ax.text(0.02, 0.04, f"log-rank p = {p_value:.3g}" if p_value >= 1e-4 else "log-rank p < 0.0001",
                transform=ax.transAxes)
    if title:
        ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small", frameon=False)
    return ax


def plot_risk_table(ax: Axes, km: KaplanMeierResult, times: Sequence[float] | None = None) -> Axes:
    """Numbers at risk (follow-up >= t) per group at `times`, written as a table aligned with the KM x axis."""
    times = _risk_times(km, times)
    table = km.numbers_at_risk(times)
    for i, group in enumerate(table.index):
        y = len(table.index) - 1 - i
        for t in times:
            ax.text(t, y, str(int(table.loc[group, t])), ha="center", va="center", color=f"C{i}",
                    fontsize="small")
    ax.set_yticks(range(len(table.index)))
    ax.set_yticklabels(list(table.index)[::-1], fontsize="small")
    ax.tick_params(axis="y", length=0, pad=14)
    ax.set_ylim(-0.5, len(table.index) - 0.5)
    ax.set_xticks(times)
    ax.tick_params(axis="x", labelsize="small")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title("Number at risk", fontsize="small", loc="left")
    return ax


def plot_km_with_risk_table(
    fig: Figure,
    km: KaplanMeierResult,
    *,
    times: Sequence[float] | None = None,
    p_value: float | None = None,
    title: str | None = None,
) -> tuple[Axes, Axes]:
    """KM curves above a numbers-at-risk table sharing the time axis; returns (km_ax, table_ax)."""
    grid = fig.add_gridspec(2, 1, height_ratios=[4, 1], hspace=0.35)
    ax_km = fig.add_subplot(grid[0])
    ax_tab = fig.add_subplot(grid[1], sharex=ax_km)
    times = _risk_times(km, times)
    plot_km(ax_km, km, p_value=p_value, title=title)
    plot_risk_table(ax_tab, km, times)
    ax_km.set_xticks(times)
    right = max(max(times), _t_max(km))
    ax_km.set_xlim(0, right * 1.02 if right > 0 else 1)
    return ax_km, ax_tab


def forest_plot(
    ax: Axes,
    table: pd.DataFrame,
    *,
    estimate: str = "hr",
    lower: str = "hr_lower",
    upper: str = "hr_upper",
    label: str = "covariate",
    p: str | None = "p",
    reference: float = 1.0,
    log_scale: bool = True,
    xlabel: str = "hazard ratio (95% CI)",
) -> Axes:
    """Forest plot of ratios with CIs (Cox HRs, logistic ORs): any DataFrame with estimate/lower/upper columns."""
    need = [c for c in (estimate, lower, upper, label) if c not in table.columns]
    if need:
        raise DataError(f"forest plot: columns {need} missing", field=need[0],
                        hint=f"columns present: {list(table.columns)}")
    tab = table.reset_index(drop=True)
    if log_scale and ((tab[[estimate, lower, upper]] <= 0).any().any()):
        raise DataError("forest plot: non-positive ratio on a log scale", field=estimate,
                        hint="pass ratios (exp(coef)), or log_scale=False for differences")
    y = np.arange(len(tab))[::-1]
    est = tab[estimate].to_numpy(float)
    ax.errorbar(est, y, xerr=[est - tab[lower].to_numpy(float), tab[upper].to_numpy(float) - est],
                fmt="s", color="black", ecolor="black", capsize=3, ms=5)
    ax.axvline(reference, color="grey", ls="--", lw=1)
    if log_scale:
        ax.set_xscale("log")
    labels = []
    for _, row in tab.iterrows():
        r3 = [_ratio_text(float(row[c])) for c in (estimate, lower, upper)]
        text = f"{row[label]}  {r3[0]} ({r3[1]}-{r3[2]})"
        if p is not None and p in tab.columns:
            pv = row[p]
            text += "  p<0.001" if pv < 0.001 else f"  p={pv:.3f}"
        labels.append(text)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize="small")
    ax.set_ylim(-0.7, len(tab) - 0.3)
    ax.set_xlabel(xlabel)
    return ax



def _ratio_text(value: float) -> str:
    """A ratio for a forest-plot label: two decimals ("3.20"), or 3 significant digits from 100 on ("244",
    "14000" for 14014.54), so a label never carries more than 4 significant digits."""
    return f"{value:.2f}" if abs(value) < 100 or not np.isfinite(value) else tick_label(value, 3)


def plot_time_auc(ax: Axes, results: dict[str, TimeAUCResult] | TimeAUCResult) -> Axes:
    """AUC(t) against the horizon for one or several scores, with bootstrap CIs as error bars."""
    if isinstance(results, TimeAUCResult):
        results = {"model": results}
    unit = "time"
    low = 0.3
    for i, (name, res) in enumerate(results.items()):
        tab = res.table
        unit = res.time_unit
        yerr = None
        if tab["lower"].notna().all():
            yerr = [tab["auc"] - tab["lower"], tab["upper"] - tab["auc"]]
        ax.errorbar(tab["time"] + i * 0.0, tab["auc"], yerr=yerr, fmt="o-", color=f"C{i}", capsize=3, label=name)
        shown = tab["lower"] if tab["lower"].notna().all() else tab["auc"]
        low = min(low, float(np.nanmin(shown)) - 0.05)
    ax.axhline(0.5, color="grey", ls=":", lw=1)
    ax.set_ylim(max(low, 0.0), 1.0)  # never cut off a value below 0.3
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("time-dependent AUC")
    ax.legend(loc="lower right", fontsize="small", frameon=False)
    return ax


def plot_survival_calibration(ax: Axes, cal: SurvivalCalibrationResult) -> Axes:
    """Observed (KM, with CI) against mean predicted survival at the horizon, per risk group, with the diagonal."""
    tab = cal.table
    ax.plot([0, 1], [0, 1], color="grey", ls="--", lw=1, label="ideal")
    ax.errorbar(tab["predicted"], tab["observed"],
                yerr=[tab["observed"] - tab["lower"], tab["upper"] - tab["observed"]],
                fmt="o-", color="C0", capsize=3, label="observed (Kaplan–Meier)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_aspect("equal")
    ax.set_xlabel(f"predicted survival at {cal.horizon:g} {cal.time_unit}")
    ax.set_ylabel(f"observed survival at {cal.horizon:g} {cal.time_unit}")
    ax.legend(loc="upper left", fontsize="small", frameon=False)
    return ax


def _thin_ticks(xs: list[float], texts: list[str], span: float, font_chars: float = 0.011) -> tuple[list, list]:
    """Drop tick labels that would overlap their left neighbour (label width ≈ characters × font_chars ×
    the axis span); the first and the last tick are always kept."""
    if len(xs) <= 2:
        return xs, texts
    order = np.argsort(xs)
    keep = [int(order[0])]
    for i in order[1:]:
        prev = keep[-1]
        gap = abs(xs[i] - xs[prev])
        need = (len(texts[i]) + len(texts[prev])) / 2 * font_chars * span + 0.01 * span
        if gap >= need:
            keep.append(int(i))
    last = int(order[-1])
    if keep[-1] != last:
        keep[-1] = last  # the end of the scale replaces its too-close neighbour
    return [xs[i] for i in keep], [texts[i] for i in keep]


def plot_nomogram(ax: Axes, nomo: Nomogram, *, n_outcome_ticks: int = 6, time_unit: str = "") -> Axes:
    """Points axis, one axis per variable, total points and the predicted probability/survival axis.

    Tick labels carry at most four significant digits; labels that would overlap on one axis are thinned.
    """
    rows: list[tuple[str, list[float], list[str]]] = []
    top = np.linspace(0, nomo.max_points, 11)
    rows.append(("Points", list(top), [tick_label(v) for v in top]))
    for var, grp in nomo.scales.groupby("variable", sort=False):
        categorical = "categorical" in grp and bool(grp["categorical"].any())
        texts = ([str(v) for v in grp["label"]] if categorical  # a categorical variable: its levels' names
                 else [tick_label(v) for v in grp["value"]])
        rows.append((var, list(grp["points"]), texts))
    total_max = float(nomo.scales.groupby("variable")["points"].max().sum())
    scale = nomo.max_points / total_max if total_max > 0 else 1.0  # total-points axis drawn on the same width
    totals = np.asarray(round_time_ticks(total_max, max_ticks=11) if total_max > 0 else [0.0])  # round steps
    rows.append(("Total points", list(totals * scale), [tick_label(v) for v in totals]))
    probs = nomo.predict(np.array([0.0, total_max]))
    lo, hi = float(np.nanmin(probs)), float(np.nanmax(probs))
    targets = np.linspace(lo, hi, n_outcome_ticks)
    dense = np.linspace(0, total_max, 2001)
    pred = nomo.predict(dense)
    order = np.argsort(pred)
    pos = np.interp(targets, pred[order], dense[order]) * scale
    unit = f" {time_unit}" if time_unit else ""
    name = "Predicted probability" if nomo.kind == "logistic" else f"Survival at {nomo.horizon:g}{unit}"
    rows.append((name, list(pos), [f"{v:.2f}" for v in targets]))
    span = 1.1 * nomo.max_points * 8.0 / max(ax.figure.get_figwidth(), 1.0)
    for i, (label, xs, texts) in enumerate(rows):
        y = -i
        ax.plot([min(xs), max(xs)], [y, y], color="black", lw=1)
        xs, texts = _thin_ticks(xs, texts, span)
        align = ["center"] * len(xs)
        if len(xs) == 2 and abs(xs[1] - xs[0]) < (len(texts[0]) + len(texts[1])) * 0.011 * span:
            align = ["right", "left"] if xs[0] <= xs[1] else ["left", "right"]  # a short axis: labels apart
        for x, text, ha in zip(xs, texts, align):
            ax.plot([x, x], [y, y + 0.12], color="black", lw=1)
            ax.text(x, y + 0.18, text, ha=ha, va="bottom", fontsize="x-small")
        ax.text(-0.04 * nomo.max_points, y, label, ha="right", va="center", fontsize="small")
    ax.set_xlim(-0.05 * nomo.max_points, 1.05 * nomo.max_points)
    ax.set_ylim(-len(rows) + 0.5, 0.8)
    ax.axis("off")
    return ax
