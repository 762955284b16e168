"""Decision curve: net benefit (or net interventions avoided) of each model vs treat-all / treat-none
(seed 000 fig. 6c). Takes the long table from `hccrad.evaluate.decision.decision_curve`."""

from __future__ import annotations

import pandas as pd
from matplotlib.axes import Axes

from hccrad.core.errors import DataError

__all__ = ["plot_decision_curve"]


def plot_decision_curve(ax: Axes, dca: pd.DataFrame, *, y: str = "net_benefit",
                        ylim: tuple[float, float] | None = None, title: str | None = None) -> Axes:
    """Draw `y` ("net_benefit" or "net_interventions_avoided") against threshold for every model."""
    if y not in ("net_benefit", "net_interventions_avoided", "standardized_net_benefit"):
        raise DataError(f"cannot plot {y!r}", field="y",
                        hint='use "net_benefit", "net_interventions_avoided" or "standardized_net_benefit"')
    missing = {"model", "threshold", y} - set(dca.columns)
    if missing:
        raise DataError(f"decision-curve table lacks columns {sorted(missing)}", field="dca",
                        hint="pass the DataFrame returned by hccrad.evaluate.decision_curve")
    styles = {"all": {"color": "grey", "linestyle": "-", "linewidth": 1.0, "label": "Treat all"},
              "none": {"color": "black", "linestyle": "-", "linewidth": 1.0, "label": "Treat none"}}
    i = 0
    for name, sub in dca.groupby("model", sort=False):
        if y == "net_interventions_avoided" and name in ("all", "none"):
            continue
        kw = styles.get(name) or {"color": f"C{i}", "label": str(name)}
        i += name not in styles
        ax.plot(sub["threshold"], sub[y], **kw)
    if ylim is None and y == "net_benefit":
        top = dca.loc[dca.model == "all", y].max()
        ylim = (-0.05, max(0.05, float(top) * 1.1))
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel("Threshold probability")
    ax.set_ylabel({"net_benefit": "Net benefit", "standardized_net_benefit": "Standardized net benefit",
                   "net_interventions_avoided": "Net interventions avoided per 100 patients"}[y])
    ax.legend(loc="upper right", fontsize="small")
    if title:
        ax.set_title(title)
    return ax
