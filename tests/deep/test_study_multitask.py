"""Seed 002 in the study stage: survival-interval and subtype heads beside response (masked missing labels),
per-task out-of-fold predictions, feature-map panels by predicted class, the layer table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

pytest.importorskip("torch")

from hccrad.cohort.study import Study  # noqa: E402
from hccrad.config import parse_spec  # noqa: E402
from hccrad.core.errors import DataError, SpecError  # noqa: E402
from hccrad.deep import build_patches, predict  # noqa: E402
from hccrad.deep.cv import case_level  # noqa: E402
from hccrad.deep.data import item_targets, survival_interval_classes  # noqa: E402
from hccrad.deep.spec import DeepSpec  # noqa: E402
from hccrad.pipeline.deep_stage import run_deep_stage  # noqa: E402
from hccrad.deep.targets import stage_targets  # noqa: E402
from hccrad.testing import assert_close  # noqa: E402

CUTS = [12.0, 24.0, 36.0]
TINY = dict(mode="2d", size=[32, 32], epochs=2, n_splits=2, width=8, batch_size=8, gradcam_cases=0, device="cpu",
            seed=1, min_steps=0, warmup_steps=0, min_val_cases=1)  # old budget + inner split: fast, not meant to learn


def _study(root, survival: bool = True) -> Study:
    outcome = {"response": {"column": "response"}}
    if survival:
        outcome["survival"] = {"time": "os_months", "event": "os_event", "unit": "months"}
    return Study(parse_spec({
        "name": "deep-mt", "seed": 0, "output_dir": str(root / "results"),
        "data": {"manifest": str(root / "cohort" / "manifest.csv"), "clinical": str(root / "cohort" / "clinical.csv")},
        "cohorts": {"training": "training", "tests": ["internal_test"]}, "outcome": outcome,
    }))


@pytest.fixture(scope="module")
def mt(synth_cohort_root):
    root = synth_cohort_root
    study = _study(root)
    spec = DeepSpec(**TINY, survival_intervals=CUTS, subtype={"column": "mtm", "positive": 1})
    return study, spec, run_deep_stage(study, spec, root / "mt1")


def test_targets_follow_the_censoring_rule(mt):
    study, spec, _ = mt
    ids = study.case_ids()
    table, tasks = stage_targets(study, spec, ids, study.case_ids("training"))
    assert [(t.name, t.n_classes) for t in tasks] == [("response", 2), ("survival", 4), ("subtype", 2)]
    t = study.table.loc[ids, "os_months"].to_numpy(float)
    e = study.table.loc[ids, "os_event"].to_numpy(int)
    expected = survival_interval_classes(t, e, CUTS)
    assert_close(table["survival"].to_numpy(), expected, rtol=0, atol=0, what="survival classes")
    early_censored = (e == 0) & (t < CUTS[-1])
    assert table["survival"][early_censored].isna().all() and table["survival"][~early_censored].notna().all()
    mtm = study.table.loc[ids, "mtm"]
    assert (table["subtype"].isna() == mtm.isna()).all()
    assert_close(table["subtype"].dropna().to_numpy(), mtm.dropna().to_numpy(float), rtol=0, atol=0, what="mtm")
    assert early_censored.any() and mtm.isna().any()  # the fixture exercises both kinds of missing label


def test_heads_share_the_backbone_and_missing_labels_are_masked(mt):
    study, spec, res = mt
    net = res.final.network
    assert [(t.name, t.n_classes) for t in net.tasks] == [("response", 2), ("survival", 4), ("subtype", 2)]
    assert len(res.cv.results) == spec.n_splits
    # the per-task validation CE only counts labelled items: finite for every task
    assert {"val_loss_response", "val_loss_survival", "val_loss_subtype"} <= set(res.final.history.columns)


def test_predictions_every_case_out_of_fold(mt, synth_cohort_root):
    study, spec, res = mt
    ids = study.case_ids()
    p = res.predictions
    assert list(p.index) == ids
    want = ["response_class", "response_p0", "response_p1", "survival_class"] + [f"survival_p{j}" for j in range(4)] \
        + ["subtype_class", "subtype_p0", "subtype_p1"]
    assert list(p.columns) == want
    assert p.notna().all().all()
    for task, k in (("response", 2), ("survival", 4), ("subtype", 2)):
        probs = p[[f"{task}_p{j}" for j in range(k)]].to_numpy()
        assert_close(probs.sum(axis=1), np.ones(len(ids)), rtol=0, atol=1e-6, what=f"{task} probabilities")
        assert (p[f"{task}_class"].to_numpy() == probs.argmax(axis=1)).all()
    assert_close(p["response_p1"].to_numpy(), res.scores.to_numpy(), rtol=0, atol=0, what="cnn_score")
    saved = pd.read_csv(synth_cohort_root / "mt1" / "deep" / "cnn_predictions.csv", index_col=0)
    assert_close(saved["survival_p3"].to_numpy(), p["survival_p3"].to_numpy(), rtol=0, atol=1e-12, what="csv")
    phases = list(study.spec.data.phases)
    for cid in study.case_ids("training")[:2]:  # the fold network that did not see the case
        items = build_patches([study.load_case(cid)], phases, mode="2d", size=spec.patch_size,
                              windows={ph: spec.window for ph in phases})
        q = case_level(predict(res.cv.results[int(res.folds[cid])].network, items)).iloc[0]
        assert_close(p.loc[cid, [f"survival_p{j}" for j in range(4)]].to_numpy(float),
                     q[[f"survival_p{j}" for j in range(4)]].to_numpy(float), rtol=0, atol=1e-6,
                     what=f"out-of-fold survival probabilities of {cid}")


def test_activation_panels_and_tables(mt):
    _, _, res = mt
    assert [n for n, _ in res.figures][-1] == "cnn_activation_panels"
    tables = dict(res.tables)
    assert list(tables) == ["cnn_activation_by_group", "cnn_architecture"]
    act = tables["cnn_activation_by_group"]
    assert len(act) == 4 * 2 + 2 and set(act["row_task"]) == {"survival"} and set(act["col_task"]) == {"subtype"}
    assert list(act["row_class"].iloc[8:]) == ["all", "all"]
    assert act["n_cases"].iloc[8:].sum() == len(res.scores)
    assert list(act["row_class"].iloc[:8:2]) == ["≤12", "12–24", "24–36", ">36"]
    assert list(act["col_class"].iloc[:2]) == ["non-mtm", "mtm"]
    assert act["n_cases"].iloc[:8].sum() == len(res.scores)
    groups = res.predictions.groupby(["survival_class", "subtype_class"]).size()
    for i in range(4):
        for j in range(2):
            assert act["n_cases"].iloc[2 * i + j] == groups.get((i, j), 0)
    arch = tables["cnn_architecture"]
    n_params = sum(p.numel() for p in res.final.network.parameters())
    assert arch["parameters"].sum() == n_params
    assert (res.items["slice_rule"] == "mask").all()


def test_response_only_rows_are_response_classes(synth_cohort_root):
    study = _study(synth_cohort_root, survival=False)
    res = run_deep_stage(study, DeepSpec(**{**TINY, "epochs": 1}), synth_cohort_root / "mt2")
    act = dict(res.tables)["cnn_activation_by_group"]
    assert list(act["row_class"]) == ["negative", "positive"] and list(act["col_class"]) == ["all", "all"]
    assert list(res.predictions.columns) == ["response_class", "response_p0", "response_p1"]


def test_errors_name_the_deep_key(synth_cohort_root, tmp_path):
    with pytest.raises(ValidationError, match="deep.survival_intervals"):
        DeepSpec(survival_intervals=[24, 12])
    with pytest.raises(ValidationError):
        DeepSpec(subtype={"column": "mtm", "positive": 1, "other": 2})
    with pytest.raises(ValidationError, match="deep.fit"):
        DeepSpec(mode="3d", fit="whole")
    no_surv = _study(synth_cohort_root, survival=False)
    with pytest.raises(SpecError, match="deep.survival_intervals"):
        run_deep_stage(no_surv, DeepSpec(**TINY, survival_intervals=CUTS), tmp_path / "a")
    with pytest.raises(SpecError, match="deep.subtype.column"):
        run_deep_stage(no_surv, DeepSpec(**TINY, subtype={"column": "nope"}), tmp_path / "b")
    spec = DeepSpec(**TINY, subtype={"column": "mtm", "positive": 1})
    study = _study(synth_cohort_root)
    study.table.loc[:, "mtm"] = np.nan  # no known subtype at all
    with pytest.raises(DataError, match="no known label") as err:
        run_deep_stage(study, spec, tmp_path / "c")
    assert err.value.field == "deep.subtype"


def test_item_targets_mask_missing_as_minus_one(mt):
    study, spec, _ = mt
    ids = study.case_ids("training")
    table, _ = stage_targets(study, spec, ids, ids)
    phases = list(study.spec.data.phases)
    items = build_patches([study.load_case(c) for c in ids[:6]], phases, mode="2d", size=(16, 16),
                          windows={ph: spec.window for ph in phases})
    y = item_targets(items, table)
    for task in ("survival", "subtype"):
        missing = table.loc[list(items.case_ids), task].isna().to_numpy()
        assert ((y[task] == -1) == missing).all()
