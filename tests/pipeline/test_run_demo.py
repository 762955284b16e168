"""End-to-end golden run on a tiny synthetic cohort: every stage, every output, and the report."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from hccrad.io.volume import read_image
from hccrad.pipeline.run import run_demo
from hccrad.report.lint import Findings, collecting


FIGURE_LINT = Findings()  # findings of hccrad.report.lint on every figure the demo's report writes


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    with collecting() as found:  # the figures are closed once written: lint them at Report.add_figure
        result = run_demo(out, n=36, seed=3, bootstrap=10)
    FIGURE_LINT[:] = found
    FIGURE_LINT.colours = found.colours
    return result


def test_every_figure_passes_the_lint(demo):
    """Tick labels with at most 4 significant digits, no overlapping texts within an axes, legends naming
    the plotted series in their colours (issue 26)."""
    assert len(list((demo.out_dir / "report" / "figures").glob("*.png"))) >= 20
    assert not FIGURE_LINT, "\n".join(str(f) for f in FIGURE_LINT)
    assert not FIGURE_LINT.inconsistent_colours(), FIGURE_LINT.inconsistent_colours()  # e.g. the radar chart


def test_report_appendix_has_versions_and_timings(demo):
    html = demo.report.read_text()
    for heading in ("study spec (resolved)", "package versions", "timings per stage (wall clock)"):
        assert f"<h3>{heading}</h3>" in html, heading
    assert re.search(r"\nevaluation +\d+\.\d s", html), "the evaluation stage's time is in the appendix"


def test_outputs_exist(demo):
    out = demo.out_dir
    assert demo.report.is_file()
    for rel in ("features/habitat_features.parquet", "features/habitat_features.csv", "run.json",
                "models/habitat_model.json", "features/stability.csv"):
        assert (out / rel).is_file(), rel
    run = json.loads((out / "run.json").read_text())
    assert run["seed"] == 3 and run["spec"]["schema_version"] == 1
    assert {"numpy", "scikit-learn", "hccrad"} <= set(run["versions"])
    assert run["timings_s"]["total"] > 0


def test_habitat_maps_align_with_input(demo):
    out = demo.out_dir
    manifest = pd.read_csv(out.parent / "cohort" / "manifest.csv")
    row = manifest.iloc[0]
    hab = read_image(out / "habitats" / f"{row.case_id}_habitat.nii.gz")
    ref = read_image(out.parent / "cohort" / row.image_portal)
    tumour = read_image(out.parent / "cohort" / row.mask_tumor).array > 0
    assert hab.same_grid(ref)
    assert np.array_equal(hab.array > 0, tumour), "habitat labels must cover exactly the tumour mask"


def test_report_has_every_section_and_numbers(demo):
    html = demo.report.read_text()
    for title in ("Study population and cohorts", "Table 1. Baseline characteristics", "Tumour habitats",
                  "Feature stability and selection", "Discrimination", "Calibration",
                  "Decision curve analysis", "Survival", "Bayes-optimal AUC"):
        assert title in html, title
    assert len(re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', html)) >= 8
    assert "Not computed" not in html, "a report section failed"
    metrics = demo.metrics
    assert set(metrics["cohort"]) == {"training", "internal_test"}
    assert metrics["auc"].between(0, 1).all()
    assert metrics.loc[metrics["cohort"] == "training", "corrected_auc"].notna().all()


def test_validated_auc_near_the_bayes_ceiling(demo):
    """The planted signal is found and not overstated: the best optimism-corrected AUC on training is within
    0.1 of the Bayes-optimal AUC of those cases, and no validated AUC beats that ceiling by more than 0.05
    (a leak -- selection fitted on the cases it is judged on -- would). Fixed seed: deterministic."""
    from hccrad.pipeline.results import truth_comparison

    truth = json.loads((demo.out_dir.parent / "cohort" / "truth.json").read_text())
    tab = truth_comparison(demo.metrics, truth)
    train = tab[tab["cohort"] == "training"]
    best = train.loc[train["validated_auc"].idxmax()]
    assert abs(best["difference"]) <= 0.1, best.to_dict()
    assert (train["difference"] <= 0.05).all(), train[["model", "validated_auc", "bayes_auc_sample"]]


def test_patient_table_and_resampling_record(demo):
    """Issue 19 (6, 9): out/patients.csv (case, cohort, split, outcome, each model's score/probability) and
    run.json's resampling record; the report states resamples used of requested."""
    out = demo.out_dir
    run = json.loads((out / "run.json").read_text())
    patients = pd.read_csv(out / "patients.csv", index_col="case_id", dtype={"case_id": str},
                           float_precision="round_trip")  # the cut-point is one of the scores: exact floats
    assert run["patients_table"] == "patients.csv"
    assert len(patients) == run["n_cases_analysed"] and list(patients.index) == sorted(patients.index)
    assert set(patients["split"]) == {"training", "test"}
    assert ((patients["cohort"] == "training") == (patients["split"] == "training")).all()
    assert set(patients["outcome_positive"]) == {0, 1}
    for name, desc in run["models"].items():
        p = patients[f"{name}_probability"]
        assert p.between(0, 1).all() and patients[f"{name}_score"].notna().all()
        assert ((p >= desc["threshold"]).astype(int) == patients[f"{name}_predicted"]).all()
        rec = desc["resampling"]
        assert rec["requested"] == 10 and rec["used"] + rec["failed"] == 10
        assert len(rec["failed_resamples"]) == rec["failed"]
        assert rec["flagged"] == (rec["failed"] > 0.5)
        assert rec["flagged"] == any(w.startswith(f"model {name}:") for w in run["resampling_warnings"])
    assert "used of 10 requested" in demo.report.read_text()
    cut = run["survival"]["cutpoint"]  # the survival stage's risk groups, at its training cut-point
    groups = patients["habitat_risk_group"]
    assert set(groups.dropna()) == {"low risk", "high risk"}
    high = patients["habitat_probability"] > cut  # the score is P(response): higher = lower risk
    assert (groups[high] == "low risk").all() and (groups[~high] == "high risk").all()
    train = patients[patients["split"] == "training"]
    for name in run["models"]:
        auc = demo.metrics.query("model == @name and cohort == 'training'")["auc"].iloc[0]
        from sklearn.metrics import roc_auc_score
        assert roc_auc_score(train["outcome_positive"], train[f"{name}_probability"]) == pytest.approx(auc)


# `hccrad report OUT` (issue 26): the report rebuilt from the saved results. Kept last in this module: it
# rewrites demo.out_dir/report in place (with the same content, which is what it checks).


def _sections(html: str) -> list[str]:
    return re.findall(r"<h2[^>]*>(.*?)</h2>", html)


def test_report_command_rebuilds_the_same_report_from_the_results(demo):
    from typer.testing import CliRunner

    from hccrad.cli import app

    report = demo.out_dir / "report"
    tables = {p.name: p.read_bytes() for p in sorted((report / "tables").glob("*.csv"))}
    sections = _sections(demo.report.read_text())
    assert len(tables) >= 20 and len(sections) >= 10
    for p in (report / "tables").glob("*.csv"):
        p.unlink()  # every table must be written again, from the results
    res = CliRunner().invoke(app, ["report", str(demo.out_dir)])
    assert res.exit_code == 0, res.output
    rebuilt = {p.name: p.read_bytes() for p in sorted((report / "tables").glob("*.csv"))}
    assert rebuilt.keys() == tables.keys()
    changed = [name for name in tables if rebuilt[name] != tables[name]]
    assert not changed, f"tables not byte-identical after `hccrad report`: {changed}"
    assert _sections(demo.report.read_text()) == sections


def test_saved_results_hold_no_file_paths(demo):
    """The manifest's image/mask paths (file and folder names may identify a patient) are not saved."""
    from hccrad.pipeline.records import read_record

    data = read_record(demo.out_dir / "results", "data")
    assert len(data) == demo.metrics.groupby("cohort")["n"].first().sum()
    assert not [c for c in data.columns if str(c).startswith(("image_", "mask_"))]
    assert not any("nii.gz" in p.read_text() for p in (demo.out_dir / "results").glob("*.json"))


def _tampered(demo, tmp_path, section: str, edit):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(demo.out_dir / "results", out / "results")
    path = out / "results" / f"{section}.json"
    doc = json.loads(path.read_text())
    edit(doc["value"])
    path.write_text(json.dumps(doc))
    return out


def _first_object(value):
    """The first encoded result object ({"$type": ..., "fields": ...}) in a record, depth first."""
    if isinstance(value, dict):
        if "$type" in value:
            return value
        children = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return None
    for child in children:
        found = _first_object(child)
        if found is not None:
            return found
    return None


def test_results_with_an_unknown_type_are_refused_naming_file_and_field(demo, tmp_path):
    from hccrad.pipeline.records import RecordError
    from hccrad.pipeline.results import load_results

    def unknown_type(value):
        value["fields"]["direction"]["$type"] = "subprocess.Popen"

    out = _tampered(demo, tmp_path, "survival", unknown_type)
    with pytest.raises(RecordError) as err:
        load_results(out)
    e = err.value
    assert e.file.endswith("results/survival.json") and e.field == "survival.direction"
    assert "unknown result type 'subprocess.Popen'" in e.message and "rerun" in e.hint


def test_results_with_an_extra_field_are_refused_naming_file_and_field(demo, tmp_path):
    from hccrad.pipeline.records import RecordError
    from hccrad.pipeline.results import load_results

    def extra_field(value):
        obj = _first_object(value)
        obj["fields"]["injected"] = 1

    out = _tampered(demo, tmp_path, "models", extra_field)
    with pytest.raises(RecordError) as err:
        load_results(out)
    e = err.value
    assert e.file.endswith("results/models.json") and e.field == "models.injected", (e.file, e.field)
    assert "has no field 'injected'" in e.message


def test_report_command_on_a_folder_without_results_says_what_is_missing(demo, tmp_path):
    import shutil

    from typer.testing import CliRunner

    from hccrad.cli import app

    out = tmp_path / "old_run"
    out.mkdir()
    shutil.copy(demo.out_dir / "run.json", out / "run.json")  # a finished run of a version without results/
    res = CliRunner().invoke(app, ["report", str(out)])
    text = " ".join(res.output.split())  # the console wraps long lines
    assert res.exit_code == 2
    assert "holds no saved results (results/index.json is missing)" in text
    assert "rerun the study with this version of hccrad" in text
    (out / "results").mkdir()
    shutil.copy(demo.out_dir / "results" / "index.json", out / "results" / "index.json")
    res = CliRunner().invoke(app, ["report", str(out)])
    assert res.exit_code == 2 and "lack the section(s) cohort, data" in " ".join(res.output.split()), res.output


def test_compare_runs_on_the_demo_run(demo, tmp_path, repo_tool):
    """tools/compare_runs.py (issue 25) on a real run: a copy agrees; one metric changed by 1e-12 is found."""
    import shutil

    compare = repo_tool("compare_runs")
    copy = tmp_path / "copy"
    shutil.copytree(demo.out_dir, copy, ignore=shutil.ignore_patterns("*.nii.gz", "*.png", "*.svg", "*.parquet"))
    for table in copy.rglob("*.csv"):  # as if run there: a table naming the run's own folder names the copy
        table.write_text(table.read_text().replace(str(demo.out_dir), str(copy)))
    diffs, n_files = compare.compare_runs(demo.out_dir, copy)
    assert not diffs and n_files >= 20, (diffs, n_files)
    run = json.loads((copy / "run.json").read_text())
    run["models"]["habitat"]["optimism_corrected_auc"] += 1e-12
    (copy / "run.json").write_text(json.dumps(run))
    diffs, _ = compare.compare_runs(demo.out_dir, copy)
    assert [d.where for d in diffs] == ["run.json: models/habitat/optimism_corrected_auc"]
    assert not compare.compare_runs(demo.out_dir, copy, atol=1e-9)[0]
