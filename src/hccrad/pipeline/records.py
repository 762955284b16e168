"""Typed stage results as files, and back: JSON for structure and numbers, Parquet for tables, one `.npz`
for arrays. Never pickle, and the loader constructs only the result types listed in `trusted_result_types`
(an exact allow-list of full class names, as `hccrad.models.trusted_types` does for model bundles).

A record is one JSON document per section (`results/<section>.json`) with its tables in
`results/<section>/t<i>.parquet` and its arrays in `results/<section>.npz`:

    {"format": "hccrad-results", "schema_version": 1, "hccrad_version": "...", "section": "survival",
     "value": <encoded value>}

Encoded values (every non-scalar carries exactly one marker key, so a plain JSON object never occurs):
    null, bool, int, finite float, str  as JSON          non-finite float  {"$float": "nan" | "inf" | "-inf"}
    list  JSON array                                       tuple            {"$tuple": [...]}
    dict  {"$dict": {key: value}} (str keys) or {"$items": [[key, value], ...]} (other keys, e.g. tuples)
    Path  {"$path": "..."}                                 numpy array / scalar  {"$array": "a<i>", ...} (npz key;
                                                             an object array of text is stored as unicode)
    DataFrame / Series  {"$frame": "t<i>.parquet", "columns": [...], "index_names": [...], "series": bool}
    result dataclass    {"$type": "<module>.<Class>", "fields": {name: value}}   (every init field, no other)
    spec model          {"$spec": "<module>.<Class>", "fields": {...}}           (pydantic, extra="forbid")

A table's column labels and index names are kept in the JSON (Parquet needs string names); an object column
that Parquet cannot hold (mixed numbers and text) is kept in the JSON, cell by cell. Floats are written
with Python's shortest round-trip repr, so a number read back is the number written (byte-identical tables
when the report is rebuilt, `hccrad report`).
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import ValidationError

from hccrad import __version__
from hccrad.core.errors import HccradError

__all__ = ["FORMAT", "SCHEMA_VERSION", "RecordError", "trusted_result_types", "read_record", "write_record"]

FORMAT = "hccrad-results"
SCHEMA_VERSION = 1
_FRAME_NAME = re.compile(r"t\d+\.parquet")
_ARRAY_NAME = re.compile(r"a\d+")
MARKERS = ("$float", "$tuple", "$dict", "$items", "$path", "$array", "$frame", "$type", "$spec")


class RecordError(HccradError):
    """A results record that hccrad did not write in this form (unknown type, extra or missing field, other
    schema version): refused before anything is constructed from it."""


@functools.cache
def trusted_result_types() -> dict[str, type]:
    """Full class name -> class: every type a results record may construct. Nothing else is ever built."""
    # lazy: every stage's result module, loaded at the first record written or read; the codec imports alone
    from hccrad.config.spec import ModelSpec, SurvivalOutcome
    from hccrad.evaluate.calibration import CalibrationResult, HosmerLemeshowResult
    from hccrad.evaluate.descriptive import TableOneResult
    from hccrad.evaluate.readers import ReaderComparisonResult
    from hccrad.habitat.kselect import KSelection
    from hccrad.habitat.stability import HabitatStability
    from hccrad.models.validation import OptimismResult, ResampleFailure
    from hccrad.pipeline.evaluation import CohortData, Evaluation
    from hccrad.pipeline.habitat_robustness import HabitatRobustness
    from hccrad.pipeline.imaging import ImagingResult
    from hccrad.pipeline.result_types import (AssociationsRecord, CohortCounts, DeepRecord, LassoRecord, ModelRecord,
                                         ModelsRecord, OddsRatioRecord, ReadersRecord, TableOneEntry, TableOneRecord,
                                         TruthRecord)
    from hccrad.pipeline.survival_stage import (CalibrationCell, GroupedSurvival, RiskDirection,
                                                StagingComparison, SurvivalDecisionCell, SurvivalResult)
    from hccrad.survival.calibration import SurvivalCalibrationResult
    from hccrad.survival.compare import ScoreComparison
    from hccrad.survival.cox import CoxResult
    from hccrad.survival.cutpoint import CutpointResult
    from hccrad.survival.kaplan_meier import KaplanMeierResult, KMCurve
    from hccrad.survival.logrank import LogrankResult
    from hccrad.survival.nomogram import Nomogram
    from hccrad.survival.time_auc import TimeAUCResult

    classes = (ModelSpec, SurvivalOutcome, CalibrationResult, HosmerLemeshowResult, KSelection, OptimismResult,
               ResampleFailure, CohortData, Evaluation, ImagingResult, CohortCounts, LassoRecord, ModelRecord,
               ModelsRecord, OddsRatioRecord, TruthRecord, CalibrationCell, GroupedSurvival, RiskDirection,
               StagingComparison, SurvivalDecisionCell, SurvivalResult, SurvivalCalibrationResult,
               ScoreComparison, CoxResult, CutpointResult, KaplanMeierResult, KMCurve, LogrankResult, Nomogram,
               TimeAUCResult, TableOneResult, ReaderComparisonResult, AssociationsRecord, ReadersRecord,
               TableOneEntry, TableOneRecord, HabitatRobustness, HabitatStability, DeepRecord,
               *_figure_data_types(), *_radiogenomics_types())
    return {f"{c.__module__}.{c.__qualname__}": c for c in classes}


def _radiogenomics_types() -> tuple[type, ...]:
    """The radiogenomics stage's result (`hccrad.radiogenomics.pipeline.RadiogenomicsResult`) and its parts."""
    # lazy: like trusted_result_types, loaded at the first record written or read (the codec imports alone)
    from hccrad.radiogenomics.de import DEResult
    from hccrad.radiogenomics.enrichment import GseaResult, OraResult
    from hccrad.radiogenomics.groups import GroupAssignment
    from hccrad.radiogenomics.immune import SsgseaResult
    from hccrad.radiogenomics.pipeline import RadiogenomicsConfig, RadiogenomicsResult

    return RadiogenomicsResult, RadiogenomicsConfig, GroupAssignment, DEResult, OraResult, GseaResult, SsgseaResult


