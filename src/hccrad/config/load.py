"""Load and validate a study spec from YAML, reporting every problem at once with its line and field.

YAML is read with `yaml.safe_load` semantics (a `SafeLoader` node tree, so each key keeps its line number);
pydantic validates the structure; `check_inputs` then checks what pydantic cannot see: that the manifest
and clinical files exist, can be read (`hccrad.io.tables`) and hold the columns the spec names, by the names
hccrad uses after `data.columns` renames them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hccrad.config.spec import StudySpec
from hccrad.core.errors import HccradError, SpecError, did_you_mean


def _line_index(node: yaml.Node, prefix: tuple = ()) -> dict[tuple, int]:
    """Map each key path (('data', 'manifest'), ('models', 0, 'name')) to its 1-based YAML line."""
    out: dict[tuple, int] = {prefix: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = prefix + (key_node.value,)
            out.update(_line_index(value_node, path))
            out[path] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            out.update(_line_index(item, prefix + (i,)))
    return out


def _nearest_line(lines: dict[tuple, int], loc: tuple) -> int | None:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            return lines[loc[:cut]]
    return None


def _format_loc(loc: tuple) -> str:
    parts = []
    for p in loc:
        parts.append(f"[{p}]" if isinstance(p, int) else ("." if parts else "") + str(p))
    return "".join(parts) or "(top level)"


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    """Make relative paths in the spec relative to the YAML file's folder (in place)."""
    data = raw.get("data")
    if isinstance(data, dict):
        for key in ("manifest", "clinical"):
            if isinstance(data.get(key), str):
                data[key] = str((base / data[key]).resolve()) if not Path(data[key]).is_absolute() else data[key]
        lm = data.get("liver_model")
        if isinstance(lm, dict) and isinstance(lm.get("folder"), str) and not Path(lm["folder"]).is_absolute():
            lm["folder"] = str((base / lm["folder"]).resolve())
        if isinstance(data.get("cohort_manifests"), dict):
            data["cohort_manifests"] = {k: str((base / v).resolve()) if isinstance(v, str) and not Path(v).is_absolute()
                                        else v for k, v in data["cohort_manifests"].items()}
    if isinstance(raw.get("output_dir"), str) and not Path(raw["output_dir"]).is_absolute():
        raw["output_dir"] = str((base / raw["output_dir"]).resolve())
    rg = raw.get("radiogenomics")
    if isinstance(rg, dict):
        for key in ("counts", "scores", "clinical"):
            if isinstance(rg.get(key), str) and not Path(rg[key]).is_absolute():
                rg[key] = str((base / rg[key]).resolve())
        if isinstance(rg.get("signatures"), list):
            rg["signatures"] = [str((base / p).resolve()) if isinstance(p, str) and not Path(p).is_absolute()
                                else p for p in rg["signatures"]]
        if isinstance(rg.get("gene_sets"), list):
            rg["gene_sets"] = [str((base / g).resolve()) if isinstance(g, str) and g.lower().endswith(".gmt")
                               and not Path(g).is_absolute() else g for g in rg["gene_sets"]]
    deep = raw.get("deep")
    if isinstance(deep, dict) and isinstance(deep.get("pretrained"), str):
        if not Path(deep["pretrained"]).is_absolute():
            deep["pretrained"] = str((base / deep["pretrained"]).resolve())
    rad = raw.get("features", {}).get("radiomics") if isinstance(raw.get("features"), dict) else None
    if isinstance(rad, dict) and isinstance(rad.get("params"), str) and not Path(rad["params"]).is_absolute():
        rad["params"] = str((base / rad["params"]).resolve())


