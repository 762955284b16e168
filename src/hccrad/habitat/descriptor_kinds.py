"""The registry of voxel descriptor kinds: one pydantic class per kind, carrying its own fields, the map it
computes and its unit. The union :data:`DescriptorKindSpec` is the only list of kind names: the study spec
(``habitat.descriptors``), the :class:`Descriptor` record that :func:`hccrad.habitat.descriptors.descriptor_maps`
computes with (its ``__post_init__`` validates through the union) and the units on figures read it.

Kinds (seed 000, Wu et al. 2025 §2.7: ``AE = CT_arterial - CT_pre``, ``VE = CT_portal - CT_pre`` in HU; seed
001 clusters the raw multiphase intensities):

* ``difference``: ``image[phases[0]] - image[phases[1]]`` (minuend, subtrahend);
* ``intensity``: ``image[phases[0]]``;
* ``local_mean``: mean of ``image[phases[0]]`` in a ``window`` x ``window`` x ``window`` cube
  (scipy.ndimage.uniform_filter, edges reflected);
* ``local_entropy``: Shannon entropy ``-sum_b p_b log2 p_b`` of the intensities in the same cube, after
  discretising the tumour's intensity range [min, max] into ``bins`` equal bins (PyRadiomics binCount style;
  values outside the range are clipped to the end bins).

Local statistics are computed on the tumour bounding box dilated by ``window // 2`` and are 0 elsewhere (not
computed there: habitat clustering only reads tumour voxels); difference and intensity maps cover the whole
volume. Every kind shares ``name``, ``phases``, ``normalise`` and ``smooth_mm`` (applied by
``descriptor_maps``).

In a study spec a descriptor is one flat mapping, ``{name: AE, kind: difference, phases: [arterial, pre]}``
(``kind`` defaults to ``difference``). Its dump keeps the form written before the registry (``name, kind,
phases, window, normalise, smooth_mm``, ``window: 3`` for kinds without a window) so that config hashes,
caches and run.json stay the same, and a later field (``bins``) is written only when changed; reading, a
``window`` of 3 (``bins`` of 16) on a kind without one is accepted as that legacy form, any other value refused.

A new descriptor kind is one class here (``kind`` literal, ``n_phases``, its own fields, ``compute`` and, when
its unit is not the images', ``unit``) added to :data:`DESCRIPTOR_KIND_CLASSES` and the union, plus its test
in tests/habitat/test_descriptor_kinds.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Union

import numpy as np
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, field_validator,
                      model_serializer, model_validator)
from scipy import ndimage

from hccrad.core.errors import FeatureError

#: the dump's keys before the registry, in their order (config hashes, caches and run.json read them)
LEGACY_DUMP = ("name", "kind", "phases", "window", "normalise", "smooth_mm")
#: fields that only some kinds own -> the value every descriptor carried before the registry
LEGACY_DEFAULTS = {"window": 3, "bins": 16}
DEFAULT_KIND = "difference"


def tumour_box(mask: np.ndarray, margin: int) -> tuple[slice, ...]:
    """The bounding box of ``mask``'s voxels dilated by ``margin``, clipped to the volume."""
    nz = np.nonzero(mask)
    return tuple(slice(max(int(a.min()) - margin, 0), min(int(a.max()) + margin + 1, n))
                 for a, n in zip(nz, mask.shape))


