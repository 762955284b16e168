"""The CNN stage of a study: one honest deep-learning score per case, comparable with the radiomics models.

Seed 003's protocol (five-fold cross-validation in the training cohort, then the network trained on the
whole training cohort validated in the independent cohorts) applied to a `hccrad.cohort.study.Study`:

1. every case is cut into tumour-centred patches of the chosen phases (`build_patches`; phases are
   channels, intensities windowed per case, so nothing is learned across patients);
2. training cohort: patient-grouped k-fold CV (`cross_validate`); each training case's score is the
   response probability p(y = 1 | x) from the fold network that never saw the case (**out-of-fold**), so
   a model fitted on the training scores (e.g. radiomics + `cnn_score`) is not fitted on memorised values;
3. one network trained on the whole training cohort (inner patient-grouped split for early stopping)
   scores every case of the other cohorts (**trained-on-training**); a patient present in both the
   training and another cohort is an error (the score would be leaked);
4. Grad-CAM maps (Selvaraju 2017) of the final network for the positive class are written as NIfTI on the
   reference phase's grid for the first `gradcam_cases` cases of each cohort, with overlay figures, the
   cascading model-randomisation check (Adebayo 2018, table cnn_gradcam_randomisation) and the share of
   the map inside the tumour vs the tumour's share of the patch (cnn_gradcam_tumour_share);
5. feature-map panels of the final network grouped by predicted class (seed 002 fig. 4,
   `hccrad.deep.activation`) and the final network's layer table (seed 003 fig. 3).

Extra tasks (seed 002's multitask MobileNet) share the backbone with "response": `survival_intervals`
adds "survival" (len(cuts) + 1 classes; **censoring rule**: censored at t ≥ the last cut → last class,
censored earlier → missing label, masked in the loss — see `hccrad.deep.targets`) and `subtype` adds
"subtype" (a clinical column, NaN = missing, masked). CV stays stratified on response, the score stays
p(response). `predictions` holds every task's predicted class and probabilities, out of fold for the
training cohort as the scores are. `compare_archs` cross-validates the candidates first (seed 003 fig. 2)
and keeps the lowest validation cross-entropy; its CV of the chosen architecture is the main CV (same
folds, seed and settings). `augment_copies` adds offline-augmented copies inside each training fold only.

The score is a probability in [0, 1], `scores.name == "cnn_score"`; join it to the modelling table by
case id. Same seed → same scores on CPU (the training loop is seeded and deterministic).

Whether it learned (issue 27): `learned` is False when the cross-validated held-out cross-entropy is not
clearly below chance (`hccrad.deep.cv`, "no architecture learned"); the study then leaves cnn_score out of
the models (`hccrad.pipeline.run`). `notes` records, for the report and run.json, the training plan (step
budget, warm-up), a too-small inner validation split (fixed epochs instead of early stopping), the
positive control (`deep.sanity`, `hccrad.deep.sanity`; a failure is an error) and pretrained weights.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from hccrad.core.errors import DataError, HccradError, InputError, ModelError, SpecError
from hccrad.core.ids import safe_file_stem
from hccrad.core.image import Image
from hccrad.deep.cv import ArchitectureSelection, CVResult, case_level, cross_validate, learned_threshold, patient_folds
from hccrad.deep.data import Augmentation, PatchDataset, PatchSet, build_patches, item_targets, with_augmented_copies
from hccrad.deep.gradcam import cam_to_image, grad_cam
from hccrad.deep.gradcam_checks import attribution_share, randomisation_check
from hccrad.deep.loading import loading_note
from hccrad.deep.networks import Network, Task
from hccrad.deep.sanity import positive_control
from hccrad.deep.spec import DeepSpec
from hccrad.deep.stage_extras import (activation_outputs, architecture_outputs, compare_architectures, net_spec_for,
                                      with_predicted_classes)
from hccrad.deep.targets import stage_targets
from hccrad.deep.train import (NetworkSpec, Progress, TrainConfig, TrainResult, epoch_plan, predict, resolve_device,
                               train_model)
from hccrad.deep.whole import whole_slices
from hccrad.evaluate import auc_ci
from hccrad.io.volume import write_image
from hccrad.pipeline.registration_stage import with_registered_phases
from hccrad.report.figures.deep import CamOverlayFigure, CamPanel, LossCurvesFigure

log = logging.getLogger(__name__)

__all__ = ["DeepStageResult", "load_deep_network", "run_deep_stage"]

TASK = "response"
OUT_OF_FOLD = "out-of-fold"
TRAINED_ON_TRAINING = "trained-on-training"


@dataclass(frozen=True, eq=False)
class DeepStageResult:
    """CNN scores of every case of a study, with how each was obtained.

    scores: case_id → p(response) ("cnn_score"); kind: case_id → "out-of-fold" (training cohort) or
    "trained-on-training" (other cohorts); cohort, outcome: case_id → cohort name / 0-1 response;
    folds: training case_id → CV fold whose network scored it; history: per-epoch losses with a `network`
    column ("fold 0" … "final"); cam_paths: case_id → Grad-CAM NIfTI; figures: (name, figure data) pairs
    (`hccrad.report.figures.deep`: each draws itself; the report records the data, not the figure);
    checkpoint: the final network (`load_deep_network`); cv / final: the underlying training results;
    predictions: case_id → per task ``<task>_class`` and ``<task>_p<j>`` (every case; out-of-fold for the
    training cohort); tables: (name, DataFrame) pairs; items: one row per network input (`PatchSet.summary`
    + cohort and slice_rule); selection: the architecture comparison when `compare_archs` was set.
    learned: whether the network learned (module docstring; False → "no architecture learned", the score
    must not feed a model); notes: plain-language lines on how it was trained; control: the positive
    control's record (`deep.sanity`).
    """

    scores: pd.Series
    kind: pd.Series
    cohort: pd.Series
    outcome: pd.Series
    folds: pd.Series
    history: pd.DataFrame
    cam_paths: dict[str, Path]
    figures: list[tuple[str, object]] = field(repr=False)  # figure data with draw() (hccrad.report.figures.deep)
    checkpoint: Path
    spec: DeepSpec
    cv: CVResult = field(repr=False)
    final: TrainResult = field(repr=False)
    predictions: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list, repr=False)
    items: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    selection: ArchitectureSelection | None = field(default=None, repr=False)
    learned: bool = True
    notes: tuple[str, ...] = ()
    control: dict | None = None

    NOT_LEARNED = "no architecture learned"

    def record(self) -> dict:
        """For run.json: learned, the notes and the positive control."""
        return {"learned": self.learned, "notes": list(self.notes), "positive_control": self.control,
                "arch": self.final.network.arch}

    def summary(self) -> pd.DataFrame:
        """One row per cohort: kind, n_cases, n_positive, AUC of cnn_score with its DeLong 95 % CI."""
        rows = []
        for name in dict.fromkeys(self.cohort):
            ids = self.cohort.index[self.cohort == name]
            y = self.outcome.loc[ids].to_numpy()
            row = {"cohort": name, "kind": str(self.kind.loc[ids].iloc[0]), "n_cases": len(ids),
                   "n_positive": int(y.sum()), "auc": np.nan, "auc_lower": np.nan, "auc_upper": np.nan,
                   "learned": self.learned}
            if 0 < y.sum() < len(y):
                a = auc_ci(y, self.scores.loc[ids].to_numpy())
                row.update(auc=a.auc, auc_lower=a.lower, auc_upper=a.upper)
            else:
                log.warning("cohort %s has one outcome class only: no CNN AUC", name)
            rows.append(row)
        return pd.DataFrame(rows)


def _wrap(progress: Progress | None) -> Progress | None:
    if progress is None:
        return None
    return lambda step, done, total: progress(f"deep {step}", done, total)


def _concat(parts: list[PatchSet]) -> PatchSet:
    return PatchSet(np.concatenate([p.x for p in parts]), sum((p.case_ids for p in parts), ()),
                    sum((p.patient_ids for p in parts), ()), parts[0].phases, parts[0].mode,
                    np.concatenate([p.boxes for p in parts]))


def _phases(study, spec: DeepSpec) -> list[str]:
    have = list(study.spec.data.phases)
    phases = list(spec.phases) if spec.phases is not None else have
    missing = [p for p in phases if p not in have]
    if missing or not phases:
        raise SpecError([f"deep.phases {phases} must be a non-empty subset of data.phases {have}"])
    return phases


def _case_patches(study, case_id: str, spec: DeepSpec, phases: list[str], out: Path | None = None
                  ) -> tuple[PatchSet, str]:
    """Patches of one case and the slice rule used; any failure is re-raised naming the case. Under
    `preprocess.registration` the phases are the imaging stage's registered ones (read from `out`)."""
    tumor = study.spec.data.tumor_mask
    try:
        case = study.load_case(case_id, masks=(tumor,))
        if out is not None:
            case = with_registered_phases(study.spec, case, out)
        windows = {p: spec.window for p in phases}
        if spec.fit == "whole":
            col = spec.slice_column
            idx = None if col is None else study.table.loc[case_id, col]
            w = whole_slices(case, phases, spec.patch_size, k=spec.k_slices, mask_name=tumor, slice_index=idx,
                             column=col, windows=windows, normalise=spec.normalise)
            return w.patches, w.rule
        return build_patches([case], phases, mode=spec.mode, size=spec.patch_size, k=spec.k_slices,
                             mask_name=tumor, windows=windows, normalise=spec.normalise, fit=spec.fit), "mask"
    except HccradError as exc:
        if exc.case is not None:
            raise
        raise InputError(f"cannot cut the CNN input: {exc.message}", case=case_id, file=exc.file,
                         field=exc.field, hint=exc.hint) from exc


