"""Declared derived columns of the clinical table: covariate bins, clinical scores, response indicators.

A study spec may declare, under `derive:`, columns computed from the clinical table before anything else
sees it. Nothing here looks at the data to choose a parameter: bins are cut at declared edges (via
`hccrad.clinical.binning.Binner`, whose `fit` never uses the values), scores follow their published
definitions (`hccrad.clinical`), so deriving on the training cohort alone or on all cohorts at once gives
the same values for every row (no leakage).

YAML shape (every key checked; `extra="forbid"`)::

    derive:
      bins:
        - {column: AFP, bins: ["<20", "[20,200]", ">200"], reference: "<20", name: afp_group}
        - {column: AFP, bins: ["<=200", ">200"], output: indicator, names: {">200": afp_gt_200}}
        - {column: NLR, bins: ["<3", ">=3"], output: indicator}          # -> column "NLR[>=3]"
      scores:
        - {score: albi, bilirubin: tbil_umol_l, albumin: alb_g_l, bilirubin_unit: umol/L}
        - {score: child_pugh, bilirubin: tbil_umol_l, albumin: alb_g_l, inr: inr, ascites: ascites,
           encephalopathy: he}
        - {score: bclc, number: n_tumours, largest_diameter: diam_cm, ps: ecog, child_pugh_class: CP_class,
           vascular_invasion: mvi, extrahepatic_spread: ehs}
      response:
        - {from: mrecist_bor, objective_response: orr, disease_control: dcr}

Scores are computed first, in the order listed, and their outputs join the table at once, so a later entry
may use an earlier one's output (BCLC above uses Child–Pugh's `CP_class`); bins come next and may bin a
score (e.g. the NLR computed from counts); response indicators last. Output dtypes: numeric outputs
(scores, 0/1 indicators) are float64 with NaN where missing (what scikit-learn / statsmodels expect);
classes, grades-as-labels, stages and bins are pandas categoricals (ordered where the scale is), which
Table 1 summarises as categories. A row with a missing input gets a missing output, counted in the log and
in the record; nothing is imputed.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hccrad.clinical import (
    Binner, ajcc_stage, ajcc_t_category, albi_grade, albi_score, bclc_stage, child_pugh, crafity, disease_control,
    hklc_stage, hklc_tumour_status, nlr, objective_response, palbi_grade, palbi_score, six_and_twelve,
)
from hccrad.clinical.response import CATEGORIES
from hccrad.core.errors import InputError, SpecError

logger = logging.getLogger(__name__)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class BinDerive(_Strict):
    """One column binned at declared cut-points (interval notation, increasing order).

    output "category": one ordered categorical column named `name` (default: `<column>_bin`);
    output "indicator": a 0/1 column for every non-reference bin, named `names[label]` or `<name|column>[label]`.
    """

    column: str
    bins: list[str] = Field(min_length=2)
    labels: list[str] | None = None
    reference: str | None = None
    output: Literal["category", "indicator"] = "category"
    name: str | None = None
    names: dict[str, str] | None = None
    out_of_range: Literal["error", "missing"] = "error"

    @model_validator(mode="after")
    def _names_for_indicators(self) -> "BinDerive":
        if self.names is not None and self.output != "indicator":
            raise ValueError("`names` maps bin labels to indicator columns; it needs output: indicator")
        return self


class _Score(_Strict):
    pass


class AlbiDerive(_Score):
    """ALBI = 0.66·log10(bilirubin µmol/L) − 0.085·albumin g/L (Johnson 2015) and its grade 1–3."""

    score: Literal["albi"]
    bilirubin: str
    albumin: str
    bilirubin_unit: str = "umol/L"
    albumin_unit: str = "g/L"
    output: str = "ALBI"
    grade_output: str | None = "ALBI_grade"


class PalbiDerive(_Score):
    """PALBI (Roayaie 2015) and its grade (Liu 2017)."""

    score: Literal["palbi"]
    bilirubin: str
    albumin: str
    platelets: str
    bilirubin_unit: str = "umol/L"
    albumin_unit: str = "g/L"
    platelets_unit: str = "10^9/L"
    output: str = "PALBI"
    grade_output: str | None = "PALBI_grade"


class ChildPughDerive(_Score):
    """Child–Pugh points 5–15 and class A/B/C (Pugh 1973, INR version)."""

    score: Literal["child_pugh"]
    bilirubin: str
    albumin: str
    inr: str
    ascites: str
    encephalopathy: str
    bilirubin_unit: str = "umol/L"
    albumin_unit: str = "g/L"
    grade_coding: Literal["label", "points"] = "label"
    output: str = "CP_score"
    class_output: str | None = "CP_class"


class BclcDerive(_Score):
    """BCLC 2022 stage 0/A/B/C/D (Reig 2022); `child_pugh_class` may name a Child–Pugh output above."""

    score: Literal["bclc"]
    number: str
    largest_diameter: str
    ps: str
    child_pugh_class: str
    vascular_invasion: str
    extrahepatic_spread: str
    diameter_unit: str = "cm"
    output: str = "BCLC"


class SixTwelveDerive(_Score):
    """Six-and-twelve score = largest diameter (cm) + tumour number, strata ≤ 6 / ≤ 12 / > 12 (Wang 2019)."""

    score: Literal["six_and_twelve"]
    largest_diameter: str
    number: str
    diameter_unit: str = "cm"
    output: str = "six12_score"
    stratum_output: str | None = "six12_stratum"


class AjccDerive(_Score):
    """AJCC 8th edition T category and (with `n1`, `m1`) stage group."""

    score: Literal["ajcc"]
    number: str
    largest_diameter: str
    vascular_invasion: str
    major_vessel_invasion: str
    adjacent_organ_invasion: str
    n1: str | None = None
    m1: str | None = None
    diameter_unit: str = "cm"
    t_output: str = "AJCC_T"
    output: str = "AJCC_stage"

    @model_validator(mode="after")
    def _n_and_m(self) -> "AjccDerive":
        if (self.n1 is None) != (self.m1 is None):
            raise ValueError("the AJCC stage group needs both n1 and m1 (or neither, for the T category only)")
        return self


class HklcDerive(_Score):
    """HKLC tumour status and stage (Yau 2014; see the VERIFY note in clinical/staging.py)."""

    score: Literal["hklc"]
    ps: str
    child_pugh_class: str
    number: str
    largest_diameter: str
    intrahepatic_venous_invasion: str
    extrahepatic_vascular_invasion_or_metastasis: str
    diffuse: str | None = None
    diameter_unit: str = "cm"
    status_output: str = "HKLC_tumour_status"
    output: str = "HKLC"


class NlrDerive(_Score):
    """Neutrophil-to-lymphocyte ratio (both counts in `unit`)."""

    score: Literal["nlr"]
    neutrophils: str
    lymphocytes: str
    unit: str = "10^9/L"
    output: str = "NLR"


class CrafityDerive(_Score):
    """CRAFITY 0–2 (AFP ≥ 100 ng/mL, CRP ≥ 1 mg/dL; Scheiner 2022) and its group."""

    score: Literal["crafity"]
    afp: str
    crp: str
    afp_unit: str = "ng/mL"
    crp_unit: str = "mg/dL"
    output: str = "CRAFITY"
    group_output: str | None = "CRAFITY_group"


ScoreDerive = Annotated[
    Union[AlbiDerive, PalbiDerive, ChildPughDerive, BclcDerive, SixTwelveDerive, AjccDerive, HklcDerive, NlrDerive,
          CrafityDerive],
    Field(discriminator="score"),
]
SCORE_NAMES = ("albi", "palbi", "child_pugh", "bclc", "six_and_twelve", "ajcc", "hklc", "nlr", "crafity")


class ResponseDerive(_Strict):
    """Objective response (CR/PR = 1, SD/PD = 0) and disease control (CR/PR/SD = 1, PD = 0) from a column of
    best-response categories (CR, PR, SD, PD, NE; RECIST 1.1 or mRECIST); NE and missing give NaN.
    `category` optionally stores the column as an ordered categorical CR < PR < SD < PD < NE.
    The input column is keyed `from` in YAML and in dumps (the Python attribute is `from_`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    from_: str = Field(alias="from")
    objective_response: str | None = None
    disease_control: str | None = None
    category: str | None = None

    @model_validator(mode="after")
    def _some_output(self) -> "ResponseDerive":
        if not (self.objective_response or self.disease_control or self.category):
            raise ValueError("name at least one output: objective_response, disease_control or category")
        return self


class DeriveSpec(_Strict):
    """Declared derived columns: bins, clinical scores and response indicators (see the module doc)."""

    bins: list[BinDerive] = Field(default_factory=list)
    scores: list[ScoreDerive] = Field(default_factory=list)
    response: list[ResponseDerive] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_outputs(self) -> "DeriveSpec":
        outs = _declared_outputs(self)
        dup = sorted({o for o in outs if outs.count(o) > 1})
        if dup:
            raise ValueError(f"derived column names must be unique, got {dup} more than once")
        return self


def load_derive_spec(data: dict | DeriveSpec) -> DeriveSpec:
    """A DeriveSpec from a mapping (the `derive:` block of a study YAML), pydantic errors as one SpecError."""
    if isinstance(data, DeriveSpec):
        return data
    try:
        return DeriveSpec.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in ("derive", *err["loc"]))
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (typo?)"
            if err["type"] == "union_tag_invalid":
                msg = f"unknown score {err['input'].get('score')!r}; known scores: {list(SCORE_NAMES)}"
            problems.append(f"{loc}: {msg}")
        raise SpecError(problems) from None