class DescriptorKind(BaseModel):
    """Base of the registry entries (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the descriptor's name (a column of the habitat model; unique)")
    phases: list[str] = Field(description="the phases it reads, in order")
    normalise: Literal["none", "zscore"] = Field(default="none", description=(
        "zscore: rescale per case with the mean and SD of the tumour's voxels (raw MR intensities)"))
    smooth_mm: float = Field(default=0.0, ge=0, description="Gaussian σ (mm) inside the tumour; 0 = none")

    n_phases: ClassVar[int] = 1
    phase_hint: ClassVar[str] = "(phase,), e.g. [portal]"

    @model_validator(mode="before")
    @classmethod
    def _legacy_fields(cls, data: Any) -> Any:
        """``window: 3`` / ``bins: 16`` on a kind without them: the form before the registry (dropped)."""
        if not isinstance(data, dict):
            return data
        for key, legacy in LEGACY_DEFAULTS.items():
            if key in data and key not in cls.model_fields:
                if data[key] != legacy:
                    owners = sorted(k for k, c in DESCRIPTOR_KINDS.items() if key in c.model_fields)
                    raise ValueError(f"{key} applies to kind(s) {owners} only; kind {data.get('kind')!r} has none")
                data = {k: v for k, v in data.items() if k != key}
        return data

    @field_validator("phases")
    @classmethod
    def _phase_count(cls, value: list[str]) -> list[str]:
        if len(value) != cls.n_phases:
            kind = cls.model_fields["kind"].default
            raise ValueError(f"kind {kind!r} needs {cls.n_phases} phase(s): {cls.phase_hint}; got {value}")
        return value

    @model_serializer(mode="wrap")
    def _as_written(self, handler) -> dict:
        """The dump before the registry (module docstring); a field added since only when changed."""
        data = handler(self)
        out = {k: data.get(k, LEGACY_DEFAULTS.get(k)) for k in LEGACY_DUMP}
        fields = type(self).model_fields
        out.update({k: v for k, v in data.items()
                    if k not in out and getattr(self, k) != fields[k].default})
        return out

    def compute(self, arrays: list[np.ndarray], mask: np.ndarray) -> np.ndarray:
        """The full-volume float map from the phases' arrays (in ``phases`` order) and the tumour mask."""
        raise NotImplementedError

    @classmethod
    def unit(cls, intensity_unit: str = "HU") -> str:
        """The map's unit before ``normalise`` (the images' unit unless the kind says otherwise)."""
        return intensity_unit

    def build(self) -> Descriptor:
        """The :class:`Descriptor` record that ``descriptor_maps`` computes with."""
        own = {k: getattr(self, k) for k in LEGACY_DEFAULTS if k in type(self).model_fields}
        return Descriptor(name=self.name, kind=self.kind, phases=tuple(self.phases), normalise=self.normalise,
                          smooth_mm=self.smooth_mm, **own)


class DifferenceDescriptor(DescriptorKind):
    """Subtraction map ``phases[0] - phases[1]`` (seed 000's AE and VE)."""

    kind: Literal["difference"] = "difference"

    n_phases: ClassVar[int] = 2
    phase_hint: ClassVar[str] = "(minuend, subtrahend), e.g. [arterial, pre]"

    def compute(self, arrays: list[np.ndarray], mask: np.ndarray) -> np.ndarray:
        return arrays[0] - arrays[1]


class IntensityDescriptor(DescriptorKind):
    """The phase's intensities as they are."""

    kind: Literal["intensity"] = "intensity"

    def compute(self, arrays: list[np.ndarray], mask: np.ndarray) -> np.ndarray:
        return arrays[0]


