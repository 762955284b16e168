"""Habitat stage: voxel descriptor maps, clustering strategies (estimators), choice of k, summaries."""

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
    load_habitat_model,
)
from hccrad.habitat.kselect import KSelection, choose_k
from hccrad.habitat.summary import habitat_summary

__all__ = [
    "SEED000_DESCRIPTORS",
    "Descriptor",
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