def _figure_data_types() -> tuple[type, ...]:
    """The data the CNN stage's figures are drawn from (`hccrad.report.figures.deep`: arrays, tables, text)."""
    # lazy: like trusted_result_types, loaded at the first record written or read (the codec imports alone)
    from hccrad.report.figures.deep import (ActivationFigure, ArchComparisonFigure, CamOverlayFigure, CamPanel,
                                            LossCurvesFigure)

    return ActivationFigure, ArchComparisonFigure, CamOverlayFigure, CamPanel, LossCurvesFigure


def _is_mapping(v: Any) -> bool:
    return isinstance(v, dict) or (hasattr(v, "items") and hasattr(v, "keys") and not hasattr(v, "model_dump"))


def _type_name(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _init_fields(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls) if f.init]


# ---------------------------------------------------------------------------------------------- writing


class _Writer:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.arrays: dict[str, np.ndarray] = {}
        self.n_frames = 0

    def encode(self, v: Any, where: str) -> Any:
        """A value as JSON, with one marker per kind that JSON cannot hold (module docstring)."""
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, (int, float)) and not isinstance(v, np.generic):
            if isinstance(v, float) and not math.isfinite(v):
                return {"$float": "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}
            return v
        if isinstance(v, (np.ndarray, np.generic)):
            return self._array(np.asarray(v) if isinstance(v, np.ndarray) else v, where)
        if isinstance(v, Path):
            return {"$path": str(v)}
        if isinstance(v, (pd.DataFrame, pd.Series)):
            return self._frame(v, where)
        if isinstance(v, (tuple, list)) or _is_mapping(v):
            return self._container(v, where)
        return self._object(v, where)

    def _container(self, v: Any, where: str) -> Any:
        if isinstance(v, tuple):
            return {"$tuple": [self.encode(x, f"{where}[{i}]") for i, x in enumerate(v)]}
        if isinstance(v, list):
            return [self.encode(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if all(isinstance(k, str) for k in v.keys()):
            return {"$dict": {k: self.encode(x, f"{where}.{k}") for k, x in v.items()}}
        return {"$items": [[self.encode(k, f"{where} key"), self.encode(x, f"{where}[{k!r}]")]
                           for k, x in v.items()]}

    def _object(self, v: Any, where: str) -> dict:
        """A listed result type: a dataclass field by field, a pydantic spec as its JSON dump."""
        name = _type_name(v)
        if name not in trusted_result_types():
            raise RecordError(f"a {name} cannot be written to a results record (not a listed result type)",
                              field=where, hint="add the type to hccrad.pipeline.records.trusted_result_types, or record "
                                                "what the report needs from it in a result dataclass")
        if dataclasses.is_dataclass(v):
            return {"$type": name, "fields": {f: self.encode(getattr(v, f), f"{where}.{f}")
                                              for f in _init_fields(type(v))}}
        return {"$spec": name, "fields": v.model_dump(mode="json")}

    def _array(self, a, where: str) -> dict:
        text = isinstance(a, np.ndarray) and a.dtype == object
        if text and not all(isinstance(x, str) for x in a.ravel()):  # npz without pickle holds no objects
            self._fail(where, "an object array of other values than text")
        key = f"a{len(self.arrays)}"
        self.arrays[key] = a.astype(str) if text else np.asarray(a)
        return {"$array": key, "scalar": isinstance(a, np.generic), "text": text}

    def _json_column(self, col: pd.Series, where: str) -> dict:
        """A column Parquet cannot hold, cell by cell (intervals as [left, right, closed]); a categorical keeps
        its categories and order."""
        def cell(x):
            if isinstance(x, pd.Interval):
                return {"$interval": [self.encode(x.left, where), self.encode(x.right, where), x.closed]}
            return self.encode(x, where)  # a missing category is NaN, read back as missing

        categorical = isinstance(col.dtype, pd.CategoricalDtype)
        return {"cells": [cell(x) for x in col.tolist()],
                "categories": [cell(x) for x in col.cat.categories] if categorical else None,
                "ordered": bool(col.cat.ordered) if categorical else False}

    @staticmethod
    def _fail(where: str, what: str):
        raise RecordError(f"{what} cannot be written to a results record", field=where)

    def _frame(self, v: pd.DataFrame | pd.Series, where: str) -> dict:
        series = isinstance(v, pd.Series)
        df = v.to_frame() if series else v
        labels = [self.encode(c, f"{where}.columns") for c in df.columns]
        multi = isinstance(df.columns, pd.MultiIndex)
        flat = df.copy(deep=False)
        flat.columns = [str(i) for i in range(df.shape[1])]
        names = [self.encode(n, f"{where}.index") for n in df.index.names]
        flat.index = flat.index.set_names([f"__i{i}" for i in range(df.index.nlevels)])
        kept_in_json = {col: self._json_column(flat[col], f"{where}[{labels[i]!r}]")
                        for i, col in enumerate(flat.columns) if not _parquet_holds(flat[col])}
        table = pa.Table.from_pandas(flat.drop(columns=list(kept_in_json)), preserve_index=True)
        name = f"t{self.n_frames}.parquet"
        self.n_frames += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, self.folder / name)
        return {"$frame": name, "series": series, "columns": labels, "multi_columns": multi,
                "column_names": [self.encode(n, where) for n in df.columns.names], "index_names": names,
                "json_columns": kept_in_json}


def _parquet_holds(col: pd.Series) -> bool:
    """Whether Parquet stores the column as it is (not: mixed text and numbers, intervals, ...; nor an object
    column with missing values, which Parquet reads back as None where pandas had NaN)."""
    if col.dtype == object and col.isna().any():
        return False
    try:
        pq.write_table(pa.Table.from_pandas(col.to_frame(), preserve_index=False), io.BytesIO())
    except (pa.ArrowException, OSError):  # e.g. a column of empty mappings (a struct with no fields)
        return False
    return True


def write_record(value: Any, folder: Path, section: str) -> Path:
    """Write `value` as `folder/<section>.json` (+ `folder/<section>/` tables, `folder/<section>.npz`)."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = folder / section
    if tables.exists():
        shutil.rmtree(tables)
    w = _Writer(tables)
    doc = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "hccrad_version": __version__, "section": section,
           "value": w.encode(value, section)}
    npz = folder / f"{section}.npz"
    if w.arrays:
        buf = io.BytesIO()
        np.savez(buf, **w.arrays)
        npz.write_bytes(buf.getvalue())
    elif npz.exists():
        npz.unlink()
    path = folder / f"{section}.json"
    path.write_text(json.dumps(doc, allow_nan=False, ensure_ascii=False), encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------- reading


class _Reader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.tables = path.with_suffix("")
        npz = path.with_suffix(".npz")
        self.arrays = np.load(npz, allow_pickle=False) if npz.is_file() else {}

    def refuse(self, message: str, where: str) -> RecordError:
        return RecordError(message, file=self.path, field=where,
                           hint="the results folder was changed by hand or written by another hccrad version: "
                                "rerun the study with this version (hccrad run STUDY) to write it again")

    def decode(self, v: Any, where: str) -> Any:
        """The value `encode` wrote; anything else is refused naming the file and the field path."""
        if v is None or isinstance(v, (bool, int, float, str)):
            return v
        if isinstance(v, list):
            return [self.decode(x, f"{where}[{i}]") for i, x in enumerate(v)]
        if not isinstance(v, dict) or len(set(v) & set(MARKERS)) != 1:
            raise self.refuse(f"not an encoded value (expected one of the markers {', '.join(MARKERS)})", where)
        marker = next(k for k in v if k in MARKERS)
        if marker in ("$float", "$tuple", "$dict", "$items", "$path"):
            return self._plain(marker, v[marker], where)
        if marker == "$array":
            return self._array(v, where)
        if marker == "$frame":
            return self._frame(v, where)
        return self._object(marker, v, where)

    def _plain(self, marker: str, body: Any, where: str) -> Any:
        """Non-finite numbers, tuples, dicts (text keys or other keys), paths."""
        if marker == "$float":
            if body not in ("nan", "inf", "-inf"):
                raise self.refuse(f"unknown non-finite number {body!r}", where)
            return float(body)
        if marker == "$tuple":
            return tuple(self.decode(x, f"{where}[{i}]") for i, x in enumerate(self._list(body, where)))
        if marker == "$dict":
            if not isinstance(body, dict):
                raise self.refuse("$dict must hold a JSON object", where)
            return {k: self.decode(x, f"{where}.{k}") for k, x in body.items()}
        if marker == "$items":
            return {self._key(self.decode(k, f"{where} key")): self.decode(x, f"{where}[{k!r}]")
                    for k, x in (self._pair(p, where) for p in self._list(body, where))}
        return Path(str(body))

    def _list(self, body: Any, where: str) -> list:
        if not isinstance(body, list):
            raise self.refuse("expected a JSON array", where)
        return body

    def _pair(self, p: Any, where: str) -> tuple:
        if not isinstance(p, list) or len(p) != 2:
            raise self.refuse("an $items entry must be [key, value]", where)
        return p[0], p[1]

    @staticmethod
    def _key(k: Any) -> Any:
        return tuple(k) if isinstance(k, list) else k

    def _array(self, v: dict, where: str):
        key = v["$array"]
        if not isinstance(key, str) or not _ARRAY_NAME.fullmatch(key) or key not in self.arrays:
            raise self.refuse(f"array {key!r} is not in {self.path.with_suffix('.npz').name}", where)
        if set(v) != {"$array", "scalar", "text"}:
            raise self.refuse(f"array entry has fields {sorted(v)}, expected ['$array', 'scalar', 'text']", where)
        a = self.arrays[key]
        if a.dtype == object:
            raise self.refuse(f"array {key!r} holds objects", where)
        if v["text"]:  # an object array of text (e.g. feature names), stored as unicode
            return a.astype(object)
        return a[()] if v["scalar"] else a

    def _frame(self, v: dict, where: str) -> pd.DataFrame | pd.Series:
        expected = {"$frame", "series", "columns", "multi_columns", "column_names", "index_names", "json_columns"}
        if set(v) != expected:
            raise self.refuse(f"table entry has fields {sorted(v)}, expected {sorted(expected)}", where)
        name = v["$frame"]
        if not isinstance(name, str) or not _FRAME_NAME.fullmatch(name) or not (self.tables / name).is_file():
            raise self.refuse(f"table file {name!r} is not in {self.tables}", where)
        df = pq.read_table(self.tables / name).to_pandas()
        for col, entry in v["json_columns"].items():
            df[col] = self._json_column(entry, df.index, where)
        labels = self.decode(v["columns"], where)
        if len(labels) != df.shape[1]:
            raise self.refuse(f"table {name} has {df.shape[1]} columns, the record names {len(labels)}", where)
        df = df[[str(i) for i in range(len(labels))]]
        names = self.decode(v["column_names"], where)
        df.columns = (pd.MultiIndex.from_tuples([tuple(c) for c in labels], names=names) if v["multi_columns"]
                      else pd.Index(labels, dtype=object if not labels else None, name=names[0]))
        df.index = df.index.set_names(self.decode(v["index_names"], where))
        if v["series"]:
            return df.iloc[:, 0]
        return df

    def _json_column(self, entry: Any, index: pd.Index, where: str) -> pd.Series:
        if not isinstance(entry, dict) or set(entry) != {"cells", "categories", "ordered"}:
            raise self.refuse("a JSON table column has exactly the keys cells, categories, ordered", where)

        def cell(x):
            if isinstance(x, dict) and set(x) == {"$interval"}:
                left, right, closed = self._list(x["$interval"], where)
                if closed not in ("left", "right", "both", "neither"):
                    raise self.refuse(f"interval closed {closed!r}", where)
                return pd.Interval(self.decode(left, where), self.decode(right, where), closed=closed)
            return self.decode(x, where)

        cells = [cell(x) for x in self._list(entry["cells"], where)]
        if len(cells) != len(index):
            raise self.refuse(f"a JSON table column has {len(cells)} cells for {len(index)} rows", where)
        if entry["categories"] is None:
            return pd.Series(cells, index=index, dtype=object)
        categories = [cell(x) for x in self._list(entry["categories"], where)]
        dtype = pd.CategoricalDtype(pd.Index(categories) if categories else None, ordered=bool(entry["ordered"]))
        return pd.Series(pd.Categorical(cells, dtype=dtype), index=index)

    def _object(self, marker: str, v: dict, where: str) -> Any:
        name = v[marker]
        if set(v) != {marker, "fields"} or not isinstance(v["fields"], dict):
            raise self.refuse(f"an object entry has exactly the keys {marker!r} and 'fields'", where)
        if name not in trusted_result_types():
            raise self.refuse(f"unknown result type {name!r}: a results record constructs only hccrad's listed "
                              "result types", where)
        cls = trusted_result_types()[name]
        fields = v["fields"]
        if marker == "$spec":
            if dataclasses.is_dataclass(cls):
                raise self.refuse(f"{name} is a result type, not a spec model", where)

            try:
                return cls.model_validate(fields)
            except ValidationError as exc:
                raise self.refuse(f"{name} does not validate: {exc.errors()[0]['msg']} "
                                  f"({'.'.join(map(str, exc.errors()[0]['loc']))})", where) from None
        if not dataclasses.is_dataclass(cls):
            raise self.refuse(f"{name} is a spec model, not a result type", where)
        wanted = _init_fields(cls)
        extra = [f for f in fields if f not in wanted]
        if extra:
            raise self.refuse(f"{name} has no field {extra[0]!r}", f"{where}.{extra[0]}")
        missing = [f for f in wanted if f not in fields]
        if missing:
            raise self.refuse(f"{name} lacks its field {missing[0]!r}", f"{where}.{missing[0]}")
        return cls(**{f: self.decode(fields[f], f"{where}.{f}") for f in wanted})


def read_record(folder: Path, section: str) -> Any:
    """The value `write_record` wrote for `section`; a record hccrad would not write is refused (RecordError)."""
    path = folder / f"{section}.json"
    if not path.is_file():
        raise RecordError(f"no results record for section {section!r}", file=path,
                          hint="rerun the study with this version of hccrad (hccrad run STUDY) to write it")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RecordError(f"not a readable JSON record: {exc}", file=path,
                          hint="rerun the study (hccrad run STUDY) to write it again") from None
    r = _Reader(path)
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise r.refuse(f"not an hccrad results record (format {doc.get('format') if isinstance(doc, dict) else None!r})",
                       "format")
    if set(doc) != {"format", "schema_version", "hccrad_version", "section", "value"}:
        raise r.refuse(f"unexpected top-level keys {sorted(set(doc) - {'format', 'schema_version', 'hccrad_version', 'section', 'value'})}",
                       "record")
    if doc["schema_version"] != SCHEMA_VERSION:
        raise r.refuse(f"results schema version {doc['schema_version']!r} (written by hccrad {doc['hccrad_version']}); "
                       f"this hccrad reads version {SCHEMA_VERSION}", "schema_version")
    if doc["section"] != section:
        raise r.refuse(f"the record is for section {doc['section']!r}, not {section!r}", "section")
    return r.decode(doc["value"], section)