def _select(patches: PatchSet, ids: list[str]) -> PatchSet:
    wanted = set(ids)
    return patches.subset([i for i, c in enumerate(patches.case_ids) if c in wanted])


def _inner_fraction(patches: PatchSet, y: np.ndarray, spec: DeepSpec, seed: int) -> tuple[float | None, str]:
    """The inner early-stopping fraction the cohort allows, and a note when there is none.

    The inner split is a stratified patient-grouped k-fold with k = round(1/val_fraction) (`cross_validate`);
    scikit-learn needs k <= the larger class's item count in every CV training part. On a small cohort k is
    lowered (logged). No inner split (val_fraction None) when the cohort is too small for k >= 2, or when the
    smallest inner validation part would hold fewer than `min_val_cases` patients: every network then trains
    for its fixed planned epochs (`_fixed_epochs`).
    """
    if not spec.val_fraction:
        return None, "no inner validation split (deep.val_fraction is null): fixed epochs, no early stopping"
    fold = patient_folds(patches, y, spec.n_splits, seed)
    parts = [y[fold != k] for k in range(spec.n_splits)] + [y]
    room = min(int(np.bincount(p, minlength=2).max()) for p in parts)
    k = max(2, int(round(1 / spec.val_fraction)))
    if room < 2:
        note = "training cohort too small for an inner validation split: fixed epochs, no early stopping"
        log.warning(note)
        return None, note
    if k > room:
        log.warning("inner validation split lowered from %d to %d folds for a small training cohort", k, room)
        k = room
    pids = np.asarray(patches.patient_ids)
    smallest = min(len(set(pids[fold != j])) for j in range(spec.n_splits))
    n_val = smallest // k
    if n_val < spec.min_val_cases:
        note = (f"inner validation split of about {n_val} patients is below deep.min_val_cases "
                f"({spec.min_val_cases}): every network trains for its fixed planned epochs without early "
                "stopping (last epoch's weights)")
        log.warning(note)
        return None, note
    return (spec.val_fraction if k == max(2, int(round(1 / spec.val_fraction))) else 1.0 / k), ""


