"""Deep learning stage (seeds 002 and 003): multi-phase 2-D/3-D CNNs, multitask heads, training with
patient-grouped cross-validation, deep features fused with clinical variables, and Grad-CAM.

Needs the optional dependencies in requirements/deep.txt (torch, MONAI); importing this package imports
torch. Modules: `data` (crops, slices, augmentation, Dataset), `networks`, `train`, `cv`, `features`,
`gradcam`; see docs/deep.md.
"""

from hccrad.deep.cv import (
    ArchitectureSelection, CVResult, TrainTestResult, case_level, cross_validate, patient_folds,
    select_architecture, train_test,
)
from hccrad.deep.data import (
    Augmentation, PatchDataset, PatchSet, balanced_sampler, build_patches, crop_2d, crop_3d, item_targets,
    largest_slices, normalise_intensity, survival_interval_classes,
)
from hccrad.deep.features import (
    FusionResult, cnn_scores, deep_feature_table, evaluate_fusion, fusion_pipeline, join_features,
)
from hccrad.deep.gradcam import cam_to_image, grad_cam
from hccrad.deep.networks import ARCHITECTURES, MultitaskHead, Network, Task, build_network, multitask_loss
from hccrad.deep.train import (
    NetworkSpec, TrainConfig, TrainResult, evaluate_loss, load_checkpoint, predict, resolve_device, train_model,
)

__all__ = [
    "ARCHITECTURES", "ArchitectureSelection", "Augmentation", "CVResult", "FusionResult", "MultitaskHead",
    "Network", "NetworkSpec", "PatchDataset", "PatchSet", "Task", "TrainConfig", "TrainResult", "TrainTestResult",
    "balanced_sampler", "build_network", "build_patches", "cam_to_image", "case_level", "cnn_scores", "crop_2d",
    "crop_3d", "cross_validate", "deep_feature_table", "evaluate_fusion", "evaluate_loss", "fusion_pipeline",
    "grad_cam", "item_targets", "join_features", "largest_slices", "load_checkpoint", "multitask_loss",
    "normalise_intensity", "patient_folds", "predict", "resolve_device", "select_architecture",
    "survival_interval_classes", "train_model", "train_test",
]
