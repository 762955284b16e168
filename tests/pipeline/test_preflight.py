"""One preflight (issue 19): `preflight(spec)` lists every input problem `run` would meet, at once;
`hccrad validate` prints them and fails on errors; `run_study` refuses them before any long stage.
Outcome coding: declared levels, blanks and undeclared values left out with their reason, events 0/1 or
declared. Every study here is a small clinical-only table written by the test."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from hccrad.cli import app
from hccrad.cohort.outcomes import code_levels, response_left_out
from hccrad.cohort.study import Study
from hccrad.config import load_spec
from hccrad.core.errors import InputError, SpecError
from hccrad.pipeline.preflight import PreflightError, errors_of, format_problems, preflight
from hccrad.pipeline.run import run_study

runner = CliRunner()
N = 40


def clinical_table(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.normal(60, 10, N).round(1)
    afp = rng.lognormal(3, 1, N).round(1)
    y = (rng.random(N) < 1 / (1 + np.exp(-(age - 60) / 8))).astype(int)
    y[:2] = [0, 1]
    return pd.DataFrame({
        "pid": [f"P{i:03d}" for i in range(N)], "age": age, "afp": afp, "response": y,
        "os": rng.exponential(20, N).round(1), "death": (rng.random(N) < 0.7).astype(int),
        "stage": rng.integers(0, 3, N)})


def write_study(tmp_path, table: pd.DataFrame, *, outcome: dict | None = None, models: list | None = None,
                **extra) -> "Path":  # noqa: F821
    table.to_csv(tmp_path / "clinical.csv", index=False)
    spec = {"name": "preflight test", "seed": 0, "output_dir": "results",
            "data": {"clinical": "clinical.csv", "id_column": "pid"},
            "cohorts": {"column": None},
            "outcome": outcome if outcome is not None else {"response": {"column": "response"}},
            "models": models if models is not None else [{"name": "clin", "features": "none",
                                                          "clinical": ["age", "afp"],
                                                          "clinical_selection": "all"}],
            "validation": {"bootstrap": 0}, **extra}
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def messages(problems) -> str:
    return format_problems(problems)


# ---- outcome coding -----------------------------------------------------------------------------------

def test_code_levels_numbers_as_numbers_text_as_text_others_nan():
    values = pd.Series([1, 0.0, "1", " yes", "no", 3, None, "", np.nan], dtype=object)
    assert code_levels(values, {1: 1, 0: 0}).tolist()[:3] == [1.0, 0.0, 1.0]
    assert np.isnan(code_levels(values, {1: 1, 0: 0}).iloc[3:]).all()
    coded = code_levels(values, {"yes": 1, "no": 0})
    assert coded.iloc[3:5].tolist() == [1.0, 0.0] and coded.drop(index=[3, 4]).isna().all()
    recist = code_levels(pd.Series(["CR", "PR", "SD", "PD", "NE"]), {"CR": 1, "PR": 1, "SD": 0, "PD": 0})
    assert recist.iloc[:4].tolist() == [1, 1, 0, 0] and np.isnan(recist.iloc[4])


def test_blank_and_undeclared_values_are_left_out_with_their_reason(tmp_path):
    t = clinical_table()
    t["response"] = t["response"].astype(object)
    t.loc[3, "response"], t.loc[4, "response"] = None, 3
    spec = load_spec(write_study(tmp_path, t))
    problems = preflight(spec)
    assert not errors_of(problems), messages(problems)
    warned = {p.case_id: p.message for p in problems if p.severity == "warning"}
    assert set(warned) == {"P003", "P004"}
    assert "blank" in warned["P003"] and "3" in warned["P004"] and "not a declared level" in warned["P004"]
    left = response_left_out(spec, Study(spec).table)
    assert list(left["case_id"]) == ["P003", "P004"]

    res = run_study(spec)
    run = json.loads(res.run_json.read_text())
    assert {r["case_id"] for r in run["cases_left_out"]} == {"P003", "P004"}
    assert run["n_cases_analysed"] == N - 2
    row = res.metrics.iloc[0]
    y = pd.to_numeric(t["response"].drop(index=[3, 4]))
    assert (int(row["n"]), int(row["events"])) == (N - 2, int(y.sum())), "n and events on the analysed cases"
    html = res.report.read_text()
    assert "P003" in html and "blank outcome" in html


def test_yes_no_outcome_needs_declared_levels(tmp_path):
    t = clinical_table()
    t["response"] = t["response"].map({1: "yes", 0: "no"})
    problems = preflight(load_spec(write_study(tmp_path, t)))
    errs = errors_of(problems)
    assert len(errs) == 1 and "0 positive and 0 negative" in errs[0].message
    assert "levels" in errs[0].hint and "yes" in errs[0].hint
    spec = load_spec(write_study(tmp_path, t, outcome={"response": {"column": "response",
                                                                    "levels": {"yes": 1, "no": 0}}}))
    assert preflight(spec) == []
    expected = (t["response"] == "yes").astype(int).to_numpy()
    assert (Study(spec).outcome() == expected).all()


def test_unquoted_yaml_yes_is_refused_with_a_hint(tmp_path):
    path = write_study(tmp_path, clinical_table())
    path.write_text(path.read_text().replace("column: response", "column: response\n    positive: yes\n"
                                             "    negative: no"))
    with pytest.raises(SpecError, match="YAML boolean"):
        load_spec(path)


def test_levels_and_positive_together_are_refused(tmp_path):
    with pytest.raises(SpecError, match="either levels"):
        load_spec(write_study(tmp_path, clinical_table(), outcome={"response": {
            "column": "response", "positive": 1, "levels": {1: 1, 0: 0}}}))


def test_events_coded_1_2_need_event_codes(tmp_path):
    t = clinical_table()
    t["death"] = t["death"] + 1  # R's coding: 1 = censored, 2 = dead
    surv = {"time": "os", "event": "death"}
    spec = load_spec(write_study(tmp_path, t, outcome={"response": {"column": "response"}, "survival": surv}))
    errs = errors_of(preflight(spec))
    assert len(errs) == 1 and errs[0].field == "outcome.survival.event (death)"
    assert "event_codes: {1: 0, 2: 1}" in errs[0].hint
    with pytest.raises(InputError, match="not declared event codes"):
        _ = Study(spec).table
    spec = load_spec(write_study(tmp_path, t, outcome={"response": {"column": "response"},
                                                       "survival": {**surv, "event_codes": {1: 0, 2: 1}}}))
    assert errors_of(preflight(spec)) == []
    assert Study(spec).table["death"].tolist() == (t["death"] - 1).astype(float).tolist()


def test_seed_must_be_non_negative(tmp_path):
    path = write_study(tmp_path, clinical_table(), seed=-1)
    with pytest.raises(SpecError, match="seed"):
        load_spec(path)


# ---- column types and names ---------------------------------------------------------------------------

def test_non_numeric_predictor_names_column_and_first_bad_row(tmp_path):
    t = clinical_table()
    t["afp"] = t["afp"].astype(object)
    t.loc[5, "afp"] = ">400"
    errs = errors_of(preflight(load_spec(write_study(tmp_path, t))))
    assert len(errs) == 1
    assert errs[0].case_id == "P005" and errs[0].field == "afp" and "'>400'" in errs[0].message


def test_blank_predictor_is_an_error_before_the_run(tmp_path):
    t = clinical_table()
    t.loc[7, "age"] = np.nan
    errs = errors_of(preflight(load_spec(write_study(tmp_path, t))))
    assert len(errs) == 1 and errs[0].field == "age" and "P007" in errs[0].message


def test_misspelt_cox_covariate_and_predictor_get_a_close_match(tmp_path):
    surv = {"time": "os", "event": "death", "covariates": ["AFP_", "stage"]}
    path = write_study(tmp_path, clinical_table(), outcome={"response": {"column": "response"}, "survival": surv},
                       models=[{"name": "clin", "features": "none", "clinical": ["agee"]}])
    problems = preflight(load_spec(path, check_files=False))
    text = messages(errors_of(problems))
    assert "outcome.survival.covariates: column 'AFP_'" in text and "did you mean 'afp'" in text
    assert "models[0].clinical: column 'agee'" in text and "did you mean 'age'" in text


def test_duplicate_ids_are_named_not_a_type_error(tmp_path):
    t = clinical_table()
    t = pd.concat([t, t.iloc[[4, 9]]], ignore_index=True)
    spec = load_spec(write_study(tmp_path, t))
    errs = errors_of(preflight(spec))
    assert len(errs) == 1 and "P004" in errs[0].message and "P009" in errs[0].message
    with pytest.raises(InputError, match="duplicated"):
        _ = Study(spec).table


def test_duplicate_ids_in_the_manifest(tmp_path):
    t = clinical_table()
    manifest = pd.DataFrame({"pid": ["P000", "P001", "P001"], "image_pre": "a.nii.gz",
                             "image_arterial": "b.nii.gz", "image_portal": "c.nii.gz", "mask_tumor": "m.nii.gz"})
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    path = write_study(tmp_path, t, models=[])
    raw = yaml.safe_load(path.read_text())
    raw["data"]["manifest"] = "manifest.csv"
    path.write_text(yaml.safe_dump(raw))
    errs = errors_of(preflight(load_spec(path)))
    assert len(errs) == 1 and "P001" in errs[0].message and errs[0].file.endswith("manifest.csv")


def test_survival_only_study_passes_validate(tmp_path):
    path = write_study(tmp_path, clinical_table(), models=[],
                       outcome={"survival": {"time": "os", "event": "death", "covariates": ["age", "stage"],
                                             "compare_with": ["stage"]}})
    assert preflight(load_spec(path)) == []
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    assert "OK" in res.output


# ---- the invariant: what validate passes, run does not refuse for an input reason; and vice versa -------

def _bad_inputs(tmp_path):
    """(name, study path) of several studies with an input problem each."""
    out = []
    for name in ("yes_no", "events_1_2", "non_numeric", "duplicate", "misspelt_cox"):
        d = tmp_path / name
        d.mkdir()
        t, outcome, models = clinical_table(), None, None
        if name == "yes_no":
            t["response"] = t["response"].map({1: "yes", 0: "no"})
        elif name == "events_1_2":
            t["death"] += 1
            outcome = {"response": {"column": "response"}, "survival": {"time": "os", "event": "death"}}
        elif name == "non_numeric":
            t["age"] = t["age"].astype(object)
            t.loc[11, "age"] = "unknown"
        elif name == "duplicate":
            t.loc[12, "pid"] = "P013"
        else:
            outcome = {"response": {"column": "response"},
                       "survival": {"time": "os", "event": "death", "covariates": ["agge"]}}
        out.append((name, write_study(d, t, outcome=outcome, models=models)))
    return out


def test_validate_fails_and_run_refuses_at_preflight_for_each_bad_input(tmp_path):
    for name, path in _bad_inputs(tmp_path):
        res = runner.invoke(app, ["validate", str(path)])
        assert res.exit_code == 2, f"{name}: validate passed\n{res.output}"
        assert "error" in res.output
        spec = load_spec(path, check_files=False)
        started = time.perf_counter()
        with pytest.raises((PreflightError, SpecError)):
            run_study(spec)
        assert time.perf_counter() - started < 5, f"{name}: run did not refuse at once"
        assert not (path.parent / "results").exists(), f"{name}: run wrote outputs before refusing"


# ---- per-case images (hccrad.preprocess.inspect) --------------------------------------------------------------

SHAPE = (16, 16, 16)


def _write_nifti(path, arr: np.ndarray):
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(arr)
    img.SetSpacing((0.8, 0.8, 2.5))
    sitk.WriteImage(img, str(path), True)
    return path


def imaging_study(tmp_path, n: int = 12) -> "Path":  # noqa: F821
    """n cases of three 16³ phases and a tumour mask, with the clinical table of `clinical_table`."""
    rng = np.random.default_rng(1)
    rows = []
    mask = np.zeros(SHAPE, np.uint8)
    mask[5:11, 4:12, 4:12] = 1
    for i in range(n):
        cid = f"P{i:03d}"
        row = {"pid": cid}
        for phase in ("pre", "arterial", "portal"):
            row[f"image_{phase}"] = _write_nifti(tmp_path / f"{cid}_{phase}.nii.gz",
                                                 rng.normal(60, 25, SHAPE).astype(np.int16)).name
        row["mask_tumor"] = _write_nifti(tmp_path / f"{cid}_tumor.nii.gz", mask).name
        rows.append(row)
    pd.DataFrame(rows).to_csv(tmp_path / "manifest.csv", index=False)
    path = write_study(tmp_path, clinical_table().iloc[:n], models=[{"name": "hab", "features": "habitat"}])
    raw = yaml.safe_load(path.read_text())
    raw["data"]["manifest"] = "manifest.csv"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_good_imaging_study_passes_in_parallel(tmp_path):
    spec = load_spec(imaging_study(tmp_path))
    assert preflight(spec, workers=2) == []


def _refuse_bad_cases(path):
    raw = yaml.safe_load(path.read_text())
    raw["data"]["on_case_error"] = "refuse"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_missing_and_truncated_images_are_errors_naming_case_and_file(tmp_path):
    path = _refuse_bad_cases(imaging_study(tmp_path))
    (tmp_path / "P002_arterial.nii.gz").unlink()
    data = (tmp_path / "P005_portal.nii.gz").read_bytes()
    (tmp_path / "P005_portal.nii.gz").write_bytes(data[: len(data) // 2])
    errs = errors_of(preflight(load_spec(path), workers=2))
    found = {(p.case_id, p.file, p.field) for p in errs}
    assert ("P002", "image_arterial", "readability") in found
    assert ("P005", "image_portal", "readability") in found
    assert {p.case_id for p in errs} == {"P002", "P005"}, format_problems(errs)
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2 and "P002" in res.output and "P005" in res.output
    with pytest.raises(PreflightError, match="P005"):
        run_study(load_spec(path))
    assert not (tmp_path / "results").exists()


def _break_two_cases(tmp_path):
    (tmp_path / "P002_arterial.nii.gz").unlink()
    data = (tmp_path / "P005_portal.nii.gz").read_bytes()
    (tmp_path / "P005_portal.nii.gz").write_bytes(data[: len(data) // 2])


def test_bad_cases_are_left_out_by_default_and_the_others_run(tmp_path):
    """data.on_case_error: leave_out (the default): validate lists the two unusable cases as warnings
    ("left out of the run") and passes; run analyses the other ten and records the two, with their reasons,
    in run.json's cases_left_out and the report's left-out table."""
    path = imaging_study(tmp_path)
    raw = yaml.safe_load(path.read_text())  # a clinical model: 10 cases are too few to select habitat features
    raw["models"] = [{"name": "clin", "features": "none", "clinical": ["age", "afp"], "clinical_selection": "all"}]
    path.write_text(yaml.safe_dump(raw))
    _break_two_cases(tmp_path)
    problems = preflight(load_spec(path), workers=1)
    assert errors_of(problems) == [], format_problems(problems)
    left = {p.case_id: p.message for p in problems if p.message.startswith("left out of the run")}
    assert set(left) == {"P002", "P005"}, format_problems(problems)
    res = runner.invoke(app, ["validate", str(path)], env={"COLUMNS": "1000"})
    assert res.exit_code == 0 and "P002" in res.output and "P005" in res.output, res.output
    result = run_study(load_spec(path))
    run = json.loads(result.run_json.read_text())
    out = {r["case_id"]: r for r in run["cases_left_out"]}
    assert {"P002", "P005"} <= set(out), run["cases_left_out"]
    assert out["P002"]["stage"] == "inputs" and "image_arterial (readability)" in out["P002"]["message"]
    assert out["P005"]["stage"] == "inputs" and "image_portal (readability)" in out["P005"]["message"]
    assert run["n_cases"] == 12 and run["n_cases_analysed"] <= 10
    html = result.report.read_text()
    assert "P002" in html and "P005" in html


def test_too_many_bad_cases_are_refused_even_when_leaving_out(tmp_path):
    path = imaging_study(tmp_path)
    _break_two_cases(tmp_path)
    (tmp_path / "P007_tumor.nii.gz").unlink()  # 3 of 12 = 25 % > 20 %
    errs = errors_of(preflight(load_spec(path), workers=1))
    assert {p.case_id for p in errs} == {"P002", "P005", "P007", None}, format_problems(errs)
    assert any("3 of 12 cases" in p.message for p in errs)


def test_missing_id_column_is_named_not_a_key_error(tmp_path):
    """A clinical table without the id column: validate names the file and the column (with a close match),
    never a KeyError traceback; run refuses the same way."""
    path = write_study(tmp_path, clinical_table().rename(columns={"pid": "patient"}))
    res = runner.invoke(app, ["validate", str(path)], env={"COLUMNS": "1000"})
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and "Traceback" not in res.output and "KeyError" not in res.output, res.output
    assert "missing id column 'pid'" in out and "clinical.csv" in out, res.output
    with pytest.raises((PreflightError, SpecError)):
        run_study(load_spec(path, check_files=False))
    assert not (tmp_path / "results").exists()