def _fixed_epochs(cfg: TrainConfig) -> TrainConfig:
    """No inner validation split: run every planned epoch and keep the last epoch's weights."""
    return cfg.model_copy(update={"early_stopping_patience": None, "restore_best": False})


def _train_final(net_spec: NetworkSpec, patches: PatchSet, targets: dict[str, np.ndarray], spec: DeepSpec,
                 cfg, val_fraction: float | None, progress: Progress | None) -> TrainResult:
    """Train on the whole training cohort; early stopping on a patient-grouped inner split (as `train_test`);
    offline-augmented copies (`augment_copies`) of the training part only."""
    idx = np.arange(len(patches))
    tr, va = idx, None
    if val_fraction:
        n_patients = len(set(patches.patient_ids))
        inner = patient_folds(patches, targets[TASK], min(max(2, round(1 / val_fraction)), n_patients),
                              cfg.seed + 1)
        tr, va = idx[inner != 0], idx[inner == 0]
    aug = spec.augmentation()
    tr_set, tr_y = with_augmented_copies(patches.subset(tr), {k: v[tr] for k, v in targets.items()},
                                         spec.augment_copies, seed=cfg.seed)
    train_ds = PatchDataset(tr_set, tr_y, augmentation=aug, seed=cfg.seed)
    val_ds = None if va is None else PatchDataset(patches.subset(va), {k: v[va] for k, v in targets.items()})
    return train_model(net_spec, train_ds, val_ds, cfg, progress=progress)


