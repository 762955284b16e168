"""Seed 003 input and training: whole axial slices without a mask, offline augmentation copies (inside the
training fold only), architecture comparison in the study stage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from hccrad.cohort.study import Study  # noqa: E402
from hccrad.config import parse_spec  # noqa: E402
from hccrad.core.case import Case  # noqa: E402
from hccrad.core.errors import InputError  # noqa: E402
from hccrad.deep import cv as cv_module  # noqa: E402
from hccrad.deep.cv import cross_validate  # noqa: E402
from hccrad.deep.data import build_patches, largest_slices, with_augmented_copies  # noqa: E402
from hccrad.deep.networks import Task  # noqa: E402
from hccrad.deep.spec import DeepSpec  # noqa: E402
from hccrad.pipeline.deep_stage import _case_patches, run_deep_stage  # noqa: E402
from hccrad.deep.train import NetworkSpec, TrainConfig  # noqa: E402
from hccrad.deep.whole import choose_slices, whole_slices  # noqa: E402
from hccrad.testing import assert_close  # noqa: E402

from .conftest import WINDOWS  # noqa: E402


def test_slice_rules():
    mask = np.zeros((9, 4, 4), bool)
    mask[2, :2, :2] = True
    mask[5] = True
    z, rule = choose_slices(9, 2, mask=mask)
    assert rule == "mask" and list(z) == list(largest_slices(mask, 2)) == [5, 2]
    z, rule = choose_slices(9, 3, slice_index=8.0)
    assert rule == "column" and list(z) == [6, 7, 8]
    z, rule = choose_slices(9, 1, mask=np.zeros((9, 4, 4), bool), slice_index=float("nan"))
    assert rule == "central" and list(z) == [4]
    assert list(choose_slices(10, 2)[0]) == [4, 5]
    with pytest.raises(InputError) as err:
        choose_slices(9, 1, slice_index=9, case_id="X1", column="tumour_slice")
    assert err.value.case == "X1" and err.value.field == "tumour_slice"


def test_whole_slice_any_aspect_ratio(cohort):
    cases, _, _ = cohort
    c = cases[0]
    no_mask = Case(c.case_id, dict(c.images), {}, patient_id="P9")
    w = whole_slices(no_mask, ["pre", "arterial"], (20, 45), k=2, windows=WINDOWS)
    assert w.rule == "central" and w.patches.x.shape == (2, 2, 20, 45)
    assert w.patches.boxes[0].tolist() == [[4, 0, 0], [5, 28, 28]] and w.patches.patient_ids == ("P9", "P9")
    assert 0.0 <= w.patches.x.min() and w.patches.x.max() <= 1.0
    # a linear resize keeps the slice's mean intensity (windowed), to within interpolation at the edges
    art = np.clip((c.image("arterial").array[4] + 50.0) / 300.0, 0, 1)
    assert_close(w.patches.x[0, 1].mean(), art.mean(), rtol=0.02, atol=0, what="mean after resize")
    m = whole_slices(c, ["pre"], (28, 28), k=1, windows=WINDOWS)
    assert m.rule == "mask" and m.patches.boxes[0, 0, 0] == largest_slices(c.mask("tumor"), 1)[0]
    assert_close(m.patches.x[0, 0], np.clip((c.image("pre").array[m.patches.boxes[0, 0, 0]] + 50) / 300, 0, 1),
                 rtol=0, atol=1e-5, what="same-size whole slice = the windowed slice")


def test_copies_are_made_inside_training_folds_only(cohort, monkeypatch):
    cases, y, _ = cohort
    patches = build_patches(cases[:18], ["pre", "arterial"], mode="2d", size=(16, 16), k=2, windows=WINDOWS)
    targets = {"response": np.repeat(y[:18], 2)}
    seen = []
    real = cv_module.train_model

    def spy(spec, train, val, cfg, progress=None):
        seen.append((train, val))
        return real(spec, train, val, cfg, progress=progress)

    monkeypatch.setattr(cv_module, "train_model", spy)
    spec = NetworkSpec("resnet", 2, (Task("response"),), spatial_dims=2, width=4)
    res = cross_validate(spec, patches, targets, TrainConfig(epochs=1, batch_size=8, device="cpu"), n_splits=3,
                         val_fraction=0.25, augment_copies=2)
    folds = res.folds.set_index("fold")
    original = {}
    for i, cid in enumerate(patches.case_ids):
        original.setdefault(cid, []).append(patches.x[i])
    for k, (train, val) in enumerate(seen):
        n = int(folds.loc[k, "n_train"])
        assert len(train) == 3 * n == int(folds.loc[k, "n_train_augmented"])
        assert len(val) == int(folds.loc[k, "n_val"])
        held = set(res.predictions.loc[res.predictions["fold"] == k, "case_id"])
        train_cases = set(train.patches.case_ids)
        assert not train_cases & set(val.patches.case_ids) and not train_cases & held
        assert train.patches.case_ids == train.patches.case_ids[:n] * 3
        for i, cid in enumerate(val.patches.case_ids):  # validation items are untouched originals
            assert any(np.array_equal(val.patches.x[i], o) for o in original[cid])
        assert np.array_equal(train.patches.x[:n], np.stack([train.patches.x[i] for i in range(n)]))
        assert not np.allclose(train.patches.x[n:2 * n], train.patches.x[:n])


def test_copies_are_seeded():
    from hccrad.deep.data import PatchSet

    x = np.random.default_rng(0).normal(size=(3, 1, 12, 12)).astype(np.float32)
    ps = PatchSet(x, ("a", "a", "b"), ("p", "p", "q"), ("pre",), "2d", np.zeros((3, 2, 3), int))
    a, ta = with_augmented_copies(ps, {"r": np.array([0, 0, 1])}, 2, seed=4)
    b, _ = with_augmented_copies(ps, {"r": np.array([0, 0, 1])}, 2, seed=4)
    c, _ = with_augmented_copies(ps, {"r": np.array([0, 0, 1])}, 2, seed=5)
    assert np.array_equal(a.x, b.x) and not np.array_equal(a.x, c.x)
    assert len(a) == 9 and a.patient_ids == ("p", "p", "q") * 3 and list(ta["r"]) == [0, 0, 1] * 3
    assert with_augmented_copies(ps, {}, 0, seed=4)[0] is ps


def _study(root, manifest="manifest.csv") -> Study:
    return Study(parse_spec({
        "name": "deep-whole", "seed": 0, "output_dir": str(root / "results"),
        "data": {"manifest": str(root / "cohort" / manifest), "clinical": str(root / "cohort" / "clinical.csv")},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "response"}},
    }))


def test_whole_slice_rules_in_the_study(synth_cohort_root, tmp_path):
    root = synth_cohort_root
    m = pd.read_csv(root / "cohort" / "manifest.csv").drop(columns=["mask_tumor"])
    m.to_csv(root / "cohort" / "manifest_nomask.csv", index=False)
    study = _study(root, "manifest_nomask.csv")
    cid = study.case_ids()[0]
    spec = DeepSpec(mode="2d", fit="whole", size=[24, 36], device="cpu")
    ps, rule = _case_patches(study, cid, spec, ["portal"])
    assert rule == "central" and ps.x.shape == (1, 1, 24, 36)
    study.table.loc[:, "tumour_slice"] = 3
    ps, rule = _case_patches(study, cid, spec.model_copy(update={"slice_column": "tumour_slice"}), ["portal"])
    assert rule == "column" and ps.boxes[0, 0, 0] == 3
    study.table.loc[cid, "tumour_slice"] = 999
    with pytest.raises(InputError) as err:
        _case_patches(study, cid, spec.model_copy(update={"slice_column": "tumour_slice"}), ["portal"])
    assert err.value.case == cid and "tumour_slice" in str(err.value)


def test_stage_whole_slices_copies_and_architecture_choice(synth_cohort_root):
    root = synth_cohort_root
    spec = DeepSpec(mode="2d", fit="whole", size=[24, 36], phases=["arterial", "portal"], epochs=2, n_splits=2,
                    width=4, batch_size=8, gradcam_cases=1, augment_copies=1, compare_archs=["alexnet", "resnet"],
                    device="cpu", seed=2, min_steps=0)
    res = run_deep_stage(_study(root), spec, root / "whole1")
    names = [n for n, _ in res.figures]
    assert names[0] == "cnn_architecture_comparison" and "cnn_activation_panels" in names
    tables = dict(res.tables)
    sel = tables["cnn_architecture_selection"]
    assert sorted(sel["model"]) == ["alexnet", "resnet"] and sel["chosen"].sum() == 1
    chosen = sel.loc[sel["mean_val_ce"].idxmin(), "model"]
    assert res.selection.chosen == chosen == res.final.network.arch
    assert res.cv is res.selection.results[chosen]
    assert (res.cv.folds["n_train_augmented"] == 2 * res.cv.folds["n_train"]).all()
    assert tables["cnn_architecture"]["parameters"].sum() == sum(p.numel() for p in res.final.network.parameters())
    grid = _study(root).load_case(res.scores.index[0]).image("portal").shape
    assert (res.items["slice_rule"] == "mask").all()
    assert (res.items["stop_y"] == grid[1]).all() and (res.items["stop_x"] == grid[2]).all()  # whole slices
    assert res.scores.notna().all() and len(res.cam_paths) == 2
    # the figures are kept as data (recordable for `hccrad report OUT`) and draw the same from a record
    from hccrad.pipeline.records import read_record, write_record
    from hccrad.pipeline.results import deep_record

    write_record(deep_record(res), root / "whole1_results", "deep")
    back = read_record(root / "whole1_results", "deep")
    assert [n for n, _ in back.figures] == names
    for (name, data), (_, again) in zip(res.figures, back.figures):
        assert _png(again.draw()) == _png(data.draw()), name


def _png(fig) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=30, metadata={"Software": None})
    return buf.getvalue()
