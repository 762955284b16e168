"""Thresholds and classification metrics with exact or Wald confidence intervals.

Cut-off: Youden's J = sensitivity + specificity − 1 (Youden, Cancer 1950), maximised over the empirical
ROC points of the *training* data; apply the returned cut-off unchanged to every test cohort.

Rates with their counts, shown as "0.812 (0.702–0.894) [52/64]" (seed 004 table 2):
    sensitivity = TP/(TP+FN), specificity = TN/(TN+FP), PPV = TP/(TP+FP), NPV = TN/(TN+FN),
    accuracy = (TP+TN)/N.
CIs: Clopper–Pearson exact (Clopper & Pearson, Biometrika 1934; statsmodels `proportion_confint(method=
"beta")`, seed 003 table 3) or Wald p ± z √(p(1−p)/N) (`method="normal"`, clipped to [0, 1]).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.metrics import roc_curve
from sklearn.utils.validation import check_is_fitted
from statsmodels.stats.proportion import proportion_confint

from hccrad.core.errors import DataError
from hccrad.evaluate import _checks

log = logging.getLogger(__name__)

__all__ = ["ConfusionCounts", "ClassificationResult", "YoudenThreshold", "youden_threshold", "confusion_counts",
           "proportion_ci", "classification_metrics", "format_rate"]

_CI_METHODS = {"clopper-pearson": ("beta", "Clopper–Pearson exact"), "wald": ("normal", "Wald")}


@dataclass(frozen=True)
class ConfusionCounts(_checks.ResultDisplay):
    """2×2 table: true/false positives and negatives."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    def matrix(self) -> np.ndarray:
        """[[TN, FP], [FN, TP]]: rows actual (0, 1), columns predicted (0, 1), as sklearn."""
        return np.array([[self.tn, self.fp], [self.fn, self.tp]])

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(self.matrix(), index=pd.Index(["actual 0", "actual 1"]),
                            columns=pd.Index(["predicted 0", "predicted 1"]))


def proportion_ci(k: int, n: int, method: str = "clopper-pearson", level: float = 0.95) -> tuple[float, float]:
    """CI of the proportion k/n (`clopper-pearson` exact or `wald`), via statsmodels."""
    lv = _checks.level(level)
    if method not in _CI_METHODS:
        raise DataError(f"unknown CI method {method!r}", field="ci", hint='use "clopper-pearson" or "wald"')
    if n <= 0:
        return (float("nan"), float("nan"))
    lo, hi = proportion_confint(int(k), int(n), alpha=1.0 - lv, method=_CI_METHODS[method][0])
    return float(max(0.0, lo)), float(min(1.0, hi))


def format_rate(est: float, lo: float, hi: float, k: int, n: int, digits: int = 3) -> str:
    """'0.812 (0.702–0.894) [52/64]'; '– [0/0]' when undefined."""
    if n == 0:
        return f"– [{k}/{n}]"
    return f"{est:.{digits}f} ({lo:.{digits}f}–{hi:.{digits}f}) [{k}/{n}]"


def youden_threshold(y: Sequence | np.ndarray, score: Sequence | np.ndarray) -> float:
    """Cut-off maximising Youden's J on these (training) data; rule: positive when score >= cut-off.

    The cut-off is one of the observed scores (sklearn `roc_curve`); among ties in J the highest cut-off
    (most specific) is returned, which makes the choice deterministic.
    """
    yy = _checks.binary_outcome(y)
    ss = _checks.scores(score, yy.size)
    fpr, tpr, thr = roc_curve(yy, ss, drop_intermediate=False)
    finite = np.isfinite(thr)
    j = np.where(finite, tpr - fpr, -np.inf)
    best = int(np.flatnonzero(j >= j.max() - 1e-12)[0])  # thresholds decrease: first = highest
    return float(thr[best])


