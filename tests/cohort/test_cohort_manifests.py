"""Named cohorts from separate manifests (issue 14 item 1): each manifest's rows get its cohort name and
its own folder for relative paths; one manifest and per-cohort manifests are mutually exclusive."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
import pytest

from hccrad.cohort.study import Study
from hccrad.config import load_spec, parse_spec
from hccrad.core.errors import InputError, SpecError


def _write(folder: Path, ids: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [{"case_id": i, **{f"image_{p}": f"img/{i}_{p}.nii.gz" for p in ("pre", "arterial", "portal")},
             "mask_tumor": f"img/{i}_tumor.nii.gz"} for i in ids]
    path = folder / "manifest.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_cohorts_from_separate_manifests(tmp_path):
    _write(tmp_path / "centre_a", ["A1", "A2"])
    _write(tmp_path / "centre_b", ["B1"])
    pd.DataFrame({"case_id": ["A1", "A2", "B1"], "y": [0, 1, 1]}).to_csv(tmp_path / "clin.csv", index=False)
    (tmp_path / "s.yaml").write_text(textwrap.dedent("""\
        name: t
        data:
          cohort_manifests: {training: centre_a/manifest.csv, external_test: centre_b/manifest.csv}
          clinical: clin.csv
        cohorts: {training: training, tests: [external_test]}
        outcome: {response: {column: y}}
        """))
    study = Study(load_spec(tmp_path / "s.yaml"))
    t = study.table
    assert dict(t["cohort"]) == {"A1": "training", "A2": "training", "B1": "external_test"}
    assert t.loc["B1", "image_portal"] == str((tmp_path / "centre_b" / "img" / "B1_portal.nii.gz").resolve())
    assert study.cohort_names == ["training", "external_test"]


def test_duplicate_ids_across_manifests_are_refused(tmp_path):
    _write(tmp_path / "a", ["X1"])
    _write(tmp_path / "b", ["X1"])
    spec = parse_spec({"name": "t", "data": {"cohort_manifests": {"training": str(tmp_path / "a/manifest.csv"),
                                                                  "test": str(tmp_path / "b/manifest.csv")}},
                       "outcome": {"response": {"column": "y"}}})
    with pytest.raises(InputError, match="duplicated case ids"):
        _ = Study(spec).table


def test_one_source_of_manifests():
    with pytest.raises(SpecError, match="either data.manifest"):
        parse_spec({"name": "t", "data": {"manifest": "m.csv", "cohort_manifests": {"training": "a.csv"}},
                    "outcome": {"response": {"column": "y"}}})
    with pytest.raises(SpecError, match="clinical-only study needs at least the clinical table"):
        parse_spec({"name": "t", "data": {}, "outcome": {"response": {"column": "y"}}})
    clinical_only = parse_spec({"name": "t", "data": {"clinical": "c.csv"},
                                "outcome": {"response": {"column": "y"}},
                                "models": [{"name": "m", "features": "none", "clinical": ["a"]}]})
    assert not clinical_only.data.has_imaging
    with pytest.raises(SpecError, match="uses imaging features"):
        parse_spec({"name": "t", "data": {"clinical": "c.csv"}, "outcome": {"response": {"column": "y"}},
                    "models": [{"name": "m", "features": "habitat"}]})
