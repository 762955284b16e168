"""Model bundles: a fitted model saved without pickle, with what is needed to score new patients safely.

A bundle is a folder holding ``bundle.json`` (and, for non-linear models, ``model.skops``).

Linear/logistic pipelines (selection steps + optional StandardScaler + :class:`LogisticModel`) are stored as
plain numbers: score = intercept + sum_j coef_j * (x_j - center_j) / scale_j, probability = expit(score) when
``link == "logit"``. Every variable carries its unit, definition and training range; ``predict_bundle``
refuses a table that lacks a column, or whose values fall far outside the training range (by default more
than half the range beyond either end: the typical sign of other units, e.g. bilirubin in mg/dL instead of
umol/L). Other models (SVM, random forest, XGBoost) are stored with skops. ``model.skops`` is loaded only if every
type and loader its ``schema.json`` names is on the exact allow-list of the model kinds the bundle declares
(:mod:`hccrad.models.trusted_types`); the schema is read as plain JSON and checked before skops constructs
anything, so a file naming e.g. a numpy function that runs a string is refused without running it.

Categorical predictors (format version 2) are one variable each: ``{"name": "BCLC", "kind": "categorical",
"levels": ["A", "B", "C"], "reference": "A", "coefficients": {"B": b1, "C": b2}}`` (optional ``unit`` and
``definition``; no other key is accepted on load). Scoring expands the level to treatment dummies exactly as
:class:`hccrad.models.dummies.DummyEncoder` does (``BCLC[B] = 1{BCLC = "B"}``, level text by
:func:`hccrad.clinical.categorical.level_text`) and adds ``b_l`` for the patient's level (0 for the reference):
a standardised dummy's centre and scale are folded into ``b_l`` and the intercept when the bundle is written.
A blank or a value that is not a level is refused, naming the field, the value and the case.

``spec_hash`` (SHA-256 of the canonical JSON without the hash) is checked on load, so a hand-edited
coefficient is noticed.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import platform
import zipfile
from importlib import resources
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import statsmodels
from scipy.special import expit
from sklearn.feature_selection import SelectorMixin
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

import hccrad
from hccrad.clinical.categorical import as_levels, dummy_name
from hccrad.core.errors import InputError, ModelError
from hccrad.models.factory import ColumnSelector, ScoreFusion, scores_of, selected_features
from hccrad.models.bundle_schema import FORMAT, FORMAT_VERSION, check_header, migrate, validate_document
from hccrad.models.dummies import DummyEncoder
from hccrad.models.logistic import LogisticModel, format_formula
from hccrad.models.trusted_types import ALLOWED_LOADERS, MODEL_KIND_TYPES, allowed_types, kinds_of

logger = logging.getLogger(__name__)

CATEGORICAL_KEYS = frozenset({"name", "kind", "levels", "reference", "coefficients", "unit", "definition"})


def _versions() -> dict[str, str]:
    return {"hccrad": getattr(hccrad, "__version__", "unknown"), "scikit-learn": sklearn.__version__,
            "statsmodels": statsmodels.__version__, "numpy": np.__version__, "python": platform.python_version()}


def spec_hash(spec: dict) -> str:
    body = {k: v for k, v in spec.items() if k != "spec_hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=True).encode()).hexdigest()


def _expit(x: np.ndarray) -> np.ndarray:
    return expit(x)


def _dist(s: np.ndarray) -> dict[str, float]:
    q = np.percentile(s, [0, 25, 50, 75, 100])
    return {"mean": float(np.mean(s)), "sd": float(np.std(s, ddof=1)), "min": float(q[0]), "p25": float(q[1]),
            "median": float(q[2]), "p75": float(q[3]), "max": float(q[4])}


def is_categorical(variable: dict) -> bool:
    return variable.get("kind") == "categorical"


def expanded_variables(variables: list[dict]) -> list[dict]:
    """The bundle's variables with each categorical one replaced by its dummies ``name[level]`` (coefficient
    ``b_level``, centre 0, scale 1, range [0, 1]): the numeric form the scoring and the page use."""
    out = []
    for v in variables:
        if not is_categorical(v):
            out.append(v)
            continue
        out += [{"name": dummy_name(v["name"], lv), "coefficient": float(v["coefficients"][lv]), "center": 0.0,
                 "scale": 1.0, "range": [0.0, 1.0], "unit": None,
                 "definition": f"1 if {v['name']} is {lv!r}, 0 otherwise (reference {v['reference']!r})"}
                for lv in v["levels"] if lv != v["reference"]]
    return out


def with_dummies(bundle_name: str, variables: list[dict], df: pd.DataFrame, id_col: str | None) -> pd.DataFrame:
    """``df`` with the dummy columns of the categorical ``variables``; a missing column, a blank or a value that
    is not a level is refused naming the field, the value and the case."""
    cats = [v for v in variables if is_categorical(v)]
    if not cats:
        return df
    add = {}
    for v in cats:
        name = v["name"]
        if name not in df.columns:
            raise ModelError(f"input lacks column {name!r} required by model {bundle_name!r}", field=name,
                             hint=f"provide {name!r}: one of {v['levels']}")
        text = as_levels(df[name])
        bad = text.isna() | ~text.isin(list(v["levels"]))
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            case = str(df[id_col].iloc[i]) if id_col and id_col in df.columns else str(df.index[i])
            value = df[name].iloc[i]
            what = "missing value" if text.iloc[i] is None else f"unknown level {value!r} of {name!r}"
            raise ModelError(f"{what}; expected one of {list(v['levels'])}", field=name, case=case,
                             hint="use a level the model was fitted with")
        for lv in v["levels"]:
            if lv != v["reference"]:
                add[dummy_name(name, lv)] = (text == lv).to_numpy(float)
    return df.assign(**add)


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and bool(np.isfinite(x))


def check_variables(variables, file: Path | None = None) -> None:
    """Refuse malformed categorical variables (unknown keys, levels not unique texts, reference not a level,
    coefficients not exactly the non-reference levels) and unknown variable kinds."""
    for v in variables if isinstance(variables, list) else []:
        if not isinstance(v, dict) or "kind" not in v:
            continue
        name = v.get("name")
        if v["kind"] != "categorical":
            raise InputError(f"variable {name!r} has unknown kind {v['kind']!r}", file=file, field=str(name),
                             hint="hccrad knows kind 'categorical' (numbers have no kind)")
        extra = sorted(set(v) - CATEGORICAL_KEYS)
        levels, ref, coefs = v.get("levels"), v.get("reference"), v.get("coefficients")
        problem = None
        if extra:
            problem = f"unknown key(s) {extra}"
        elif not isinstance(name, str) or not isinstance(levels, list) or len(levels) < 2 \
                or not all(isinstance(lv, str) for lv in levels) or len(set(levels)) != len(levels):
            problem = "needs a name and at least two distinct text levels"
        elif ref not in levels:
            problem = f"reference {ref!r} is not one of the levels {levels}"
        elif not isinstance(coefs, dict) or set(coefs) != set(levels) - {ref} \
                or not all(_is_number(c) for c in coefs.values()):
            problem = "coefficients must give one finite number for each level but the reference"
        if problem:
            raise InputError(f"categorical variable {name!r}: {problem}", file=file, field=str(name),
                             hint=f"allowed keys: {sorted(CATEGORICAL_KEYS)}")


@dataclass(frozen=True)
class ModelBundle:
    """A loaded bundle: ``spec`` is the JSON content; ``model`` the skops-loaded estimator (non-linear only)."""

    spec: dict
    path: Path | None = None
    model: object | None = None

    @property
    def name(self) -> str:
        return self.spec.get("name", "model")

    @property
    def kind(self) -> str:
        return self.spec["kind"]

    @property
    def input_features(self) -> list[str]:
        if self.kind == "linear":
            derived = self.spec.get("derived", {})
            own = [v["name"] for v in self.spec["variables"] if v["name"] not in derived]
            for d in derived.values():
                if "spec" in d:
                    own += [f for f in ModelBundle(d["spec"]).input_features if f not in own]
            return own
        return list(self.spec["input_features"])

    def summary(self) -> pd.DataFrame:
        """One row per variable: coefficient, center, scale, unit, range, definition (linear bundles)."""
        if self.kind != "linear":
            return pd.DataFrame({"feature": self.input_features})
        rows = [{"variable": v["name"], "coefficient": v.get("coefficient"), "center": v.get("center", 0.0),
                 "scale": v.get("scale", 1.0), "unit": v.get("unit"),
                 "range_min": (v.get("range") or [None, None])[0], "range_max": (v.get("range") or [None, None])[1],
                 "definition": v.get("definition")} for v in expanded_variables(self.spec["variables"])]
        return pd.DataFrame(rows).set_index("variable")

    def formula(self, digits: int = 4) -> str:
        """The linear predictor on the variables' own (unscaled) units, as papers print it; variables whose
        normalisation is unpublished appear as ``z(name)``."""
        if self.kind != "linear":
            raise ModelError(f"bundle {self.name!r} is not linear; it has no formula")
        b0 = float(self.spec["intercept"])
        coefs = {}
        for v in expanded_variables(self.spec["variables"]):
            c, m, s = v["coefficient"], v.get("center", 0.0), v.get("scale", 1.0)
            if c is None:
                raise ModelError(f"coefficient of {v['name']!r} is not published", field=v["name"])
            if m is None or s is None:  # normalisation unpublished: print on the z-score scale
                coefs[f"z({v['name']})"] = c
                continue
            coefs[v["name"]] = c / s
            b0 -= c * m / s
        return format_formula(b0, coefs, name=self.spec.get("score_name", "score"), digits=digits)

    def save(self, path: str | Path) -> Path:
        """Write ``path/bundle.json`` (+ ``model.skops`` and the model kinds it holds, ``model_kinds``); returns the
        folder. Refuses a model whose skops file names a type outside :mod:`hccrad.models.trusted_types`."""
        folder = Path(path)
        spec = dict(self.spec)
        model_bytes = None
        if self.kind == "skops":  # dumped and checked first: a refused model leaves no half-written bundle
            model_bytes = _dump_skops(self.model, self.name)
            spec["model_kinds"] = _checked_kinds(model_bytes, self.name)
        validate_document(spec, folder / "bundle.json")  # never write a bundle that would not load
        folder.mkdir(parents=True, exist_ok=True)
        spec["spec_hash"] = spec_hash(spec)
        (folder / "bundle.json").write_text(json.dumps(spec, indent=2, ensure_ascii=False))
        if model_bytes is not None:
            (folder / "model.skops").write_bytes(model_bytes)
        return folder


def bundle_from_pipeline(
    pipeline,
    X_train: pd.DataFrame,
    y_train,
    name: str,
    *,
    units: dict[str, str] | None = None,
    definitions: dict[str, str] | None = None,
    thresholds: dict[str, float] | None = None,
    outcome: str = "outcome",
    source: str = "fitted with hccrad",
    range_tolerance: float = 0.5,
) -> ModelBundle:
    """Bundle a *fitted* pipeline with the training data it was fitted on (for ranges and score summary).

    Linear when the pipeline is [ColumnSelector] + selection steps + [StandardScaler] + LogisticModel (JSON
    numbers, verified to reproduce the pipeline's linear predictor to 1e-9); otherwise skops.
    """
    units, definitions = dict(units or {}), dict(definitions or {})
    if not isinstance(X_train, pd.DataFrame):
        raise InputError("bundle_from_pipeline needs the training table as a DataFrame", field="X_train")
    if isinstance(pipeline, ScoreFusion):
        fused = _fusion_bundle(pipeline, X_train, y_train, name, units=units, definitions=definitions,
                               thresholds=thresholds, outcome=outcome, source=source, range_tolerance=range_tolerance)
        if fused is not None:
            return fused
    steps = pipeline.steps if isinstance(pipeline, Pipeline) else [("model", pipeline)]
    final = steps[-1][1]

    encoders = [s for _, s in steps[:-1] if isinstance(s, DummyEncoder)]
    linear = (isinstance(final, LogisticModel) and len(encoders) <= 1
              and all(isinstance(s, (ColumnSelector, SelectorMixin, StandardScaler, DummyEncoder))
                      for _, s in steps[:-1])
              and sum(isinstance(s, StandardScaler) for _, s in steps[:-1]) <= 1)
    y = np.asarray(y_train).ravel()
    first = steps[0][1]
    if isinstance(first, ColumnSelector):
        feats, X_in = [str(c) for c in first.features], X_train
    else:
        feats = [str(c) for c in getattr(pipeline, "feature_names_in_", X_train.columns)]
        X_in = X_train[feats]
    score = np.asarray(pipeline.decision_function(X_in) if linear else scores_of(pipeline, X_in), float)
    base = {
        "format": FORMAT, "format_version": 1, "name": name, "outcome": outcome, "source": source,
        "versions": _versions(), "thresholds": dict(thresholds or {}), "range_tolerance": range_tolerance,
        "training_summary": {"n": int(len(y)), "n_positive": int((y == np.unique(y)[-1]).sum()),
                             "score": _dist(score)},
    }
    if not linear and encoders:
        raise ModelError(f"model {name!r} with categorical predictors is not a plain logistic model: no bundle",
                         hint="a JSON bundle needs [selection/scaling steps +] a logistic final step")
    if not linear:
        ranges = {f: [float(X_train[f].min()), float(X_train[f].max())] for f in feats}
        spec = {**base, "kind": "skops", "link": "unknown", "input_features": feats, "ranges": ranges,
                "units": {f: units.get(f) for f in feats}, "selected_features": selected_features(pipeline)}
        return ModelBundle(spec, None, pipeline)
    center: dict[str, float] = {}
    scale: dict[str, float] = {}
    for _, s in steps[:-1]:
        if isinstance(s, StandardScaler):
            names = [str(c) for c in s.feature_names_in_]
            mean = s.mean_ if s.mean_ is not None else np.zeros(len(names))
            sc = s.scale_ if s.scale_ is not None else np.ones(len(names))
            center.update({n: float(m) for n, m in zip(names, mean)})
            scale.update({n: float(v) for n, v in zip(names, sc)})
    variables = []
    intercept = float(final.intercept_[0])
    coded = _dummy_columns(encoders[0]) if encoders else {}
    categorical: dict[str, dict] = {}
    for n, c in zip(final.feature_names_in_, final.coef_[0]):
        n = str(n)
        if n in coded:  # a dummy: its centre and scale folded into the level's coefficient and the intercept
            col, level = coded[n]
            if col not in categorical:
                levels, ref = encoders[0].codings[col]
                categorical[col] = {"name": col, "kind": "categorical", "levels": [str(lv) for lv in levels],
                                    "reference": str(ref), "coefficients": {str(lv): 0.0 for lv in levels
                                                                            if lv != ref},
                                    "unit": units.get(col), "definition": definitions.get(col)}
                variables.append(categorical[col])
            m, sc = float(center.get(n, 0.0)), float(scale.get(n, 1.0))
            categorical[col]["coefficients"][str(level)] = float(c) / sc
            intercept -= float(c) * m / sc
            continue
        variables.append({
            "name": n, "coefficient": float(c), "center": float(center.get(n, 0.0)), "scale": float(scale.get(n, 1.0)),
            "unit": units.get(n), "definition": definitions.get(n),
            "range": [float(X_train[n].min()), float(X_train[n].max())],
        })
    if categorical:  # version 2: older readers refuse it rather than misread the levels
        base["format_version"] = FORMAT_VERSION
    spec = {**base, "kind": "linear", "link": "logit", "score_name": "score", "intercept": intercept,
            "fit_method": getattr(final, "method_", "mle"), "variables": variables}
    bundle = ModelBundle(spec)
    check = bundle_scores(bundle, X_train, check_ranges=False)
    if not np.allclose(check, score, rtol=0, atol=1e-9):
        raise ModelError(f"bundle {name!r} does not reproduce the pipeline's scores (max diff "
                         f"{np.max(np.abs(check - score)):.3g})", hint="report this as a bug")
    return bundle


def _dummy_columns(encoder) -> dict[str, tuple[str, str]]:
    """{dummy column: (categorical column, level)} of a fitted DummyEncoder."""
    return {dummy: (col, level) for col, by_level in encoder.level_columns().items()
            for level, dummy in by_level.items() if dummy is not None}


def _fusion_bundle(fus: ScoreFusion, X_train, y_train, name, **kw) -> ModelBundle | None:
    """ScoreFusion with a linear score model -> one linear bundle whose score variable is derived from an
    inline linear bundle (the seed-000 combined-model layout). None if the score model is not linear."""
    inner = bundle_from_pipeline(fus.score_model_, X_train[list(fus.score_features)], y_train, f"{name}_score",
                                 units=kw["units"], definitions=kw["definitions"], source=kw["source"],
                                 outcome=kw["outcome"], range_tolerance=kw["range_tolerance"])
    if inner.kind != "linear":
        return None
    final = fus.fusion_model_
    score_train = bundle_scores(inner, X_train, check_ranges=False)
    full = X_train.assign(**{fus.score_name: score_train})
    y = np.asarray(y_train).ravel()
    variables = [{"name": str(n), "coefficient": float(c), "center": 0.0, "scale": 1.0,
                  "unit": "logit" if n == fus.score_name else kw["units"].get(str(n)),
                  "definition": (f"linear predictor of the embedded score model {inner.name!r}" if n == fus.score_name
                                 else kw["definitions"].get(str(n))),
                  "range": [float(full[n].min()), float(full[n].max())]}
                 for n, c in zip(final.feature_names_in_, final.coef_[0])]
    s = np.asarray(fus.decision_function(X_train), float)
    spec = {"format": FORMAT, "format_version": inner.spec["format_version"], "name": name, "outcome": kw["outcome"],
            "source": kw["source"], "versions": _versions(), "thresholds": dict(kw["thresholds"] or {}),
            "range_tolerance": kw["range_tolerance"], "kind": "linear", "link": "logit", "score_name": "score",
            "training_summary": {"n": int(len(y)), "n_positive": int((y == np.unique(y)[-1]).sum()), "score": _dist(s)},
            "intercept": float(final.intercept_[0]), "variables": variables,
            "derived": {fus.score_name: {"spec": inner.spec}}}
    bundle = ModelBundle(spec)
    if not np.allclose(bundle_scores(bundle, X_train, check_ranges=False), s, rtol=0, atol=1e-9):
        raise ModelError(f"bundle {name!r} does not reproduce the fusion model's scores", hint="report this as a bug")
    return bundle


def load_bundle(path: str | Path) -> ModelBundle:
    """Load a bundle folder (or its ``bundle.json``); verifies format, spec hash and skops types."""
    p = Path(path)
    file = p / "bundle.json" if p.is_dir() else p
    if not file.is_file():
        raise InputError("no bundle found", file=file, hint="pass a folder written by ModelBundle.save")
    try:
        spec = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise InputError(f"bundle is not valid JSON ({exc})", file=file) from exc
    check_header(spec, file)
    if spec.get("format") != FORMAT:
        raise InputError(f"not an hccrad model bundle (format={spec.get('format')!r})", file=file)
    check_variables(spec.get("variables"), file)
    for d in (spec.get("derived") or {}).values():
        if isinstance(d, dict) and isinstance(d.get("spec"), dict):
            check_variables(d["spec"].get("variables"), file)
    if "spec_hash" in spec and spec["spec_hash"] != spec_hash(spec):
        raise InputError("bundle content does not match its spec_hash (edited by hand?)", file=file,
                         hint="re-save the bundle with ModelBundle.save, or restore the original file")
    spec = migrate(spec)
    validate_document(spec, file)
    model = None
    if spec["kind"] == "skops":
        model = _load_skops(file.parent / "model.skops", spec.get("model_kinds"))
    for w in spec.get("warnings", []):
        logger.warning("bundle %s: %s", spec.get("name"), w)
    return ModelBundle(spec, file.parent, model)


def _dump_skops(model, name: str) -> bytes:
    import skops.io as sio  # lazy: skops.io imports torch (seconds); only a skops model's save/load needs it

    try:
        return sio.dumps(model)
    except TypeError as exc:
        raise ModelError(f"model {name!r} holds objects skops cannot store safely ({exc})",
                         field="model", hint="use a logistic final step (saved as JSON) or plain "
                         "scikit-learn steps before a tree model") from exc


def _checked_kinds(model_bytes: bytes, name: str) -> list[str]:
    """The model kinds of a freshly dumped model; refuses to write a file that load_bundle would refuse."""
    types, loaders = skops_schema_names(model_bytes, Path(f"{name}/model.skops"))
    kinds = kinds_of(types)
    bad = sorted(types - allowed_types(kinds)) + sorted(loaders - ALLOWED_LOADERS)
    if bad:
        raise ModelError(f"model {name!r} holds type(s) outside hccrad's skops allow-list: {bad}", field="model",
                         hint="hccrad would refuse to load this bundle; add the type(s) to "
                         "hccrad.models.trusted_types only after checking that constructing them runs no code")
    return kinds


def _collect_names(node, types: set[str], loaders: set[str], file: Path) -> None:
    """Every ``__module__.__class__`` and ``__loader__`` in a skops schema (plain JSON: nothing is imported)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        module, cls, loader = item.get("__module__"), item.get("__class__"), item.get("__loader__")
        if "__loader__" in item and not all(isinstance(v, str) for v in (module, cls, loader)):
            raise ModelError("model file has a malformed schema node", file=file, field="schema.json",
                             hint="only load bundles written by hccrad")
        if isinstance(module, str) and isinstance(cls, str):
            types.add(f"{module}.{cls}")
        if isinstance(loader, str):
            loaders.add(loader)
        stack.extend(item.values())


def skops_schema_names(data: bytes, file: Path) -> tuple[set[str], set[str]]:
    """The type names and node loaders a skops file's ``schema.json`` names, read without constructing
    anything."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            schema = json.loads(zf.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable skops file ({exc})", file=file, field="model.skops",
                         hint="re-save the bundle with hccrad") from exc
    types: set[str] = set()
    loaders: set[str] = set()
    _collect_names(schema, types, loaders, file)
    return types, loaders


def _load_skops(mfile: Path, model_kinds) -> object:
    """Load ``model.skops`` only if every type and loader it names is on the allow-list of the declared model
    kinds (all kinds if the bundle predates the declaration); checked on the raw schema first, then by skops'
    own audit, then loaded with exactly that list trusted."""
    import skops.io as sio  # lazy: skops.io imports torch (seconds); only a skops model's save/load needs it

    if not mfile.is_file():
        raise InputError("skops bundle without its model file", file=mfile, hint="copy model.skops with bundle.json")
    if model_kinds is not None and (not isinstance(model_kinds, list)
                                    or any(k not in MODEL_KIND_TYPES for k in model_kinds)):
        raise ModelError(f"bundle declares unknown model kind(s) {model_kinds!r}", file=mfile.parent / "bundle.json",
                         field="model_kinds", hint=f"hccrad knows {sorted(MODEL_KIND_TYPES)}")
    data = mfile.read_bytes()  # read once: what is checked is what is loaded
    allowed = allowed_types(model_kinds)
    types, loaders = skops_schema_names(data, mfile)
    bad = sorted(types - allowed)
    bad_loaders = sorted(loaders - ALLOWED_LOADERS)
    if not bad and not bad_loaders:
        bad = sorted(set(sio.get_untrusted_types(data=data)) - allowed)
    if bad or bad_loaders:
        what = (f"type(s) {bad}" if bad else "") + (" and " if bad and bad_loaders else "") + (
            f"skops loader(s) {bad_loaders}" if bad_loaders else "")
        raise ModelError(f"model file names {what} that hccrad does not trust; nothing was loaded", file=mfile,
                         field="model.skops", hint="hccrad loads only the exact types its own models use "
                         "(docs/models.md, 'Trust model'); do not use this file, ask for a JSON (linear) bundle")
    return sio.loads(data, trusted=sorted(allowed))


def _check_input(bundle: ModelBundle, df: pd.DataFrame, names: list[str], ranges: dict, units: dict,
                 id_col: str | None, check_ranges: bool) -> None:
    missing = [n for n in names if n not in df.columns]
    if missing:
        raise ModelError(f"input lacks column(s) {missing} required by model {bundle.name!r}", field=missing[0],
                         hint=f"provide {missing[0]!r}"
                         + (f" in {units.get(missing[0])}" if units.get(missing[0]) else ""))
    tol = float(bundle.spec.get("range_tolerance", 0.5))
    for n in names:
        col = df[n]
        if not pd.api.types.is_numeric_dtype(col):
            raise ModelError("column is not numeric", field=n, hint="encode it as the bundle documents")
        if col.isna().any():
            i = int(np.flatnonzero(col.isna().to_numpy())[0])
            case = str(df[id_col].iloc[i]) if id_col and id_col in df.columns else str(df.index[i])
            raise ModelError("missing value", field=n, case=case, hint="impute or remove this patient")
        allowed = (bundle.spec.get("allowed_values") or {}).get(n)
        if allowed is not None and not col.isin(allowed).all():
            i = int(np.flatnonzero(~col.isin(allowed).to_numpy())[0])
            case = str(df[id_col].iloc[i]) if id_col and id_col in df.columns else str(df.index[i])
            raise ModelError(f"value {col.iloc[i]!r} not allowed; expected one of {allowed}", field=n, case=case,
                             hint="code the variable as the bundle's definition says")
        rng = ranges.get(n)
        if check_ranges and rng is not None and None not in rng:
            lo, hi = rng
            span = max(hi - lo, 1e-12)
            bad = (col < lo - tol * span) | (col > hi + tol * span)
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                case = str(df[id_col].iloc[i]) if id_col and id_col in df.columns else str(df.index[i])
                unit = units.get(n)
                raise ModelError(
                    f"value {col.iloc[i]:g} is far outside the training range [{lo:g}, {hi:g}]"
                    + (f" {unit}" if unit else ""), field=n, case=case,
                    hint=("check the unit" + (f" (expected {unit})" if unit else "")
                          + "; pass check_ranges=False to score anyway"))


def bundle_scores(bundle: ModelBundle, df: pd.DataFrame, *, id_col: str | None = "case_id",
                  check_ranges: bool = True, standardize: str = "none") -> np.ndarray:
    """The bundle's score for each row (linear predictor for linear bundles; P(y=1) or decision otherwise).

    ``standardize="cohort"``: variables whose ``center``/``scale`` the source did not publish (null in the
    JSON; e.g. a paper that z-scored features without giving means/SDs) are z-scored on ``df`` itself (mean,
    SD with ddof=1). Ranking (AUC) is then meaningful; absolute calibration is not an external test.
    """
    if standardize not in ("none", "cohort"):
        raise ModelError(f"standardize={standardize!r}", field="standardize", hint="use 'none' or 'cohort'")
    spec = bundle.spec
    if bundle.kind != "linear":
        feats = list(spec["input_features"])
        _check_input(bundle, df, feats, spec.get("ranges", {}), spec.get("units", {}), id_col, check_ranges)
        return scores_of(bundle.model, df[feats])
    df = df.copy()
    for dname, d in spec.get("derived", {}).items():
        if dname not in df.columns and "spec" in d:
            df[dname] = bundle_scores(ModelBundle(d["spec"]), df, id_col=id_col, check_ranges=check_ranges,
                                      standardize=standardize)
        elif dname not in df.columns:
            df[dname] = bundle_scores(load_published(d["bundle"]), df, id_col=id_col, check_ranges=check_ranges,
                                      standardize=standardize)
    df = with_dummies(bundle.name, spec["variables"], df, id_col)
    variables = expanded_variables(spec["variables"])
    unpublished = [v["name"] for v in variables if v.get("coefficient") is None]
    if unpublished or spec.get("intercept") is None:
        raise ModelError(f"model {bundle.name!r} cannot be scored: coefficient(s) not published for "
                         f"{unpublished or ['intercept']}", field=(unpublished or ["intercept"])[0],
                         hint="see the bundle's 'notes'; ask the authors for the full formula")
    names = [v["name"] for v in variables]
    _check_input(bundle, df, names, {v["name"]: v.get("range") for v in variables},
                 {v["name"]: v.get("unit") for v in variables}, id_col, check_ranges)
    X = df[names].to_numpy(float)
    c = np.array([v["coefficient"] for v in variables], float)
    m = np.array([np.nan if v.get("center", 0.0) is None else v.get("center", 0.0) for v in variables], float)
    s = np.array([np.nan if v.get("scale", 1.0) is None else v.get("scale", 1.0) for v in variables], float)
    unknown = np.isnan(m) | np.isnan(s)
    if unknown.any():
        if standardize != "cohort":
            first = names[int(np.flatnonzero(unknown)[0])]
            raise ModelError(
                f"model {bundle.name!r}: the source did not publish the normalisation (mean/SD) of "
                f"{[n for n, u in zip(names, unknown) if u]}", field=first,
                hint="pass standardize='cohort' to z-score these variables on your cohort (AUC stays valid)")
        if len(df) < 3:
            raise ModelError("standardize='cohort' needs at least 3 patients", field="standardize")
        m[unknown] = X[:, unknown].mean(0)
        s[unknown] = X[:, unknown].std(0, ddof=1)
        if np.any(s[unknown] == 0):
            raise ModelError("a variable is constant in this cohort; cannot z-score it",
                             field=names[int(np.flatnonzero(unknown & (s == 0))[0])])
    return float(spec["intercept"]) + ((X - m) / s) @ c


def predict_bundle(bundle: ModelBundle | str | Path, df: pd.DataFrame, *, id_col: str = "case_id",
                   check_ranges: bool = True, standardize: str = "none") -> pd.DataFrame:
    """Score new patients: DataFrame with ``id_col`` (if present in ``df``), ``score`` and ``probability``
    (expit(score) for logit-link bundles; the model's P(y=1) for skops bundles; NaN-free, or an error)."""
    if not isinstance(bundle, ModelBundle):
        bundle = load_bundle(bundle)
    s = bundle_scores(bundle, df, id_col=id_col, check_ranges=check_ranges, standardize=standardize)
    out = pd.DataFrame(index=df.index)
    if id_col in df.columns:
        out[id_col] = df[id_col].to_numpy()
    out["score"] = s
    if bundle.kind == "linear":
        if bundle.spec.get("link") == "logit":
            out["probability"] = _expit(s)
    elif hasattr(bundle.model, "predict_proba"):
        try:
            out["probability"] = np.asarray(bundle.model.predict_proba(df[bundle.input_features]))[:, 1]
        except AttributeError:
            pass
    return out


def list_published() -> list[str]:
    """Names of the bundled published models."""
    folder = resources.files("hccrad.models") / "published"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".json"))


def load_published(name_or_path: str | Path) -> ModelBundle:
    """Load a shipped published model by name (see :func:`list_published`) or any bundle by path."""
    p = Path(str(name_or_path))
    if p.suffix == ".json" or p.is_dir() or p.exists():
        return load_bundle(p)
    name = str(name_or_path)
    if name not in list_published():
        raise InputError(f"no published model named {name!r}", field="name", hint=f"use one of {list_published()}")
    ref = resources.files("hccrad.models") / "published" / f"{name}.json"
    spec = json.loads(ref.read_text(encoding="utf-8"))
    if spec.get("spec_hash") != spec_hash(spec):
        raise InputError("shipped bundle does not match its spec_hash", file=str(ref), hint="reinstall hccrad")
    spec = migrate(spec)
    validate_document(spec, str(ref))
    for w in spec.get("warnings", []):
        logger.warning("published model %s: %s", name, w)
    return ModelBundle(spec, None, None)
