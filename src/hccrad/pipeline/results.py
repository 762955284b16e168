"""What the report of a study run reads: the typed results of every stage, saved under `OUT/results/` by
`hccrad run` and read back by `hccrad report OUT`, which rebuilds the report without recomputing anything.

The statistics the report used to compute itself are computed here, in the modelling/evaluation stage, from
the fitted models (which are not saved: they hold estimators):
- odds ratios of the first clinical model's variables (`hccrad.evaluate.descriptive.odds_ratio_table`,
  statsmodels Logit, Wald CI; seed 000 table 2);
- per logistic model, feature importance |b_j| × SD_j of its terms on the training cohort and their variance
  inflation factors VIF_j = 1 / (1 − R²_j) (statsmodels `variance_inflation_factor`; seed 001);
- the nomogram points of logistic models on unscaled inputs (`hccrad.survival.nomogram.nomogram_points`);
- on a synthetic cohort, the validated AUC against the generator's Bayes-optimal AUC per information set
  (`hccrad.synth.model.weighted_auc`);
- Table 1 with its tests (`pipeline.report_table_one.table_one_record`, `hccrad.evaluate.descriptive.table_one`),
  the readers against the models (`hccrad.evaluate.readers.reader_comparison`: DeLong, Clopper–Pearson) and
  the habitat-feature associations (`hccrad.evaluate.associations.feature_associations`: Spearman,
  Mann–Whitney, Kruskal–Wallis, Benjamini–Hochberg); the summary of the habitat features on training.
A statistic that is undefined on the data is recorded with its message (`*_error`) and the report shows
"Section ... could not be completed", as before.

Sections (one record each, `hccrad.pipeline.records`): see `SECTIONS`. The CNN stage is recorded as a
`DeepRecord` (its AUC table, notes, tables and the data behind its figures, which the report draws:
`hccrad.report.figures.deep`), radiogenomics as its `RadiogenomicsResult` (tables, arrays and scalars; the
report draws its figures, `hccrad.report.figures.radiogenomics`). A section whose results could not be
recorded would be listed in `not_recorded`, and `hccrad report` refuses such a run, naming it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline
from statsmodels.stats.outliers_influence import variance_inflation_factor

from hccrad import __version__
from hccrad.clinical.categorical import as_levels, codings_for
from hccrad.cohort.outcomes import response_labels
from hccrad.config.spec import StudySpec
from hccrad.core.errors import HccradError
from hccrad.evaluate.associations import feature_associations
from hccrad.evaluate.descriptive import odds_ratio_table
from hccrad.evaluate.readers import reader_comparison
from hccrad.models.factory import ScoreFusion
from hccrad.models.logistic import LogisticModel
from hccrad.pipeline.records import FORMAT, SCHEMA_VERSION, RecordError, read_record, write_record
from hccrad.pipeline.report_table_one import table_one_record
from hccrad.pipeline.result_types import (SECTIONS, AssociationsRecord, CohortCounts, DeepRecord,  # noqa: F401
                                         LassoRecord, ModelRecord, ModelsRecord, OddsRatioRecord, ReadersRecord, StudyResults,
                                         TableOneEntry, TableOneRecord, TruthRecord)
from hccrad.survival.nomogram import nomogram_points
from hccrad.synth.model import weighted_auc

__all__ = ["AssociationsRecord", "CohortCounts", "DeepRecord", "LassoRecord", "ModelRecord", "ModelsRecord", "OddsRatioRecord",
           "ReadersRecord", "StudyResults", "TableOneEntry", "TableOneRecord", "TruthRecord", "collect_results", "load_results", "save_results", "information_ceilings",
           "truth_comparison"]

RESULTS_DIR = "results"
INDEX = "index.json"


# ------------------------------------------------------------------------------------ statistics (stage side)


def _error_text(exc: HccradError) -> str:
    return str(exc)


def model_inputs(model, X: pd.DataFrame) -> pd.DataFrame | None:
    """What the model's final logistic step sees for the rows of X (after its selection/scaling steps),
    with the coefficient table's term names; None when the model has no coefficient table."""
    if model.coefficients is None:
        return None
    est = model.estimator
    if isinstance(est, ScoreFusion):
        Z = est.fusion_inputs(X)
    elif isinstance(est, Pipeline):
        Z = est[:-1].transform(X) if len(est.steps) > 1 else X
    else:
        Z = X
    terms = [t for t in model.coefficients.index if t != "const"]
    columns = list(Z.columns) if isinstance(Z, pd.DataFrame) else terms
    if np.asarray(Z).shape[1] != len(columns):  # an array whose columns cannot be named: no table
        return None
    Z = pd.DataFrame(np.asarray(Z, dtype=float), index=X.index, columns=columns)
    return Z[[t for t in terms if t in Z.columns]]


