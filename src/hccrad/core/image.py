"""The `Image` data object: a voxel array with its physical geometry.

Arrays are indexed (z, y, x). `spacing` is given in the same (z, y, x) order as the array axes (mm);
`origin` and `direction` keep ITK's physical (x, y, z) convention so images round-trip through SimpleITK
unchanged. SimpleITK itself stays inside `hccrad.io` and `hccrad.preprocess`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

IDENTITY_DIRECTION: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


@dataclass(frozen=True, eq=False)
class Image:
    """A 3-D image (or label volume) with geometry.

    array: (z, y, x) voxel values; spacing: (z, y, x) in mm; origin: (x, y, z) in mm;
    direction: 9 cosines, row-major, ITK convention; name: phase or mask name ("arterial", "tumor").
    """

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: tuple[float, ...] = IDENTITY_DIRECTION
    name: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise ValueError(f"Image {self.name!r} must be 3-D (z, y, x); got shape {self.array.shape}")
        object.__setattr__(self, "spacing", tuple(float(s) for s in self.spacing))
        object.__setattr__(self, "origin", tuple(float(s) for s in self.origin))
        object.__setattr__(self, "direction", tuple(float(s) for s in self.direction))

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)  # type: ignore[return-value]

    @property
    def voxel_volume_mm3(self) -> float:
        return float(np.prod(self.spacing))

    def with_array(self, array: np.ndarray, name: str | None = None) -> "Image":
        """A new Image on the same grid holding `array`."""
        return Image(array, self.spacing, self.origin, self.direction, name or self.name, dict(self.meta))

    def same_grid(self, other: "Image", atol: float = 1e-3) -> bool:
        """True when shape, spacing, origin and direction agree within `atol` (mm / cosine)."""
        return (
            self.shape == other.shape
            and np.allclose(self.spacing, other.spacing, atol=atol)
            and np.allclose(self.origin, other.origin, atol=atol)
            and np.allclose(self.direction, other.direction, atol=atol)
        )