def _bin_outputs(b: BinDerive) -> list[str]:
    if b.output == "category":
        return [b.name or f"{b.column}_bin"]
    labels = [str(x).strip() for x in (b.labels or b.bins)]
    ref = b.reference if b.reference is not None else labels[0]
    names = b.names or {}
    return [names.get(lab, f"{b.name or b.column}[{lab}]") for lab in labels if lab != ref]


_OUTPUT_FIELDS = ("output", "grade_output", "class_output", "stratum_output", "t_output", "status_output",
                  "group_output")


def _score_outputs(s: _Score) -> list[str]:
    outs = [getattr(s, f) for f in _OUTPUT_FIELDS if getattr(s, f, None)]
    if isinstance(s, AjccDerive) and s.n1 is None:
        outs.remove(s.output)
    return outs


def _response_outputs(r: ResponseDerive) -> list[str]:
    return [o for o in (r.objective_response, r.disease_control, r.category) if o]


def _declared_outputs(spec: DeriveSpec) -> list[str]:
    return ([o for b in spec.bins for o in _bin_outputs(b)] + [o for s in spec.scores for o in _score_outputs(s)]
            + [o for r in spec.response for o in _response_outputs(r)])


def _input_fields(s: _Score) -> dict[str, str]:
    """Fields of a score entry that name table columns (not units, codings or outputs)."""
    skip = set(_OUTPUT_FIELDS) | {"score", "grade_coding"}
    return {k: v for k, v in s.model_dump().items()
            if k not in skip and not k.endswith("_unit") and k != "unit" and isinstance(v, str)}


