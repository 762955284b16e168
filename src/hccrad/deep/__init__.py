"""Deep learning stage (seeds 002 and 003): multi-phase 2-D/3-D CNNs, multitask heads, training with
patient-grouped cross-validation, deep features fused with clinical variables, and Grad-CAM.

Needs the optional dependencies in requirements/deep.txt (torch, MONAI); the names below load torch lazily, on
first use, so `hccrad.deep.spec.DeepSpec` (part of the study spec) never imports torch. Modules: `data` (crops, slices, augmentation, Dataset), `whole` (whole slices), `networks`, `train`, `cv`,
`augment` (batch augmentation on tensors), `loading` (DataLoader workers, seeded sampler, mixed
precision), `features`, `gradcam`, `gradcam_checks` (randomisation check, tumour share), `activation` (feature maps by
predicted class), `architecture` (layer table),
`targets` (stage task labels), `sanity` (positive control), `pretrained` (user checkpoints), `study` (the
study stage); see docs/deep.md.
"""

from importlib import import_module

_WHERE = {
    'with_augmented_copies': 'hccrad.deep.data',
    'load_pretrained': 'hccrad.deep.pretrained',
    'positive_control': 'hccrad.deep.sanity',
    'epoch_plan': 'hccrad.deep.train',
    'choose_slices': 'hccrad.deep.whole',
    'whole_slices': 'hccrad.deep.whole',
    'SubtypeTask': 'hccrad.deep.spec',
    'stage_targets': 'hccrad.deep.targets',
    'layer_table': 'hccrad.deep.architecture',
    'activation_panels': 'hccrad.deep.activation',
    'activation_maps': 'hccrad.deep.activation',
    'ActivationPanels': 'hccrad.deep.activation',
    'ARCHITECTURES': 'hccrad.deep.networks',
    'ArchitectureSelection': 'hccrad.deep.cv',
    'Augmentation': 'hccrad.deep.data',
    'CVResult': 'hccrad.deep.cv',
    'DeepSpec': 'hccrad.deep.spec',
    'DeepStageResult': 'hccrad.pipeline.deep_stage',
    'FusionResult': 'hccrad.deep.features',
    'MultitaskHead': 'hccrad.deep.networks',
    'Network': 'hccrad.deep.networks',
    'NetworkSpec': 'hccrad.deep.train',
    'PatchDataset': 'hccrad.deep.data',
    'PatchSet': 'hccrad.deep.data',
    'Task': 'hccrad.deep.networks',
    'TrainConfig': 'hccrad.deep.train',
    'TrainResult': 'hccrad.deep.train',
    'TrainTestResult': 'hccrad.deep.cv',
    'balanced_sampler': 'hccrad.deep.data',
    'build_network': 'hccrad.deep.networks',
    'build_patches': 'hccrad.deep.data',
    'cam_to_image': 'hccrad.deep.gradcam',
    'case_level': 'hccrad.deep.cv',
    'cnn_scores': 'hccrad.deep.features',
    'crop_2d': 'hccrad.deep.data',
    'crop_3d': 'hccrad.deep.data',
    'cross_validate': 'hccrad.deep.cv',
    'deep_feature_table': 'hccrad.deep.features',
    'evaluate_fusion': 'hccrad.deep.features',
    'evaluate_loss': 'hccrad.deep.train',
    'fusion_pipeline': 'hccrad.deep.features',
    'grad_cam': 'hccrad.deep.gradcam',
    'randomisation_check': 'hccrad.deep.gradcam_checks',
    'attribution_share': 'hccrad.deep.gradcam_checks',
    'item_targets': 'hccrad.deep.data',
    'join_features': 'hccrad.deep.features',
    'largest_slices': 'hccrad.deep.data',
    'load_checkpoint': 'hccrad.deep.train',
    'load_deep_network': 'hccrad.pipeline.deep_stage',
    'multitask_loss': 'hccrad.deep.networks',
    'normalise_intensity': 'hccrad.deep.data',
    'patient_folds': 'hccrad.deep.cv',
    'predict': 'hccrad.deep.train',
    'resolve_device': 'hccrad.deep.train',
    'run_deep_stage': 'hccrad.pipeline.deep_stage',
    'select_architecture': 'hccrad.deep.cv',
    'survival_interval_classes': 'hccrad.deep.data',
    'train_model': 'hccrad.deep.train',
    'train_test': 'hccrad.deep.cv',
}

__all__ = sorted(_WHERE)


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'hccrad.deep' has no attribute {name!r}")
