"""The `Case` data object: one lesion of one patient, with its phases, masks and clinical row."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from hccrad.core.errors import GeometryError
from hccrad.core.image import Image


@dataclass(frozen=True, eq=False)
class Case:
    """Images by phase ("pre", "arterial", "portal", "delayed", "t2", ...), masks by name ("tumor",
    "liver", "tumor_reader2"), an optional habitat map (0 outside, 1..k), the clinical row and the cohort.

    Transforms return a new Case (`with_images`, `with_masks`, `with_habitat`).
    """

    case_id: str
    images: dict[str, Image]
    masks: dict[str, Image] = field(default_factory=dict)
    clinical: dict = field(default_factory=dict)
    cohort: str = "training"
    patient_id: str | None = None
    habitat: Image | None = None

    def image(self, phase: str) -> Image:
        if phase not in self.images:
            raise GeometryError(
                f"phase {phase!r} is missing (have {sorted(self.images)})",
                case=self.case_id,
                field=f"image_{phase}",
                hint=f"add a column 'image_{phase}' to the manifest or remove {phase!r} from the spec",
            )
        return self.images[phase]

    def mask(self, name: str = "tumor") -> np.ndarray:
        """Boolean mask array by name."""
        if name not in self.masks:
            raise GeometryError(
                f"mask {name!r} is missing (have {sorted(self.masks)})",
                case=self.case_id,
                field=f"mask_{name}",
                hint=f"add a column 'mask_{name}' to the manifest",
            )
        return self.masks[name].array > 0

    def with_images(self, images: dict[str, Image]) -> "Case":
        return replace(self, images=images)

    def with_masks(self, masks: dict[str, Image]) -> "Case":
        return replace(self, masks=masks)

    def with_habitat(self, habitat: Image) -> "Case":
        return replace(self, habitat=habitat)
