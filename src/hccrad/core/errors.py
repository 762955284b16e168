"""One error hierarchy for hccrad.

Every message names what went wrong and where (case, file, field) and says how to fix it. The CLI prints
these without a traceback; the library raises them instead of returning NaN.

`FeatureError`, `ModelError` and `DataError` also subclass `ValueError` (the scikit-learn estimator contract:
invalid data or parameters raise `ValueError`), so `except ValueError` in third-party code catches them too.
"""

from __future__ import annotations

import difflib
from pathlib import Path


class HccradError(Exception):
    """Base class: a problem the user can fix, described with its location and a hint."""

    def __init__(
        self,
        message: str,
        *,
        case: str | None = None,
        file: str | Path | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.case = case
        self.file = str(file) if file is not None else None
        self.field = field
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        where = []
        if self.case is not None:
            where.append(f"case {self.case!r}")
        if self.file is not None:
            where.append(f"file {self.file}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        text = (", ".join(where) + ": " if where else "") + self.message
        if self.hint:
            text += f"\n  how to fix: {self.hint}"
        return text


class SpecError(HccradError):
    """The study spec (YAML / keyword arguments) is invalid. Holds every problem found, not just the first."""

    def __init__(self, problems: list[str], *, file: str | Path | None = None) -> None:
        self.problems = list(problems)
        body = f"{len(self.problems)} problem(s) in the study spec:\n" + "\n".join(
            f"  - {p}" for p in self.problems
        )
        super().__init__(body, file=file)


class InputError(HccradError):
    """An input file or table cannot be read or has the wrong content."""


class GeometryError(InputError):
    """Images and masks do not share a grid, a mask is empty, or phases do not overlap."""


class FeatureError(HccradError, ValueError):
    """A feature cannot be computed for a case (e.g. a habitat with fewer voxels than required)."""


class ModelError(HccradError, ValueError):
    """A model cannot be fitted or applied (missing features, wrong units, not fitted)."""


class DataError(HccradError, ValueError):
    """A table of values is unusable for a statistic (e.g. one outcome class only, NaN values)."""


class ClusterError(HccradError, ValueError):
    """A compute cluster named in the spec (a Dask scheduler address) is malformed or cannot be reached."""


def did_you_mean(name: str, available) -> str:
    """' (did you mean 'AFP'?)' for the closest names in ``available`` (difflib ratio >= 0.6, case-insensitive),
    '' when none is close: the hint after an unknown column or key."""
    lower = {str(a).lower(): str(a) for a in available}
    close = difflib.get_close_matches(name.lower(), list(lower), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(lower[c]) for c in close)}?)" if close else ""
