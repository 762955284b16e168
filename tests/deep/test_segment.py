"""Liver U-Net on the synthetic cohort: trained on labelled cases, Dice on held-out cases, and masks
predicted for the cases that have none (issue 15 item 8)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from hccrad.deep.segment import dice, fill_missing_liver_masks
from hccrad.io import read_image
from hccrad.synth import generate_cohort


def test_dice_values():
    a = np.zeros((2, 4, 4), bool)
    a[0, :2] = True
    assert dice(a, a) == 1.0 and dice(a, ~a) == 0.0 and dice(np.zeros_like(a), np.zeros_like(a)) == 1.0


@pytest.mark.slow
def test_liver_unet_on_synthetic_cases(tmp_path):
    torch.set_num_threads(1)
    generate_cohort(tmp_path, n=10, seed=8)
    man = pd.read_csv(tmp_path / "manifest.csv")
    vols = {r.case_id: read_image(tmp_path / r.image_portal).array for r in man.itertuples()}
    truth = {r.case_id: read_image(tmp_path / r.mask_liver).array > 0 for r in man.itertuples()}
    masks = dict(truth)
    unlabelled = list(man.case_id[:2])
    for c in unlabelled:
        masks[c] = None
    pred, record = fill_missing_liver_masks(vols, masks, holdout=2, seed=0, grid=(16, 48, 48), epochs=25)
    assert set(pred) == set(unlabelled)
    assert record["mean_dice"] >= 0.85, record
    for c in unlabelled:
        assert pred[c].shape == vols[c].shape
        assert dice(pred[c], truth[c]) >= 0.85, (c, dice(pred[c], truth[c]))
