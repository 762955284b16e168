"""A user's own nnU-Net v2 liver model (issue 15 item 8), tested for real: a tiny nnU-Net v2 is planned,
preprocessed and trained (one short epoch, CPU) inside the test on synthetic cases, then hccrad's
weights-only loader must predict exactly what nnU-Net's own predictor predicts from the NIfTI files."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch

import nnunetv2  # noqa: E402,F401  (a declared dependency: requirements/nnunet.txt)

from hccrad.core.errors import InputError  # noqa: E402
from hccrad.core.image import Image  # noqa: E402
from hccrad.deep.nnunet import NnUNetLiverModel, fill_missing_liver_masks_nnunet  # noqa: E402
from hccrad.io import read_image, write_image  # noqa: E402
from hccrad.synth import generate_cohort  # noqa: E402
from hccrad.testing import assert_close  # noqa: E402

DATASET_ID, DATASET = 501, "Dataset501_HccradLiver"
N_TRAIN = 6
MIRROR_AXES = (2,)  # test-time mirroring of the tiny model (see _mirror_only)


def _small(image: Image) -> Image:
    """Every second voxel (32×96×96 → 16×48×48, spacing doubled) so nnU-Net plans a tiny network."""
    return Image(np.ascontiguousarray(image.array[::2, ::2, ::2]), tuple(2 * s for s in image.spacing),
                 image.origin, image.direction, image.name)


def _mirror_only(trainer, axes: tuple[int, ...]) -> None:
    """Train (and so record in the checkpoint) mirroring along `axes` only, not nnU-Net's 3-D default (0, 1, 2):
    every prediction below then runs 2 forward passes instead of 8, and the loader must pass the checkpoint's
    axes on (a loader using the default axes, or none, would differ from nnU-Net's own predictor)."""
    configure = trainer.configure_rotation_dummyDA_mirroring_and_inital_patch_size

    def configure_with_axes():
        rotation, dummy_2d, initial_patch_size, _ = configure()
        trainer.inference_allowed_mirroring_axes = axes
        return rotation, dummy_2d, initial_patch_size, axes

    trainer.configure_rotation_dummyDA_mirroring_and_inital_patch_size = configure_with_axes


def build_tiny_nnunet(tmp: Path, mp: pytest.MonkeyPatch) -> dict:
    """Synthetic cohort → nnU-Net raw dataset → fingerprint, plan, preprocess (3d_fullres) → train fold 0."""
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (extract_fingerprints, plan_experiments,
                                                                      preprocess)
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    generate_cohort(tmp / "cohort", n=10, seed=3)
    man = pd.read_csv(tmp / "cohort" / "manifest.csv")
    raw = tmp / "nnUNet_raw" / DATASET
    cases = {}
    for i, r in enumerate(man.itertuples()):
        img = _small(read_image(tmp / "cohort" / r.image_portal, name="portal"))
        liver = _small(read_image(tmp / "cohort" / r.mask_liver, name="liver"))
        liver = liver.with_array((liver.array > 0).astype(np.uint8))
        if i < N_TRAIN:
            write_image(img, raw / "imagesTr" / f"{r.case_id}_0000.nii.gz")
            write_image(liver, raw / "labelsTr" / f"{r.case_id}.nii.gz")
        else:
            write_image(img, tmp / "test_images" / f"{r.case_id}_0000.nii.gz")
            cases[r.case_id] = (img, liver)
    (raw / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "CT"}, "labels": {"background": 0, "liver": 1},
        "numTraining": N_TRAIN, "file_ending": ".nii.gz"}))

    t0 = time.perf_counter()
    extract_fingerprints([DATASET_ID], num_processes=1, check_dataset_integrity=True, verbose=False,
                         show_progress_bar=False)
    plans_id = plan_experiments([DATASET_ID])
    preprocess([DATASET_ID], plans_id, configurations=("3d_fullres",), num_processes=(1,),
               show_progress_bar=False)
    t1 = time.perf_counter()
    pre = tmp / "nnUNet_preprocessed" / DATASET
    plans = json.loads((pre / f"{plans_id}.json").read_text())
    dataset_json = json.loads((pre / "dataset.json").read_text())
    mp.setenv("nnUNet_n_proc_DA", "0")  # SingleThreadedAugmenter: no background augmentation workers
    plans["continue_training"] = False  # as nnunetv2.run.run_training.get_trainer_from_args sets it
    trainer = nnUNetTrainer(plans, "3d_fullres", 0, dataset_json, device=torch.device("cpu"))
    _mirror_only(trainer, MIRROR_AXES)
    trainer.num_epochs = 1
    trainer.num_iterations_per_epoch = 6
    trainer.num_val_iterations_per_epoch = 1
    trainer.run_training()  # writes fold_0/checkpoint_final.pth; final validation (process pool) not run
    t2 = time.perf_counter()
    folder = tmp / "nnUNet_results" / DATASET / f"nnUNetTrainer__{plans_id}__3d_fullres"
    return {"folder": folder, "cases": cases, "test_images": tmp / "test_images", "plans": plans,
            "seconds": (t1 - t0, t2 - t1)}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("nnunet")
    before = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        # nnunetv2.paths reads these lazily (at each use), so setting them here is enough; they are unset again
        # before the tests run, which shows that hccrad's loader does not need them
        mp.setenv("nnUNet_raw", str(tmp / "nnUNet_raw"))
        mp.setenv("nnUNet_preprocessed", str(tmp / "nnUNet_preprocessed"))
        mp.setenv("nnUNet_results", str(tmp / "nnUNet_results"))
        mp.setenv("nnUNet_n_proc_DA", "1")  # planning sets torch threads to this (0 is refused there)
        mp.setenv("nnUNet_def_n_proc", "1")
        mp.setenv("nnUNet_compile", "false")
        torch.set_num_threads(1)
        # nnU-Net's progress plot calls seaborn.set(font_scale=2.5), which restyles every later matplotlib
        # figure of this process (fonts 2.5x, seaborn colours): keep it inside this fixture
        try:
            with matplotlib.rc_context():
                built = build_tiny_nnunet(tmp, mp)
        finally:
            torch.set_num_threads(before)
    torch.set_num_threads(1)
    yield built
    torch.set_num_threads(before)