def _plan_note(patches: PatchSet, spec: DeepSpec, cfg: TrainConfig, val_fraction: float | None) -> str:
    """The final network's step budget in words (fold networks train on fewer items, so more epochs)."""
    n_fit = len(patches) if not val_fraction else int(round(len(patches) * (1 - val_fraction)))
    n_fit *= spec.augment_copies + 1
    epochs, warmup = epoch_plan(n_fit, cfg)
    stopping = ("no early stopping" if cfg.early_stopping_patience is None
                else f"early stopping after {cfg.early_stopping_patience} epochs without improvement")
    return (f"final network: about {epochs} epochs of {-(-n_fit // cfg.batch_size)} steps (at least "
            f"{cfg.min_steps} steps), warm-up {warmup} epochs, {stopping}; intensity augmentation "
            f"{'on' if spec.intensity_augment else 'off'}; "
            f"{loading_note(cfg.amp, cfg.num_workers, resolve_device(cfg.device))}")


def _not_learned_note(cv: CVResult, selection: ArchitectureSelection | None, spec: DeepSpec) -> str:
    if selection is not None:
        detail = ", ".join(f"{r.model} {r.mean_val_ce:.3f} (needs < {r.learned_below:.3f})"
                           for r in selection.table.itertuples())
    else:
        mean, _ = cv.test_ce(TASK)
        detail = f"{cv.arch} {mean:.3f} (needs < {learned_threshold(cv.null_ce(TASK), spec.learned_margin):.3f})"
    return (f"{DeepStageResult.NOT_LEARNED}: the held-out cross-entropy of the response is not clearly below "
            f"chance ({detail}); cnn_score is not used by the models")


def _positive_control(net_spec: NetworkSpec, patches: PatchSet, spec: DeepSpec, cfg: TrainConfig,
                      val_fraction: float | None, aug: Augmentation | None, progress: Progress | None):
    """`deep.sanity`: the planted-signal control (`hccrad.deep.sanity`); failing it is an error."""
    res = positive_control(net_spec, patches, cfg, n_splits=2, val_fraction=val_fraction, augmentation=aug,
                           seed=cfg.seed, progress=progress)
    if not res.passed:
        raise ModelError(f"{res.note()}; no study CNN is reported", field="deep.sanity",
                         hint="these training settings cannot learn even a planted signal: raise deep.min_steps "
                              "or deep.lr, check the architecture, or check the inputs (phases, window)")
    return res