def parse_spec(raw: dict[str, Any], *, lines: dict[tuple, int] | None = None,
               file: Path | None = None) -> StudySpec:
    """Validate a spec dictionary; raise `SpecError` listing every problem (with YAML lines if known)."""
    try:
        return StudySpec.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
            line = _nearest_line(lines, loc) if lines else None
            where = f"line {line}: " if line else ""
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (typo?) — remove it or check the spelling against docs/study_spec.md"
            problems.append(f"{where}{_format_loc(loc)}: {msg}")
        raise SpecError(problems, file=file) from None


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> None:
    """Set ``dotted.key=value`` overrides (value parsed as YAML) in the raw spec, in place.

    ``validation.bootstrap=50`` → raw["validation"]["bootstrap"] = 50; ``models.0.kind=svm`` indexes a list.
    A path through a missing mapping creates it; a bad path is a SpecError naming the override.
    """
    for text in overrides:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise SpecError([f"override {text!r} must look like key.path=value, e.g. validation.bootstrap=50"])
        parts = key.strip().split(".")
        node: Any = raw
        try:
            for part in parts[:-1]:
                if isinstance(node, list):
                    node = node[int(part)]
                else:
                    node = node.setdefault(part, {})
                    if node is None:
                        raise TypeError(part)
            leaf = parts[-1]
            parsed = yaml.safe_load(value) if value.strip() else None
            if isinstance(node, list):
                node[int(leaf)] = parsed
            elif isinstance(node, dict):
                node[leaf] = parsed
            else:
                raise TypeError(leaf)
        except (ValueError, IndexError, TypeError, yaml.YAMLError) as exc:
            raise SpecError([f"override {text!r}: cannot set {key.strip()} ({type(exc).__name__}: {exc})"]) from None


def load_spec(path: str | Path, *, check_files: bool = True, overrides: Sequence[str] = ()) -> StudySpec:
    """Read a study YAML, apply ``key.path=value`` overrides (`apply_overrides`), validate it and
    (optionally) check that its files and columns exist."""
    path = Path(path)
    if not path.is_file():
        raise SpecError([f"study file {path} does not exist"], file=path)
    text = path.read_text(encoding="utf-8")
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError([f"not valid YAML: {exc}"], file=path) from None
    if not isinstance(raw, dict):
        raise SpecError(["the study file must be a YAML mapping (key: value lines)"], file=path)
    lines = _line_index(node) if node is not None else {}
    apply_overrides(raw, overrides)
    _resolve_paths(raw, path.parent.resolve())
    spec = parse_spec(raw, lines=lines, file=path)
    if check_files:
        problems = check_inputs(spec, lines)
        if problems:
            raise SpecError(problems, file=path)
    return spec


