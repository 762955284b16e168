"""`DeepSpec`: the study spec's settings for the CNN stage (`hccrad.pipeline.deep_stage.run_deep_stage`).

The defaults suit the synthetic cohort on CPU (a small 2-D ResNet on 64 × 64 tumour-centred slices, AdamW,
at least 20 epochs and 300 optimiser steps, geometric augmentation only). Training settings are not
validated here a second time: `train_config()` builds the
`hccrad.deep.train.TrainConfig` they map to, and the spec validator calls it, so a bad learning rate or
patience is reported by TrainConfig's own rules, under the `deep.` keys the user wrote.

This module imports torch only inside `train_config()` (when a spec with a deep section is validated).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["DeepSpec", "SubtypeTask"]

_DEFAULT_SIZE = {"2d": (64, 64), "3d": (32, 64, 64)}

#: DeepSpec field -> TrainConfig field (the training settings handed through unchanged).
_TRAIN_FIELDS = {"epochs": "epochs", "batch_size": "batch_size", "optimizer": "optimizer", "lr": "lr",
                 "weight_decay": "weight_decay", "plateau_patience": "plateau_patience",
                 "early_stopping_patience": "early_stopping_patience", "seed": "seed", "device": "device",
                 "min_steps": "min_steps", "warmup_steps": "warmup_steps", "amp": "amp",
                 "num_workers": "num_workers"}


class SubtypeTask(BaseModel):
    """A binary "subtype" task from a clinical column (seed 002: MTM vs non-MTM); `positive` = the class-1 value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    column: str = Field(min_length=1)
    positive: int | float | str = 1


