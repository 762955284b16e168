"""LASSO figures (seed 000 fig. 5b/c): the cross-validation curve with the min and 1-SE choices, and the
coefficient path, both against log10(λ) with λ = 1/C (glmnet's convention)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from hccrad.core.errors import DataError

__all__ = ["plot_lasso_cv", "plot_lasso_path"]


def _fitted(lasso) -> pd.DataFrame:
    if not hasattr(lasso, "cv_results_"):
        raise DataError("the LASSO step is not fitted", field="lasso", hint="fit the pipeline first")
    return pd.DataFrame(lasso.cv_results_)


def plot_lasso_cv(ax: Axes, lasso, *, title: str | None = None) -> Axes:
    """Mean CV loss ± 1 SE against log10(λ); dashed lines at the chosen λ (and the minimum)."""
    cv = _fitted(lasso)
    x = cv["log10_lambda"].to_numpy()
    ax.errorbar(x, cv["mean"], yerr=cv["se"], fmt="o", color="#c0392b", ecolor="grey", ms=4, capsize=2)
    best = int(np.nanargmin(cv["mean"].to_numpy())) if lasso.scoring == "deviance" else \
        int(np.nanargmax(cv["mean"].to_numpy()))
    ax.axvline(x[best], color="black", ls=":", lw=1, label="minimum")
    ax.axvline(-np.log10(lasso.C_), color="black", ls="--", lw=1, label=f"chosen ({lasso.rule})")
    ax.set_xlabel("log10(λ)  (λ = 1/C)")
    ax.set_ylabel("CV binomial deviance" if lasso.scoring == "deviance" else "CV AUC")
    path = getattr(lasso, "coef_path_", None)
    kept = (np.asarray(path) != 0).sum(axis=1) if path is not None else cv["n_nonzero"].to_numpy()
    step = max(1, len(x) // 6)
    top = ax.secondary_xaxis("top")
    top.set_xticks(x[::step], labels=["" if np.isnan(v) else str(int(v)) for v in np.asarray(kept, float)[::step]])
    top.set_xlabel("features kept")
    ax.legend(fontsize="small")
    if title:
        ax.set_title(title)
    return ax


def plot_lasso_path(ax: Axes, lasso, *, title: str | None = None, max_labels: int = 8) -> Axes:
    """Coefficient of every feature against log10(λ); the largest at the chosen λ are labelled."""
    cv = _fitted(lasso)
    if getattr(lasso, "coef_path_", None) is None:
        raise DataError("the LASSO step kept no coefficient path", field="keep_path",
                        hint="fit LassoSelector(keep_path=True)")
    x = cv["log10_lambda"].to_numpy()
    path = np.asarray(lasso.coef_path_)
    names = [str(n) for n in getattr(lasso, "feature_names_in_", range(path.shape[1]))]
    order = np.argsort(-np.abs(path[int(np.argmin(np.abs(x + np.log10(lasso.C_))))]))
    for j in range(path.shape[1]):
        ax.plot(x, path[:, j], lw=1.2, label=names[j] if j in order[:max_labels] else None)
    ax.axvline(-np.log10(lasso.C_), color="black", ls="--", lw=1)
    ax.axhline(0, color="grey", lw=0.6)
    ax.set_xlabel("log10(λ)  (λ = 1/C)")
    ax.set_ylabel("coefficient (standardised features)")
    ax.legend(fontsize="x-small", loc="best")
    if title:
        ax.set_title(title)
    return ax