def reference_predictor(folder: Path):
    """nnU-Net's own loader (full unpickling — fine here: the test wrote this folder)."""
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    p = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=True, perform_everything_on_device=False,
                        device=torch.device("cpu"), verbose=False, verbose_preprocessing=False, allow_tqdm=False)
    p.initialize_from_trained_model_folder(str(folder), use_folds=(0,), checkpoint_name="checkpoint_final.pth")
    return p


def test_tiny_model_was_trained(tiny):
    folder = tiny["folder"]
    assert (folder / "fold_0" / "checkpoint_final.pth").is_file()
    assert (folder / "plans.json").is_file() and (folder / "dataset.json").is_file()
    print("nnU-Net plan+preprocess %.1f s, train %.1f s" % tiny["seconds"])


def test_predictions_equal_nnunet_own_predictor(tiny):
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO

    model = NnUNetLiverModel.from_folder(tiny["folder"], folds=(0,), device="cpu")
    assert model.channel_names == {"0": "CT"} and model.trainer_name == "nnUNetTrainer"
    ref = reference_predictor(tiny["folder"])
    assert tuple(ref.allowed_mirroring_axes) == MIRROR_AXES, "nnU-Net reads the trained axes from the checkpoint"
    assert tuple(model.predictor.allowed_mirroring_axes) == MIRROR_AXES
    for case_id, (img, truth) in tiny["cases"].items():
        # nnU-Net's own path: its SimpleITK reader on the NIfTI file (its axis order and spacing convention)
        data, props = SimpleITKIO().read_images([str(tiny["test_images"] / f"{case_id}_0000.nii.gz")])
        seg_ref, prob_ref = ref.predict_single_npy_array(data, props, None, None, True)
        # hccrad's path: the hccrad Image read by hccrad.io
        ours = read_image(tiny["test_images"] / f"{case_id}_0000.nii.gz", name="portal")
        mask = model.predict({"portal": ours}, channels={"0": "portal"})
        probs = model.predict_probabilities(ours, channels=["portal"])
        assert mask.dtype == bool and mask.shape == ours.shape == truth.shape
        assert ours.with_array(mask.astype(np.uint8)).same_grid(truth)
        np.testing.assert_array_equal(mask, seg_ref == 1)
        assert 0.05 < mask.mean() < 0.95, "the tiny model should segment something, or the equality is vacuous"
        assert_close(probs, prob_ref, rtol=0, atol=1e-5, what=f"{case_id} softmax vs nnU-Net predictor")


def test_spacing_axis_order_matters(tiny):
    """The check above can fail: giving nnU-Net the spacing in (x, y, z) order changes its resampling and output."""
    model = NnUNetLiverModel.from_folder(tiny["folder"], device="cpu")
    case_id, (img, _) = next(iter(tiny["cases"].items()))
    assert img.spacing[0] != img.spacing[2]
    good = model.predict_probabilities(img, channels=["portal"])
    wrong = Image(img.array, img.spacing[::-1], name="portal")
    bad = model.predict_probabilities(wrong, channels=["portal"])
    assert np.abs(good - bad).max() > 1e-3


def test_fill_missing_masks_return_shape(tiny):
    model = NnUNetLiverModel.from_folder(tiny["folder"], device="cpu")
    imgs = {c: {"portal": img} for c, (img, _) in tiny["cases"].items()}
    pred, record = fill_missing_liver_masks_nnunet(imgs, model, {"0": "portal"})
    assert set(pred) == set(imgs) and record["predicted_cases"] == sorted(imgs)
    assert record["folds"] == [0] and record["model"] == "nnunet"
    for c, m in pred.items():
        assert m.shape == imgs[c]["portal"].shape and m.dtype == bool


