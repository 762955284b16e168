"""Modelling stage of a study run: build each model of the spec as one scikit-learn pipeline, fit it on the
training cohort, validate it by Harrell's optimism bootstrap (the whole pipeline, selection included, refit
in every resample), freeze it, and score every cohort with it.

Model kinds (see `ModelSpec`): an imaging model (a feature group → selection steps → classifier), a
clinical model (stepwise or all clinical candidates → logistic), or a fused model (clinical variables + the
in-fold score of another model, seed 000's combined model).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.pipeline import Pipeline

from hccrad.clinical.categorical import codings_for, dummy_name
from hccrad.cohort.outcomes import response_labels
from hccrad.config.spec import ModelSpec, StudySpec
from hccrad.core.errors import DataError, ModelError
from hccrad.evaluate.classification import youden_threshold
from hccrad.models.factory import ScoreFusion, build_model_pipeline, selected_features
from hccrad.models.bundle import bundle_from_pipeline
from hccrad.models.covariance import add_covariance
from hccrad.models.dummies import encoder_codings
from hccrad.models.validation import optimism_bootstrap, optimism_bootstraps

log = logging.getLogger(__name__)
Progress = Callable[[str, int, int], None]


@dataclass
class FittedModel:
    name: str
    spec: ModelSpec
    estimator: Pipeline
    columns: list[str]
    selected: list[str]
    threshold: float
    scores: pd.Series                 # predicted probability of the positive class, every case
    optimism: object | None           # hccrad.models.validation.OptimismResult
    as_published: object | None       # OptimismResult of "select once on all, bootstrap the final model only"
    coefficients: pd.DataFrame | None  # statsmodels-style table of the final logistic model
    formula: str | None
    bundle: Path | None


@dataclass
class FittedModels:
    models: dict[str, FittedModel]
    y: pd.Series                      # binary outcome, every case
    cohort: pd.Series
    training: str
    lasso: object | None = None       # the fitted LASSO step of the first imaging model (for its path plot)
    notes: list[str] = field(default_factory=list)

    def describe(self) -> dict:
        return {
            name: {"selected": m.selected, "threshold": m.threshold, "formula": m.formula,
                   "bundle": str(m.bundle) if m.bundle else None, "kind": m.spec.kind.kind,
                   "optimism_corrected_auc": getattr(m.optimism, "corrected_auc", None),
                   "resampling": m.optimism.record() if m.optimism is not None else None,
                   "resampling_as_published": m.as_published.record() if m.as_published is not None else None}
            for name, m in self.models.items()
        }


def _feature_columns(ms: ModelSpec, habitat_columns: list[str], radiomics_columns: list[str]) -> list[str]:
    groups = {"habitat": habitat_columns, "radiomics": radiomics_columns, "none": []}
    if isinstance(ms.features, list):  # e.g. [radiomics, habitat]: one selection over both groups (seed 001)
        cols = [c for f in ms.features for c in groups.get(f, [f])]
        return list(dict.fromkeys(cols))
    return groups[ms.features]


def _imaging_steps(ms: ModelSpec, use_stability: bool) -> tuple[list[str], dict]:
    """The selection steps' names (the ICC filter first when `use_stability`) and their parameters, each
    step's own from the registry (hccrad.selection.registry), as the factory's ``params``."""
    steps = (["stability"] if use_stability else []) + [s.kind for s in ms.selection_steps]
    return steps, {s.kind: s.params() for s in ms.selection_steps}


def _kind_params(ms: ModelSpec) -> dict:
    """The model kind's parameters the spec sets (none: the kind's defaults) as pipeline ``params``."""
    changed = ms.kind.changed_params()
    return {ms.kind.step: changed} if changed else {}


def build_estimator(ms: ModelSpec, spec: StudySpec, habitat_columns: list[str], radiomics_columns: list[str],
                    stability: pd.DataFrame | None, built: dict[str, Pipeline],
                    categorical: dict[str, tuple[list[str], str]] | None = None) -> tuple[Pipeline, list[str]]:
    """The unfitted pipeline for one model and the input columns it reads. `categorical` ({clinical column:
    (levels, reference)}, `clinical_codings`) dummy-codes those clinical columns inside the pipeline."""
    feats = _feature_columns(ms, habitat_columns, radiomics_columns)
    if ms.fuse is not None:
        return _fused_estimator(ms, spec, built, categorical)
    if feats and ms.clinical:
        raise ModelError(f"model {ms.name!r} mixes imaging features and clinical variables directly",
                         field=f"models.{ms.name}", hint="fit the imaging model separately and `fuse` it")
    if feats:
        stability_params = _stability_params(ms, spec, stability)
        steps, params = _imaging_steps(ms, bool(stability_params))
        params.update(stability_params)
        params.update(_kind_params(ms))
        return build_model_pipeline(feats, steps=steps + [ms.kind.step], params=params,
                                    random_state=spec.seed), feats
    if ms.clinical:
        return _clinical_estimator(ms, spec, categorical), list(ms.clinical)
    raise ModelError(f"model {ms.name!r} has no inputs", field=f"models.{ms.name}",
                     hint="set features (habitat/radiomics/columns) and/or clinical")


def _stability_params(ms: ModelSpec, spec: StudySpec, stability: pd.DataFrame | None) -> dict:
    """The ICC filter's parameters when the model reads imaging features and a reader-2 stability table
    exists (ICC(2,1), two-way random, absolute agreement, single rater; Shrout & Fleiss 1979); else {}."""
    imaging_groups = {"habitat", "radiomics"}
    groups = set(ms.features) if isinstance(ms.features, list) else {ms.features}
    if stability is None or spec.features.icc_min is None or not imaging_groups & groups:
        return {}
    table = stability.rename(columns={"icc2_1": "icc"})[["feature", "icc", "cv"]]
    # explicit non-imaging columns in the list (e.g. cnn_score) have no ICC and must not be dropped by it
    explicit = isinstance(ms.features, list) and bool(groups - imaging_groups)
    return {"stability": {"table": table, "icc_min": spec.features.icc_min,
                          "missing": "keep" if explicit else "drop"}}


def _fused_estimator(ms: ModelSpec, spec: StudySpec, built: dict[str, Pipeline], categorical):
    """Clinical columns + the in-fold score of an earlier model (`fuse`), as ScoreFusion."""
    if ms.fuse not in built:
        raise ModelError(f"model {ms.name!r} fuses {ms.fuse!r}, which must be listed before it",
                         field=f"models.{ms.name}.fuse", hint="reorder the models in the spec")
    inner, inner_cols = built[ms.fuse]
    est = ScoreFusion(score_pipeline=inner, score_features=inner_cols, clinical_features=list(ms.clinical),
                      score_name=f"{ms.fuse}_score", random_state=spec.seed, categorical=categorical or None)
    return est, sorted(set(inner_cols) | set(ms.clinical), key=(inner_cols + ms.clinical).index)


def _clinical_estimator(ms: ModelSpec, spec: StudySpec, categorical) -> Pipeline:
    """Clinical columns: [stepwise selection] [+ scaling for kinds that need it] + the model kind."""
    stepwise = ms.clinical_selection == "stepwise"
    scale = ["scale"] if ms.kind.scale_inputs else []  # e.g. the SVM kernel needs comparable scales
    steps = (["stepwise"] if stepwise else []) + scale + [ms.kind.step]
    params = {"stepwise": {"screen_p": ms.entry_p, "entry_p": ms.entry_p, "stay_p": ms.entry_p}} if stepwise else {}
    params.update(_kind_params(ms))
    if stepwise and categorical:  # a categorical variable's dummies enter and leave the model together
        params["stepwise"]["groups"] = {c: [dummy_name(c, lv) for lv in levels if lv != ref]
                                        for c, (levels, ref) in categorical.items()}
    return build_model_pipeline(list(ms.clinical), steps=steps, params=params, random_state=spec.seed,
                                categorical=categorical or None)


def _check_inputs(data: pd.DataFrame, cols: list[str], model: str) -> None:
    missing = [c for c in cols if c not in data.columns]
    if missing:
        raise ModelError(f"model {model!r}: columns {missing} are not in the data", field="models.clinical",
                         hint="check the column names against the clinical table")
    bad = data[cols].isna().any()
    if bad.any():
        rows = data.index[data[cols].isna().any(axis=1)].tolist()
        raise ModelError(f"model {model!r}: missing values in {bad[bad].index.tolist()} for cases {rows[:10]}",
                         field=f"models.{model}", hint="impute or exclude those cases before modelling")


def fit_models(spec: StudySpec, data: pd.DataFrame, *, habitat_columns: list[str],
               radiomics_columns: list[str] | None = None, stability: pd.DataFrame | None = None,
               out: Path, progress: Progress | None = None) -> FittedModels:
    """Fit every model of the spec on the training cohort; validate; score all cohorts; save bundles."""
    radiomics_columns = radiomics_columns or []
    r = spec.outcome.response
    y_all = response_labels(spec, data)  # NaN: blank or undeclared level, left out of the response analyses
    train = (data["cohort"] == spec.cohorts.training) & y_all.notna()
    Xtr, ytr = data.loc[train], y_all.loc[train].to_numpy(dtype=int)
    if len(np.unique(ytr)) < 2:
        raise ModelError("the training cohort has only one outcome class", field=r.column)
    built: dict[str, tuple[Pipeline, list[str]]] = {}
    fitted: dict[str, FittedModel] = {}
    notes: list[str] = []
    lasso = None
    fusers = _fusers(spec)
    validated: dict[str, object] = {}  # optimism bootstraps run ahead, with the model whose score they fuse
    for i, ms in enumerate(spec.models):
        codings = encoder_codings(codings_for(ms.clinical, Xtr, spec.data.categorical))  # levels: training
        est, cols = build_estimator(ms, spec, habitat_columns, radiomics_columns, stability, built, codings)
        built[ms.name] = (est, cols)
        _check_inputs(data, cols, ms.name)
        if progress:
            progress(f"model {ms.name}: fit", 0, 1)
        final = clone(est).fit(Xtr[cols], ytr)
        if progress:
            progress(f"model {ms.name}: fit", 1, 1)
        scores = pd.Series(final.predict_proba(data[cols])[:, 1], index=data.index, name=ms.name)
        threshold = float(youden_threshold(ytr, scores.loc[train].to_numpy()))
        optimism = None
        if spec.validation.bootstrap > 0:
            if ms.name not in validated:
                group = [(ms.name, est, cols)] + [
                    (f.name, *_built_fuser(f, spec, Xtr, data, habitat_columns, radiomics_columns, stability, built))
                    for f in fusers.get(ms.name, [])]
                validated.update(_validate_together(spec, group, Xtr, ytr, progress))
            optimism = validated.pop(ms.name)
        selected = selected_features(final)
        as_published = None
        if spec.validation.as_published and spec.validation.bootstrap > 0 and selected \
                and set(selected) <= set(Xtr.columns):  # (not for dummy-coded predictors)
            # the papers' protocol, for reproduction only: features fixed from the fit on all training
            # patients, only the final logistic model refitted in each resample (optimistic by design)
            as_published = optimism_bootstrap(build_model_pipeline(None, ["logistic"]), Xtr[selected], ytr,
                                              n_boot=spec.validation.bootstrap, seed=spec.seed,
                                              n_jobs=spec.validation.n_jobs,
                                              scheduler=spec.validation.scheduler)
        coef, formula = _coefficients(final)
        bundle = None
        try:
            made = bundle_from_pipeline(final, Xtr[cols], ytr, ms.name, thresholds={"youden": threshold},
                                        outcome=r.column, source=f"hccrad study {spec.name!r}")
            if made.kind == "linear" and made.spec.get("link") == "logit":
                try:  # coefficient covariance: the web page then shows a CI for each patient's probability
                    made = add_covariance(made, Xtr[cols], ytr)
                except (ModelError, DataError) as exc:  # e.g. a Firth fit that plain ML cannot reproduce
                    notes.append(f"model {ms.name!r}: bundle without coefficient covariance ({exc.message})")
            bundle = made.save(out / "models" / ms.name)
        except (TypeError, ModelError) as exc:  # e.g. skops cannot serialise this estimator's state
            note = f"model {ms.name!r}: no shareable bundle written ({exc})"
            log.warning(note)
            notes.append(note)
        if lasso is None and ms.features != "none" and "lasso" in getattr(final, "named_steps", {}):
            lasso = final.named_steps["lasso"]
        fitted[ms.name] = FittedModel(ms.name, ms, final, cols, selected, threshold, scores, optimism,
                                      as_published, coef, formula, bundle)
    return FittedModels(fitted, y_all, data["cohort"], spec.cohorts.training, lasso, notes)


def _fusers(spec: StudySpec) -> dict[str, list[ModelSpec]]:
    """{model name: the later models that fuse its score}."""
    out: dict[str, list[ModelSpec]] = {}
    for ms in spec.models:
        if ms.fuse is not None:
            out.setdefault(ms.fuse, []).append(ms)
    return out


def _built_fuser(ms: ModelSpec, spec: StudySpec, Xtr: pd.DataFrame, data: pd.DataFrame, habitat_columns,
                 radiomics_columns, stability, built) -> tuple[Pipeline, list[str]]:
    """A fused model's unfitted estimator and input columns, built ahead of its turn (as its turn builds it)."""
    codings = encoder_codings(codings_for(ms.clinical, Xtr, spec.data.categorical))
    est, cols = build_estimator(ms, spec, habitat_columns, radiomics_columns, stability, built, codings)
    _check_inputs(data, cols, ms.name)
    return est, cols


