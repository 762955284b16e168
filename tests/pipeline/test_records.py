"""Results records (`hccrad.pipeline.records`): what is written is read back exactly, and a record hccrad
would not write (unknown type, path outside the record, other schema version) is refused before anything is
constructed from it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from hccrad.pipeline.evaluation import CohortData, Evaluation
from hccrad.pipeline.records import SCHEMA_VERSION, RecordError, read_record, write_record
from hccrad.pipeline.results import TruthRecord


def _evaluation() -> Evaluation:
    metrics = pd.DataFrame({"model": ["a", "b", "a"], "auc": [0.7, np.nan, 0.1 + 0.2],
                            "resampling_warning": [None, np.nan, "3 of 10 failed"],
                            "n_boot": pd.array([10, None, 10], dtype="Int64")})
    binned = pd.DataFrame({"bin": pd.cut([0.1, 0.5, 0.9, np.nan], [0, 0.4, 1.0]), "n": [1, 2, 3, 4]})
    wide = binned.set_index("n").T  # integer column labels
    return Evaluation(metrics=metrics, classification=binned, comparisons=pd.DataFrame(columns=["p"]),
                      calibration={}, decision={"training": wide},
                      cohorts=[CohortData("training", np.array([0, 1, 1]), {"a": np.array([0.2, 0.7, 0.9])})])


def test_a_record_reads_back_what_was_written(tmp_path):
    ev = _evaluation()
    value = {"evaluation": ev, ("a", "training"): np.float64(0.25), "path": tmp_path, "t": (1, "x", None),
             "inf": float("-inf"), "names": np.array(["AE", "VE"], dtype=object), "truth": TruthRecord(table=ev.metrics, population={"auc_habitat_part": 0.7})}
    write_record(value, tmp_path, "section")
    json.loads((tmp_path / "section.json").read_text())  # strict JSON: no NaN/Infinity literals
    back = read_record(tmp_path, "section")
    pd.testing.assert_frame_equal(back["evaluation"].metrics, ev.metrics)
    assert back["evaluation"].metrics["resampling_warning"].iloc[0] is None  # None stays None, NaN stays NaN
    pd.testing.assert_frame_equal(back["evaluation"].classification, ev.classification)
    pd.testing.assert_frame_equal(back["evaluation"].decision["training"], ev.decision["training"])
    assert back["evaluation"].metrics.to_csv() == ev.metrics.to_csv()
    np.testing.assert_array_equal(back["evaluation"].cohorts[0].scores["a"], ev.cohorts[0].scores["a"])
    scalar = back[("a", "training")]
    assert type(scalar) is np.float64 and scalar == 0.25
    assert back["path"] == tmp_path and back["t"] == (1, "x", None) and back["inf"] == float("-inf")
    assert back["names"].dtype == object and back["names"].tolist() == ["AE", "VE"]
    assert isinstance(back["truth"], TruthRecord) and back["truth"].population == {"auc_habitat_part": 0.7}


def test_an_object_array_of_other_values_is_not_written(tmp_path):
    with pytest.raises(RecordError, match="object array") as err:
        write_record({"x": np.array([1, "a"], dtype=object)}, tmp_path, "s")
    assert err.value.field == "s.x"


def _write_doc(tmp_path, value, **top):
    doc = {"format": "hccrad-results", "schema_version": SCHEMA_VERSION, "hccrad_version": "x",
           "section": "s", "value": value, **top}
    (tmp_path / "s.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("value, field, says", [
    ({"$spec": "builtins.eval", "fields": {}}, "s", "unknown result type 'builtins.eval'"),
    ({"$type": "pathlib.Path", "fields": {}}, "s", "unknown result type 'pathlib.Path'"),
    ({"plain": 1}, "s", "not an encoded value"),
    ({"$dict": {"x": {"$frame": "../../etc/passwd", "series": False, "columns": [], "multi_columns": False,
                      "column_names": [None], "index_names": [None], "json_columns": {}}}}, "s.x",
     "table file '../../etc/passwd' is not in"),
    ({"$type": "hccrad.pipeline.result_types.TruthRecord", "fields": {"population": {"$dict": {}}}}, "s.table",
     "lacks its field 'table'"),
])
def test_a_record_hccrad_would_not_write_is_refused(tmp_path, value, field, says):
    _write_doc(tmp_path, value)
    with pytest.raises(RecordError) as err:
        read_record(tmp_path, "s")
    assert err.value.field == field and says in err.value.message, str(err.value)
    assert err.value.file.endswith("s.json")


def test_another_schema_version_is_refused_with_the_fix(tmp_path):
    _write_doc(tmp_path, 1, schema_version=SCHEMA_VERSION + 1)
    with pytest.raises(RecordError, match="results schema version") as err:
        read_record(tmp_path, "s")
    assert "rerun the study" in err.value.hint


def test_results_that_could_not_be_saved_say_why_when_the_report_is_rebuilt(tmp_path):
    from hccrad.pipeline.results import CohortCounts, StudyResults, load_results, save_results

    bad = StudyResults(cohort=CohortCounts(n_cases_listed=1, listed_per_cohort=object()), data=None, errors=None,
                       stability=None, imaging=None, habitat_features=None, models=None, evaluation=None,
                       survival=None, truth=None, table_one=None, readers=None, associations=None, appendix={})
    with pytest.raises(RecordError, match="builtins.object cannot be written"):
        save_results(bad, tmp_path / "results")
    with pytest.raises(RecordError, match="could not save its results.*builtins.object") as err:
        load_results(tmp_path)
    assert err.value.field is None and err.value.file.endswith("index.json")