def _save_network(net: Network, net_spec: NetworkSpec, spec: DeepSpec, phases: list[str], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": net.state_dict(), "arch": net_spec.arch, "in_channels": net_spec.in_channels,
                "spatial_dims": net_spec.spatial_dims, "width": net_spec.width, "dropout": net_spec.dropout,
                "tasks": [[t.name, t.n_classes] for t in net_spec.tasks], "phases": list(phases),
                "mode": spec.mode, "size": list(spec.patch_size), "deep_spec": spec.model_dump(mode="json")},
               path)
    return path


def load_deep_network(path: str | Path) -> Network:
    """Rebuild the final network saved by `run_deep_stage` (torch.load with weights_only=True; eval mode)."""
    p = Path(path)
    if not p.is_file():
        raise InputError("CNN checkpoint not found", file=p, hint="run the deep stage first")
    ck = torch.load(p, map_location="cpu", weights_only=True)
    net_spec = NetworkSpec(ck["arch"], int(ck["in_channels"]), tuple(Task(n, int(k)) for n, k in ck["tasks"]),
                           spatial_dims=int(ck["spatial_dims"]), width=int(ck["width"]),
                           dropout=float(ck["dropout"]))
    net = net_spec.build(0)
    net.load_state_dict(ck["state_dict"])
    return net.eval()


