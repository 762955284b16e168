"""tools/compare_runs.py (issue 25 acceptance): two runs' run.json numbers and CSV tables, exact by default,
each difference with value, reference and its size; exit 1 on any. Synthetic run folders, no study run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def compare_runs(repo_tool):
    return repo_tool("compare_runs")


def _run(folder: Path, *, auc=0.8123, ari=0.95, cell="0.71", ci="3.20 (1.40-7.10)", total_s=12.5) -> Path:
    """A minimal finished run: run.json, a bundle, the feature table and a report table."""
    (folder / "features").mkdir(parents=True)
    (folder / "models" / "habitat").mkdir(parents=True)
    (folder / "report" / "tables").mkdir(parents=True)
    (folder / "cache" / "imaging").mkdir(parents=True)
    run = {"seed": 3, "started_unix": 1_700_000_000 + total_s, "timings_s": {"total": total_s},
           "versions": {"hccrad": "0.1.0"}, "cache": {"imaging": {"computed": 4, "from_cache": 0}},
           "models": {"habitat": {"optimism_corrected_auc": auc, "bundle": str(folder / "models" / "habitat"),
                                  "resampling": {"flagged": False, "used": 10}}},
           "habitat_robustness": {"stability": {"per_resample": [{"ari": ari}, {"ari": 0.9}]}}}
    (folder / "run.json").write_text(json.dumps(run))
    (folder / "models" / "habitat" / "bundle.json").write_text(json.dumps({"intercept": -0.5, "name": "habitat"}))
    (folder / "features" / "habitat_features.csv").write_text(
        f"case_id,habitat1_fraction,note\nSYN0001,{cell},ok\nSYN0002,0.29,ok\n")
    (folder / "report" / "tables" / "or.csv").write_text(
        f'variable,OR (95% CI),serve\nafp,"{ci}",hccrad serve {folder}/models/habitat\n')
    (folder / "cache" / "imaging" / "x.csv").write_text(f"a\n{total_s}\n")  # a cache is not a result
    return folder


def test_two_runs_with_the_same_numbers_agree_whatever_their_folders_timings_and_caches(tmp_path, capsys,
                                                                                        compare_runs):
    old = _run(tmp_path / "old")
    new = _run(tmp_path / "new", total_s=99.0)
    assert compare_runs.main([str(old), str(new)]) == 0
    assert "no differences: 4 files compared (exact)" in capsys.readouterr().out


def test_every_difference_is_reported_with_value_reference_and_size(tmp_path, capsys, compare_runs):
    old = _run(tmp_path / "old")
    new = _run(tmp_path / "new", auc=0.8124, ari=0.96, cell="0.72", ci="3.30 (1.40-7.10)")
    assert compare_runs.main([str(old), str(new)]) == 1
    out = capsys.readouterr().out
    assert ("run.json: models/habitat/optimism_corrected_auc: value 0.8124, reference 0.8123, abs diff 0.0001, "
            "rel diff 0.000123") in out
    assert "run.json: habitat_robustness/stability/per_resample[0]/ari: value 0.96, reference 0.95" in out
    assert "features/habitat_features.csv: row 1, column 'habitat1_fraction': value 0.72, reference 0.71" in out
    assert "report/tables/or.csv: row 1, column 'OR (95% CI)': value '3.30 (1.40-7.10)'" in out
    assert "4 difference(s) in 3 of 4 files compared (exact)" in out


def test_tolerances_accept_small_differences_only(tmp_path, compare_runs):
    old = _run(tmp_path / "old")
    new = _run(tmp_path / "new", auc=0.8123 * (1 + 1e-9), cell="0.7100000001")
    assert compare_runs.main([str(old), str(new)]) == 1
    assert compare_runs.main([str(old), str(new), "--rtol", "1e-6"]) == 0
    assert compare_runs.main([str(old), str(new), "--atol", "1e-6"]) == 0
    assert compare_runs.main([str(old), str(new), "--atol", "1e-12"]) == 1


def test_a_missing_number_file_or_row_and_a_flipped_flag_are_differences(tmp_path, compare_runs):
    old = _run(tmp_path / "old")
    new = _run(tmp_path / "new")
    run = json.loads((new / "run.json").read_text())
    del run["models"]["habitat"]["optimism_corrected_auc"]
    run["models"]["habitat"]["resampling"]["flagged"] = True
    (new / "run.json").write_text(json.dumps(run))
    (new / "report" / "tables" / "or.csv").unlink()
    (new / "features" / "habitat_features.csv").write_text("case_id,habitat1_fraction,note\nSYN0001,0.71,ok\n")
    diffs, _ = compare_runs.compare_runs(old, new)
    where = {d.where: d for d in diffs}
    assert where["run.json: models/habitat/optimism_corrected_auc"].value == "(absent)"
    assert where["run.json: models/habitat/resampling/flagged"].value is True
    assert where["report/tables/or.csv"].value == "(absent)"
    assert where["features/habitat_features.csv: number of rows"].reference == 2
    assert len(diffs) == 4


def test_ignored_keys_and_a_folder_that_is_not_a_run(tmp_path, capsys, compare_runs):
    old = _run(tmp_path / "old")
    new = _run(tmp_path / "new", auc=0.9)
    assert compare_runs.main([str(old), str(new), "--ignore", "optimism_corrected_auc"]) == 0
    shutil.rmtree(new)
    new.mkdir()
    assert compare_runs.main([str(old), str(new)]) == 2
    assert "no run.json" in capsys.readouterr().err


@pytest.mark.parametrize(("value", "reference", "same"), [
    (float("nan"), float("nan"), True), (float("inf"), float("inf"), True), (1.0, float("nan"), False),
    (0.0, -0.0, True), (1.0, 1.0 + 1e-15, False),
])
def test_numbers_agree_like_numpy_isclose_with_equal_nan(value, reference, same, compare_runs):
    assert compare_runs.close(value, reference, 0.0, 0.0) is same