class _LocalDescriptor(DescriptorKind):
    """A statistic of the phase in a cube around each voxel, on the tumour's box only (0 elsewhere)."""

    window: int = Field(default=3, ge=3, description="edge of the cube, in voxels (odd)")

    @field_validator("window")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError(f"window must be an odd integer >= 3, got {value}")
        return value

    def compute(self, arrays: list[np.ndarray], mask: np.ndarray) -> np.ndarray:
        box = tumour_box(mask, self.window // 2)
        out = np.zeros(mask.shape)  # not computed far from the tumour (NaN would break NIfTI IO)
        out[box] = self._local(arrays[0][box], mask[box])
        return out

    def _local(self, values: np.ndarray, inside: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class LocalMeanDescriptor(_LocalDescriptor):
    """Mean in the cube (scipy.ndimage.uniform_filter, edges reflected)."""

    kind: Literal["local_mean"] = "local_mean"

    def _local(self, values: np.ndarray, inside: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(values, size=self.window, mode="reflect")


class LocalEntropyDescriptor(_LocalDescriptor):
    """Shannon entropy (bits) of the discretised intensities in the cube."""

    kind: Literal["local_entropy"] = "local_entropy"
    bins: int = Field(default=16, ge=2, description="equal bins over the tumour's intensity range [min, max]")

    @classmethod
    def unit(cls, intensity_unit: str = "HU") -> str:
        return "bits"

    def _local(self, values: np.ndarray, inside: np.ndarray) -> np.ndarray:
        lo, hi = float(values[inside].min()), float(values[inside].max())
        if hi <= lo:
            return np.zeros(values.shape, dtype=float)
        q = np.clip(np.floor((values - lo) / (hi - lo) * self.bins), 0, self.bins - 1).astype(np.int32)
        ent = np.zeros(values.shape, dtype=float)
        for b in range(self.bins):
            p = ndimage.uniform_filter((q == b).astype(float), size=self.window, mode="reflect")
            p = np.clip(p, 0.0, 1.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                ent -= np.where(p > 1e-12, p * np.log2(np.where(p > 1e-12, p, 1.0)), 0.0)
        return ent


def _kind_given(value: Any) -> Any:
    """A descriptor mapping without ``kind`` is a ``difference`` (the spec's default before the registry)."""
    return {**value, "kind": DEFAULT_KIND} if isinstance(value, dict) and "kind" not in value else value


DESCRIPTOR_KIND_CLASSES: tuple[type[DescriptorKind], ...] = (
    DifferenceDescriptor, IntensityDescriptor, LocalMeanDescriptor, LocalEntropyDescriptor)
DescriptorKindSpec = Annotated[
    Union[DifferenceDescriptor, IntensityDescriptor, LocalMeanDescriptor, LocalEntropyDescriptor],
    Field(discriminator="kind"), BeforeValidator(_kind_given)]
DESCRIPTOR_KINDS: dict[str, type[DescriptorKind]] = {
    cls.model_fields["kind"].default: cls for cls in DESCRIPTOR_KIND_CLASSES}
_ADAPTER: TypeAdapter = TypeAdapter(DescriptorKindSpec)


def descriptor_kind(fields: dict) -> DescriptorKind:
    """The registry entry for a descriptor's fields; a pydantic ``ValidationError`` when they are invalid."""
    return _ADAPTER.validate_python(fields)


@dataclass(frozen=True)
class Descriptor:
    """One voxel descriptor, as ``descriptor_maps`` computes it. ``phases``: (minuend, subtrahend) for
    ``difference``, (phase,) otherwise; ``window`` (local kinds) and ``bins`` (``local_entropy``) keep their
    defaults on the other kinds. Validated through the registry: a problem is a ``FeatureError`` naming the
    descriptor and its field; ``spec`` is the registry entry."""

    name: str
    kind: str
    phases: tuple[str, ...]
    window: int = 3
    normalise: Literal["none", "zscore"] = "none"
    bins: int = 16
    smooth_mm: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "phases", tuple(self.phases))
        fields = {"name": self.name, "kind": self.kind, "phases": list(self.phases), "window": self.window,
                  "normalise": self.normalise, "bins": self.bins, "smooth_mm": self.smooth_mm}
        try:
            spec = descriptor_kind(fields)
        except ValidationError as exc:
            first = exc.errors()[0]
            loc = [str(p) for p in first["loc"][1:]]  # loc[0] is the kind tag
            loc = loc or (["kind"] if first["type"].startswith("union_tag") else [])
            message = first["msg"].removeprefix("Value error, ")
            raise FeatureError(f"descriptor {self.name!r}: {': '.join([*loc, message])}",
                               field=".".join([f"descriptor {self.name}", *loc]),
                               hint=f"kinds: {', '.join(DESCRIPTOR_KINDS)} (hccrad.habitat.descriptor_kinds)") from None
        object.__setattr__(self, "_spec", spec)

    @property
    def spec(self) -> DescriptorKind:
        """The registry entry of this descriptor (its kind's class, validated)."""
        return self._spec
