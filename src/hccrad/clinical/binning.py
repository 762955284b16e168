"""Covariate binning with declared cut-points and reference levels (not learned from data).

Seed 001 (table 3) reports AFP < 20 / 20–200 / > 200 ng/mL, PIVKA-II ≤ 40 / (40, 300] / > 300 mAU/mL and
NLR < 3 / ≥ 3; seed 004 AFP > 200 ng/mL; seed 000 AFP > 400 ng/mL. Such bins must be the same in every
cohort, so `Binner` takes them from the study spec: `fit` only validates the declaration (contiguous,
non-overlapping, each shared edge in exactly one bin) and never looks at the values, so fitting on the
training cohort and applying to a test cohort cannot leak.

Bins are written in interval notation: "<20", "<=40" ("≤40"), ">200", ">=3" ("≥3"), "[20,200]",
"(40,300]", "[0,20)". A value outside every bin (only possible when the outer bins are bounded) is an
error by default, or missing with out_of_range="missing"; it is never moved to the nearest bin.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from hccrad.clinical._inputs import numeric, rows_text
from hccrad.core.errors import DataError, InputError, SpecError

logger = logging.getLogger(__name__)

_NUM = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf)"
_ONE_SIDED = re.compile(rf"^(<=|≤|<|>=|≥|>)\s*{_NUM}$")
_TWO_SIDED = re.compile(rf"^([\[(])\s*{_NUM}\s*,\s*{_NUM}\s*([\])])$")


@dataclass(frozen=True)
class Interval:
    """One bin: lower/upper edges (±inf allowed) and which ends are closed."""

    lower: float
    upper: float
    closed_left: bool
    closed_right: bool
    label: str

    def contains(self, v: np.ndarray) -> np.ndarray:
        lo = v >= self.lower if self.closed_left else v > self.lower
        hi = v <= self.upper if self.closed_right else v < self.upper
        return lo & hi

    def text(self) -> str:
        return f"{'[' if self.closed_left else '('}{self.lower:g}, {self.upper:g}{']' if self.closed_right else ')'}"


def parse_interval(text: str, label: str | None = None) -> Interval:
    """Parse "<20", "<=40", "≥3", "[20,200]", "(40,300]" into an Interval (label defaults to the text)."""
    t = str(text).strip().replace(" ", "")
    lab = label if label is not None else str(text).strip()
    m = _ONE_SIDED.match(t)
    if m:
        op, x = m.group(1), float(m.group(2))
        if op in ("<", "<=", "≤"):
            return Interval(-math.inf, x, False, op != "<", lab)
        return Interval(x, math.inf, op != ">", False, lab)
    m = _TWO_SIDED.match(t)
    if m:
        lo, hi = float(m.group(2)), float(m.group(3))
        if not lo < hi:
            raise ValueError(f"bin {text!r}: lower edge must be below upper edge")
        return Interval(lo, hi, m.group(1) == "[", m.group(4) == "]", lab)
    raise ValueError(
        f"bin {text!r} is not interval notation; write e.g. '<20', '[20,200]', '>200', '(40,300]', '>=3' "
        "(a bare '20-200' does not say which end is closed)"
    )


def validate_bins(column: str, bins: list[str], labels: list[str] | None = None) -> tuple[list[Interval], list[str]]:
    """Parse and check one column's bins; returns (intervals, problems)."""
    problems: list[str] = []
    if not bins or len(bins) < 2:
        return [], [f"{column}: declare at least two bins, got {bins!r}"]
    if labels is not None and len(labels) != len(bins):
        return [], [f"{column}: {len(labels)} labels for {len(bins)} bins"]
    ivs: list[Interval] = []
    for i, b in enumerate(bins):
        try:
            ivs.append(parse_interval(b, labels[i] if labels else None))
        except ValueError as exc:
            problems.append(f"{column}: {exc}")
    if problems:
        return [], problems
    if len({iv.label for iv in ivs}) != len(ivs):
        problems.append(f"{column}: bin labels must be unique, got {[iv.label for iv in ivs]}")
    for a, b in zip(ivs, ivs[1:]):
        if a.upper != b.lower:
            kind = "gap" if a.upper < b.lower else "overlap (or bins out of order)"
            problems.append(f"{column}: {kind} between {a.label!r} and {b.label!r}; list bins in increasing order")
        elif a.closed_right == b.closed_left:
            which = "both" if a.closed_right else "neither"
            problems.append(f"{column}: edge {a.upper:g} belongs to {which} of {a.label!r} and {b.label!r}")
    return ivs, problems


