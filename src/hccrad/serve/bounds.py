"""What a value of a bundle variable may be, beyond its training range: its declared type (binary 0/1,
integer, continuous) and hard bounds that no patient can break (a laboratory concentration is never negative).

The rules, in order (the first that applies decides; ``GET /api/model`` shows the outcome and its reason):

* **Type.** A variable is *binary* when the bundle says so: ``types: {name: "binary"}`` (or a linear
  variable's ``"type": "binary"``), ``allowed_values`` of exactly {0, 1}, or a unit that names a 0/1 coding
  ("0/1", "binary", "yes/no", "y/n", "present/absent"). Without any of these, a variable whose training
  values span exactly [0, 1] and whose name and unit do not say it is a fraction, ratio, probability or score
  is taken as binary too (``hccrad run`` bundles store no units): the reason says so. ``"integer"`` in
  ``types`` asks for whole numbers. Binary variables accept 0 and 1 only.
* **Hard bounds.** ``bounds: {name: [lo, hi]}`` in the bundle (or a variable's ``"bounds"``), else, unless the
  name or unit says the value is a logarithm or a standardised score (``log``, ``ln``, ``z``, ``SD``),
  0 as the lower bound for a variable whose unit is a concentration, activity, count, length, volume, mass or
  time (e.g. µmol/L, g/L, ng/mL, U/L, ×10^9/L, mm, mL, years) or whose name is a laboratory or size variable
  (bilirubin/TBIL, albumin/ALB, AFP, PIVKA-II/DCP, ALT, AST, GGT, ALP, platelets/PLT, INR, PT, creatinine,
  CRP, WBC, age, size, diameter, volume, ...) unless its training values go below 0 (then it was transformed);
  [0, 100] for a percentage and [0, 1] for a fraction.

A value outside the hard bounds is refused (422, naming the field) wherever the training range would put it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

BINARY_UNITS = {"0/1", "binary", "yes/no", "y/n", "present/absent", "0=no, 1=yes", "no/yes"}
CONTINUOUS_WORDS = re.compile(r"fraction|ratio|prob|score|proportion|percent|rate|index|share", re.I)
LOG_OR_STANDARDISED = re.compile(r"(^|[^a-z])(log\d*|ln|z|zscore|z-score|sd|logit)([^a-z]|$)", re.I)
UNIT_TOKENS = {
    "mol", "mmol", "µmol", "μmol", "umol", "nmol", "pmol", "g", "mg", "µg", "μg", "ug", "ng", "pg", "kg", "iu", "u",
    "ku", "mu", "miu", "l", "dl", "ml", "µl", "μl", "ul", "mm", "cm", "m", "mm3", "cm3", "mm³", "cm³", "s", "sec",
    "min", "h", "hr", "day", "days", "week", "weeks", "month", "months", "year", "years", "yr", "yrs", "cell",
    "cells", "kpa", "mmhg", "mau", "au", "hpf", "kg/m2", "m2", "copies", "count"}
LAB_NAMES = re.compile(
    r"^(t?bil|tbil|dbil|ibil|bilirubin|alb|albumin|afp|pivka(_?ii)?|dcp|alt|ast|ggt|gamma_?gt|alp|plt|platelets?|"
    r"inr|pt|aptt|creatinine|crea|cr|bun|urea|crp|wbc|rbc|hb|hgb|hemoglobin|haemoglobin|neutrophils?|"
    r"lymphocytes?|monocytes?|nlr|plr|ldh|cea|ca19[_-]?9|ferritin|sodium|na|potassium|k|glucose|hba1c|"
    r"hbv[_-]?dna|ammonia|fibrinogen|age|bmi|weight|height|size|diameter|tumou?r_?size|tumou?r_?diameter|"
    r"max_?diameter|volume|tumou?r_?volume|number|count|n_?lesions|lesions)$", re.I)


@dataclass(frozen=True)
class ValueRule:
    """Declared type and hard bounds of one variable, each with the reason it applies."""

    kind: str  # "binary" | "integer" | "continuous"
    kind_reason: str
    bounds: tuple[float, float] | None
    bounds_reason: str

    def as_dict(self) -> dict:
        bounds = None if self.bounds is None else [b if math.isfinite(b) else None for b in self.bounds]
        return {"type": self.kind, "type_reason": self.kind_reason, "hard_bounds": bounds,
                "bounds_reason": self.bounds_reason}  # an open end is null (JSON has no infinity)


def _declared(spec: dict, meta: dict, key: str, name: str):
    """``spec[key][name]`` or the variable's own ``key`` (``types``/``type``, ``bounds``/``bounds``)."""
    table = spec.get(key + "s" if key == "type" else key) or {}
    return meta.get(key) if meta.get(key) is not None else table.get(name)