def _importance_and_vif(spec: StudySpec, data: pd.DataFrame, m) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """Importance = |b_j| × SD_j of the model's terms on the training cohort; VIF_j = 1 / (1 − R²_j)."""
    train = data.index[data["cohort"] == spec.cohorts.training]
    Z = model_inputs(m, data.loc[train, m.columns])
    if Z is None or Z.shape[1] == 0:
        return None, None
    coef = m.coefficients.loc[Z.columns]
    table = pd.DataFrame({"feature": Z.columns, "coefficient": coef["coef"].to_numpy(float),
                          "sd": Z.std(ddof=1).to_numpy(float), "p": coef["p"].to_numpy(float)})
    table["importance"] = np.abs(table["coefficient"]) * table["sd"]
    table["-log10 p"] = -np.log10(table["p"].clip(lower=1e-300))
    vif = None
    if Z.shape[1] >= 2:
        A = np.column_stack([np.ones(len(Z)), Z.to_numpy(float)])
        vif = pd.DataFrame({"term": Z.columns,
                            "VIF": [variance_inflation_factor(A, j + 1) for j in range(Z.shape[1])]})
    return table, vif


def _nomogram_inputs(model, data: pd.DataFrame, train: pd.Series):
    """(final logistic model, training design on the original scale, categorical level columns) or None when
    the model's inputs are standardised or selected by LASSO (its points would be per SD, not per unit)."""
    est = model.estimator
    X = data.loc[train, model.columns]
    if isinstance(est, ScoreFusion):
        encoder = getattr(est, "encoder_", None)  # categorical clinical columns: one axis per variable
        return est.fusion_model_, est.fusion_inputs(X), encoder.level_columns() if encoder else None
    if isinstance(est, Pipeline) and isinstance(est.steps[-1][1], LogisticModel):
        if any(name in ("scale", "lasso") for name, _ in est.steps[:-1]):
            return None
        encoder = est.named_steps.get("dummies")
        return est.steps[-1][1], est[:-1].transform(X), encoder.level_columns() if encoder else None
    return None


def _nomogram(spec: StudySpec, data: pd.DataFrame, m):
    inputs = _nomogram_inputs(m, data, data["cohort"] == spec.cohorts.training)
    if inputs is None:
        return None
    logit, design, categorical = inputs
    return nomogram_points(logit, design, categorical=categorical)


def _model_record(spec: StudySpec, data: pd.DataFrame, m, *, with_stats: bool) -> ModelRecord:
    importance = vif = nomogram = None
    summary_error = nomogram_error = None
    if with_stats:
        try:
            importance, vif = _importance_and_vif(spec, data, m)
        except HccradError as exc:
            summary_error = _error_text(exc)
        try:
            nomogram = _nomogram(spec, data, m)
        except HccradError as exc:
            nomogram_error = _error_text(exc)
    return ModelRecord(name=m.name, spec=m.spec, columns=list(m.columns), selected=list(m.selected),
                       threshold=m.threshold, scores=m.scores, optimism=m.optimism, as_published=m.as_published,
                       coefficients=m.coefficients, formula=m.formula, bundle=m.bundle, importance=importance,
                       vif=vif, summary_error=summary_error, nomogram=nomogram, nomogram_error=nomogram_error)


def _or_units(spec: StudySpec, variables: list[str]) -> dict[str, float | str]:
    """`report.or_units` for the OR table's variables; a declared unit for a variable the table does not show
    is refused, naming it, so a typo is not silently ignored."""
    unknown = sorted(set(spec.report.or_units) - set(variables))
    if unknown:
        raise HccradError(f"report.or_units names {unknown}, not variables of the OR table {variables}",
                          field="report.or_units", hint="declare units for the clinical model's continuous variables")
    return dict(spec.report.or_units)


