"""The exact types (and skops node loaders) a ``model.skops`` file written by hccrad may contain.

A skops file is a zip whose ``schema.json`` names, for every stored object, a module and a class
(``"__module__": "numpy.testing._private.utils", "__class__": "runstring"``) and a loader that says how to
rebuild it; skops rebuilds an object by importing that name and calling it. Trusting a whole package by
prefix (``numpy.``) therefore trusts functions that run a Python string. hccrad instead lists every type by
its full name and refuses a file that names anything else, before any object is constructed
(:func:`hccrad.models.bundle.load_bundle` reads ``schema.json`` as plain JSON first).

How the lists were derived (skops 0.16, scikit-learn 1.9, xgboost 3.2, numpy 2.4): every model the study
pipeline can save (``pipeline.modelling.build_estimator`` for each ``ModelSpec.kind`` with each selection
step, the default chain, clinical models with ``clinical_selection`` "stepwise" and "all", and a model fused
with an inner model of each kind; plus ``models.factory.seed001_nested_models``) was fitted on a small
table, saved with ``ModelBundle.save``, and every ``__module__.__class__`` and ``__loader__`` in its
``schema.json`` recorded (``tests/models/test_bundle_security.py`` rebuilds the same models and fails if one
of them is refused, so a change that adds a type shows up there). Results:

- every skops bundle: ``STRUCTURE_TYPES`` (containers, arrays, Pipeline, ColumnSelector, ScoreFusion);
- a selection step adds its own class (``SELECTION_STEP_TYPES``); ``stability`` (holds a pandas table) and
  ``stepwise`` (holds statsmodels results) cannot be stored by skops at all, so a pipeline with one of them
  gets no skops bundle (``ModelBundle.save`` raises; the study run notes "no shareable bundle");
  ``seed001_nested_models`` (a ColumnTransformer with a stepwise branch) likewise;
- each model kind of the registry (``hccrad.models.kinds``) adds its ``trusted_types`` (``MODEL_KIND_TYPES``).

numpy scalar types other than float64/int64 were not seen but are listed in ``STRUCTURE_TYPES`` because
which one a fitted attribute holds depends on the dtype of the training table (constructing one only
converts a number). JSON-like values (numbers, strings, None, booleans) are stored by skops as
``builtins.str`` JSON text.
"""

from __future__ import annotations

from hccrad.models.kinds import MODEL_KIND_CLASSES
from hccrad.selection.registry import SELECTION_STEPS as SELECTION_STEP_KINDS

STRUCTURE_TYPES: frozenset[str] = frozenset({
    "builtins.dict", "builtins.list", "builtins.str", "builtins.tuple",
    "numpy.ndarray", "numpy.float64", "numpy.int64", "numpy.float32", "numpy.int32", "numpy.bool",
    "sklearn.pipeline.Pipeline",
    "hccrad.models.factory.ColumnSelector",
    "hccrad.models.factory.ScoreFusion",
})

# selection step name (models.factory.SELECTION_STEPS) -> the types it adds to a skops bundle; an empty set
# means the step is never part of a skops bundle (skops refuses to store it, so no bundle is written). Read
# from the registry of selection steps (hccrad.selection.registry, the one list of steps), plus stepwise
SELECTION_STEP_TYPES: dict[str, frozenset[str]] = {
    **{kind: cls.trusted_types for kind, cls in SELECTION_STEP_KINDS.items()},
    "stepwise": frozenset(),  # holds statsmodels results: skops cannot store it
}

# model kind (pipeline step name) -> the types it adds to a skops bundle: read from the registry of model
# kinds (hccrad.models.kinds), the one list of kinds
MODEL_KIND_TYPES: dict[str, frozenset[str]] = {cls.step: cls.trusted_types for cls in MODEL_KIND_CLASSES}

# skops node loaders seen in hccrad's bundles; the ones that call an arbitrary named function or fetch a
# method by name (FunctionNode, MethodNode, PartialNode, ReduceNode, ConstructorFromReduceNode,
# OperatorFuncNode, ...) are not among them and are refused whatever type they name
ALLOWED_LOADERS: frozenset[str] = frozenset({
    "ObjectNode", "DictNode", "ListNode", "TupleNode", "JsonNode", "NdArrayNode", "TypeNode", "TreeNode",
    "BytearrayNode",
})


def allowed_types(model_kinds: list[str] | None) -> frozenset[str]:
    """The exact type names a skops bundle of these model kinds may contain (all kinds when None: a bundle
    written before hccrad recorded its kinds)."""
    kinds = list(MODEL_KIND_TYPES) if model_kinds is None else model_kinds
    out = set(STRUCTURE_TYPES)
    for steps in SELECTION_STEP_TYPES.values():
        out |= steps
    for kind in kinds:
        out |= MODEL_KIND_TYPES[kind]
    return frozenset(out)


def kinds_of(types: set[str]) -> list[str]:
    """The model kinds whose own types appear among ``types`` (sorted)."""
    return sorted(k for k, own in MODEL_KIND_TYPES.items() if own & types)