def _validate_together(spec: StudySpec, group: list[tuple[str, Pipeline, list[str]]], Xtr: pd.DataFrame,
                       ytr: np.ndarray, progress: Progress | None) -> dict[str, object]:
    """Harrell's optimism bootstrap of a model and of the models fusing its score, on the same resamples in
    the same tasks (`optimism_bootstraps`): each fused fit takes the score pipeline its task has just fitted
    on the same rows, whichever worker runs it; every result equals the model's own `optimism_bootstrap`."""
    names = [name for name, _, _ in group]
    step = f"model {names[0]}: optimism bootstrap" if len(names) == 1 else \
        f"models {', '.join(names)}: optimism bootstrap"
    results = optimism_bootstraps([(clone(est), Xtr[cols]) for _, est, cols in group], ytr,
                                  n_boot=spec.validation.bootstrap, seed=spec.seed, n_jobs=spec.validation.n_jobs,
                                  scheduler=spec.validation.scheduler,
                                  progress=(lambda i, n: progress(step, i, n)) if progress
                                  else None)  # a tick per resample (per chunk in parallel): percentage, ETA
    return dict(zip(names, results))


def no_models(spec: StudySpec, data: pd.DataFrame) -> FittedModels:
    """The models of a study that declares none (e.g. survival-only): empty, with the cohorts of the cases."""
    return FittedModels({}, pd.Series(np.nan, index=data.index, dtype=float), data["cohort"],
                        spec.cohorts.training)


def _final_step(est):
    if isinstance(est, Pipeline):
        return est.steps[-1][1]
    return est


def _coefficients(est) -> tuple[pd.DataFrame | None, str | None]:
    final = _final_step(est)
    if hasattr(final, "summary") and hasattr(final, "formula"):
        return final.summary(), final.formula()
    return None, None