def odds_ratios(spec: StudySpec, data: pd.DataFrame, fitted) -> OddsRatioRecord | None:
    """Seed 000 table 2 / 003 table 2: ORs of the first clinical model's variables on the training cohort's
    analysed cases. Without a clinical-only model, the first model fusing clinical variables with an imaging
    score (seed 004 fig. 3E), the score entering as the fused model's training-cohort score."""
    clinical = [m for m in fitted.models.values() if m.spec.clinical and m.spec.fuse is None]
    clinical = clinical or [m for m in fitted.models.values() if m.spec.clinical and m.spec.fuse in fitted.models]
    if not clinical or spec.outcome.response is None:
        return None
    m = clinical[0]
    try:
        y = response_labels(spec, data)
        train = data[(data["cohort"] == spec.cohorts.training) & y.notna()].copy()  # the analysed cases only
        train["_y"] = y.loc[train.index].astype(int)
        variables = list(m.spec.clinical)
        kept = [v for v in m.selected if v in m.spec.clinical]
        if m.spec.fuse is not None:
            score = f"{m.spec.fuse}_score"
            train[score] = fitted.models[m.spec.fuse].scores.loc[train.index]
            variables, kept = variables + [score], variables + [score]
        for col, k in codings_for(m.spec.clinical, train, spec.data.categorical).items():  # one OR per level
            train[col] = pd.Categorical(as_levels(train[col]), categories=[k.reference, *k.others])
        kept = [v for v in variables if v in kept or any(str(s).startswith(f"{v}[") for s in m.selected)]
        res = odds_ratio_table(train, "_y", variables, multivariable=kept or None, units=_or_units(spec, variables))
    except HccradError as exc:
        return OddsRatioRecord(model=m.name, table=None, error=_error_text(exc))
    return OddsRatioRecord(model=m.name, table=res.summary(), error=None)


def _lasso_record(lasso) -> LassoRecord | None:
    if lasso is None or getattr(lasso, "coef_path_", None) is None:
        return None
    return LassoRecord(cv_results_=lasso.cv_results_, scoring=lasso.scoring, C_=float(lasso.C_), rule=lasso.rule,
                       coef_path_=np.asarray(lasso.coef_path_),
                       feature_names_in_=getattr(lasso, "feature_names_in_", None))


def models_record(spec: StudySpec, data: pd.DataFrame, fitted) -> ModelsRecord:
    """The fitted models as the report reads them, with their statistics (module docstring)."""
    with_stats = bool(fitted.models)
    return ModelsRecord(models={n: _model_record(spec, data, m, with_stats=with_stats)
                                for n, m in fitted.models.items()},
                        y=fitted.y, cohort=fitted.cohort, training=fitted.training,
                        lasso=_lasso_record(fitted.lasso), notes=list(fitted.notes),
                        odds_ratios=odds_ratios(spec, data, fitted) if with_stats else None)


def truth_comparison(metrics: pd.DataFrame, truth: dict) -> pd.DataFrame:
    """Each model's validated AUC beside the synthetic generator's Bayes-optimal AUC on the same cases."""
    rows, ceilings = [], information_ceilings(truth)
    for _, m in metrics.iterrows():
        bayes = truth.get("cohorts", {}).get(m["cohort"], {})
        corrected = m.get("corrected_auc", np.nan)
        validated = corrected if pd.notna(corrected) else m["auc"]
        sample = bayes.get("bayes_auc_sample", np.nan)
        rows.append({"model": m["model"], "cohort": m["cohort"], "n": m["n"], "apparent_auc": m["auc"],
                     "validated_auc": validated, "bayes_auc_sample": sample,
                     "difference": validated - sample,
                     "bayes_auc_population": truth.get("bayes_auc_population", np.nan),
                     **ceilings.get(m["cohort"], {})})
    return pd.DataFrame(rows)


