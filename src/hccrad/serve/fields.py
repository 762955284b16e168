"""Form fields generated from a model bundle, and validation of one patient's inputs against them.

Each input variable of a bundle (``ModelBundle.input_features``) becomes one field carrying its unit,
definition, training range and allowed categories (``allowed_values``); a categorical variable (``kind:
"categorical"``) becomes a select box of its level texts, and any other text is refused naming the field.
A value is accepted when it is a finite number, one of the allowed categories (if the bundle lists them)
and inside the *accepted* range, the rule of :func:`hccrad.models.bundle.bundle_scores`: the training range ``[lo, hi]`` widened by
``range_tolerance x (hi - lo)`` on each side (tolerance 0.5 by default). Values inside the accepted range but
outside the training range are scored with a warning (extrapolation). Before that, the value must fit the
variable's declared type and hard bounds (:mod:`hccrad.serve.bounds`): a binary variable takes 0 or 1 only (it
becomes a drop-down), an integer variable whole numbers, and a laboratory value is never negative, whatever
the training range allows. Every problem is reported per field (not only the first), so the page can show each
message next to its field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from hccrad.core.errors import ModelError
from hccrad.models.bundle import ModelBundle, expanded_variables
from hccrad.models.published import load_published
from hccrad.serve.bounds import ValueRule, value_rule


@dataclass(frozen=True)
class Field:
    """One input of the form / JSON API."""

    name: str
    unit: str | None
    definition: str | None
    training_range: tuple[float, float] | None
    accepted_range: tuple[float, float] | None
    choices: tuple[float, ...] | None
    rule: ValueRule | None = None
    levels: tuple[str, ...] | None = None  # a categorical variable: its levels (a select box of texts)

    @property
    def kind(self) -> str:
        return "select" if self.choices or self.levels else "number"

    def describe_range(self) -> str:
        if self.levels:
            return "one of " + ", ".join(self.levels)
        if self.choices:
            return "one of " + ", ".join(f"{c:g}" for c in self.choices)
        if self.training_range is None:
            return "no training range stored in the bundle"
        lo, hi = self.training_range
        return f"training range {lo:g} to {hi:g}" + (f" {self.unit}" if self.unit else "")


def _variable_meta(spec: dict) -> dict[str, dict]:
    """name -> variable dict, for a bundle and the inline bundles its derived variables embed."""
    meta: dict[str, dict] = {}
    if spec.get("kind") == "linear":
        for v in spec.get("variables", []):
            meta.setdefault(v["name"], v)
        for d in spec.get("derived", {}).values():
            if "spec" in d:
                for k, v in _variable_meta(d["spec"]).items():
                    meta.setdefault(k, v)
    else:
        for f in spec.get("input_features", []):
            meta[f] = {"name": f, "unit": (spec.get("units") or {}).get(f), "range": (spec.get("ranges") or {}).get(f)}
    return meta


def _allowed(spec: dict, name: str) -> list | None:
    allowed = (spec.get("allowed_values") or {}).get(name)
    if allowed is not None:
        return allowed
    for d in spec.get("derived", {}).values():
        if "spec" in d:
            found = _allowed(d["spec"], name)
            if found is not None:
                return found
    return None


def bundle_fields(bundle: ModelBundle, exclude: set[str] | frozenset[str] = frozenset()) -> list[Field]:
    """The form fields of ``bundle`` (its input features minus ``exclude``, e.g. image-derived features)."""
    spec = bundle.spec
    tol = float(spec.get("range_tolerance", 0.5))
    meta = _variable_meta(spec)
    fields = []
    for name in bundle.input_features:
        if name in exclude:
            continue
        v = meta.get(name, {"name": name})
        if v.get("kind") == "categorical":
            fields.append(Field(name=name, unit=v.get("unit"), definition=v.get("definition"), training_range=None,
                                accepted_range=None, choices=None, levels=tuple(v["levels"])))
            continue
        rng = v.get("range")
        training = accepted = None
        if rng is not None and None not in rng:
            lo, hi = float(rng[0]), float(rng[1])
            span = max(hi - lo, 1e-12)
            training, accepted = (lo, hi), (lo - tol * span, hi + tol * span)
        allowed = _allowed(spec, name)
        rule = value_rule(spec, name, v, allowed)
        if allowed is None and rule.kind == "binary":
            allowed = [0, 1]
        fields.append(Field(name=name, unit=v.get("unit"), definition=v.get("definition"), training_range=training,
                            accepted_range=accepted,
                            choices=tuple(float(a) for a in allowed) if allowed is not None else None, rule=rule))
    return fields


def parse_inputs(fields: list[Field], raw: dict[str, object]
                 ) -> tuple[dict[str, float | str], dict[str, str], dict[str, str]]:
    """Validate raw values (strings from a form or numbers from JSON) against ``fields``.

    Returns (values, errors, warnings): ``errors`` and ``warnings`` map a field name to a message.
    """
    values: dict[str, float | str] = {}
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    for f in fields:
        r = raw.get(f.name)
        if r is None or (isinstance(r, str) and not r.strip()):
            errors[f.name] = "required: enter a value" + (f" ({f.describe_range()})" if f.training_range or f.choices else "")
            continue
        if f.levels is not None:
            text = r.strip() if isinstance(r, str) else None
            if text in f.levels:
                values[f.name] = text
            else:
                errors[f.name] = f"unknown level {r!r}; choose {f.describe_range()}"
            continue
        if isinstance(r, bool):
            errors[f.name] = "must be a number, not true/false"
            continue
        try:
            x = float(r.strip().replace(",", ".")) if isinstance(r, str) else float(r)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            errors[f.name] = "must be a number"
            continue
        if not math.isfinite(x):
            errors[f.name] = "must be a finite number"
            continue
        impossible = _breaks_rule(f, x)
        if impossible:
            errors[f.name] = impossible
            continue
        if f.choices is not None:
            if x not in f.choices:
                errors[f.name] = f"value {x:g} not allowed; choose {f.describe_range()}"
                continue
        elif f.accepted_range is not None and f.training_range is not None:
            lo, hi = f.accepted_range
            if x < lo or x > hi:
                unit = f" {f.unit}" if f.unit else ""
                errors[f.name] = (f"value {x:g}{unit} is far outside the {f.describe_range()}: check the unit"
                                  + (f" (expected {f.unit})" if f.unit else ""))
                continue
            tlo, thi = f.training_range
            if x < tlo or x > thi:
                warnings[f.name] = f"outside the {f.describe_range()}: the prediction extrapolates"
        values[f.name] = x
    return values, errors, warnings


def _breaks_rule(f: Field, x: float) -> str | None:
    """The message when ``x`` breaks the field's declared type or hard bounds, else None."""
    rule = f.rule
    if rule is None:
        return None
    unit = f" {f.unit}" if f.unit else ""
    if rule.kind == "binary" and x not in (0.0, 1.0):
        return f"value {x:g} not allowed: a 0/1 variable takes 0 or 1 only ({rule.kind_reason})"
    if rule.kind == "integer" and not x.is_integer():
        return f"value {x:g} not allowed: a whole number is required ({rule.kind_reason})"
    if rule.bounds is not None:
        lo, hi = rule.bounds
        if x < lo:
            what = "negative value" if lo == 0 else "value"
            return f"{what} {x:g}{unit} is impossible: {rule.bounds_reason} (lowest allowed {lo:g})"
        if x > hi:
            return f"value {x:g}{unit} is impossible: {rule.bounds_reason} (highest allowed {hi:g})"
    return None


