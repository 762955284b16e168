"""A user's own trained nnU-Net v2 model (Isensee et al., Nat Methods 2021; seeds 000/002 segmented the liver
with nnU-Net) used through nnunetv2's Python predictor to fill in missing liver masks.

The model folder is the one nnU-Net writes after training, e.g.
``nnUNet_results/Dataset001_Liver/nnUNetTrainer__nnUNetPlans__3d_fullres`` holding ``dataset.json``,
``plans.json`` and ``fold_k/checkpoint_final.pth``.

Safety: nothing from the folder is unpickled. Checkpoints are read with ``torch.load(weights_only=True)`` (the
restricted unpickler: tensors, containers, numbers and a few plain-data numpy types, no code), and the network
is built from plans.json only when its class lives in ``dynamic_network_architectures.architectures`` and the
classes it names to import live in ``torch.nn`` (plans.json is JSON, but nnU-Net imports whatever dotted names
it gives). nnU-Net's own ``initialize_from_trained_model_folder`` unpickles fully and is never called here.

Axes: hccrad arrays are (z, y, x) with spacing (z, y, x). nnU-Net's SimpleITK reader, used for training from
NIfTI files, gives the same: ``GetArrayFromImage`` (z, y, x) and ``GetSpacing()`` reversed to (z, y, x). So the
predictor gets the array as (c, z, y, x) and the spacing unchanged; the returned mask is on the image grid.
"""

from __future__ import annotations

import inspect
import io
import logging
from collections.abc import Mapping, Sequence
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from hccrad.core.errors import GeometryError, InputError
from hccrad.core.image import Image
from hccrad.deep.train import resolve_device

log = logging.getLogger(__name__)

_ALLOWED_ARCH_PREFIX = "dynamic_network_architectures.architectures."
_ALLOWED_IMPORT_PREFIX = "torch.nn."
_CPU_THREADS = 2


def _require_nnunet():
    try:
        import nnunetv2  # lazy: optional dependency (nnU-Net v2)  # noqa: F401
    except ImportError as exc:  # pragma: no cover - exercised only without the optional package
        raise InputError("nnunetv2 is not installed", field="liver_model",
                         hint="pip install -c requirements/constraints-deep.txt nnunetv2==2.8.1") from exc