def information_ceilings(truth: dict) -> dict[str, dict[str, float]]:
    """Per cohort, the expected Bayes AUC of its cases for each information set: the generator's habitat part
    alone (`ceiling_habitat`), clinical part alone (`ceiling_clinical`) and both (`ceiling_both`, the true
    probability). Expected over the outcome draw, as the population AUCs (`hccrad.synth.model.weighted_auc`:
    each case a positive with weight p, a negative with weight 1 − p), so a clinical-only model is held
    against the clinical ceiling, not the full one."""
    cases = pd.DataFrame(truth.get("cases", []))
    if cases.empty or not {"cohort", "lp_habitat", "lp_clinical", "probability"} <= set(cases.columns):
        return {}
    out = {}
    for cohort, c in cases.groupby("cohort", sort=False):
        p = c["probability"].to_numpy(float)
        out[str(cohort)] = {"ceiling_habitat": weighted_auc(c["lp_habitat"].to_numpy(float), p),
                            "ceiling_clinical": weighted_auc(c["lp_clinical"].to_numpy(float), p),
                            "ceiling_both": weighted_auc(p, p)}
    return out


def truth_record(spec: StudySpec, metrics: pd.DataFrame) -> TruthRecord | None:
    """The synthetic cohort's truth.json (beside the manifest) held against the validated AUCs; None for a
    real cohort."""
    if not spec.data.manifests or not len(metrics):
        return None
    truth_path = next(iter(spec.data.manifests.values())).parent / "truth.json"
    if not truth_path.is_file():
        return None
    truth = json.loads(truth_path.read_text())
    return TruthRecord(table=truth_comparison(metrics, truth), population=dict(truth.get("population", {})))


def feature_columns(imaging, data: pd.DataFrame) -> set[str]:
    """Image-feature columns (habitat/MSI and radiomics): never in Table 1."""
    return set(imaging.features.columns if imaging is not None else []) | {
        c for c in data.columns if c.count("_original_") or "_log-sigma" in c or "_wavelet" in c}


def readers_record(spec: StudySpec, data: pd.DataFrame, fitted, evaluation) -> ReadersRecord | None:
    """Seed 003 table 3: readers' calls (or ratings at their stated threshold) against the models at the
    training-cohort Youden cut-off, per cohort with both outcome classes."""
    if not spec.readers or not fitted.models:
        return None
    thresholds = {name: m.threshold for name, m in fitted.models.items()}
    thresholds.update({r.name: r.threshold for r in spec.readers if r.threshold is not None})
    cohorts, results = [], []
    try:
        for c in evaluation.cohorts:
            if len(np.unique(c.y)) < 2:
                continue
            idx = fitted.cohort.index[fitted.cohort == c.name]
            calls = {r.name: pd.to_numeric(data.loc[idx, r.column], errors="raise").to_numpy(float)
                     for r in spec.readers}
            results.append(reader_comparison(c.y, calls, c.scores, thresholds, level=spec.validation.level))
            cohorts.append(c.name)
    except HccradError as exc:
        return ReadersRecord(cohorts=tuple(cohorts), results=tuple(results), error=_error_text(exc))
    return ReadersRecord(cohorts=tuple(cohorts), results=tuple(results), error=None)


def association_features(spec: StudySpec, data: pd.DataFrame) -> list[str]:
    a = spec.associations
    feats = a.features or [c for c in data.columns if re.fullmatch(r"habitat\d+(_fraction|\.1)", str(c))]
    if not feats:
        raise HccradError("no habitat proportion columns (habitat<k>_fraction) to associate",
                          field="associations.features", hint="name the feature columns explicitly")
    return feats


def associations_record(spec: StudySpec, data: pd.DataFrame) -> AssociationsRecord | None:
    """Seed 000 sFig. 3: Spearman / Mann–Whitney / Kruskal–Wallis tests of habitat features against markers
    on all analysed cases, Benjamini–Hochberg over all tests."""
    if spec.associations is None:
        return None
    try:
        table = feature_associations(data, association_features(spec, data), spec.associations.markers)
    except HccradError as exc:
        return AssociationsRecord(table=None, error=_error_text(exc))
    return AssociationsRecord(table=table, error=None)


def habitat_feature_summary(imaging, training_ids: list[str]) -> pd.DataFrame | None:
    """Mean, SD, min, median and max of each habitat (MSI) feature over the training cases (pandas describe)."""
    if imaging is None or not len(imaging.features.columns):
        return None
    train = imaging.features.reindex(training_ids).dropna(how="all")
    return train.describe().T[["mean", "std", "min", "50%", "max"]].rename(columns={"50%": "median"})