def _compute_score(s: _Score, t: pd.DataFrame) -> dict[str, pd.Series]:
    """Call the clinical function of one score entry; returns {output column: Series}."""
    c = t.__getitem__
    if isinstance(s, AlbiDerive):
        a = albi_score(c(s.bilirubin), c(s.albumin), bilirubin_unit=s.bilirubin_unit, albumin_unit=s.albumin_unit)
        out = {s.output: a}
        if s.grade_output:
            out[s.grade_output] = albi_grade(a)
        return out
    if isinstance(s, PalbiDerive):
        p = palbi_score(c(s.bilirubin), c(s.albumin), c(s.platelets), bilirubin_unit=s.bilirubin_unit,
                        albumin_unit=s.albumin_unit, platelets_unit=s.platelets_unit)
        out = {s.output: p}
        if s.grade_output:
            out[s.grade_output] = palbi_grade(p)
        return out
    if isinstance(s, ChildPughDerive):
        cp = child_pugh(c(s.bilirubin), c(s.albumin), c(s.inr), c(s.ascites), c(s.encephalopathy),
                        bilirubin_unit=s.bilirubin_unit, albumin_unit=s.albumin_unit, grade_coding=s.grade_coding)
        out = {s.output: cp["CP_score"]}
        if s.class_output:
            out[s.class_output] = cp["CP_class"]
        return out
    if isinstance(s, BclcDerive):
        return {s.output: bclc_stage(c(s.number), c(s.largest_diameter), c(s.ps), c(s.child_pugh_class),
                                     c(s.vascular_invasion), c(s.extrahepatic_spread), diameter_unit=s.diameter_unit)}
    if isinstance(s, SixTwelveDerive):
        r = six_and_twelve(c(s.largest_diameter), c(s.number), diameter_unit=s.diameter_unit)
        out = {s.output: r["six12_score"]}
        if s.stratum_output:
            out[s.stratum_output] = r["six12_stratum"]
        return out
    if isinstance(s, AjccDerive):
        tcat = ajcc_t_category(c(s.number), c(s.largest_diameter), c(s.vascular_invasion),
                               c(s.major_vessel_invasion), c(s.adjacent_organ_invasion), diameter_unit=s.diameter_unit)
        out = {s.t_output: tcat}
        if s.n1 is not None and s.m1 is not None:
            out[s.output] = ajcc_stage(tcat, c(s.n1), c(s.m1))
        return out
    if isinstance(s, HklcDerive):
        diffuse = c(s.diffuse) if s.diffuse else False
        status = hklc_tumour_status(c(s.number), c(s.largest_diameter), c(s.intrahepatic_venous_invasion), diffuse,
                                    diameter_unit=s.diameter_unit)
        return {s.status_output: status,
                s.output: hklc_stage(c(s.ps), c(s.child_pugh_class), status,
                                     c(s.extrahepatic_vascular_invasion_or_metastasis))}
    if isinstance(s, NlrDerive):
        return {s.output: nlr(c(s.neutrophils), c(s.lymphocytes), unit=s.unit)}
    if isinstance(s, CrafityDerive):
        r = crafity(c(s.afp), c(s.crp), afp_unit=s.afp_unit, crp_unit=s.crp_unit)
        out = {s.output: r["CRAFITY"]}
        if s.group_output:
            out[s.group_output] = r["CRAFITY_group"]
        return out
    raise SpecError([f"derive.scores: no implementation for {type(s).__name__}"])  # pragma: no cover