@contextmanager
def _few_threads(device: torch.device):
    """Cap torch at 1-2 CPU threads while predicting (restored afterwards)."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(max(1, min(_CPU_THREADS, before)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _safe_load(path: Path) -> dict:
    """torch.load with weights_only=True. nnU-Net's training log in the checkpoint holds numpy float32
    scalars, so numpy's scalar constructor and plain numeric dtypes are added to the restricted unpickler's
    allow-list (PyTorch's documented `torch.serialization.safe_globals` route; they build numbers, not code).
    Any other global in the pickle is refused with an InputError naming the file."""
    safe = [np.dtype, np.dtypes.Float64DType, np.dtypes.Float32DType, np.dtypes.Int64DType,
            np.dtypes.Int32DType, np.dtypes.BoolDType]
    try:
        from numpy._core.multiarray import scalar  # lazy: numpy-private path, guarded by ImportError
        safe.append(scalar)
    except ImportError:  # pragma: no cover
        pass
    try:
        with torch.serialization.safe_globals(safe):
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for forbidden globals, RuntimeError/EOFError for broken files
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        why = next((ln for ln in lines if "GLOBAL" in ln or "Unsupported" in ln or "WeightsUnpickler" in ln),
                   lines[0] if lines else "")
        raise InputError(f"checkpoint cannot be loaded safely (weights_only=True): {type(exc).__name__}: {why}",
                         file=path, field="checkpoint",
                         hint="use a checkpoint written by nnU-Net v2 training (network_weights, trainer_name, "
                              "init_args); hccrad never unpickles arbitrary objects") from exc
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("network_weights"), Mapping):
        raise InputError("checkpoint has no 'network_weights' state dict", file=path, field="checkpoint",
                         hint="use a checkpoint written by nnU-Net v2 training")
    return ckpt


def _check_plans_imports(config_manager, plans_file: Path) -> None:
    arch = config_manager.network_arch_class_name
    if not isinstance(arch, str) or not arch.startswith(_ALLOWED_ARCH_PREFIX):
        raise InputError(f"network class {arch!r} is not in {_ALLOWED_ARCH_PREFIX[:-1]}", file=plans_file,
                         field="network_arch_class_name",
                         hint="only nnU-Net's standard architectures (PlainConvUNet, ResidualEncoderUNet, ...) "
                              "are loaded")
    kwargs = config_manager.network_arch_init_kwargs
    for key in config_manager.network_arch_init_kwargs_req_import:
        value = kwargs.get(key)
        if value is not None and (not isinstance(value, str) or not value.startswith(_ALLOWED_IMPORT_PREFIX)):
            raise InputError(f"architecture argument {key}={value!r} is not a torch.nn class", file=plans_file,
                             field=key, hint="plans.json may only name torch.nn classes to import")


def _trainer_class(name: str, file: Path):
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer  # lazy: optional dependency (nnU-Net v2)

    if name == "nnUNetTrainer":
        return nnUNetTrainer
    # lazy: optional dependency (nnU-Net v2)
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    try:
        return recursive_find_trainer_class_by_name(name)
    except (RuntimeError, AssertionError) as exc:
        raise InputError(f"trainer {name!r} named in the checkpoint is not an installed nnU-Net trainer",
                         file=file, field="trainer_name",
                         hint="install the package that defines it, or set nnUNet_extTrainer") from exc


@dataclass
class NnUNetLiverModel:
    """A trained nnU-Net v2 model restored without unpickling, ready for `predict`."""

    folder: Path
    folds: tuple
    label: int
    channel_names: dict[str, str]
    configuration: str
    trainer_name: str
    device: torch.device
    predictor: object = field(repr=False)

    @classmethod
    def from_folder(cls, folder: str | Path, *, folds: Sequence[int | str] | None = None,
                    checkpoint: str = "checkpoint_final.pth", device: str = "auto",
                    label: int = 1) -> "NnUNetLiverModel":
        """Open an nnU-Net v2 trained-model folder (dataset.json, plans.json, fold_k/<checkpoint>). folds=None
        uses every fold_k folder holding the checkpoint (ensemble = mean of the folds' softmax, as nnU-Net).
        `label` is the liver's integer label in dataset.json. Raises InputError naming the missing path."""
        _require_nnunet()
        # lazy: optional dependency (nnU-Net v2)
        from batchgenerators.utilities.file_and_folder_operations import load_json
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
        from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels
        from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

        folder = Path(folder)
        if not folder.is_dir():
            raise InputError("nnU-Net model folder does not exist", file=folder, field="liver_model.folder",
                             hint="give …/nnUNet_results/DatasetXXX_Name/<trainer>__<plans>__<configuration>")
        for name in ("dataset.json", "plans.json"):
            if not (folder / name).is_file():
                raise InputError(f"nnU-Net model folder has no {name}", file=folder / name,
                                 field="liver_model.folder",
                                 hint="point at the folder nnU-Net training wrote (it copies dataset.json and "
                                      "plans.json there)")
        if folds is None:
            found = sorted(p.name[5:] for p in folder.glob("fold_*") if (p / checkpoint).is_file())
            folds = tuple(int(f) if f.isdigit() else f for f in found if f != "all") or tuple(found)
            if not folds:
                raise InputError(f"no fold_*/{checkpoint} in the nnU-Net model folder", file=folder,
                                 field="liver_model.folds", hint="train at least one fold or name the checkpoint")
        folds = tuple(folds)
        files = [folder / f"fold_{f}" / checkpoint for f in folds]
        for f, path in zip(folds, files):
            if not path.is_file():
                raise InputError(f"fold {f!r} has no {checkpoint}", file=path, field="liver_model.folds",
                                 hint="list only trained folds, or pass checkpoint='checkpoint_best.pth'")
        try:
            dataset_json = load_json(str(folder / "dataset.json"))
            plans = load_json(str(folder / "plans.json"))
        except ValueError as exc:
            raise InputError(f"dataset.json / plans.json is not valid JSON: {exc}", file=folder,
                             field="liver_model.folder") from exc
        ckpts = [_safe_load(p) for p in files]
        trainer_name = str(ckpts[0].get("trainer_name", "nnUNetTrainer"))
        configuration = str((ckpts[0].get("init_args") or {}).get("configuration", "3d_fullres"))
        mirror = ckpts[0].get("inference_allowed_mirroring_axes")
        plans_manager = PlansManager(plans)
        if configuration not in plans_manager.available_configurations:
            raise InputError(f"configuration {configuration!r} of the checkpoint is not in plans.json",
                             file=folder / "plans.json", field="configurations")
        config_manager = plans_manager.get_configuration(configuration)
        _check_plans_imports(config_manager, folder / "plans.json")
        label_manager = plans_manager.get_label_manager(dataset_json)
        if label not in label_manager.all_labels or label == 0:
            raise InputError(f"label {label} is not a foreground label of the model ({label_manager.all_labels})",
                             file=folder / "dataset.json", field="labels", hint="pass the liver's label")
        n_in = determine_num_input_channels(plans_manager, config_manager, dataset_json)
        trainer = _trainer_class(trainer_name, files[0])
        sig = inspect.signature(trainer.build_network_architecture)
        if "plans_manager" in sig.parameters:
            network = trainer.build_network_architecture(plans_manager, config_manager, n_in,
                                                         label_manager.num_segmentation_heads,
                                                         enable_deep_supervision=False)
        else:  # pragma: no cover - pre-2.6 trainer signature
            network = trainer.build_network_architecture(
                config_manager.network_arch_class_name, config_manager.network_arch_init_kwargs,
                config_manager.network_arch_init_kwargs_req_import, n_in, label_manager.num_segmentation_heads,
                enable_deep_supervision=False)
        params = [dict(c["network_weights"]) for c in ckpts]
        try:
            network.load_state_dict(params[0])
        except RuntimeError as exc:
            raise InputError(f"weights do not fit the network of plans.json: {str(exc).splitlines()[0]}",
                             file=files[0], field="network_weights") from exc
        dev = resolve_device(device)
        with redirect_stdout(io.StringIO()) as said:  # nnU-Net prints notices; keep them in the log instead
            predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=True,
                                        perform_everything_on_device=dev.type == "cuda", device=dev, verbose=False,
                                        verbose_preprocessing=False, allow_tqdm=False)
            predictor.manual_initialization(network.to(dev), plans_manager, config_manager, params, dataset_json,
                                            trainer_name, tuple(mirror) if mirror is not None else None)
        if said.getvalue().strip():
            log.debug("nnU-Net: %s", said.getvalue().strip())
        names = {str(k): str(v) for k, v in dataset_json.get("channel_names", dataset_json.get("modality", {})).items()}
        log.info("nnU-Net model %s: %s, folds %s, channels %s, on %s", folder, configuration, folds, names, dev)
        return cls(folder, folds, int(label), names, configuration, trainer_name, dev, predictor)

    def _stack(self, images: Mapping[str, Image] | Image,
               channels: Sequence[str] | Mapping[str, str]) -> tuple[np.ndarray, Image]:
        keys = sorted(self.channel_names, key=int)
        if isinstance(channels, Mapping):
            if sorted(map(str, channels), key=str) != sorted(keys, key=str):
                raise InputError(f"channel map {dict(channels)} does not match the model's channels "
                                 f"{self.channel_names}", file=self.folder / "dataset.json", field="channels",
                                 hint="map every nnU-Net channel index to one hccrad phase, e.g. {'0': 'portal'}")
            phases = [channels[k] if k in channels else channels[int(k)] for k in keys]  # type: ignore[index]
        else:
            phases = [channels] if isinstance(channels, str) else list(channels)
            if len(phases) != len(keys):
                raise InputError(f"{len(phases)} phase(s) {phases} given for the model's {len(keys)} channel(s) "
                                 f"{self.channel_names}", file=self.folder / "dataset.json", field="channels",
                                 hint="give one hccrad phase per nnU-Net channel, in channel order")
        if isinstance(images, Image):
            images = {phases[0]: images} if len(phases) == 1 else {images.name: images}
        missing = [p for p in phases if p not in images]
        if missing:
            raise InputError(f"phase(s) {missing} for the model's channels {self.channel_names} are not among the "
                             f"images {sorted(images)}", field="channels", hint="load those phases or remap channels")
        ref = images[phases[0]]
        for p in phases[1:]:
            if not images[p].same_grid(ref):
                raise GeometryError(f"phase {p!r} is not on the grid of phase {phases[0]!r}", field=p,
                                    hint="register / resample the phases onto one grid first (hccrad.preprocess)")
        return np.stack([np.asarray(images[p].array, np.float32) for p in phases]), ref

    def predict_probabilities(self, images: Mapping[str, Image] | Image, *,
                              channels: Sequence[str] | Mapping[str, str]) -> np.ndarray:
        """nnU-Net's class probabilities (n_classes, z, y, x) on the reference (first channel) image grid."""
        data, ref = self._stack(images, channels)
        with _few_threads(self.device):
            _, probs = self.predictor.predict_single_npy_array(data, {"spacing": list(ref.spacing)}, None, None,
                                                               True)
        return np.asarray(probs)

    def predict(self, images: Mapping[str, Image] | Image, *,
                channels: Sequence[str] | Mapping[str, str]) -> np.ndarray:
        """Boolean liver mask (z, y, x) on the reference (first channel) image grid. `channels`: the hccrad
        phase for each nnU-Net channel, in channel order (["portal"]) or as {"0": "portal"}."""
        data, ref = self._stack(images, channels)
        with _few_threads(self.device):
            seg = self.predictor.predict_single_npy_array(data, {"spacing": list(ref.spacing)}, None, None, False)
        seg = np.asarray(seg)
        if seg.shape != ref.shape:  # nnU-Net resamples back to the input shape; guard against surprises
            raise GeometryError(f"nnU-Net returned shape {seg.shape} for an image of shape {ref.shape}",
                                file=self.folder, field="prediction")
        return seg == self.label


def fill_missing_liver_masks_nnunet(cases_without: Mapping[str, Mapping[str, Image] | Image],
                                    model: NnUNetLiverModel,
                                    channels: Sequence[str] | Mapping[str, str]) -> tuple[dict[str, np.ndarray], dict]:
    """Predict the liver of each case without a mask with the user's nnU-Net model. Same return shape as
    `hccrad.deep.segment.fill_missing_liver_masks`: ({case: bool mask}, record); the record names the model
    (no Dice: the model was trained elsewhere, so no held-out labelled cases are checked here)."""
    pred: dict[str, np.ndarray] = {}
    for case_id in sorted(cases_without):
        try:
            pred[case_id] = model.predict(cases_without[case_id], channels=channels)
        except InputError as exc:
            if exc.case is None:
                exc.case = case_id
                exc.args = (exc._render(),)
            raise
    record = {"model": "nnunet", "folder": str(model.folder), "folds": list(model.folds),
              "configuration": model.configuration, "trainer": model.trainer_name,
              "channels": dict(model.channel_names), "trained_on": None, "held_out": [], "dice": {},
              "predicted_cases": sorted(pred)}
    return pred, record