def confusion_counts(y: Sequence | np.ndarray, predicted: Sequence | np.ndarray) -> ConfusionCounts:
    """Counts of a binary prediction against the outcome."""
    yy = _checks.binary_outcome(y, need_both=False)
    pp = _checks.binary_outcome(predicted, field="predicted", need_both=False)
    if pp.size != yy.size:
        raise DataError(f"{pp.size} predictions for {yy.size} outcomes", field="predicted",
                        hint="pass one prediction per patient, in the outcome's order")
    return ConfusionCounts(tp=int(((pp == 1) & (yy == 1)).sum()), fp=int(((pp == 1) & (yy == 0)).sum()),
                           tn=int(((pp == 0) & (yy == 0)).sum()), fn=int(((pp == 0) & (yy == 1)).sum()))


@dataclass(frozen=True)
class ClassificationResult(_checks.ResultDisplay):
    """Accuracy, sensitivity, specificity, PPV, NPV with CIs and counts at one cut-off."""

    counts: ConfusionCounts
    threshold: float | None
    ci_method: str
    level: float
    table: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """Columns: metric, estimate, lower, upper, k, n, display, method."""
        return self.table.copy()

    def __getitem__(self, metric: str) -> float:
        row = self.table.loc[self.table["metric"] == metric]
        if row.empty:
            raise KeyError(metric)
        return float(row["estimate"].iloc[0])


def classification_metrics(y: Sequence | np.ndarray, score_or_pred: Sequence | np.ndarray,
                           threshold: float | None = None, ci: str = "clopper-pearson",
                           level: float = 0.95) -> ClassificationResult:
    """Classification table at `threshold` (positive when score >= threshold).

    With `threshold=None`, `score_or_pred` must already be 0/1 calls (e.g. a radiologist's reading).
    The threshold must come from the training data (`youden_threshold`), never from the test cohort.
    """
    lv = _checks.level(level)
    if ci not in _CI_METHODS:
        raise DataError(f"unknown CI method {ci!r}", field="ci", hint='use "clopper-pearson" or "wald"')
    yy = _checks.binary_outcome(y, need_both=False)
    if threshold is None:
        pred = _checks.binary_outcome(score_or_pred, field="score_or_pred", need_both=False)
    else:
        pred = (_checks.scores(score_or_pred, yy.size, field="score_or_pred") >= float(threshold)).astype(int)
    c = confusion_counts(yy, pred)
    parts = {"accuracy": (c.tp + c.tn, c.n), "sensitivity": (c.tp, c.tp + c.fn),
             "specificity": (c.tn, c.tn + c.fp), "ppv": (c.tp, c.tp + c.fp), "npv": (c.tn, c.tn + c.fn)}
    rows = []
    for name, (k, n) in parts.items():
        if n == 0:
            log.warning("%s undefined: denominator is 0", name)
        est = k / n if n else float("nan")
        lo, hi = proportion_ci(k, n, ci, lv)
        rows.append({"metric": name, "estimate": est, "lower": lo, "upper": hi, "k": k, "n": n,
                     "display": format_rate(est, lo, hi, k, n), "method": _CI_METHODS[ci][1]})
    return ClassificationResult(c, None if threshold is None else float(threshold), _CI_METHODS[ci][1], lv,
                                pd.DataFrame(rows))


class YoudenThreshold(BaseEstimator):
    """scikit-learn style cut-off: `fit(score, y)` learns `threshold_` (Youden's J on the training data);
    `predict(score)` returns 0/1 calls with the frozen cut-off (positive when score >= threshold_)."""

    def fit(self, score: Sequence | np.ndarray, y: Sequence | np.ndarray) -> YoudenThreshold:
        self.threshold_ = youden_threshold(y, score)
        return self

    def predict(self, score: Sequence | np.ndarray) -> np.ndarray:
        check_is_fitted(self, "threshold_")
        s = np.asarray(score, dtype=float)
        return (_checks.scores(s, s.size) >= self.threshold_).astype(int)