def check_inputs(spec: StudySpec, lines: dict[tuple, int] | None = None) -> list[str]:
    """Problems with the files and columns the spec names (all of them, not just the first)."""
    # lazy: config.columns reads tables through hccrad.io (pydicom); loading a spec needs neither
    from hccrad.config.columns import mapping_header_problems, study_columns

    lines = lines or {}

    def at(*loc) -> str:
        line = _nearest_line(lines, loc)
        return f"line {line}: " if line else ""

    problems: list[str] = []
    manifest_cols: list[str] = []
    need = [spec.data.id_column] + [f"image_{p}" for p in spec.data.phases] + [f"mask_{spec.data.tumor_mask}"]
    for cohort, path in spec.data.manifests.items():
        where = at("data", "manifest") if cohort is None else at("data", "cohort_manifests", cohort)
        field = "data.manifest" if cohort is None else f"data.cohort_manifests.{cohort}"
        if not path.is_file():
            problems.append(f"{where}{field}: file {path} does not exist")
            continue
        try:
            cols = study_columns(path, spec.data, "manifest")
        except HccradError as exc:
            problems.append(f"{where}{field}: {exc.message}" + (f" ({exc.hint})" if exc.hint else ""))
            continue
        manifest_cols += cols
        for col in need:
            if col not in cols:
                problems.append(f"{where}manifest {path.name}: missing column {col!r}")
    clinical_cols: list[str] = []
    if spec.data.clinical is not None:
        if not spec.data.clinical.is_file():
            problems.append(f"{at('data', 'clinical')}data.clinical: file {spec.data.clinical} does not exist")
        else:
            try:
                clinical_cols = study_columns(spec.data.clinical, spec.data, "clinical")
            except HccradError as exc:
                problems.append(f"{at('data', 'clinical')}data.clinical: {exc.message}"
                                + (f" ({exc.hint})" if exc.hint else ""))
            if clinical_cols and spec.data.id_column not in clinical_cols:
                problems.append(f"{at('data', 'clinical')}clinical table {spec.data.clinical.name}: missing id "
                                f"column {spec.data.id_column!r}{did_you_mean(spec.data.id_column, clinical_cols)} "
                                "(set data.id_column to the column holding the patient ids, rename it with "
                                "data.columns, or number the rows with data.row_ids in a clinical-only study)")
    if not problems:
        problems += [f"{at('data')}{p}" for p in mapping_header_problems(spec)]
    if spec.deep is not None and spec.deep.pretrained is not None and not Path(spec.deep.pretrained).is_file():
        problems.append(f"{at('deep', 'pretrained')}deep.pretrained: file {spec.deep.pretrained} does not exist")
    available = set(manifest_cols) | set(clinical_cols)
    if available and spec.deep is not None:
        available.add("cnn_score")  # made by the deep stage before the models are fitted
    if available and spec.derive is not None:
        available |= _derived_names(spec.derive)
    if available:
        if spec.outcome.response and spec.outcome.response.column not in available:
            problems.append(f"{at('outcome', 'response', 'column')}outcome.response.column: "
                            f"{spec.outcome.response.column!r} is in neither the manifest nor the clinical table")
        if spec.outcome.survival:
            for key in ("time", "event"):
                col = getattr(spec.outcome.survival, key)
                if col not in available:
                    problems.append(f"{at('outcome', 'survival', key)}outcome.survival.{key}: "
                                    f"{col!r} is in neither the manifest nor the clinical table")
        if spec.associations is not None:
            for col in spec.associations.markers:
                if col not in available:
                    problems.append(f"{at('associations', 'markers')}associations.markers: {col!r} is in neither "
                                    "the manifest nor the clinical table")
        for i, r in enumerate(spec.readers):
            if r.column not in available:
                problems.append(f"{at('readers', i, 'column')}readers[{i}].column: {r.column!r} is in neither "
                                "the manifest nor the clinical table")
        for i, m in enumerate(spec.models):
            for col in m.clinical:
                if col not in available:
                    problems.append(f"{at('models', i, 'clinical')}models[{i}].clinical: "
                                    f"column {col!r} not found in the clinical table{did_you_mean(col, available)}")
        if spec.outcome.survival:
            for key in ("covariates", "compare_with"):
                for col in getattr(spec.outcome.survival, key):
                    if col not in available:
                        problems.append(f"{at('outcome', 'survival', key)}outcome.survival.{key}: column {col!r} "
                                        f"is in neither the manifest nor the clinical table"
                                        f"{did_you_mean(col, available)}")
        for col in spec.report.table_one_by:
            if col not in available:
                problems.append(f"{at('report', 'table_one_by')}report.table_one_by: column {col!r} is in neither "
                                f"the manifest nor the clinical table{did_you_mean(col, available)}")
        for key, cols in (("table_one", spec.report.table_one or []),
                          ("table_one_labels", spec.report.table_one_labels)):
            for col in cols:
                if col not in available:
                    problems.append(f"{at('report', key)}report.{key}: column {col!r} is in neither the manifest "
                                    f"nor the clinical table{did_you_mean(col, available)}")
    return problems


def _derived_names(derive) -> set[str]:
    """Column names `derive:` will add (so models may name them before they exist)."""
    names: set[str] = set()
    for entry in [*derive.scores, *derive.response]:
        for key, value in entry.model_dump().items():
            if (key == "output" or key.endswith("_output") or key in ("objective_response", "disease_control",
                                                                     "category")) and isinstance(value, str):
                names.add(value)
    for b in derive.bins:
        names.add(b.name or f"{b.column}_bin")
        names |= set((b.names or {}).values())
    return names


def dump_spec(spec: StudySpec) -> dict[str, Any]:
    """The resolved spec as plain JSON-able data (written into every output folder)."""
    return spec.model_dump(mode="json")
