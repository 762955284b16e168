"""Leakage-free validation: every resample refits the *whole* pipeline, feature selection included.

* :func:`train_test_validate` -- fit on a training cohort, score an independent test cohort (external
  validation when the split is by centre; :func:`split_train_test` makes either split).
* :func:`repeated_cv` -- repeated stratified k-fold CV; AUC per fold.
* :func:`optimism_bootstrap` -- Harrell's optimism correction (Harrell, Lee & Mark, Stat Med 1996;
  Steyerberg, Clinical Prediction Models, 2nd ed., §17.2): fit on the full data -> apparent AUC; for each of B
  bootstrap samples, fit the whole pipeline on the sample, optimism_b = AUC(sample) - AUC(original data);
  corrected AUC = apparent - mean(optimism_b). Seed 000's "bootstrap-corrected C-index" (B = 1000).
  The same resamples give the optimism-corrected calibration intercept and slope of rms ``validate``:
  (a, b) of the logistic recalibration y ~ a + b L, L = logit of the predicted P(y = 1) (probabilities
  clipped to [1e-12, 1 - 1e-12] before the logit), apparent on the full fit (0 and 1 for an unpenalised
  logistic model), optimism_b = (a, b)(sample) - (a, b)(original data), corrected = apparent - mean optimism;
  reference: rms::validate(lrm(...)) within Monte-Carlo error (tests/reference/test_r_validate_lrm.py).
* :func:`optimism_bootstraps` -- the same for several pipelines on the same patients and resamples, fitted one
  after the other in each resample task: a fused model with the model whose score it fuses, which then reuses
  that task's score fit (:mod:`hccrad.models.fitmemo`); each result equals its own ``optimism_bootstrap``.

A resample's model scores the union of its evaluation rows once (the resample, every row and the rows left
out are all original rows) and each set takes its rows' scores from it; the AUCs equal those of scoring each
set separately, the calibration (a, b) agree to ~1e-16 (BLAS rounding of a row's score can depend on the
rows around it).

Resamples run in chunks, in this process, in joblib loky processes (``n_jobs``) or on a Dask cluster
(``scheduler``), with BLAS threads pinned to one (:mod:`hccrad.models.scheduling`). Each resample's indices
come from its own child of ``numpy.random.SeedSequence(seed)``, so results are identical for a seed whatever
``n_jobs``, the chunking or the cluster.

Resampled rows are labelled with their original row number (the DataFrame index of the resample), so inner
CV steps (LASSO's lambda, stacking) keep a patient's bootstrap copies in one fold
(:mod:`hccrad.selection.folds`). A resample whose fit fails for a data reason (an hccrad error, or a
``ValueError``/``ArithmeticError`` from a solver, e.g. separation) is *recorded* -- which resample, the error
and its message (:class:`ResampleFailure`) -- and the result states "n used of N requested"; when more than
:data:`FAILED_FRACTION_LIMIT` (5 %) of the resamples failed, ``flagged`` is true and ``warning`` says so (the
estimate then describes only the resamples that could be fitted, a selected subset). Programming errors
(``TypeError``, ``AttributeError``, ...) are not caught.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd
from scipy import special, stats
from sklearn.base import clone
from sklearn.model_selection import RepeatedStratifiedKFold, train_test_split

from hccrad.core.errors import DataError, HccradError, ModelError
from hccrad.core.runlog import log_context
from hccrad.models import fitmemo
from hccrad.models.factory import scores_of, selected_features, without_lasso_path
from hccrad.models.scheduling import run_resamples
from hccrad.evaluate.discrimination import auc_ci

logger = logging.getLogger(__name__)


def _binary(y, what: str = "y") -> np.ndarray:
    yv = np.asarray(y).ravel()
    if pd.isna(yv).any():
        raise DataError(f"{what} has missing values", field=what, hint="drop patients without an outcome")
    classes = np.unique(yv)
    if classes.size != 2:
        raise DataError(f"{what} must have two classes, found {classes.size}", field=what)
    return (yv == classes[1]).astype(int)


def _auc(y: np.ndarray, s: np.ndarray) -> float:
    """AUC = Mann–Whitney U / (n1 n0) from mid-ranks (ties count 1/2), the value of sklearn's
    roc_auc_score for a binary outcome without its per-call validation (resampling calls it thousands of times)."""
    yb = np.asarray(y) == 1
    n1 = int(yb.sum())
    n0 = yb.size - n1
    if n1 == 0 or n0 == 0:
        raise DataError("AUC needs both outcome classes in the evaluated set")
    ranks = stats.rankdata(np.asarray(s, dtype=float))
    return float((ranks[yb].sum() - n1 * (n1 + 1) / 2.0) / (n1 * n0))


FAILED_FRACTION_LIMIT = 0.05  # above this share of failed resamples a result is flagged
FITTING_ERRORS = (HccradError, ValueError, ArithmeticError, np.linalg.LinAlgError)


def _as_frame(X) -> pd.DataFrame:
    """X as a DataFrame (NumPy columns named x0, x1, ... as scikit-learn names them)."""
    if isinstance(X, pd.DataFrame):
        return X
    arr = np.asarray(X)
    return pd.DataFrame(arr, columns=[f"x{i}" for i in range(arr.shape[1])])


def _rows(X: pd.DataFrame, idx) -> pd.DataFrame:
    """Rows ``idx`` of X, indexed by their original row number: bootstrap copies of one patient share it."""
    out = X.iloc[idx]
    return out.set_axis(pd.Index(np.asarray(idx), name="resample_row"), axis=0)


@dataclass(frozen=True)
class ResampleFailure:
    """One resample that could not be fitted: its number (0-based, in seed order), the error and message."""

    resample: int
    error: str
    message: str

    def as_dict(self) -> dict:
        return {"resample": self.resample, "error": self.error, "message": self.message}


def _failure_warning(n_failed: int, n_requested: int, what: str) -> str | None:
    if n_requested <= 0 or n_failed / n_requested <= FAILED_FRACTION_LIMIT:
        return None
    return (f"{n_failed} of {n_requested} {what} ({100 * n_failed / n_requested:.1f} %) could not be fitted "
            f"(limit {100 * FAILED_FRACTION_LIMIT:.0f} %): the estimate rests on the {n_requested - n_failed} "
            "that could, a selected subset; see the failed resamples")


@dataclass(frozen=True)
class TrainTestResult:
    """Apparent (training) and test AUC with the test AUC's DeLong 95 % CI, and the test predictions."""

    train_auc: float
    test_auc: float
    test_ci: tuple[float, float]
    test_scores: np.ndarray
    selected: tuple[str, ...]
    model: object
    method: str = "fit on training cohort, scored on test cohort; DeLong CI"

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame(
            {"auc": [self.train_auc, self.test_auc], "ci_lower": [np.nan, self.test_ci[0]],
             "ci_upper": [np.nan, self.test_ci[1]]},
            index=pd.Index(["train (apparent)", "test"], name="cohort"),
        )