def _gradcam(study, net: Network, patches: PatchSet, case_ids: list[str], out: Path, cohort: str, seed: int = 0
             ) -> tuple[dict[str, Path], CamOverlayFigure | None, list[pd.DataFrame], list[dict]]:
    """Positive-class Grad-CAM of each case on its reference-phase grid (NIfTI), the overlay figure's data, and
    per case the cascading-randomisation table and the attribution share in the tumour
    (`hccrad.deep.gradcam_checks`)."""
    if not case_ids:
        return {}, None, [], []
    ref_phase, tumor = study.spec.data.reference_phase, study.spec.data.tumor_mask
    paths: dict[str, Path] = {}
    randomised: list[pd.DataFrame] = []
    shares: list[dict] = []
    panels: list[CamPanel] = []
    for cid in case_ids:
        idx = [i for i, c in enumerate(patches.case_ids) if c == cid]
        cams = grad_cam(net, patches.x[idx], task=TASK, class_index=1)
        case = study.load_case(cid, masks=(tumor,))
        ref: Image = case.image(ref_phase)
        vol = np.zeros(ref.shape, dtype=np.float32)
        for cam, i in zip(cams, idx):  # 2-D items are distinct slices; 3-D has one item
            vol = np.maximum(vol, cam_to_image(cam, ref, patches.boxes[i]).array)
        cam_img = ref.with_array(vol, name="gradcam")
        paths[cid] = write_image(cam_img, out / f"{safe_file_stem(cid)}_gradcam.nii.gz")
        randomised.append(randomisation_check(net, patches.x[idx], task=TASK, class_index=1, seed=seed)
                          .assign(case_id=cid, cohort=cohort))
        shares.append(_tumour_share_row(cid, cohort, vol, case.mask(tumor) if tumor in case.masks else None,
                                        patches.boxes[idx]))
        box = patches.boxes[idx[0]]
        z = int(box[0, 0] if patches.mode == "2d" else (box[0, 0] + box[1, 0]) // 2)
        z = min(max(z, 0), ref.shape[0] - 1)
        ys = slice(max(int(box[0, 1]), 0), min(int(box[1, 1]), ref.shape[1]))
        xs = slice(max(int(box[0, 2]), 0), min(int(box[1, 2]), ref.shape[2]))
        panels.append(CamPanel(image=np.array(ref.array[z, ys, xs]), cam=np.array(vol[z, ys, xs]),
                               mask=np.array(case.mask(tumor)[z, ys, xs]) if tumor in case.masks else None,
                               title=f"{cid} ({cohort})"))
    return paths, CamOverlayFigure(tuple(panels)), randomised, shares


def _tumour_share_row(cid: str, cohort: str, vol: np.ndarray, tumour: np.ndarray | None, boxes: np.ndarray) -> dict:
    """Attribution share of one case's map inside its tumour, over the union of its patch boxes on the case grid."""
    row = {"case_id": cid, "cohort": cohort, "share_in_tumour": np.nan, "tumour_share": np.nan, "ratio": np.nan,
           "note": ""}
    region = np.zeros(vol.shape, dtype=bool)
    for b in np.asarray(boxes, dtype=int):
        lo, hi = np.maximum(b[0], 0), np.minimum(b[1], vol.shape)
        region[tuple(slice(a, e) for a, e in zip(lo, hi))] = True
    if tumour is None or not np.asarray(tumour, bool)[region].any():
        return {**row, "note": "no tumour voxels in the patch" if tumour is not None else "no tumour mask"}
    row.update(attribution_share(vol[region], np.asarray(tumour, bool)[region]))
    if np.isnan(row["share_in_tumour"]):
        row["note"] = "Grad-CAM map all zero"
    elif row["tumour_share"] == 1.0:
        row["note"] = "the tumour fills the whole patch: the ratio is 1 by construction"
    return row


def run_deep_stage(study, spec: DeepSpec, out: Path, *, progress: Progress | None = None) -> DeepStageResult:
    """CNN scores for every case of `study` (a `hccrad.cohort.study.Study`); see the module docstring.

    Writes under `out/deep/`: cnn_final.pt (final network), cnn_scores.csv, cnn_predictions.csv (every task)
    and gradcam/<case>_gradcam.nii.gz. Raises an `HccradError` naming the case when a case cannot be cut
    into patches, and a `SpecError` naming the deep.* key when a task's column or outcome is missing.
    """
    prog = _wrap(progress)
    phases = _phases(study, spec)
    deep_dir = Path(out) / "deep"
    (deep_dir / "gradcam").mkdir(parents=True, exist_ok=True)
    ids, cohort, train_ids, other_ids = _stage_cohorts(study, spec)
    table, tasks = stage_targets(study, spec, ids, train_ids)
    outcome = table[TASK].astype(int).rename(TASK)
    if outcome.loc[train_ids].nunique() < 2:
        raise DataError("the training cohort has one response class only; a CNN cannot be trained",
                        field=study.spec.outcome.response.column, hint="check the outcome column")
    patches, items = _cut_patches(study, spec, phases, Path(out), ids, cohort, prog)
    train_p, other_p = _select(patches, train_ids), _select(patches, other_ids)
    _refuse_shared_patients(train_p, other_p)
    train_y = item_targets(train_p, table)
    net_spec = net_spec_for(spec, spec.arch, len(phases), tasks)
    aug = spec.augmentation()
    cfg, vf, notes = _training_plan(spec, train_p, train_y)
    control = None
    if spec.sanity:
        control = _positive_control(net_spec, train_p, spec, cfg, vf, aug, prog)
        notes.append(control.note())
    figures: list[tuple[str, object]] = []
    tables: list[tuple[str, pd.DataFrame]] = []
    selection = None
    if spec.compare_archs:
        selection, figs, tabs = compare_architectures(spec, len(phases), tasks, train_p, train_y, cfg, vf, aug, prog)
        figures += figs
        tables += tabs
        net_spec = net_spec_for(spec, selection.chosen, len(phases), tasks)
        cv = selection.results[selection.chosen]  # same folds, seed and settings as a fresh CV
    else:
        cv = cross_validate(net_spec, train_p, train_y, cfg, n_splits=spec.n_splits, val_fraction=vf,
                            augmentation=aug, augment_copies=spec.augment_copies, progress=prog)
    learned = selection.learned if selection is not None else cv.learned(TASK, spec.learned_margin)
    if not learned:
        notes.append(_not_learned_note(cv, selection, spec))
    oof = cv.predictions.set_index("case_id")
    final = _train_final(net_spec, train_p, train_y, spec, cfg, vf, prog)
    if prog:
        prog("final network", 1, 1)
    probs, scores, kind = _case_scores(oof, final, other_p, ids, other_ids, tasks)
    checkpoint = _save_network(final.network, net_spec, spec, phases, deep_dir / "cnn_final.pt")
    pd.DataFrame({"cnn_score": scores, "kind": kind, "cohort": cohort}).to_csv(deep_dir / "cnn_scores.csv")
    history = pd.concat([cv.histories.assign(network=cv.histories["fold"].map(lambda k: f"fold {k}"))
                         .drop(columns="fold"), final.history.assign(network="final")], ignore_index=True)
    predictions = with_predicted_classes(probs, tasks)
    predictions.to_csv(deep_dir / "cnn_predictions.csv")
    figures.append(("cnn_loss_curves", _loss_figure(cv, final, spec, net_spec)))
    cam_paths, cam_figures, cam_tables = _gradcam_outputs(study, final.network, patches, ids, cohort, spec,
                                                          deep_dir, cfg.seed, prog)
    figures += cam_figures
    tables += cam_tables
    act_figs, act_tabs = activation_outputs(final.network, patches, predictions, spec, tasks)
    figures += act_figs
    tables += act_tabs + architecture_outputs(final.network, patches)
    folds = oof["fold"].reindex(train_ids).astype(int).rename("fold")
    log.info("deep stage: %d out-of-fold and %d trained-on-training scores", len(train_ids), len(other_ids))
    return DeepStageResult(scores=scores, kind=kind, cohort=cohort, outcome=outcome, folds=folds, history=history,
                           cam_paths=cam_paths, figures=figures, checkpoint=checkpoint, spec=spec, cv=cv,
                           final=final, predictions=predictions, tables=tables, items=items, selection=selection,
                           learned=learned, notes=tuple(notes), control=None if control is None else control.record())


def _stage_cohorts(study, spec: DeepSpec):
    """All case ids, their cohort, the training ids and the others; the training cohort must have cases."""
    training = study.spec.cohorts.training
    ids = study.case_ids()
    cohort = study.table.loc[ids, "cohort"].astype(str).rename("cohort")
    train_ids = [c for c in ids if cohort[c] == training]
    other_ids = [c for c in ids if cohort[c] != training]
    if not train_ids:
        raise DataError(f"the training cohort {training!r} has no cases", field="cohorts.training",
                        hint="check the cohort column of the manifest")
    if spec.slice_column is not None and spec.slice_column not in study.table.columns:
        raise SpecError([f"deep.slice_column {spec.slice_column!r} is not a clinical column"])
    return ids, cohort, train_ids, other_ids


def _cut_patches(study, spec: DeepSpec, phases, out: Path, ids, cohort, prog):
    """Every case cut into the network's input items; the item table (cohort and slice rule per item)."""
    parts, rules = [], {}
    for i, cid in enumerate(ids):
        part, rules[cid] = _case_patches(study, cid, spec, phases, out)
        parts.append(part)
        if prog:
            prog("patches", i + 1, len(ids))
    patches = _concat(parts)
    log.info("CNN inputs: %d items, slice rule per case %s", len(patches), pd.Series(rules).value_counts().to_dict())
    items = patches.summary().assign(cohort=lambda d: d["case_id"].map(cohort),
                                     slice_rule=lambda d: d["case_id"].map(rules))
    return patches, items


def _refuse_shared_patients(train_p, other_p) -> None:
    shared = set(train_p.patient_ids) & set(other_p.patient_ids)
    if shared:
        raise DataError(f"{len(shared)} patient(s) are in the training and another cohort, e.g. {sorted(shared)[:3]}",
                        field="patient_id", hint="split cohorts by patient, or the CNN score of the other "
                                                 "cohort would come from a network trained on the same patient")


def _training_plan(spec: DeepSpec, train_p, train_y):
    """The training configuration, the inner validation fraction (None: fixed epochs) and the plan notes."""
    cfg = spec.train_config()
    counts = np.bincount(train_y[TASK], minlength=2)
    if spec.n_splits > counts.max() or spec.n_splits > len(set(train_p.patient_ids)):
        raise DataError(f"{spec.n_splits} CV folds for a training cohort with {counts.tolist()} items per class",
                        field="deep.n_splits", hint="use fewer folds (n_splits) or a larger training cohort")
    vf, inner_note = _inner_fraction(train_p, train_y[TASK], spec, cfg.seed)
    notes = [n for n in (inner_note,) if n]
    if vf is None:
        cfg = _fixed_epochs(cfg)
    notes.append(_plan_note(train_p, spec, cfg, vf))
    if spec.pretrained is not None:
        notes.append(f"initial weights from the pretrained checkpoint {Path(spec.pretrained).name} "
                     f"(key mapping {spec.pretrained_key_map or 'none'})")
    return cfg, vf, notes


def _case_scores(oof: pd.DataFrame, final, other_p, ids, other_ids, tasks):
    """Per case: every task's probabilities, the CNN score P(response) and how it was obtained (out of fold
    on training, from the final network elsewhere). A missing score is a bug, never a silent NaN."""
    pcols = [f"{t.name}_p{j}" for t in tasks for j in range(t.n_classes)]
    probs = oof[pcols].reindex(ids)
    kind = pd.Series(OUT_OF_FOLD, index=pd.Index(ids, name="case_id"), name="kind")
    if other_ids:
        other = case_level(predict(final.network, other_p)).set_index("case_id")
        probs.loc[other_ids, pcols] = other.loc[other_ids, pcols].to_numpy()
        kind.loc[other_ids] = TRAINED_ON_TRAINING
    scores = probs[f"{TASK}_p1"].copy().astype(float).rename("cnn_score")
    scores.index.name = "case_id"
    if scores.isna().any():  # every case was cut above, so this is a bug, never a silent NaN
        raise DataError(f"no CNN score for {scores.index[scores.isna()].tolist()[:5]}", field="cnn_score",
                        hint="report this as a bug")
    return probs, scores, kind


def _loss_figure(cv, final, spec: DeepSpec, net_spec) -> LossCurvesFigure:
    best = final.best_epoch
    return LossCurvesFigure(cv_history=cv.histories, final_history=final.history,
                            best_epoch=None if best is None else int(best),
                            cv_title=f"{spec.n_splits}-fold CV ({net_spec.arch})")


def _gradcam_outputs(study, network, patches, ids, cohort, spec: DeepSpec, deep_dir: Path, seed: int, prog):
    """Grad-CAM maps of the first `gradcam_cases` cases per cohort, with the model-randomisation check and
    the share of attribution inside the tumour (issue 27 item 5)."""
    cam_paths: dict[str, Path] = {}
    figures, tables, randomised, shares = [], [], [], []
    groups = [(name, [c for c in ids if cohort[c] == name][:spec.gradcam_cases]) for name in dict.fromkeys(cohort)]
    for g, (name, cams_for) in enumerate(groups):
        paths, cam_fig, rand_tabs, share_rows = _gradcam(study, network, patches, cams_for,
                                                         deep_dir / "gradcam", name, seed=seed)
        cam_paths.update(paths)
        randomised += rand_tabs
        shares += share_rows
        if cam_fig is not None:
            figures.append((f"cnn_gradcam_{name}", cam_fig))
        if prog:
            prog("gradcam", g + 1, len(groups))
    if randomised:  # does the map depend on the learned weights, and is it on the tumour?
        tables.append(("cnn_gradcam_randomisation", pd.concat(randomised, ignore_index=True)
                       [["case_id", "cohort", "step", "layer", "spearman", "note"]]))
        tables.append(("cnn_gradcam_tumour_share", pd.DataFrame(shares)))
    return cam_paths, figures, tables