def deep_record(deep) -> DeepRecord | None:
    """The CNN stage's results the report reads (`DeepRecord`); None without a CNN stage."""
    if deep is None:
        return None
    return DeepRecord(summary=deep.summary(), learned=bool(deep.learned), notes=tuple(deep.notes),
                      figures=tuple((name, data) for name, data in deep.figures),
                      tables=tuple((name, table) for name, table in deep.tables))


def _training_ids(spec: StudySpec, data: pd.DataFrame) -> list[str]:
    return [str(c) for c in data.index[data["cohort"] == spec.cohorts.training]]


def _without_file_paths(data: pd.DataFrame) -> pd.DataFrame:
    """The analysed table without the manifest's image and mask paths (the report never reads them, and a file
    or folder name may identify a patient: it stays out of the saved results)."""
    return data.drop(columns=[c for c in data.columns if str(c).startswith(("image_", "mask_"))])


def collect_results(spec: StudySpec, study, data: pd.DataFrame, imaging, fitted, evaluation, stability,
                    errors: pd.DataFrame, survival, appendix: dict[str, str], *, deep=None,
                    radiogenomics=None) -> StudyResults:
    """The stage results the report reads (module docstring), with the report's statistics computed."""
    return StudyResults(
        cohort=CohortCounts(n_cases_listed=int(study.n_cases_listed),
                            listed_per_cohort=study.listed["cohort"].value_counts()),
        data=_without_file_paths(data), errors=errors, stability=stability, imaging=imaging,
        habitat_features=habitat_feature_summary(imaging, _training_ids(spec, data)),
        models=models_record(spec, data, fitted), evaluation=evaluation, survival=survival,
        truth=truth_record(spec, evaluation.metrics),
        table_one=table_one_record(spec, data, feature_columns(imaging, data), [c.name for c in evaluation.cohorts]),
        readers=readers_record(spec, data, fitted, evaluation), associations=associations_record(spec, data),
        appendix=dict(appendix), deep=deep_record(deep), radiogenomics=radiogenomics)


# ---------------------------------------------------------------------------------------------- files


def save_results(results: StudyResults, folder: Path) -> Path:
    """One record per section under `folder` (OUT/results) and `index.json` naming them."""
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / INDEX
    index.unlink(missing_ok=True)  # written last: a folder without it is an unfinished save
    head = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "hccrad_version": __version__}
    try:
        for name in SECTIONS:
            write_record(getattr(results, name), folder, name)
    except RecordError as exc:  # say why in the index, so `hccrad report` gives the reason, not "missing"
        index.write_text(json.dumps({**head, "sections": [], "not_saved": str(exc)}, indent=1), encoding="utf-8")
        raise
    index.write_text(json.dumps({**head, "sections": list(SECTIONS)}, indent=1), encoding="utf-8")
    return index


def load_results(out: Path) -> StudyResults:
    """The results `save_results` wrote under `out/results`; refused (RecordError) when the folder is missing,
    lacks a section, or holds a record hccrad would not write."""
    folder = Path(out) / RESULTS_DIR
    rerun = ("rerun the study with this version of hccrad (hccrad run STUDY --out "
             f"{out}): it saves the results `hccrad report` rebuilds the report from")
    if not (folder / INDEX).is_file():
        raise RecordError(f"{out} holds no saved results ({RESULTS_DIR}/{INDEX} is missing): it was not written "
                          "by `hccrad run` of this version, or the run did not finish", file=folder / INDEX,
                          hint=rerun)
    try:
        not_saved = json.loads((folder / INDEX).read_text(encoding="utf-8")).get("not_saved")
    except (OSError, ValueError, AttributeError):
        not_saved = "results/index.json is not a readable JSON object"
    if not_saved:
        raise RecordError(f"the run could not save its results, so its report cannot be rebuilt: {not_saved}",
                          file=folder / INDEX, hint=rerun)
    missing = [s for s in SECTIONS if not (folder / f"{s}.json").is_file()]
    if missing:
        raise RecordError(f"the saved results lack the section(s) {', '.join(missing)}", file=folder, hint=rerun)
    results = StudyResults(**{s: read_record(folder, s) for s in SECTIONS})
    if results.not_recorded:
        raise RecordError("this run's report has sections whose results are not saved, so it cannot be rebuilt: "
                          + ", ".join(results.not_recorded), file=folder / "not_recorded.json",
                          hint="rerun the study (hccrad run STUDY) to rebuild its report")
    return results
