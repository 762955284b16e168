"""Embedded and wrapper selection steps: LASSO-logistic with k-fold CV, RFE, mRMR, clinical stepwise.

* :class:`LassoSelector` -- L1-penalised logistic regression (Tibshirani 1996) over a grid of C = 1/lambda,
  k-fold stratified CV of the binomial deviance (2 x mean log-loss) or AUC, and the "min" or "1-SE" rule
  (Hastie, Tibshirani & Friedman, ESL §7.10: the most regularised model whose CV error is within one
  standard error of the minimum -- glmnet's ``lambda.1se``). Seeds 000 and 001 select features this way.
  The CV curve and the coefficient path are kept for plotting (``cv_results_``, ``coef_path_``).
* :class:`RFESelector` -- scikit-learn's recursive feature elimination with a linear model (seed 001).
* :class:`MRMRSelector` -- minimum-redundancy maximum-relevance (Peng, Long & Ding 2005, MID scheme with
  mutual information; relevance from ``mutual_info_classif``, redundancy as mean |Spearman rho| -- a common
  fast variant, documented as such).
"""

from __future__ import annotations

import logging
from numbers import Integral, Real

import numpy as np
from sklearn.feature_selection import RFE, mutual_info_classif
from sklearn.linear_model import LogisticRegression
from sklearn.svm import l1_min_c
from sklearn.metrics import roc_auc_score
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions

from hccrad.core.errors import ModelError
from hccrad.selection.filters import _check_xy, _corr, _Selector
from hccrad.selection.folds import patient_folds, row_groups
from hccrad.selection.l1path import L1LogisticPath

logger = logging.getLogger(__name__)


def _deviance(y: np.ndarray, eta: np.ndarray) -> float:
    """Mean binomial deviance -2/n * sum[y log p + (1-y) log(1-p)], p = expit(eta), computed stably."""
    return float(2.0 * np.mean(np.logaddexp(0.0, eta) - y * eta))


