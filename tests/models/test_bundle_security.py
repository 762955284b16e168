"""Model bundles cannot run code: ``model.skops`` loads only the exact types of hccrad's own model kinds.

The attack (issue 20): skops rebuilds an object by importing the module/class its schema names and calling
it, so a file naming ``numpy.testing._private.utils.runstring`` with a string argument executes that string
(``exec``) under a loader that trusts every ``numpy.`` type. The payload is written here, inside the test
(its only effect would be a marker file in ``tmp_path``); the test first shows it does run under
prefix trust, then that hccrad refuses it, naming the type and the file, and that the marker never appears.
"""

from __future__ import annotations

import json
import types
import warnings
import zipfile

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from hccrad.cli import app
from hccrad.config.spec import ModelSpec
from hccrad.core.errors import ModelError
from hccrad.models.bundle import FORMAT, FORMAT_VERSION, bundle_from_pipeline, load_bundle, predict_bundle, spec_hash
from hccrad.models.factory import MODEL_STEPS, SELECTION_STEPS, make_step
from hccrad.models.trusted_types import MODEL_KIND_TYPES, SELECTION_STEP_TYPES, STRUCTURE_TYPES
from hccrad.models.kinds import MODEL_KINDS
from hccrad.pipeline.modelling import build_estimator

KIND_STEP = {name: cls.step for name, cls in MODEL_KINDS.items()}  # spec name -> pipeline step

RUNSTRING = "numpy.testing._private.utils.runstring"
runner = CliRunner()


def _json_str(value) -> dict:
    return {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode", "content": json.dumps(value),
            "is_json": True}