def check_servable(bundle: ModelBundle) -> None:
    """Raise ModelError unless one patient can be scored on their own (all coefficients, centres and scales
    published: a bundle that needs ``standardize='cohort'`` cannot score a single patient)."""
    spec = bundle.spec
    if bundle.kind != "linear":
        if bundle.model is None:
            raise ModelError(f"bundle {bundle.name!r} has no loaded model", field="model.skops",
                             hint="load it with hccrad.models.bundle.load_bundle")
        return
    if spec.get("intercept") is None:
        raise ModelError(f"bundle {bundle.name!r}: the intercept is not published", field="intercept",
                         hint="a page for one patient needs the full formula")
    for v in expanded_variables(spec["variables"]):
        if v.get("coefficient") is None:
            raise ModelError(f"bundle {bundle.name!r}: coefficient not published", field=v["name"],
                             hint="a page for one patient needs the full formula")
        if v.get("center", 0.0) is None or v.get("scale", 1.0) is None:
            raise ModelError(
                f"bundle {bundle.name!r}: the normalisation (mean/SD) of {v['name']!r} is not published, so a "
                "single patient cannot be scored (it needs standardize='cohort' on a whole cohort)",
                field=v["name"], hint="serve a bundle fitted with hccrad (hccrad run writes models/<name>/)")
    for dname, d in spec.get("derived", {}).items():
        if "spec" in d:
            check_servable(ModelBundle(d["spec"]))
        else:
            try:
                check_servable(load_published(d["bundle"]))
            except ModelError as exc:
                raise ModelError(f"bundle {bundle.name!r}: derived variable {dname!r} cannot be computed for one "
                                 f"patient ({exc.message})", field=dname, hint=exc.hint) from exc