def _as_output(s: pd.Series, index: pd.Index) -> pd.Series:
    """Numeric → float64 (NaN for missing); categorical stays categorical; labels → categorical."""
    s = s.reindex(index)
    if isinstance(s.dtype, pd.CategoricalDtype):
        return s
    if pd.api.types.is_numeric_dtype(s.dtype) or pd.api.types.is_bool_dtype(s.dtype):
        return pd.Series(s.astype("Float64").to_numpy(dtype=float, na_value=np.nan), index=index, name=s.name)
    return s.astype("category")


def _check_columns(spec: DeriveSpec, columns: list[str]) -> None:
    """Every declared input column exists (outputs of earlier scores count); every output is new."""
    problems: list[tuple[str, str]] = []
    have = set(columns)
    avail = set(have)
    for i, s in enumerate(spec.scores):
        for field, col in _input_fields(s).items():
            if col not in avail:
                problems.append((f"derive.scores[{i}].{field} ({s.score})", col))
        avail |= set(_score_outputs(s))
    for i, b in enumerate(spec.bins):
        if b.column not in avail:
            problems.append((f"derive.bins[{i}].column", b.column))
    for i, r in enumerate(spec.response):
        if r.from_ not in have:
            problems.append((f"derive.response[{i}].from", r.from_))
    if problems:
        field, col = problems[0]
        listed = "; ".join(f"{f} names column {c!r}" for f, c in problems)
        raise InputError(f"declared input column(s) not in the clinical table: {listed}", field=field,
                         hint=f"rename the column in the spec or the table; the table has {sorted(have)[:30]}")
    clash = [o for o in _declared_outputs(spec) if o in have]
    if clash:
        raise InputError(f"derived column(s) {clash} already exist in the clinical table", field=clash[0],
                         hint="give the derived column another name (output / name / names in derive:)")