def split_train_test(
    df: pd.DataFrame, outcome: str, test_size: float = 0.3, centre_col: str | None = None,
    test_centres: list | None = None, seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified random split, or by centre (external validation) when ``centre_col`` is given:
    rows of ``test_centres`` (default: the centre with the fewest patients) form the test cohort."""
    if outcome not in df.columns:
        raise DataError("outcome column not in the table", field=outcome)
    if centre_col is None:
        tr, te = train_test_split(df, test_size=test_size, stratify=df[outcome], random_state=seed)
        return tr, te
    if centre_col not in df.columns:
        raise DataError("centre column not in the table", field=centre_col)
    centres = test_centres if test_centres is not None else [df[centre_col].value_counts().idxmin()]
    is_test = df[centre_col].isin(centres)
    if is_test.all() or not is_test.any():
        raise DataError(f"test centres {centres} leave an empty cohort", field=centre_col,
                        hint="name centres present in the table, not all of them")
    return df[~is_test], df[is_test]


def train_test_validate(pipeline, X_train, y_train, X_test, y_test) -> TrainTestResult:
    """Fit a clone of ``pipeline`` on the training cohort only and evaluate on the test cohort."""
    ytr, yte = _binary(y_train, "y_train"), _binary(y_test, "y_test")
    model = clone(pipeline).fit(X_train, ytr)
    s_te = scores_of(model, X_test)
    res = auc_ci(yte, s_te, method="delong")
    return TrainTestResult(_auc(ytr, scores_of(model, X_train)), res.auc, (res.lower, res.upper), s_te,
                           tuple(selected_features(model)), model)


_CLIP = 1e-12


def calibration_line(y: np.ndarray, prob: np.ndarray) -> tuple[float, float]:
    """(intercept a, slope b) of the logistic recalibration logit P(y = 1) = a + b logit(prob).

    Maximum likelihood by Newton–Raphson (two parameters, to |step| < 1e-10); (nan, nan) when the MLE does
    not exist (one outcome class, constant predictions, separation): such resamples are counted as
    `calibration_failed` by :class:`OptimismResult`, never averaged in.
    """
    p = np.clip(np.asarray(prob, dtype=float), _CLIP, 1.0 - _CLIP)
    yy = np.asarray(y, dtype=float)
    design = np.column_stack([np.ones(p.size), np.log(p / (1.0 - p))])
    beta = np.array([0.0, 1.0])
    for _ in range(50):
        mu = special.expit(design @ beta)
        info = (design * (mu * (1.0 - mu))[:, None]).T @ design
        try:
            step = np.linalg.solve(info, design.T @ (yy - mu))
        except np.linalg.LinAlgError:
            return float("nan"), float("nan")
        beta = beta + step
        if not np.all(np.isfinite(beta)) or np.max(np.abs(beta)) > 1e6:
            return float("nan"), float("nan")
        if np.max(np.abs(step)) < 1e-10:
            return float(beta[0]), float(beta[1])
    return float("nan"), float("nan")


def _fit_resample(pipeline, X: pd.DataFrame, y: np.ndarray):
    """A clone fitted on one resample's rows: without LASSO path refits (``keep_path=False``: same selection;
    the C past the end of the LASSO's grid, ``LassoSelector.cv_stop``, then go unfitted), and kept in :mod:`hccrad.models.fitmemo` for a fused model refitting the same pipeline on the same rows."""
    est = without_lasso_path(clone(pipeline))
    key = fitmemo.fit_key(est, X, y)
    fitted = est.fit(X, y)
    fitmemo.remember(key, fitted)
    return fitted


def _eval_scores(model, X: pd.DataFrame, eval_sets: list) -> list[np.ndarray]:
    """The model's score on each eval index set, computed once per distinct row: the optimism bootstrap's
    three sets (the resample, every row, the rows left out) are all drawn from the original rows, so the
    model scores the union once (each row scored on its own: the score of a row does not depend on the
    others in the table) and each set takes its rows' scores from it (issue 24)."""
    union = np.unique(np.concatenate([np.asarray(idx) for idx in eval_sets]))
    scored = scores_of(model, _rows(X, union))
    return [scored[np.searchsorted(union, idx)] for idx in eval_sets]


def _fit_eval(pipeline, X, y, train_idx, eval_sets, resample: int, calibrate_on: int = 0):
    """Fit a clone on rows train_idx; return (AUCs on each eval index set, selected features, calibration
    (a, b) on the first `calibrate_on` eval sets or None), or the :class:`ResampleFailure` saying why this
    resample could not be fitted."""
    try:
        with log_context(f"resample {resample}"):  # a note logged while fitting says which resample
            m = _fit_resample(pipeline, _rows(X, train_idx), y[train_idx])
            scores = _eval_scores(m, X, eval_sets)
            aucs = [_auc(y[idx], s) if np.unique(y[idx]).size == 2 else np.nan
                    for idx, s in zip(eval_sets, scores)]
            calib = [calibration_line(y[idx], s) for idx, s in zip(eval_sets[:calibrate_on], scores)] or None
        return aucs, selected_features(m), calib
    except FITTING_ERRORS as exc:
        message = exc.message if isinstance(exc, HccradError) else str(exc)
        logger.info("resample %d failed: %s: %s", resample, type(exc).__name__, message)
        return ResampleFailure(resample, type(exc).__name__, message)


def _split(out: list) -> tuple[list, tuple[ResampleFailure, ...]]:
    return [o for o in out if not isinstance(o, ResampleFailure)], \
        tuple(o for o in out if isinstance(o, ResampleFailure))


@dataclass(frozen=True)
class CVResult:
    """Repeated stratified k-fold CV: AUC of every held-out fold and selection frequencies."""

    fold_auc: np.ndarray  # (n_repeats * n_splits,)
    n_splits: int
    n_repeats: int
    n_failed: int
    selection_frequency: pd.Series
    failures: tuple[ResampleFailure, ...] = ()
    method: str = "repeated stratified k-fold CV, whole pipeline refitted per fold"

    @property
    def n_requested(self) -> int:
        return self.n_splits * self.n_repeats

    @property
    def n_used(self) -> int:
        return self.n_requested - self.n_failed

    @property
    def warning(self) -> str | None:
        return _failure_warning(self.n_failed, self.n_requested, "CV folds")

    @property
    def flagged(self) -> bool:
        return self.warning is not None

    @property
    def mean_auc(self) -> float:
        return float(np.mean(self.fold_auc))

    @property
    def sd_auc(self) -> float:
        return float(np.std(self.fold_auc, ddof=1)) if self.fold_auc.size > 1 else float("nan")

    def summary(self) -> pd.DataFrame:
        q = np.percentile(self.fold_auc, [2.5, 97.5])
        return pd.DataFrame({"mean_auc": [self.mean_auc], "sd_auc": [self.sd_auc], "p2.5": [q[0]],
                             "p97.5": [q[1]], "n_folds": [self.fold_auc.size], "n_failed": [self.n_failed],
                             "n_requested": [self.n_requested], "flagged": [self.flagged]})


def _frequency(selections: list[list[str]]) -> pd.Series:
    """Share of resamples that selected each feature, highest first, ties by name (never by set or hash
    order, which varies between processes)."""
    n = max(len(selections), 1)
    c = Counter(f for sel in selections for f in dict.fromkeys(sel))
    freq = (pd.Series(c, dtype=float) / n).sort_index()
    return freq.sort_values(ascending=False, kind="stable").rename("frequency")


def repeated_cv(pipeline, X, y, n_splits: int = 5, n_repeats: int = 10, seed: int = 0,
                n_jobs: int = 1, *, scheduler: str | None = None, chunk_size: int | None = None,
                pin_threads: bool = True) -> CVResult:
    """Repeated stratified k-fold CV of the whole pipeline (selection refitted in every training fold).
    Scheduling (``n_jobs``, ``scheduler``, ``chunk_size``, ``pin_threads``): :func:`run_resamples`."""
    yv = _binary(y)
    X = _as_frame(X)
    rskf = RepeatedStratifiedKFold(n_splits=n_splits, n_repeats=n_repeats, random_state=seed)
    splits = list(rskf.split(np.zeros(len(yv)), yv))
    out = run_resamples(partial(_fit_eval, pipeline, X, yv), [(tr, [te], i) for i, (tr, te) in enumerate(splits)],
                        n_jobs=n_jobs, scheduler=scheduler, chunk_size=chunk_size, pin_threads=pin_threads)
    ok, failures = _split(out)
    if not ok:
        raise ModelError(f"every CV fold failed to fit; first: {failures[0].error}: {failures[0].message}",
                         hint="see the log; simplify the pipeline")
    res = CVResult(np.array([o[0][0] for o in ok]), n_splits, n_repeats, len(failures),
                   _frequency([o[1] for o in ok]), failures)
    if res.warning:
        logger.warning("repeated_cv: %s", res.warning)
    return res


@dataclass(frozen=True)
class OptimismResult:
    """Harrell's bootstrap optimism correction of the AUC.

    ``optimism`` holds optimism_b = AUC_b(bootstrap sample) - AUC_b(original) for every successful resample;
    ``ci`` is the 2.5/97.5 percentile of (apparent - optimism_b), i.e. the spread of the corrected estimate
    over resamples (the interval seeds 000/001 report next to the corrected C-index).
    """

    apparent_auc: float
    optimism: np.ndarray
    n_boot: int
    n_failed: int
    selection_frequency: pd.Series
    apparent_selected: tuple[str, ...]
    seed: int
    boot_auc: np.ndarray = field(repr=False, default=None)
    test_auc: np.ndarray = field(repr=False, default=None)
    oob_auc: np.ndarray = field(repr=False, default=None)
    failures: tuple[ResampleFailure, ...] = ()
    method: str = "Harrell bootstrap optimism correction; whole pipeline refitted per resample"
    # calibration (intercept, slope): apparent (2,), on each bootstrap sample and on the original data
    # (n_used x 2); None for a model without predicted probabilities
    apparent_calibration: tuple[float, float] | None = None
    boot_calibration: np.ndarray | None = field(repr=False, default=None)
    test_calibration: np.ndarray | None = field(repr=False, default=None)

    def calibration_summary(self) -> pd.DataFrame:
        """rms validate's rows Intercept and Slope: apparent, mean optimism, corrected, resamples used."""
        if self.apparent_calibration is None:
            raise ModelError("the model gives no probabilities, so no calibration intercept or slope",
                             field="pipeline", hint="use a probabilistic classifier as the final step")
        diff = self.boot_calibration - self.test_calibration
        usable = np.isfinite(diff).all(axis=1)
        optimism = diff[usable].mean(axis=0) if usable.any() else np.full(2, np.nan)
        apparent = np.asarray(self.apparent_calibration)
        return pd.DataFrame({"apparent": apparent, "optimism": optimism, "corrected": apparent - optimism,
                             "n_used": int(usable.sum()), "calibration_failed": int((~usable).sum())},
                            index=pd.Index(["intercept", "slope"], name="index"))

    @property
    def n_used(self) -> int:
        """Resamples that entered the estimate (``n_boot`` were requested)."""
        return self.n_boot - self.n_failed

    @property
    def warning(self) -> str | None:
        """Set when more than :data:`FAILED_FRACTION_LIMIT` of the resamples failed."""
        return _failure_warning(self.n_failed, self.n_boot, "bootstrap resamples")

    @property
    def flagged(self) -> bool:
        return self.warning is not None

    def record(self) -> dict:
        """What run.json keeps: requested/used/failed, the flag and every failed resample with its reason."""
        return {"requested": self.n_boot, "used": self.n_used, "failed": self.n_failed,
                "flagged": self.flagged, "warning": self.warning, "seed": self.seed,
                "failed_resamples": [f.as_dict() for f in self.failures]}

    @property
    def mean_optimism(self) -> float:
        return float(np.mean(self.optimism))

    @property
    def corrected_auc(self) -> float:
        return self.apparent_auc - self.mean_optimism

    @property
    def auc_632plus(self) -> float:
        """Efron & Tibshirani's .632+ estimate (JASA 1997) on the AUC scale, from the out-of-bag AUCs:
        R = (apparent - oob) / (apparent - 0.5) clipped to [0, 1], w = 0.632 / (1 - 0.368 R),
        AUC = (1 - w) apparent + w oob (oob = mean out-of-bag AUC, floored at 0.5)."""
        oob = max(float(np.nanmean(self.oob_auc)), 0.5)
        app = self.apparent_auc
        r = 0.0 if app <= oob or app <= 0.5 else min(1.0, (app - oob) / (app - 0.5))
        w = 0.632 / (1.0 - 0.368 * r)
        return (1.0 - w) * app + w * oob

    @property
    def ci(self) -> tuple[float, float]:
        """Percentile 95% CI of apparent − optimism_b, clipped to [0, 1] (the range of an AUC)."""
        lo, hi = np.clip(np.percentile(self.apparent_auc - self.optimism, [2.5, 97.5]), 0.0, 1.0)
        return float(lo), float(hi)

    def summary(self) -> pd.DataFrame:
        lo, hi = self.ci
        return pd.DataFrame({
            "apparent_auc": [self.apparent_auc], "mean_optimism": [self.mean_optimism],
            "corrected_auc": [self.corrected_auc], "ci_lower": [lo], "ci_upper": [hi],
            "oob_auc": [float(np.nanmean(self.oob_auc))], "auc_632plus": [self.auc_632plus],
            "n_boot": [self.n_boot], "n_used": [self.n_used], "n_failed": [self.n_failed],
            "flagged": [self.flagged],
        })


def optimism_bootstrap(pipeline, X, y, n_boot: int = 1000, seed: int = 0, n_jobs: int = 1,
                       progress: Callable[[int, int], None] | None = None, *, scheduler: str | None = None,
                       chunk_size: int | None = None, pin_threads: bool = True) -> OptimismResult:
    """Harrell's optimism-corrected AUC of ``pipeline`` (selection + model refitted in each resample).

    Resamples lacking one outcome class are redrawn from the same child seed stream. ``n_jobs=-1`` uses
    every core, ``scheduler="tcp://host:8786"`` a Dask cluster, ``chunk_size`` resamples go to each task
    (:func:`hccrad.models.scheduling.run_resamples`); the result does not depend on any of them.
    ``progress(done, n_boot)`` is called as resamples finish.
    """
    return optimism_bootstraps([(pipeline, X)], y, n_boot=n_boot, seed=seed, n_jobs=n_jobs, progress=progress,
                               scheduler=scheduler, chunk_size=chunk_size, pin_threads=pin_threads)[0]


def bootstrap_indices(yv: np.ndarray, n_boot: int, seed: int) -> list[np.ndarray]:
    """The rows of each bootstrap resample: from the b-th child of ``SeedSequence(seed)``, n draws with
    replacement, redrawn from the same stream while a resample lacks one outcome class."""
    n = len(yv)
    idx = []
    for child in np.random.SeedSequence(seed).spawn(n_boot):
        rng = np.random.default_rng(child)
        while True:
            b = rng.integers(0, n, n)
            if np.unique(yv[b]).size == 2:
                break
        idx.append(b)
    return idx


def _fit_eval_each(fits: list[tuple], y, train_idx, eval_sets, resample: int, calibrate_on: list[int]):
    """:func:`_fit_eval` of every (pipeline, X) of ``fits`` on the same resample, in order."""
    return [_fit_eval(pipeline, X, y, train_idx, eval_sets, resample, c)
            for (pipeline, X), c in zip(fits, calibrate_on)]


def optimism_bootstraps(fits: list[tuple], y, n_boot: int = 1000, seed: int = 0, n_jobs: int = 1,
                        progress: Callable[[int, int], None] | None = None, *, scheduler: str | None = None,
                        chunk_size: int | None = None, pin_threads: bool = True) -> list[OptimismResult]:
    """:func:`optimism_bootstrap` of several (pipeline, X) pairs on the same patients (rows of every X in the
    order of ``y``) with the same seed, each pair's result identical to its own ``optimism_bootstrap``: the
    resamples are the same, and each resample task fits the pipelines one after the other in one process.

    This is how a fused model is validated with the model whose score it fuses (issue 24): the fused model's
    fit in a resample takes the score pipeline that the same task has just fitted on the same rows
    (:mod:`hccrad.models.fitmemo`) instead of fitting it again, whichever worker runs the task.
    """
    yv = _binary(y)
    frames = [_as_frame(X) for _, X in fits]
    if n_boot < 1:
        raise ModelError("n_boot must be >= 1", field="n_boot")
    apparent = [_apparent(pipeline, X, yv) for (pipeline, _), X in zip(fits, frames)]
    everyone = np.arange(len(yv))
    calibrate_on = [2 if app[3] is not None else 0 for app in apparent]
    out = run_resamples(partial(_fit_eval_each, [(p, X) for (p, _), X in zip(fits, frames)], yv),
                        [(b, [b, everyone, np.setdiff1d(everyone, b)], i, calibrate_on)
                         for i, b in enumerate(bootstrap_indices(yv, n_boot, seed))],
                        n_jobs=n_jobs, scheduler=scheduler, chunk_size=chunk_size, pin_threads=pin_threads,
                        progress=progress)
    return [_optimism_result([o[k] for o in out], app, n_boot, seed) for k, app in enumerate(apparent)]


def _apparent(pipeline, X: pd.DataFrame, yv: np.ndarray) -> tuple:
    """(full fit, its selected features, apparent AUC, apparent calibration or None)."""
    full = clone(pipeline).fit(X, yv)
    scores = scores_of(full, X)
    calibration = calibration_line(yv, scores) if hasattr(full, "predict_proba") else None
    return full, tuple(selected_features(full)), _auc(yv, scores), calibration


def _optimism_result(out: list, apparent_fit: tuple, n_boot: int, seed: int) -> OptimismResult:
    _, apparent_selected, apparent, apparent_calibration = apparent_fit
    ok, failures = _split(out)
    if not ok:
        raise ModelError(f"every bootstrap resample failed to fit; first: {failures[0].error}: "
                         f"{failures[0].message}", hint="see the log; simplify the pipeline")
    if failures:
        logger.warning("optimism_bootstrap: %d of %d resamples failed (recorded in the result)",
                       len(failures), n_boot)
    boot = np.array([o[0][0] for o in ok])
    test = np.array([o[0][1] for o in ok])
    oob = np.array([o[0][2] for o in ok])
    calib = None if apparent_calibration is None else np.array([o[2] for o in ok])  # (n_used, 2, 2)
    res = OptimismResult(apparent, boot - test, n_boot, len(failures), _frequency([o[1] for o in ok]),
                         apparent_selected, seed, boot, test, oob, failures,
                         apparent_calibration=apparent_calibration,
                         boot_calibration=None if calib is None else calib[:, 0, :],
                         test_calibration=None if calib is None else calib[:, 1, :])
    if res.warning:
        logger.warning("optimism_bootstrap: %s", res.warning)
    return res
