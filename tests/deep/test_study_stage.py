"""The study's CNN stage (`hccrad.pipeline.deep_stage.run_deep_stage`) on a tiny synthetic cohort: every case scored
once, training scores out of fold, seeded, Grad-CAM NIfTI on the reference grid, clear per-case errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

pytest.importorskip("torch")

from hccrad.cohort.study import Study  # noqa: E402
from hccrad.config import parse_spec  # noqa: E402
from hccrad.core.errors import HccradError  # noqa: E402
from hccrad.deep import build_patches, predict  # noqa: E402
from hccrad.deep.cv import case_level  # noqa: E402
from hccrad.deep.spec import DeepSpec  # noqa: E402
from hccrad.pipeline.deep_stage import load_deep_network, run_deep_stage  # noqa: E402
from hccrad.io.volume import read_image, write_image  # noqa: E402
from hccrad.testing import assert_close  # noqa: E402

TINY = dict(mode="2d", size=[32, 32], epochs=2, n_splits=2, width=8, batch_size=8, gradcam_cases=2, device="cpu",
            min_steps=0, warmup_steps=0, min_val_cases=1)  # old budget + inner split: fast, not meant to learn


def _study(root, manifest="manifest.csv") -> Study:
    return Study(parse_spec({
        "name": "deep", "seed": 0, "output_dir": str(root / "results"),
        "data": {"manifest": str(root / "cohort" / manifest), "clinical": str(root / "cohort" / "clinical.csv")},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"}},
    }))


@pytest.fixture(scope="module")
def stage(synth_cohort_root):
    root = synth_cohort_root
    study = _study(root)
    spec = DeepSpec(**TINY, seed=3)
    return root, study, spec, run_deep_stage(study, spec, root / "run1")


def _case_items(study, spec, cid):
    case = study.load_case(cid)
    phases = list(study.spec.data.phases)
    return build_patches([case], phases, mode=spec.mode, size=spec.patch_size, k=spec.k_slices,
                         windows={p: spec.window for p in phases})


def test_every_case_scored_once(stage):
    _, study, _, res = stage
    ids = study.case_ids()
    assert list(res.scores.index) == ids and res.scores.index.is_unique
    assert res.scores.name == "cnn_score"
    assert res.scores.notna().all() and ((res.scores >= 0) & (res.scores <= 1)).all()
    training = study.case_ids("training")
    assert (res.kind.loc[training] == "out-of-fold").all()
    assert (res.kind.drop(index=training) == "trained-on-training").all()
    table = pd.read_csv(res.checkpoint.parent / "cnn_scores.csv", index_col=0)
    assert_close(table["cnn_score"].to_numpy(), res.scores.to_numpy(), rtol=0, atol=1e-12, what="saved scores")
    s = res.summary()
    assert list(s["cohort"]) == ["training", "internal_test"]
    assert list(s["n_cases"]) == [len(training), len(ids) - len(training)]


def test_training_scores_are_out_of_fold(stage):
    _, study, spec, res = stage
    training = study.case_ids("training")
    assert sorted(res.folds.index) == sorted(training)
    assert set(res.folds) == set(range(spec.n_splits))
    patient = study.table.loc[training, "patient_id"]
    for k in range(spec.n_splits):
        held = res.folds.index[res.folds == k]
        seen = res.folds.index[res.folds != k]
        # the fold-k network was trained on (train + inner validation) items of the other folds only
        row = res.cv.folds.set_index("fold").loc[k]
        assert row["n_test"] == len(held) and row["n_train"] + row["n_val"] == len(seen)
        assert not set(patient.loc[held]) & set(patient.loc[seen])
    # each training score is the prediction of the network of its own held-out fold ...
    final_in_sample = []
    for cid in training[:4]:
        items = _case_items(study, spec, cid)
        net = res.cv.results[int(res.folds[cid])].network
        p = case_level(predict(net, items))["response_p1"].iloc[0]
        assert_close(res.scores[cid], p, rtol=0, atol=1e-6, what=f"out-of-fold score of {cid}")
        final_in_sample.append(case_level(predict(res.final.network, items))["response_p1"].iloc[0])
    # ... and not the final network's in-sample score
    assert not np.allclose(final_in_sample, res.scores.loc[training[:4]].to_numpy(), rtol=0, atol=1e-7)


def test_other_cohort_scored_by_final_network_from_checkpoint(stage):
    _, study, spec, res = stage
    net = load_deep_network(res.checkpoint)
    for cid in study.case_ids("internal_test")[:3]:
        p = case_level(predict(net, _case_items(study, spec, cid)))["response_p1"].iloc[0]
        assert_close(res.scores[cid], p, rtol=0, atol=1e-6, what=f"test-cohort score of {cid}")


def test_same_seed_same_scores(stage):
    root, study, spec, res = stage
    again = run_deep_stage(study, spec, root / "run2")
    assert_close(again.scores.to_numpy(), res.scores.to_numpy(), rtol=0, atol=0, what="scores, same seed")
    other = run_deep_stage(study, spec.model_copy(update={"seed": 4, "gradcam_cases": 0}), root / "run3")
    assert not np.allclose(other.scores.to_numpy(), res.scores.to_numpy(), rtol=0, atol=1e-9)
    assert other.cam_paths == {}


def test_gradcam_nifti_on_reference_grid(stage):
    root, study, spec, res = stage
    expected = study.case_ids("training")[:2] + study.case_ids("internal_test")[:2]
    assert sorted(res.cam_paths) == sorted(expected)
    ref_phase = study.spec.data.reference_phase
    for cid, path in res.cam_paths.items():
        assert path == root / "run1" / "deep" / "gradcam" / f"{cid}_gradcam.nii.gz" and path.is_file()
        cam = read_image(path)
        ref = study.load_case(cid).image(ref_phase)
        assert cam.same_grid(ref), cid
        assert cam.array.min() >= 0 and cam.array.max() <= 1 + 1e-6 and cam.array.max() > 0
        # the map lies in the crop around the tumour's largest slice
        z = np.flatnonzero(cam.array.reshape(cam.shape[0], -1).max(axis=1) > 0)
        tumour = study.load_case(cid).mask("tumor")
        assert len(z) == spec.k_slices and tumour[z[0]].any()
    names = [n for n, _ in res.figures]
    assert names == ["cnn_loss_curves", "cnn_gradcam_training", "cnn_gradcam_internal_test", "cnn_activation_panels"]
    # issue 27 item 5: randomisation check and tumour share for the same cases, as cnn_gradcam* tables
    tables = dict(res.tables)
    rand, share = tables["cnn_gradcam_randomisation"], tables["cnn_gradcam_tumour_share"]
    assert sorted(set(rand["case_id"])) == sorted(expected) and sorted(share["case_id"]) == sorted(expected)
    assert rand.groupby("case_id")["layer"].first().eq("head").all()
    rho = rand["spearman"].dropna()
    assert ((rho >= -1) & (rho <= 1)).all()
    ok = share["share_in_tumour"].notna()
    assert (share.loc[~ok, "note"] != "").all()
    assert ((share.loc[ok, "share_in_tumour"] >= 0) & (share.loc[ok, "share_in_tumour"] <= 1)).all()
    assert ((share["tumour_share"] > 0) & (share["tumour_share"] <= 1)).all()
    assert (share.loc[share["tumour_share"] == 1, "note"].str.contains("fills the whole patch")).all()
    assert_close(share.loc[ok, "ratio"].to_numpy(),
                 (share.loc[ok, "share_in_tumour"] / share.loc[ok, "tumour_share"]).to_numpy(),
                 rtol=1e-12, atol=0, what="ratio = share in tumour / tumour share")


def test_bad_case_is_named(stage, tmp_path):
    root, study, spec, _ = stage
    manifest = pd.read_csv(root / "cohort" / "manifest.csv")
    bad = str(manifest["case_id"].iloc[2])
    mask_path = study.table.loc[bad, "mask_tumor"]
    empty = read_image(mask_path)
    write_image(empty.with_array(np.zeros(empty.shape, dtype=np.uint8)), tmp_path / "empty.nii.gz")
    manifest.loc[2, "mask_tumor"] = str(tmp_path / "empty.nii.gz")
    manifest.to_csv(root / "cohort" / "manifest_bad.csv", index=False)
    with pytest.raises(HccradError) as err:
        run_deep_stage(_study(root, "manifest_bad.csv"), spec, tmp_path / "out")
    assert err.value.case == bad and bad in str(err.value)


def test_spec_validation():
    assert DeepSpec().patch_size == (64, 64) and DeepSpec(mode="3d").patch_size == (32, 64, 64)
    with pytest.raises(ValidationError, match="size"):
        DeepSpec(mode="3d", size=[64, 64])
    with pytest.raises(ValidationError, match="lr"):
        DeepSpec(lr=-1.0)  # TrainConfig's rule, reported under the deep key
    with pytest.raises(ValidationError):
        DeepSpec(unknown=1)
    cfg = DeepSpec(epochs=3, optimizer="sgd", lr=0.01, balance=True, seed=7).train_config()
    assert (cfg.epochs, cfg.optimizer, cfg.lr, cfg.balance_task, cfg.seed) == (3, "sgd", 0.01, "response", 7)