def derive_columns(table: pd.DataFrame, spec: DeriveSpec | dict) -> tuple[pd.DataFrame, dict]:
    """The table with the declared derived columns added (same index and row order), and a record for run.json.

    record = {"bins": [{column, output, columns, bins, reference}], "scores": [{score, inputs, units,
    columns}], "response": [{from, columns}], "columns": [every added column], "n_missing": {column: count}}.
    Raises InputError naming the spec field and the column when an input column is absent or an output
    column exists already, and the clinical functions' DataError/InputError on implausible values.
    """
    spec = load_derive_spec(spec)
    if not isinstance(table, pd.DataFrame):
        raise InputError("derive_columns needs the clinical table as a DataFrame", field="table")
    _check_columns(spec, list(table.columns))
    out = table.copy()
    record: dict[str, Any] = {"bins": [], "scores": [], "response": [], "columns": [], "n_missing": {}}

    def add(cols: dict[str, pd.Series]) -> list[str]:
        for name, s in cols.items():
            out[name] = _as_output(s.rename(name), out.index)
            record["columns"].append(name)
            n_miss = int(out[name].isna().sum())
            record["n_missing"][name] = n_miss
            if n_miss:
                logger.warning("derived column %r: %d of %d rows missing (missing or unscorable inputs)",
                               name, n_miss, len(out))
        return list(cols)

    for s in spec.scores:
        cols = _compute_score(s, out)
        add(cols)
        record["scores"].append({
            "score": s.score, "inputs": _input_fields(s),
            "units": {k: v for k, v in s.model_dump().items() if k.endswith("_unit") or k == "unit"},
            "columns": list(cols)})
    for b in spec.bins:
        binner = Binner({b.column: list(b.bins)}, labels={b.column: list(b.labels)} if b.labels else None,
                        reference={b.column: b.reference} if b.reference is not None else None,
                        output=b.output, out_of_range=b.out_of_range)
        res = binner.fit(out[[b.column]]).transform(out[[b.column]])
        names = _bin_outputs(b)
        cols = dict(zip(names, (res[c] for c in res.columns)))
        add(cols)
        rec = binner.record()[b.column]
        record["bins"].append({"column": b.column, "output": b.output, "columns": names, **rec})
    for r in spec.response:
        src = out[r.from_]
        cols = {}
        if r.objective_response:
            cols[r.objective_response] = objective_response(src)
        if r.disease_control:
            cols[r.disease_control] = disease_control(src)
        if r.category:
            cat = src.astype(object).where(src.notna(), None).map(
                lambda v: v.strip().upper() if isinstance(v, str) else v)
            bad = cat.notna() & ~cat.isin(CATEGORIES)
            if bad.any():
                raise InputError(f"column {r.from_!r}: {cat[bad].iloc[0]!r} is not one of {CATEGORIES}",
                                 field=r.from_, case=str(cat.index[bad][0]), hint="recode to CR/PR/SD/PD/NE")
            cols[r.category] = pd.Series(pd.Categorical(cat, categories=CATEGORIES, ordered=True), index=src.index)
        add(cols)
        record["response"].append({"from": r.from_, "columns": list(cols)})
    logger.info("derived %d column(s): %s", len(record["columns"]), record["columns"])
    return out, record
