"""Small test cohorts get a precision note under the AUC table, stating the existing CIs' widths."""

import pandas as pd

from hccrad.report.precision import MIN_PATIENTS, small_cohort_notes


def _metrics():
    return pd.DataFrame({
        "model": ["a", "b", "a", "b", "a", "b"],
        "cohort": ["train", "train", "tiny", "tiny", "big", "big"],
        "n": [40, 40, 18, 18, 200, 200], "events": [10, 10, 7, 7, 90, 90],
        "lower": [0.5, 0.6, 0.41, 0.55, 0.70, 0.72], "upper": [0.9, 0.9, 1.0, 0.96, 0.80, 0.81]})


def test_only_small_test_cohorts_get_a_note_with_their_ci_widths():
    notes = small_cohort_notes(_metrics(), training="train")
    assert len(notes) == 1, notes  # not the training cohort, not the 200-patient cohort
    note = notes[0]
    assert "'tiny'" in note and "n = 18, 7 events, 11 non-events" in note
    assert "0.41–0.59 wide" in note and "up to 1.000" in note  # widths 0.41 (b) and 0.59 (a), read not refitted
    assert f"{MIN_PATIENTS} patients" in note and "imprecise" in note


def test_few_events_alone_make_a_cohort_small():
    m = _metrics().assign(events=[10, 10, 7, 7, 195, 195])  # 200 patients but 5 non-events
    notes = small_cohort_notes(m, training="train")
    assert [n.split("'")[1] for n in notes] == ["tiny", "big"]
    assert "5 non-events" in notes[1]