class DeepSpec(BaseModel):
    """CNN stage settings (seed 002/003 design, sized for small cohorts).

    arch, width, dropout: `hccrad.deep.build_network`. mode "2d": the `k_slices` largest-tumour axial
    slices of each case (their probabilities averaged per case); "3d": one tumour-centred volume. size:
    patch size in voxels ((y, x) for 2d, (z, y, x) for 3d; default 64² / 32 × 64²). phases: channels
    (None = the study's `data.phases`). window / normalise: per-phase intensity scaling (`build_patches`).
    n_splits, val_fraction: patient-grouped k-fold CV of the training cohort (out-of-fold scores) and the
    inner early-stopping split. balance: sample response classes equally often while training.
    gradcam_cases: Grad-CAM maps written for the first N cases of each cohort.

    Extra tasks sharing the backbone (seed 002's multitask MobileNet): `survival_intervals` (cut points in
    the study's survival unit, e.g. [12, 24, 36]) adds a task "survival" with len(cuts) + 1 classes (death
    in each interval, or alive beyond the last cut; censored before the last cut = missing label, masked in
    the loss); `subtype` ({column, positive}) adds a binary task "subtype" from a clinical column (NaN =
    missing label, masked). The response score is unchanged; CV stays stratified on response.

    Seed 003's whole-slice input: `fit="whole"` (mode 2d only) resizes the whole axial slice to `size`
    (H × W, e.g. [320, 450]); slices are the tumour mask's `k_slices` largest when the case has one, else
    the clinical column `slice_column` (axial index per case), else the `k_slices` central slices.
    `augment_copies` (seed 003: 9 → ×10) adds that many randomly shifted/rotated/flipped/zoomed copies of
    every training item, inside each training fold only. `compare_archs` cross-validates those
    architectures first and keeps the one with the lowest validation cross-entropy (seed 003 fig. 2).

    Training that learns (issue 27; `hccrad.deep.train`, `hccrad.deep.cv`):
    - `min_steps` (300): every network makes at least this many optimiser steps (epochs raised to
      ⌈min_steps / steps per epoch⌉ when `epochs` is too few); `warmup_steps` (100): early-stopping patience,
      the plateau scheduler and the choice of the best epoch start only after this many steps.
    - `min_val_cases` (20): the inner early-stopping split must hold at least this many patients; on a smaller
      cohort every network trains for the fixed planned epochs without early stopping (last epoch's weights,
      stated in the log and the report).
    - `augment`: geometric augmentation (shift, rotation, flip, zoom). `intensity_augment` (off): per-channel
      offset ±`intensity_shift` (HU with window normalisation, default 5 HU; SD units with z-score, default
      0.05) and scale ±`intensity_scale` (0.02). Off by default because on HU-windowed CT a few HU of mean
      enhancement can be the signal.
    - learned: the cross-validated held-out cross-entropy of the response must be below min(ln 2, CE of the
      training prevalence) − `learned_margin` (0.02). `compare_archs` chooses only among architectures that
      learned; when none (or the single `arch`) learned, the report says "no architecture learned" and
      cnn_score is not given to the models — a model that lists cnn_score is then an error naming it, unless
      `keep_unlearned_score: true` (smoke runs with few epochs; the report still says it did not learn).
    - `sanity` (off): first train the same network and settings on a planted easy signal (a bright blob in
      the tumour centre of a random half of the training cases, `hccrad.deep.sanity`); a held-out AUC < 0.9
      stops the stage with an error and no study CNN is reported.
    - `pretrained`: a local checkpoint file (state_dict; never downloaded) loaded into every network before
      training with torch.load(weights_only=True), strict key matching after `pretrained_key_map` ({old
      prefix: new prefix}, e.g. {"module.": ""}); see `hccrad.deep.pretrained`.

    Data loading (`hccrad.deep.loading`): `num_workers` (None = 0 on the CPU, min(4, CPUs − 1) with CUDA) DataLoader
    workers; the augmentation runs on each batch after it reaches the device; the weights are the same whatever
    the number of workers. `amp` ("auto"): mixed precision on CUDA only (bfloat16, or float16 with loss scaling
    where the card lacks bfloat16; "off" = float32); on the CPU training is float32 whatever it says.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    arch: Literal["resnet", "mobilenet", "alexnet", "inception"] = "resnet"
    mode: Literal["2d", "3d"] = "2d"
    size: list[int] | None = None
    phases: list[str] | None = None
    k_slices: int = Field(1, ge=1)
    fit: Literal["crop", "resize", "whole"] = "crop"
    slice_column: str | None = None
    window: tuple[float, float] = (-100.0, 300.0)
    normalise: Literal["window", "zscore"] = "window"
    width: int = Field(16, ge=1)
    dropout: float = Field(0.2, ge=0, lt=1)
    epochs: int = 20
    batch_size: int = 16
    optimizer: Literal["sgd", "adamw"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    plateau_patience: int = 5
    early_stopping_patience: int | None = 10
    balance: bool = False
    n_splits: int = Field(5, ge=2)
    val_fraction: float | None = Field(0.2, gt=0, lt=1)
    augment: bool = True
    intensity_augment: bool = False
    intensity_shift: float | None = Field(None, ge=0)
    intensity_scale: float = Field(0.02, ge=0, lt=1)
    min_steps: int = Field(300, ge=0)
    warmup_steps: int = Field(100, ge=0)
    min_val_cases: int = Field(20, ge=1)
    learned_margin: float = Field(0.02, ge=0)
    keep_unlearned_score: bool = False
    sanity: bool = False
    pretrained: Path | None = None
    pretrained_key_map: dict[str, str] = Field(default_factory=dict)
    gradcam_cases: int = Field(3, ge=0)
    survival_intervals: list[float] | None = None
    subtype: SubtypeTask | None = None
    augment_copies: int = Field(0, ge=0)
    compare_archs: list[Literal["resnet", "mobilenet", "alexnet", "inception"]] | None = None
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    amp: Literal["auto", "off", "bf16", "fp16"] = "auto"
    num_workers: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _check(self) -> "DeepSpec":
        want = 2 if self.mode == "2d" else 3
        if self.size is not None and (len(self.size) != want or min(self.size) < 1):
            raise ValueError(f"size {self.size} must be {want} positive numbers for mode {self.mode!r}, "
                             f"e.g. {list(_DEFAULT_SIZE[self.mode])}")
        if self.mode == "3d" and self.k_slices != 1:
            raise ValueError("k_slices applies to mode '2d' only; leave it at 1 for '3d'")
        if self.fit == "whole" and self.mode != "2d":
            raise ValueError("deep.fit 'whole' (whole axial slices, seed 003) needs deep.mode '2d'")
        if self.slice_column is not None and self.fit != "whole":
            raise ValueError("deep.slice_column is used by deep.fit 'whole' only; set fit: whole or remove it")
        cuts = self.survival_intervals
        if cuts is not None and (not cuts or any(c <= 0 for c in cuts)
                                 or any(b <= a for a, b in zip(cuts, cuts[1:]))):
            raise ValueError(f"deep.survival_intervals {cuts} must be increasing positive cut points in the "
                             "study's survival unit, e.g. [12, 24, 36]")
        if self.compare_archs is not None and (len(self.compare_archs) < 2
                                               or len(set(self.compare_archs)) != len(self.compare_archs)):
            raise ValueError(f"deep.compare_archs {self.compare_archs} needs two or more different architectures, "
                             "e.g. [alexnet, resnet, inception]")
        scale_set = self.intensity_scale != type(self).model_fields["intensity_scale"].default  # the resolved
        if not self.intensity_augment and (self.intensity_shift is not None or scale_set):  # spec (run.json) reads back
            raise ValueError("deep.intensity_shift / intensity_scale apply only with intensity_augment: true")
        if self.pretrained_key_map and self.pretrained is None:
            raise ValueError("deep.pretrained_key_map needs deep.pretrained (the checkpoint file)")
        lo, hi = self.window
        if not hi > lo:
            raise ValueError(f"window {list(self.window)} needs hi > lo, e.g. [-100, 300]")
        self.train_config()  # TrainConfig's own rules, reported as ValueError
        return self

    @property
    def patch_size(self) -> tuple[int, ...]:
        """`size`, or the mode's default (64, 64) / (32, 64, 64)."""
        return tuple(self.size) if self.size is not None else _DEFAULT_SIZE[self.mode]

    def augmentation(self):
        """The `hccrad.deep.data.Augmentation` of training (None when `augment` is off): geometric, plus the
        small intensity terms only with `intensity_augment`."""
        # lazy: torch; config.spec reads this module for every study
        from hccrad.deep.data import Augmentation, intensity_augmentation

        if not self.augment and not self.intensity_augment:
            return None
        geometry = {} if self.augment else dict(shift=0.0, rotation_deg=0.0, flip=False, zoom=(1.0, 1.0))
        if self.intensity_augment:
            scale, shift = intensity_augmentation(self.normalise, self.window, shift=self.intensity_shift,
                                                  scale=self.intensity_scale)
            geometry.update(intensity_scale=scale, intensity_shift=shift)
        return Augmentation(**geometry)

    def train_config(self):
        """The `hccrad.deep.train.TrainConfig` these settings map to (imports torch)."""
        try:
            from hccrad.deep.train import TrainConfig  # lazy: torch (config.spec reads this module for every study)
        except ImportError as exc:  # torch missing
            raise ValueError(f"the deep stage needs torch ({exc}); install it with "
                             "pip install -c requirements/constraints-deep.txt -r requirements/deep.txt") from exc
        values = {dst: getattr(self, src) for src, dst in _TRAIN_FIELDS.items()}
        values["balance_task"] = "response" if self.balance else None
        try:
            return TrainConfig(**values)
        except ValidationError as exc:
            back = {v: k for k, v in _TRAIN_FIELDS.items()}
            problems = [f"{back.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}" for e in exc.errors()]
            raise ValueError("; ".join(problems)) from None