def test_missing_fold_and_files(tiny, tmp_path):
    with pytest.raises(InputError, match="fold_3"):
        NnUNetLiverModel.from_folder(tiny["folder"], folds=(3,))
    broken = tmp_path / "model"
    shutil.copytree(tiny["folder"], broken, ignore=shutil.ignore_patterns("validation", "*.pdf"))
    (broken / "plans.json").unlink()
    with pytest.raises(InputError, match="plans.json"):
        NnUNetLiverModel.from_folder(broken)
    (broken / "dataset.json").unlink()
    with pytest.raises(InputError, match="dataset.json"):
        NnUNetLiverModel.from_folder(broken)


def test_channel_mismatch(tiny):
    model = NnUNetLiverModel.from_folder(tiny["folder"], device="cpu")
    img = next(iter(tiny["cases"].values()))[0]
    with pytest.raises(InputError, match="channel"):
        model.predict({"portal": img, "arterial": img}, channels=["portal", "arterial"])
    with pytest.raises(InputError, match="'1'"):
        model.predict({"portal": img}, channels={"1": "portal"})
    with pytest.raises(InputError, match="arterial"):
        model.predict({"portal": img}, channels=["arterial"])


class Payload:
    """Unpickling this would run os.system; the loader must refuse it before that."""

    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_PICKLE",))


def test_pickled_object_checkpoint_is_refused(tiny, tmp_path, monkeypatch):
    evil = tmp_path / "model"
    shutil.copytree(tiny["folder"], evil, ignore=shutil.ignore_patterns("validation", "*.pdf"))
    ckpt = torch.load(evil / "fold_0" / "checkpoint_final.pth", weights_only=False)  # the test's own file
    ckpt["payload"] = Payload()
    torch.save(ckpt, evil / "fold_0" / "checkpoint_final.pth")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="checkpoint_final.pth") as err:
        NnUNetLiverModel.from_folder(evil, folds=(0,))
    assert "weights_only" in str(err.value) and "system" in str(err.value)  # names the refused global
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()


def test_unsafe_plans_class_is_refused(tiny, tmp_path):
    bad = tmp_path / "model"
    shutil.copytree(tiny["folder"], bad, ignore=shutil.ignore_patterns("validation", "*.pdf"))
    plans = json.loads((bad / "plans.json").read_text())
    plans["configurations"]["3d_fullres"]["architecture"]["network_class_name"] = "subprocess.Popen"
    (bad / "plans.json").write_text(json.dumps(plans))
    with pytest.raises(InputError, match="subprocess.Popen"):
        NnUNetLiverModel.from_folder(bad, folds=(0,))


def test_study_uses_the_nnunet_folder_for_cases_without_a_liver_mask(tiny, tmp_path):
    """data.liver_model {kind: nnunet, folder} → the imaging stage predicts the missing masks with that model
    (written beside the results, recorded for the report) and trains no U-Net."""
    import yaml

    from hccrad.cohort.study import Study
    from hccrad.config import load_spec
    from hccrad.pipeline.imaging import _predict_missing_livers

    cohort = tiny["folder"].parents[2] / "cohort"  # the synthetic cohort the model was built from
    man = pd.read_csv(cohort / "manifest.csv")
    portal_of = dict(zip(man["case_id"], man["image_portal"]))
    man.loc[man.index[-2:], "mask_liver"] = ""  # two cases without a liver mask
    for col in [c for c in man.columns if c.startswith(("image_", "mask_"))]:
        man[col] = man[col].map(lambda p: str(cohort / p) if isinstance(p, str) and p else "")
    man.to_csv(tmp_path / "manifest.csv", index=False)
    (tmp_path / "study.yaml").write_text(yaml.safe_dump({
        "name": "t", "data": {"manifest": "manifest.csv", "clinical": str(cohort / "clinical.csv"),
                              "segment_missing_liver": True,
                              "liver_model": {"kind": "nnunet", "folder": str(tiny["folder"]), "folds": [0],
                                              "channels": {"0": "portal"}}},
        "outcome": {"response": {"column": "response"}}}))
    study = Study(load_spec(tmp_path / "study.yaml"))
    pred, record = _predict_missing_livers(study, study.case_ids(), tmp_path / "out", None)
    missing = list(man["case_id"].iloc[-2:])
    assert sorted(pred) == sorted(missing) and record["model"] == "nnunet" and record["predicted_cases"] == sorted(missing)
    for c in missing:
        written = read_image(tmp_path / "out" / "liver_masks" / f"{c}_liver_pred.nii.gz", name="liver")
        portal = read_image(cohort / portal_of[c], name="portal")
        assert written.shape == portal.shape and np.array_equal(written.array > 0, pred[c])


def test_liver_model_spec_needs_a_folder_for_nnunet():
    from pydantic import ValidationError

    from hccrad.config.spec import LiverModelSpec

    with pytest.raises(ValidationError, match="needs liver_model.folder"):
        LiverModelSpec(kind="nnunet")
    with pytest.raises(ValidationError, match="kind nnunet only"):
        LiverModelSpec(folder="x")
