"""Associations of imaging features (e.g. habitat proportions) with pathology or laboratory markers
(seed 000 sFig. 3: CD34, CD31, Ki-67, differentiation).

Continuous marker (numeric, > 5 distinct values): Spearman's rho. Categorical marker: Mann–Whitney U (two
groups) or Kruskal–Wallis (more). p-values adjusted by Benjamini–Hochberg over all feature × marker tests.
Rows with a missing value are left out of that test only, and the n used is reported.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.multitest import multipletests

from hccrad.core.errors import DataError

__all__ = ["feature_associations", "is_continuous"]


def is_continuous(values: pd.Series) -> bool:
    return bool(pd.api.types.is_numeric_dtype(values) and values.nunique(dropna=True) > 5)


def feature_associations(df: pd.DataFrame, features: Sequence[str], markers: Sequence[str]) -> pd.DataFrame:
    """One row per feature × marker: test, statistic, p, BH-adjusted q, n (see the module docstring)."""
    missing = [c for c in [*features, *markers] if c not in df.columns]
    if missing:
        raise DataError(f"columns {missing} are not in the table", field=missing[0],
                        hint="name columns of the clinical table (markers) and of the feature table")
    rows = []
    for marker in markers:
        for feat in features:
            sub = df[[feat, marker]].dropna()
            x = sub[feat].astype(float)
            row = {"feature": feat, "marker": marker, "n": int(len(sub))}
            if is_continuous(df[marker]):
                if len(sub) < 3 or x.nunique() < 2 or sub[marker].nunique() < 2:
                    row.update(test="Spearman", statistic=np.nan, p=np.nan, note="too few distinct values")
                else:
                    r = stats.spearmanr(x, sub[marker].astype(float))
                    row.update(test="Spearman", statistic=float(r.statistic), p=float(r.pvalue), note="")
            else:
                groups = [g[feat].astype(float).to_numpy() for _, g in sub.groupby(marker) if len(g)]
                if len(groups) < 2 or any(len(g) < 2 for g in groups):
                    row.update(test="group test", statistic=np.nan, p=np.nan, note="a group has < 2 cases")
                elif len(groups) == 2:
                    r = stats.mannwhitneyu(*groups, alternative="two-sided")
                    row.update(test="Mann–Whitney U", statistic=float(r.statistic), p=float(r.pvalue), note="")
                else:
                    r = stats.kruskal(*groups)
                    row.update(test="Kruskal–Wallis", statistic=float(r.statistic), p=float(r.pvalue), note="")
            rows.append(row)
    out = pd.DataFrame(rows)
    ok = out["p"].notna()
    out["q_bh"] = np.nan
    if ok.any():
        out.loc[ok, "q_bh"] = multipletests(out.loc[ok, "p"], method="fdr_bh")[1]
    return out