def _runstring_node(marker) -> dict:
    """A skops node that, when constructed, calls numpy's runstring(code, {}) = exec(code): writes ``marker``."""
    code = f"open({str(marker)!r}, 'w').write('code ran')"
    empty = {"__class__": "dict", "__module__": "builtins", "__loader__": "DictNode", "content": {},
             "key_types": {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode", "content": []}}
    return {"__class__": "runstring", "__module__": "numpy.testing._private.utils",
            "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode",
                        "content": [_json_str(code), empty]}}


def _write_skops(path, schema: dict) -> None:
    from skops.io._protocol import PROTOCOL

    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("schema.json", json.dumps({**schema, "protocol": PROTOCOL}))


def _skops_bundle(folder, schema: dict, model_kinds=("rf",)) -> None:
    """A well-formed bundle.json (correct spec_hash) beside a crafted model.skops."""
    folder.mkdir(parents=True)
    spec = {"format": FORMAT, "format_version": FORMAT_VERSION, "name": "crafted", "kind": "skops",
            "link": "unknown", "input_features": ["x"], "ranges": {"x": [0.0, 1.0]}, "units": {"x": None},
            "model_kinds": list(model_kinds)}
    spec["spec_hash"] = spec_hash(spec)
    (folder / "bundle.json").write_text(json.dumps(spec))
    _write_skops(folder / "model.skops", schema)


@pytest.fixture
def table():
    rng = np.random.default_rng(7)
    n = 60
    X = pd.DataFrame(rng.normal(size=(n, 6)), columns=[f"h{i}" for i in range(4)] + ["age", "tbil"])
    X["tbil"] = rng.gamma(4.0, 5.0, n)
    y = ((X.h0 + 0.8 * X.age + rng.normal(size=n)) > 0).astype(int).to_numpy()
    return X, y


def test_payload_is_live_under_prefix_trust(tmp_path):
    """Guards the other tests: the crafted file really runs code under the old `numpy.`-prefix trust."""
    import skops.io as sio

    marker = tmp_path / "ran_under_prefix_trust"
    _write_skops(tmp_path / "model.skops", _runstring_node(marker))
    untrusted = sio.get_untrusted_types(file=tmp_path / "model.skops")
    assert untrusted == [RUNSTRING]
    sio.load(tmp_path / "model.skops", trusted=[t for t in untrusted if t.startswith("numpy.")])
    assert marker.read_text() == "code ran"


def test_load_bundle_refuses_numpy_string_runner_and_nothing_runs(tmp_path):
    marker = tmp_path / "MARKER"
    _skops_bundle(tmp_path / "b", _runstring_node(marker))
    with pytest.raises(ModelError) as err:
        load_bundle(tmp_path / "b")
    text = str(err.value)
    assert RUNSTRING in text and str(tmp_path / "b" / "model.skops") in text, text
    assert "ConstructorFromReduceNode" in text
    assert not marker.exists()


def test_cli_predict_refuses_it_without_traceback(tmp_path):
    marker = tmp_path / "MARKER"
    _skops_bundle(tmp_path / "b", _runstring_node(marker))
    cases = tmp_path / "cases.csv"
    cases.write_text("case_id,x\nA,0.5\n")
    res = runner.invoke(app, ["predict", str(tmp_path / "b"), str(cases)])
    out = " ".join(res.output.split())
    assert res.exit_code == 2, res.output
    assert RUNSTRING in out and "model.skops" in out
    assert "Traceback" not in res.output and isinstance(res.exception, SystemExit)
    assert not marker.exists()


def _fit_rf(X, y):
    spec = types.SimpleNamespace(seed=0, features=types.SimpleNamespace(icc_min=None))
    ms = ModelSpec(name="rf", kind="random_forest", features="habitat", selection_steps=["univariate"],
                   univariate_p=0.5)
    est, cols = build_estimator(ms, spec, ["h0", "h1", "h2", "h3"], [], None, {})
    return est.set_params(rf__n_estimators=3).fit(X[cols], y), cols


def test_payload_hidden_inside_a_real_model_is_refused(tmp_path, table):
    X, y = table
    est, cols = _fit_rf(X, y)
    folder = bundle_from_pipeline(est, X[cols], y, "rf").save(tmp_path / "rf")
    with zipfile.ZipFile(folder / "model.skops") as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    schema = json.loads(members["schema.json"])
    selector = schema["content"]["content"]["steps"]["content"][0]["content"][1]  # the ColumnSelector
    marker = tmp_path / "MARKER"
    selector["content"]["content"]["features"] = _runstring_node(marker)
    with zipfile.ZipFile(folder / "model.skops", "w") as zf:
        for name, data in members.items():
            zf.writestr(name, json.dumps(schema) if name == "schema.json" else data)
    with pytest.raises(ModelError, match="runstring"):
        load_bundle(folder)
    assert not marker.exists()


def test_allowed_type_through_a_calling_loader_is_refused(tmp_path):
    """An allow-listed class is still refused when the schema asks skops to call it with arguments."""
    node = {"__class__": "Pipeline", "__module__": "sklearn.pipeline", "__loader__": "ConstructorFromReduceNode",
            "content": {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode", "content": []}}
    _skops_bundle(tmp_path / "b", node)
    with pytest.raises(ModelError, match="loader.*ConstructorFromReduceNode"):
        load_bundle(tmp_path / "b")


def test_types_of_an_undeclared_kind_are_refused(tmp_path, table):
    """The list is per model kind: a random forest in a bundle that declares an SVM is refused."""
    X, y = table
    est, cols = _fit_rf(X, y)
    folder = bundle_from_pipeline(est, X[cols], y, "rf").save(tmp_path / "rf")
    spec = json.loads((folder / "bundle.json").read_text())
    assert spec["model_kinds"] == ["rf"]
    spec["model_kinds"] = ["svm"]
    spec["spec_hash"] = spec_hash(spec)
    (folder / "bundle.json").write_text(json.dumps(spec))
    with pytest.raises(ModelError, match="RandomForestClassifier"):
        load_bundle(folder)
    spec["model_kinds"] = ["rf", "os.system"]
    spec["spec_hash"] = spec_hash(spec)
    (folder / "bundle.json").write_text(json.dumps(spec))
    with pytest.raises(ModelError, match="unknown model kind"):
        load_bundle(folder)


def _estimators(kind: str, X) -> list[tuple[str, object, list[str]]]:
    """What the study pipeline builds for one ModelSpec.kind: imaging models with every selection step skops
    can store, a clinical model, a model fused with an inner model of this kind; small forests for speed."""
    spec = types.SimpleNamespace(seed=0, features=types.SimpleNamespace(icc_min=None))
    hab, clinical = ["h0", "h1", "h2", "h3"], ["age", "tbil"]
    step = KIND_STEP[kind]
    small = {"rf": {"n_estimators": 3}, "xgboost": {"n_estimators": 3}}.get(step, {})
    storable = [s for s, t in SELECTION_STEP_TYPES.items() if t and s != "scale"]
    out = []
    img = ModelSpec(name="img", kind=kind, features="habitat", selection_steps=["scale", *storable], univariate_p=0.9)
    est, cols = build_estimator(img, spec, hab, [], None, {})
    est.set_params(**{f"{step}__{k}": v for k, v in small.items()}, rfe__n_features=3, mrmr__n_features=3,
                   lasso__cv=3, lasso__Cs=5, correlation__threshold=0.99)
    out.append(("imaging", est, cols))
    clin = ModelSpec(name="clin", kind=kind, features="none", clinical=clinical, clinical_selection="all")
    est, cols = build_estimator(clin, spec, hab, [], None, {})
    out.append(("clinical", est.set_params(**{f"{step}__{k}": v for k, v in small.items()}), cols))
    inner = ModelSpec(name="inner", kind=kind, features="habitat", selection_steps=["univariate"], univariate_p=0.9)
    built = {"inner": build_estimator(inner, spec, hab, [], None, {})}
    built["inner"][0].set_params(**{f"{step}__{k}": v for k, v in small.items()})
    fused = ModelSpec(name="fused", kind="logistic", features="none", clinical=["age"], fuse="inner")
    est, cols = build_estimator(fused, spec, hab, [], None, built)
    out.append(("fused", est, cols))
    return out


@pytest.mark.parametrize("kind", sorted(KIND_STEP))
def test_every_model_kind_hccrad_saves_loads(kind, table, tmp_path):
    """The allow-list is complete: each bundle the pipeline can write loads and scores identically."""
    X, y = table
    for label, est, cols in _estimators(kind, X):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = est.fit(X[cols], y)
        bundle = bundle_from_pipeline(fitted, X[cols], y, f"{kind}_{label}")
        folder = bundle.save(tmp_path / f"{kind}_{label}")
        loaded = load_bundle(folder)
        if bundle.kind == "linear":
            assert KIND_STEP[kind] == "logistic", label
            continue
        expected = {KIND_STEP[kind]} | ({"logistic"} if label == "fused" else set())
        assert set(loaded.spec["model_kinds"]) == expected, label
        np.testing.assert_array_equal(predict_bundle(loaded, X)["score"].to_numpy(),
                                      predict_bundle(bundle, X)["score"].to_numpy())


@pytest.mark.parametrize("step", sorted(s for s, t in SELECTION_STEP_TYPES.items() if not t))
def test_steps_without_types_never_make_a_skops_bundle(step, table, tmp_path):
    """Selection steps listed with no types (skops cannot store them) must still fail to save, with no file
    left behind; should one become storable, this test asks for its types to be listed."""
    X, y = table
    spec = types.SimpleNamespace(seed=0, features=types.SimpleNamespace(icc_min=0.5))
    if step == "stability":
        table_icc = pd.DataFrame({"feature": ["h0", "h1", "h2", "h3"], "icc2_1": 0.9, "cv": 0.1})
        ms = ModelSpec(name="m", kind="svm", features="habitat", selection_steps=["univariate"], univariate_p=0.9)
        est, cols = build_estimator(ms, spec, ["h0", "h1", "h2", "h3"], [], table_icc, {})
    else:
        ms = ModelSpec(name="m", kind="svm", features="none", clinical=["age", "tbil"], entry_p=0.9)
        est, cols = build_estimator(ms, spec, [], [], None, {})
    assert step in est.named_steps
    bundle = bundle_from_pipeline(est.fit(X[cols], y), X[cols], y, "m")
    with pytest.raises(ModelError, match="cannot store"):
        bundle.save(tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_allow_list_covers_every_factory_kind_and_step():
    """A model kind or selection step added to models/factory.py without an allow-list entry fails here."""
    assert set(MODEL_KIND_TYPES) == set(MODEL_STEPS)
    assert set(SELECTION_STEP_TYPES) == set(SELECTION_STEPS)
    assert set(KIND_STEP.values()) <= set(MODEL_STEPS)
    for kind in MODEL_STEPS:
        est = make_step(kind, {})
        name = f"{type(est).__module__}.{type(est).__qualname__}"
        assert name in MODEL_KIND_TYPES[kind], (kind, name)
    for step, cls in SELECTION_STEPS.items():
        name = f"{cls.__module__}.{cls.__qualname__}"
        assert name in SELECTION_STEP_TYPES[step] or not SELECTION_STEP_TYPES[step], (step, name)
    every = STRUCTURE_TYPES.union(*MODEL_KIND_TYPES.values(), *SELECTION_STEP_TYPES.values())
    assert not [t for t in every if t.endswith(".*") or t.count(".") < 1]