def value_type(spec: dict, name: str, meta: dict, allowed: list | None) -> tuple[str, str]:
    """(kind, reason) of a variable; see the module docstring."""
    declared = _declared(spec, meta, "type", name)
    if declared is not None:
        kind = str(declared).lower()
        if kind not in ("binary", "integer", "continuous"):
            kind = "continuous"
        return kind, f"declared type {declared!r} in the bundle"
    if allowed is not None and sorted(float(a) for a in allowed) == [0.0, 1.0]:
        return "binary", "the bundle allows the values 0 and 1 only"
    unit = (meta.get("unit") or "").strip().lower()
    if unit in BINARY_UNITS:
        return "binary", f"the unit {meta.get('unit')!r} names a 0/1 coding"
    rng = meta.get("range")
    if (not unit and rng is not None and None not in rng and float(rng[0]) == 0.0 and float(rng[1]) == 1.0
            and not CONTINUOUS_WORDS.search(name) and allowed is None):
        return "binary", ("taken as 0/1: the training values span exactly 0 to 1 and the bundle declares no unit "
                          "(declare types: {name: 'continuous'} in the bundle if it is not)")
    return "continuous", "no 0/1 or integer declaration in the bundle"


def hard_bounds(spec: dict, name: str, meta: dict) -> tuple[tuple[float, float] | None, str]:
    """(bounds, reason) no value may break; see the module docstring."""
    declared = _declared(spec, meta, "bounds", name)
    if declared is not None:
        lo, hi = (float("-inf") if declared[0] is None else float(declared[0]),
                  float("inf") if declared[1] is None else float(declared[1]))
        return (lo, hi), "bounds declared in the bundle"
    unit = (meta.get("unit") or "").strip()
    if LOG_OR_STANDARDISED.search(unit) or LOG_OR_STANDARDISED.search(name.replace("_", " ")):
        return None, "a logarithm or standardised value may be negative"
    low = unit.lower()
    if low in ("%", "percent", "percentage"):
        return (0.0, 100.0), f"a percentage (unit {unit!r})"
    if low in ("fraction", "proportion"):
        return (0.0, 1.0), f"a fraction (unit {unit!r})"
    if _unit_is_quantity(low):
        return (0.0, float("inf")), f"a quantity that cannot be negative (unit {unit!r})"
    if LAB_NAMES.match(name.strip()):
        rng = meta.get("range")
        if rng is not None and rng[0] is not None and float(rng[0]) < 0:
            return None, (f"{name} is named like a laboratory or size variable, but its training values go below 0 "
                          "(a transformed value)")
        return (0.0, float("inf")), f"{name} is a laboratory or size variable and cannot be negative"
    return None, "no hard bounds apply"


def _unit_is_quantity(unit: str) -> bool:
    """A unit built from concentration/count/size parts (e.g. 'µmol/L', 'ng/mL', '×10^9/L', 'U/L', 'mm')."""
    if not unit or unit in BINARY_UNITS:
        return False
    parts = [p for p in re.split(r"[/\s·*]+", unit.replace("^", "")) if p]
    return bool(parts) and all(p in UNIT_TOKENS or re.fullmatch(r"(×|x)?10[\d⁰¹²³⁴⁵⁶⁷⁸⁹]*", p) for p in parts)


def value_rule(spec: dict, name: str, meta: dict, allowed: list | None) -> ValueRule:
    kind, kind_reason = value_type(spec, name, meta, allowed)
    if kind == "binary":
        return ValueRule(kind, kind_reason, (0.0, 1.0), "a 0/1 variable")
    bounds, bounds_reason = hard_bounds(spec, name, meta)
    return ValueRule(kind, kind_reason, bounds, bounds_reason)
