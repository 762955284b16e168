"""Compare two finished hccrad runs (issue 25, acceptance: "behaviour unchanged"), e.g. the same study run on
the commit before and after a refactor:

    .venv/bin/python tools/compare_runs.py OLD_OUT NEW_OUT [--rtol 0] [--atol 0]

What is compared (OLD is the reference, NEW the value):
- ``run.json`` and every ``*.json`` under ``models/`` (bundles, the habitat model): every numeric leaf, by its
  path (``models/habitat/optimism_corrected_auc``, ``habitat_robustness/stability/per_resample[3]/ari``);
  booleans exactly; a numeric leaf present in only one run is a difference. Timings, dates, versions and
  cache counts are not results and are skipped (``--ignore`` adds key patterns); strings (paths, formulas,
  messages) are not compared.
- every ``*.csv`` of the run (features/, patients.csv, report/tables/, report/table1_*.csv; not cache/):
  the same files, columns and rows, then cell by cell: numbers (also the numbers inside a formatted cell such
  as ``3.20 (1.40-7.10)``, when the text around them is the same) within the tolerance, any other text
  exactly. The run's own folder in a cell (``hccrad serve OLD_OUT/models/x``) is read as ``<OUT>``.

Two numbers agree when ``|value - reference| <= atol + rtol * |reference|`` (numpy.isclose; NaN agrees with
NaN). The default is exact: a refactor must give the same numbers. Each difference is printed with value,
reference, absolute and relative difference; the exit status is 1 when there is any, 0 when none, 2 when a
folder is not a finished run.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

#: key patterns (fnmatch, matched against each key of a JSON path) that are not results
DEFAULT_IGNORE = ("timings_s", "versions", "started_unix", "*_unix", "*date*", "*timestamp*", "cache")
_NUMBER = re.compile(r"[-+−]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
MAX_SHOWN_PER_FILE = 20


@dataclass(frozen=True)
class Difference:
    """One difference: `where` (file and key or cell), NEW's `value` and OLD's `reference`."""

    where: str
    value: object
    reference: object

    def __str__(self) -> str:
        text = f"{self.where}: value {self.value!r}, reference {self.reference!r}"
        if _is_number(self.value) and _is_number(self.reference):
            a, b = float(self.value), float(self.reference)
            if math.isfinite(a) and math.isfinite(b):
                rel = abs(a - b) / abs(b) if b != 0 else math.inf
                text += f", abs diff {abs(a - b):.3g}, rel diff {rel:.3g}"
        return text


def _is_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def close(value: float, reference: float, rtol: float, atol: float) -> bool:
    """numpy.isclose(value, reference, rtol, atol, equal_nan=True) for two Python numbers."""
    if math.isnan(value) or math.isnan(reference):
        return math.isnan(value) and math.isnan(reference)
    if math.isinf(value) or math.isinf(reference):
        return value == reference
    return abs(value - reference) <= atol + rtol * abs(reference)


# ---- JSON ------------------------------------------------------------------------------------------------

def numeric_leaves(document, ignore=DEFAULT_IGNORE, path: str = "") -> dict[str, object]:
    """{path: number or bool} for every numeric or boolean leaf of a JSON document, ignored keys left out."""
    out: dict[str, object] = {}
    if isinstance(document, dict):
        for key, value in document.items():
            if any(fnmatch.fnmatchcase(str(key), pattern) for pattern in ignore):
                continue
            out.update(numeric_leaves(value, ignore, f"{path}/{key}" if path else str(key)))
    elif isinstance(document, list):
        for i, value in enumerate(document):
            out.update(numeric_leaves(value, ignore, f"{path}[{i}]"))
    elif isinstance(document, (bool, int, float)):
        out[path] = document
    return out


def compare_json(old: Path, new: Path, name: str, *, rtol: float = 0.0, atol: float = 0.0,
                 ignore=DEFAULT_IGNORE) -> list[Difference]:
    ref = numeric_leaves(json.loads(old.read_text(encoding="utf-8")), ignore)
    val = numeric_leaves(json.loads(new.read_text(encoding="utf-8")), ignore)
    diffs = []
    for key in sorted(set(ref) | set(val)):
        where = f"{name}: {key}"
        if key not in val or key not in ref:
            diffs.append(Difference(where, val.get(key, "(absent)"), ref.get(key, "(absent)")))
        elif isinstance(ref[key], bool) or isinstance(val[key], bool):
            if ref[key] is not val[key]:
                diffs.append(Difference(where, val[key], ref[key]))
        elif not close(float(val[key]), float(ref[key]), rtol, atol):
            diffs.append(Difference(where, val[key], ref[key]))
    return diffs


# ---- tables ----------------------------------------------------------------------------------------------

def _read_csv(path: Path, out_dir: Path) -> pd.DataFrame:
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return table.map(lambda cell: cell.replace(str(out_dir), "<OUT>"))


def _cells_agree(value: str, reference: str, rtol: float, atol: float) -> bool:
    if value == reference:
        return True
    numbers_v, numbers_r = _NUMBER.findall(value), _NUMBER.findall(reference)
    if not numbers_r or _NUMBER.sub("#", value) != _NUMBER.sub("#", reference) or len(numbers_v) != len(numbers_r):
        return False  # different text around the numbers, or no numbers at all: must be equal
    return all(close(_float(v), _float(r), rtol, atol) for v, r in zip(numbers_v, numbers_r))


def _float(text: str) -> float:
    return float(text.replace("−", "-"))


def _cell(text: str):
    """A cell as printed in a difference: the number when the whole cell is one."""
    try:
        return float(text)
    except ValueError:
        return text


def compare_table(old: Path, new: Path, name: str, old_dir: Path, new_dir: Path, *, rtol: float = 0.0,
                  atol: float = 0.0) -> list[Difference]:
    ref, val = _read_csv(old, old_dir), _read_csv(new, new_dir)
    if list(ref.columns) != list(val.columns):
        return [Difference(f"{name}: columns", list(val.columns), list(ref.columns))]
    if len(ref) != len(val):
        return [Difference(f"{name}: number of rows", len(val), len(ref))]
    diffs = []
    for column in ref.columns:
        for row, (v, r) in enumerate(zip(val[column], ref[column])):
            if not _cells_agree(v, r, rtol, atol):
                diffs.append(Difference(f"{name}: row {row + 1}, column {column!r}", _cell(v), _cell(r)))
    return diffs


# ---- runs ------------------------------------------------------------------------------------------------

def _files(out: Path, pattern: str) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob(pattern)
            if p.is_file() and "cache" not in p.relative_to(out).parts}


def compare_runs(old: Path, new: Path, *, rtol: float = 0.0, atol: float = 0.0,
                 ignore=DEFAULT_IGNORE) -> tuple[list[Difference], int]:
    """(differences, number of files compared) between two run folders; OLD is the reference."""
    old, new = Path(old).resolve(), Path(new).resolve()
    for folder in (old, new):
        if not (folder / "run.json").is_file():
            raise FileNotFoundError(f"{folder}: no run.json (not a finished hccrad run)")
    diffs: list[Difference] = []
    jsons = {"run.json"} | {f for f in _files(old, "*.json") | _files(new, "*.json") if f.startswith("models/")}
    tables = _files(old, "*.csv") | _files(new, "*.csv")
    for name in sorted(jsons | tables):
        if not (old / name).is_file() or not (new / name).is_file():
            diffs.append(Difference(name, "present" if (new / name).is_file() else "(absent)",
                                    "present" if (old / name).is_file() else "(absent)"))
        elif name in jsons:
            diffs += compare_json(old / name, new / name, name, rtol=rtol, atol=atol, ignore=ignore)
        else:
            diffs += compare_table(old / name, new / name, name, old, new, rtol=rtol, atol=atol)
    return diffs, len(jsons | tables)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path, help="the reference run's output folder (holds run.json)")
    parser.add_argument("new", type=Path, help="the run to check against it")
    parser.add_argument("--rtol", type=float, default=0.0, help="relative tolerance (default 0: exact)")
    parser.add_argument("--atol", type=float, default=0.0, help="absolute tolerance (default 0: exact)")
    parser.add_argument("--ignore", action="append", default=[], metavar="KEY",
                        help=f"also skip JSON keys matching this pattern (skipped always: {', '.join(DEFAULT_IGNORE)})")
    args = parser.parse_args(argv)
    try:
        diffs, n_files = compare_runs(args.old, args.new, rtol=args.rtol, atol=args.atol,
                                      ignore=DEFAULT_IGNORE + tuple(args.ignore))
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    shown: dict[str, int] = {}
    for d in diffs:
        file = d.where.split(":")[0]
        shown[file] = shown.get(file, 0) + 1
        if shown[file] <= MAX_SHOWN_PER_FILE:
            print(d)
    for file, n in shown.items():
        if n > MAX_SHOWN_PER_FILE:
            print(f"{file}: {n - MAX_SHOWN_PER_FILE} more differences not shown")
    tolerance = f"rtol={args.rtol:g}, atol={args.atol:g}" if args.rtol or args.atol else "exact"
    print(f"{len(diffs)} difference(s) in {len(shown)} of {n_files} files compared ({tolerance})"
          if diffs else f"no differences: {n_files} files compared ({tolerance})")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
