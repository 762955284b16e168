"""Core data objects and the error hierarchy."""

from hccrad.core.case import Case
from hccrad.core.errors import (
    DataError, FeatureError, GeometryError, HccradError, InputError, ModelError, SpecError,
)
from hccrad.core.image import Image

__all__ = ["Case", "DataError", "FeatureError", "GeometryError", "HccradError", "Image", "InputError",
           "ModelError", "SpecError"]