class LassoSelector(_Selector):
    """Keep the features with non-zero coefficients in an L1 logistic regression tuned by k-fold CV.

    ``Cs``: number of grid points (log-spaced from the C at which every coefficient is zero, ``l1_min_c``, up
    to ``c_ratio`` times it) or an explicit increasing array. ``scoring``: ``"deviance"`` (lower is better) or
    ``"auc"``. ``rule``: ``"1se"`` or ``"min"``. Features should be standardised first (pipeline step "scale").
    If the chosen C keeps no feature, the next larger C that keeps at least one is used (logged).
    ``max_features`` caps the selection (glmnet's ``dfmax``): the largest C on the path with at most that many
    non-zero coefficients; ``"epv"`` (default) = one feature per 10 patients of the smaller class (Peduzzi et
    al. 1996), which also keeps the unpenalised logistic refit away from separation in bootstrap resamples;
    ``None`` = no cap (the seeds' procedure). ``penalize_intercept``: ``True`` (default) fits with liblinear,
    which penalises the intercept as a feature; ``False`` fits with saga and a free intercept, glmnet's
    objective: on training folds of n_f patients C = 1 / (n_f lambda), and with the same folds and grid the
    CV curve, the 1-SE choice and the selected set equal ``cv.glmnet``'s (tests/reference/test_r_glmnet_1se.py).
    ``cv_stop`` (default 4): the grid, scored in increasing C, ends once the CV error at the last k C all lies
    above the best C's 1-SE bound (:func:`grid_can_stop`) -- the curve has risen past any C the "min" or "1se"
    rule could choose, as glmnet ends its lambda path early -- and C is chosen among the C scored until then.
    The rule is the same in every fit (apparent, bootstrap, CV), so resampling repeats the selection exactly;
    with ``keep_path=True`` (the apparent fit, whose CV curve and coefficient path the report plots) the C past
    the end are still scored for the figure (not for the choice), otherwise they are left unfitted (NaN in
    ``cv_results_``): the large-C fits are the costly ones (issue 24). ``None`` chooses among the whole grid.
    ``cv_grid_end_``: how many C of the grid the choice was made among.

    Fitted: ``Cs_``, ``cv_results_`` (dict of arrays: C, log10_lambda, mean, se, n_nonzero), ``coef_path_``
    (array Cs x features, columns = ``feature_names_in_``, refitted on all training rows; ``None`` with
    ``keep_path=False``, which skips those refits -- use it inside resampling), ``C_`` (chosen), ``coef_``.
    """

    _parameter_constraints = {
        "cv": [Interval(Integral, 2, None, closed="left")],
        "rule": [StrOptions({"1se", "min"})],
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "c_ratio": [Interval(Real, 0, None, closed="neither")],
        "scoring": [StrOptions({"deviance", "auc"})],
        "random_state": ["random_state"],
        "max_features": [Interval(Integral, 1, None, closed="left"), StrOptions({"epv"}), None],
        "keep_path": ["boolean"],
        "penalize_intercept": ["boolean"],
        "cv_stop": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        cv: int = 10,
        rule: str = "1se",
        Cs: int | np.ndarray = 20,
        c_ratio: float = 1e3,
        scoring: str = "deviance",
        random_state: int | None = 0,
        max_features: int | str | None = "epv",
        keep_path: bool = True,
        penalize_intercept: bool = True,
        cv_stop: int | None = 4,
    ) -> None:
        self.cv_stop = cv_stop
        self.penalize_intercept = penalize_intercept
        self.max_features = max_features
        self.keep_path = keep_path
        self.cv = cv
        self.rule = rule
        self.Cs = Cs
        self.c_ratio = c_ratio
        self.scoring = scoring
        self.random_state = random_state

    def fit(self, X, y=None, groups=None):
        """``groups``: the patient of every row (copies drawn by a bootstrap share one); default: the
        DataFrame index (hccrad's resampling labels rows with their original row), see
        :mod:`hccrad.selection.folds`. Inner folds keep a patient's copies together."""
        Xv, yv = _check_xy(self, X, y)
        patients = row_groups(X, groups)
        n_min = int(np.bincount(yv).min())
        if n_min < self.cv:
            raise ModelError(
                f"LassoSelector: {self.cv}-fold CV needs >= {self.cv} patients per class, "
                f"the smaller class has {n_min}",
                field="cv",
                hint="lower cv (e.g. cv=5)",
            )
        if np.ndim(self.Cs) == 0:
            c0 = l1_min_c(Xv, yv, loss="log")
            Cs = c0 * np.logspace(0, np.log10(self.c_ratio), int(self.Cs))
        else:
            Cs = np.sort(np.asarray(self.Cs, float))
        splits = patient_folds(yv, patients, self.cv, self.random_state)
        sign = 1.0 if self.scoring == "deviance" else -1.0  # make "lower is better"
        mean, se, considered = self._cv_curve(Xv, yv, splits, Cs, sign)
        full = L1LogisticPath(Xv, yv, Cs, self.penalize_intercept, self.random_state)
        cache: dict[int, np.ndarray] = {}

        def coef(i: int) -> np.ndarray:  # refit on all training rows at Cs[i], on demand
            if i not in cache:
                cache[i] = full.coef(i)
            return cache[i]

        def nnz(i: int) -> int:
            return int(np.count_nonzero(coef(i)))

        if self.keep_path:
            for i in range(len(Cs)):
                coef(i)
        best = int(np.argmin(sign * mean[:considered]))
        if self.rule == "min":
            chosen = best
        else:
            ok = sign * mean[:considered] <= sign * mean[best] + se[best]
            chosen = int(np.argmax(ok))  # smallest C (most regularised) within 1 SE
        if nnz(chosen) == 0:
            later = [i for i in range(chosen + 1, len(Cs)) if nnz(i) > 0]
            if not later:
                raise ModelError(
                    "LassoSelector: no C in the grid gives a non-zero coefficient",
                    field="Cs",
                    hint="widen the grid (larger c_ratio) or check that features vary",
                )
            logger.info("LassoSelector: chosen C keeps no feature; using the next C with >= 1 feature")
            chosen = later[0]
        support = coef(chosen) != 0
        k = self.max_features
        if k is not None:
            if k == "epv":
                k = max(1, n_min // 10)
            if not isinstance(k, (int, np.integer)) or k < 1:
                raise ModelError(f"max_features={self.max_features!r}", field="max_features",
                                 hint="use a positive integer, 'epv' or None")
            if nnz(chosen) > k:
                i = chosen - 1
                while i >= 0 and nnz(i) > k:
                    i -= 1
                if i >= 0 and nnz(i) > 0:
                    chosen = i
                    support = coef(i) != 0
                else:  # the path jumps past k: keep the k largest |coef| at the first C with any
                    chosen = i + 1
                    top = np.argsort(-np.abs(coef(chosen)), kind="stable")[:k]
                    support = np.zeros(Xv.shape[1], bool)
                    support[top] = True
                logger.info("LassoSelector: capped at %d features (max_features=%r)", k, self.max_features)
        self.Cs_ = Cs
        self.cv_results_ = {  # dict of arrays, like GridSearchCV.cv_results_: pd.DataFrame(cv_results_) to plot
            "C": Cs, "log10_lambda": -np.log10(Cs), "mean": mean, "se": se,
            "n_nonzero": np.array([nnz(i) if i in cache else np.nan for i in range(len(Cs))]),
        }
        self.cv_scoring_ = self.scoring
        self.cv_grid_end_ = considered
        self.coef_path_ = np.vstack([coef(i) for i in range(len(Cs))]) if self.keep_path else None
        self.C_ = float(Cs[chosen])
        self.coef_ = np.where(support, coef(chosen), 0.0)
        self.support_ = support
        return self

    def _score(self, y: np.ndarray, eta: np.ndarray) -> float:
        """One validation fold's CV score of the linear predictor ``eta``."""
        if self.scoring == "deviance":
            return _deviance(y, eta)
        if np.unique(y).size < 2:  # a validation fold of one class (few patients): no AUC
            return np.nan
        return roc_auc_score(y, eta) if np.ptp(eta) > 0 else 0.5

    def _cv_curve(self, Xv: np.ndarray, yv: np.ndarray, splits, Cs: np.ndarray,
                  sign: float) -> tuple[np.ndarray, np.ndarray, int]:
        """Mean and SE over the folds of the CV score at each C (NaN at the C left unfitted), and how many C
        (from the smallest) the choice is made among.

        ``cv_stop=None`` or ``keep_path``: every fold's path over the whole grid (fold by fold); with
        ``cv_stop=k`` the choice is then made among the C up to where the rule ends the grid. Otherwise the grid
        C by C (each C on every fold; each fit is the same LIBLINEAR / SAGA call as fold by fold, so the scores
        are the same numbers), ended once the last k C all score worse than the 1-SE bound of the best C so
        far (:func:`grid_can_stop`)."""
        scores = np.full((self.cv, len(Cs)), np.nan)
        folds = [(tr, va) for tr, va in splits]
        if self.cv_stop is None or self.keep_path:
            for f, (tr, va) in enumerate(folds):
                path = L1LogisticPath(Xv[tr], yv[tr], Cs, self.penalize_intercept, self.random_state)
                for c in range(len(Cs)):  # increasing C: SAGA warm-starts from the previous C
                    w, b = path.fit(c)
                    scores[f, c] = self._score(yv[va], Xv[va] @ w + b)
            mean, se = self._mean_se(scores)
            return mean, se, self._grid_end(mean, se, sign)
        paths = [L1LogisticPath(Xv[tr], yv[tr], Cs, self.penalize_intercept, self.random_state) for tr, _ in folds]
        for c in range(len(Cs)):
            for f, (path, (_, va)) in enumerate(zip(paths, folds)):
                w, b = path.fit(c)
                scores[f, c] = self._score(yv[va], Xv[va] @ w + b)
            mean, se = self._mean_se(scores[:, : c + 1])
            if grid_can_stop(sign * mean, se, int(self.cv_stop)):
                break
        pad = np.full(len(Cs) - c - 1, np.nan)
        return np.concatenate([mean, pad]), np.concatenate([se, pad]), c + 1

    def _grid_end(self, mean: np.ndarray, se: np.ndarray, sign: float) -> int:
        """How many C (from the smallest) of a fully scored grid ``cv_stop`` lets the choice be made among."""
        if self.cv_stop is None:
            return len(mean)
        for c in range(len(mean)):
            if grid_can_stop(sign * mean[: c + 1], se[: c + 1], int(self.cv_stop)):
                return c + 1
        return len(mean)

    @staticmethod
    def _mean_se(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n_scored = np.sum(~np.isnan(scores), axis=0)
        if n_scored.min() < 2:
            raise ModelError("LassoSelector: fewer than 2 inner folds hold both outcome classes for the AUC",
                             field="scoring", hint="use scoring='deviance' or fewer folds")
        return np.nanmean(scores, axis=0), np.nanstd(scores, axis=0, ddof=1) / np.sqrt(n_scored)


def grid_can_stop(error: np.ndarray, se: np.ndarray, patience: int) -> bool:
    """True when the CV error (lower is better) at each of the last ``patience`` C scored lies above the
    1-SE bound of the best C so far (error[best] + se[best]) -- the curve has risen past where the "min" and
    "1se" rules can choose. Only a curve that dips below its minimum again after rising for ``patience`` C
    would make the whole grid choose differently (not seen in 1,000 bootstrap resamples of the seed-000 demo
    at patience 4; once in 300 at patience 3; docs/models.md)."""
    best = int(np.argmin(error))
    if len(error) - 1 - best < patience:
        return False
    return bool(np.all(error[-patience:] > error[best] + se[best]))


class RFESelector(_Selector):
    """Recursive feature elimination (Guyon et al. 2002) with an L2 logistic regression ranking by |coef|.

    ``n_features``: how many to keep (int) or a fraction of the inputs (float in (0, 1)); ``step``: how many
    to drop per round. Fitted: ``ranking_`` (1 = kept).
    """

    _parameter_constraints = {
        "n_features": [Interval(Integral, 1, None, closed="left"), Interval(RealNotInt, 0, None, closed="neither")],
        "step": [Interval(Integral, 1, None, closed="left"), Interval(RealNotInt, 0, 1, closed="neither")],
        "C": [Interval(Real, 0, None, closed="neither")],
    }

    def __init__(self, n_features: int | float = 10, step: int = 1, C: float = 1.0) -> None:
        self.n_features = n_features
        self.step = step
        self.C = C

    def fit(self, X, y=None):
        Xv, yv = _check_xy(self, X, y)
        k = self.n_features
        k = max(1, int(round(k * Xv.shape[1]))) if isinstance(k, float) and k < 1 else int(k)
        k = min(k, Xv.shape[1])
        rfe = RFE(LogisticRegression(C=self.C, max_iter=1000), n_features_to_select=k, step=self.step)
        rfe.fit(Xv, yv)
        self.ranking_ = rfe.ranking_
        self.support_ = rfe.support_.copy()
        return self


class MRMRSelector(_Selector):
    """Minimum-redundancy maximum-relevance: greedily add the feature maximising
    relevance - mean redundancy with the already chosen ones (Peng et al., IEEE TPAMI 2005, MID form).

    Relevance: ``mutual_info_classif`` (seeded); redundancy: mean |Spearman rho| (fast variant of the MI
    redundancy term). Fitted: ``relevance_``, ``order_`` (indices in the order chosen).
    """

    _parameter_constraints = {
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_features: int = 10, random_state: int | None = 0) -> None:
        self.n_features = n_features
        self.random_state = random_state

    def fit(self, X, y=None):
        Xv, yv = _check_xy(self, X, y)
        k = min(int(self.n_features), Xv.shape[1])
        rel = mutual_info_classif(Xv, yv, random_state=self.random_state)
        r = np.abs(_corr(Xv, "spearman"))
        order = [int(np.argmax(rel))]
        while len(order) < k:
            score = rel - r[:, order].mean(1)
            score[order] = -np.inf
            order.append(int(np.argmax(score)))
        self.relevance_ = rel
        self.order_ = np.asarray(order)
        self.support_ = np.zeros(Xv.shape[1], bool)
        self.support_[order] = True
        return self


__all__ = ["LassoSelector", "RFESelector", "MRMRSelector", "grid_can_stop"]