class Binner(TransformerMixin, BaseEstimator):
    """Bin numeric columns at declared cut-points, with a reference level per column.

    bins: {column: ["<20", "[20,200]", ">200"]} in increasing order; labels: optional {column: [names]};
    reference: {column: label} (default: the first bin); output: "category" gives ordered categorical
    columns of bin labels, "indicator" gives 0/1 (Int64) columns `column[label]` for every non-reference
    level (the coding of a regression with that reference); out_of_range: "error" or "missing".
    Missing values stay missing (pd.NA) and are logged.
    """

    def __init__(
        self,
        bins: dict[str, list[str]],
        *,
        labels: dict[str, list[str]] | None = None,
        reference: dict[str, str] | None = None,
        output: Literal["category", "indicator"] = "category",
        out_of_range: Literal["error", "missing"] = "error",
    ) -> None:
        self.bins = bins
        self.labels = labels
        self.reference = reference
        self.output = output
        self.out_of_range = out_of_range

    def _check_spec(self) -> tuple[dict[str, list[Interval]], dict[str, str]]:
        problems: list[str] = []
        if self.output not in ("category", "indicator"):
            problems.append(f"output must be 'category' or 'indicator', got {self.output!r}")
        if self.out_of_range not in ("error", "missing"):
            problems.append(f"out_of_range must be 'error' or 'missing', got {self.out_of_range!r}")
        labels = self.labels or {}
        reference = self.reference or {}
        for col in set(labels) | set(reference):
            if col not in self.bins:
                problems.append(f"{col}: labels/reference given for a column without bins")
        intervals: dict[str, list[Interval]] = {}
        refs: dict[str, str] = {}
        for col, b in self.bins.items():
            ivs, probs = validate_bins(col, list(b), labels.get(col))
            problems += probs
            if ivs:
                intervals[col] = ivs
                names = [iv.label for iv in ivs]
                ref = reference.get(col, names[0])
                if ref not in names:
                    problems.append(f"{col}: reference {ref!r} is not one of the bins {names}")
                refs[col] = ref
        if problems:
            raise SpecError(problems)
        return intervals, refs

    def fit(self, X: pd.DataFrame, y: object = None) -> "Binner":
        """Validate the declaration and that X has the columns; the values of X are not used."""
        self.intervals_, self.reference_ = self._check_spec()
        if not isinstance(X, pd.DataFrame):
            raise InputError("Binner needs a DataFrame with named columns", field="X",
                             hint="pass the clinical table as a pandas DataFrame")
        missing = [c for c in self.intervals_ if c not in X.columns]
        if missing:
            raise InputError(f"columns {missing} to bin are not in the table", field=missing[0],
                             hint=f"the table has {list(X.columns)[:20]}")
        self.feature_names_in_ = np.asarray(list(self.intervals_), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def _bin_column(self, col: str, values: pd.Series) -> pd.Series:
        ivs = self.intervals_[col]
        v = numeric(values, col)
        arr = v.to_numpy(dtype=float)
        codes = np.full(len(arr), -1)
        for i, iv in enumerate(ivs):
            codes[(codes < 0) & iv.contains(arr)] = i
        outside = (codes < 0) & ~np.isnan(arr)
        if outside.any():
            rows = v.index[outside]
            msg = (f"column {col!r}: values outside the declared bins "
                   f"{ivs[0].text()}…{ivs[-1].text()} in rows {rows_text(rows)} (e.g. {arr[outside][0]:g})")
            if self.out_of_range == "error":
                raise DataError(msg, field=col, case=str(rows[0]),
                                hint="widen the outer bins (e.g. '<20', '>200') or set out_of_range='missing'")
            logger.warning("%s; set to missing (out_of_range='missing')", msg)
        if np.isnan(arr).any():
            logger.warning("column %r: %d missing values stay missing", col, int(np.isnan(arr).sum()))
        cat = pd.Categorical.from_codes(codes, categories=[iv.label for iv in ivs], ordered=True)
        return pd.Series(cat, index=v.index, name=col)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "intervals_")
        if not isinstance(X, pd.DataFrame):
            raise InputError("Binner needs a DataFrame with named columns", field="X")
        missing = [c for c in self.intervals_ if c not in X.columns]
        if missing:
            raise InputError(f"columns {missing} to bin are not in the table", field=missing[0])
        out: dict[str, pd.Series] = {}
        for col in self.intervals_:
            binned = self._bin_column(col, X[col])
            if self.output == "category":
                out[col] = binned
                continue
            for iv in self.intervals_[col]:
                if iv.label == self.reference_[col]:
                    continue
                ind = pd.Series((binned == iv.label).astype(int), index=binned.index).astype("Int64")
                out[f"{col}[{iv.label}]"] = ind.mask(binned.isna())
        return pd.DataFrame(out, index=X.index)

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        check_is_fitted(self, "intervals_")
        if self.output == "category":
            return np.asarray(list(self.intervals_), dtype=object)
        return np.asarray([f"{c}[{iv.label}]" for c, ivs in self.intervals_.items() for iv in ivs
                           if iv.label != self.reference_[c]], dtype=object)

    def record(self) -> dict:
        """The declared bins, closed ends and reference levels, for run.json."""
        check_is_fitted(self, "intervals_")
        return {
            col: {"bins": [{"label": iv.label, "interval": iv.text()} for iv in ivs],
                  "reference": self.reference_[col]}
            for col, ivs in self.intervals_.items()
        }


# Declared bins used by the seeds (seed 001 table 3; seed 004 AFP > 200; seed 000 AFP400).
SEED001_BINS: dict[str, list[str]] = {
    "AFP": ["<20", "[20,200]", ">200"],
    "PIVKA_II": ["<=40", "(40,300]", ">300"],
    "NLR": ["<3", ">=3"],
}
AFP_STRATA: dict[str, list[str]] = {
    "seed001": ["<20", "[20,200]", ">200"],
    "afp200": ["<=200", ">200"],
    "afp400": ["<=400", ">400"],
    "crafity": ["<100", ">=100"],
}
