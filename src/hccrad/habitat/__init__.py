"""Habitat stage: voxel descriptor maps, clustering strategies (estimators, registry), choice of k, summaries."""

from hccrad.habitat.descriptors import (
    SEED000_DESCRIPTORS,
    Descriptor,
    descriptor_maps,
    habitat_image,
    labels_to_volume,
    voxel_matrix,
)
from hccrad.habitat.estimators import (
    IndividualHabitats,
    PopulationHabitats,
    TwoStepHabitats,
)
from hccrad.habitat.kselect import KSelection, choose_k
from hccrad.habitat.strategies import STRATEGIES, HabitatStrategySpec, load_habitat_model
from hccrad.habitat.summary import habitat_summary

__all__ = [
    "SEED000_DESCRIPTORS",
    "STRATEGIES",
    "Descriptor",
    "HabitatStrategySpec",
    "IndividualHabitats",
    "KSelection",
    "PopulationHabitats",
    "TwoStepHabitats",
    "choose_k",
    "descriptor_maps",
    "habitat_image",
    "habitat_summary",
    "labels_to_volume",
    "load_habitat_model",
    "voxel_matrix",
]
