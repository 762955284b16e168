"""Cache of the imaging stage's habitat robustness result (issue 24: what a warm rerun still recomputed).

`hccrad.pipeline.habitat_robustness.habitat_robustness` refits the habitat model ``habitat.stability_resamples``
times (and at k−1, k+1 under ``habitat.k_sensitivity``); on the 50-case demo that is the largest part of a
rerun's imaging stage. Its result, a `HabitatRobustness` before the models stage adds its k-sensitivity table,
is stored as a results record (`hccrad.pipeline.records`: JSON + Parquet + npz, read back only as the
allow-listed result types, never unpickled; numbers round-trip exactly) under
``out/cache/habitat_robustness/<key>/``.

The key (`robustness_key`) is a hash of everything the result depends on: the whole ``habitat``,
``features``, ``data`` and ``preprocess`` sections, the seed, the hccrad version, the fitted habitat model
(its JSON), the descriptor units, and for each training case in order its id, the content digest of its input
files (`hccrad.pipeline.cache.InputDigests`: one changed voxel of one training image changes it) and its
voxel count. A record that cannot be read back (torn, other schema) is recomputed; writing one removes the
entries of other keys; a training case without an input digest turns the cache off.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hccrad import __version__
from hccrad.config.spec import StudySpec
from hccrad.pipeline.cache import config_hash
from hccrad.pipeline.records import RecordError, read_record, write_record

log = logging.getLogger(__name__)
STAGE = "habitat_robustness"  # out/cache/habitat_robustness/
SECTION = "robustness"

__all__ = ["cached_robustness", "robustness_key"]


def robustness_key(spec: StudySpec, model: Any, train: Sequence[Any], units: dict[str, str]) -> str | None:
    """The cache key (module docstring), or None when robustness is off or a training case has no input digest."""
    if not (spec.habitat.stability_resamples or spec.habitat.k_sensitivity) \
            or any(not getattr(c, "inputs", "") for c in train):
        return None
    return config_hash({"habitat": spec.habitat.model_dump(mode="json"),
                        "features": spec.features.model_dump(mode="json"),
                        "data": spec.data.model_dump(mode="json"),
                        "preprocess": spec.preprocess.model_dump(mode="json"),
                        "seed": spec.seed, "version": __version__, "model": model.to_json(), "units": units,
                        "training": [[c.case_id, c.inputs, int(c.X.shape[0])] for c in train]})


def cached_robustness(cache_root: Path, spec: StudySpec, model: Any, train: Sequence[Any], units: dict[str, str],
                      compute: Callable[[], Any]) -> Any:
    """The stored result for the key of (spec, model, training cases, units), else ``compute()``, stored under
    that key (a None result, robustness off, is not stored). `hccrad.pipeline.study_stages.ImagingStage` hands
    it to `run_imaging` (bound to out/cache), which cannot import this module: the results records that it
    reads import the imaging module."""
    key = robustness_key(spec, model, train, units)
    folder = Path(cache_root) / STAGE
    if key is not None and (folder / key / f"{SECTION}.json").is_file():
        try:
            return read_record(folder / key, SECTION)
        except (RecordError, OSError, ValueError) as exc:  # a torn or foreign entry: recomputed
            log.warning("habitat robustness cache entry %s not used (%s); recomputed", folder / key, exc)
    value = compute()
    if key is not None and value is not None:
        _store(folder, key, value)
    return value


def _store(folder: Path, key: str, value: Any) -> None:
    """Write the record in a temporary folder, then rename it into place; other keys' entries removed."""
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-{os.getpid()}-{time.time_ns()}"
    tmp.mkdir()  # the umask's mode (mkdtemp's would be 0700)
    try:
        write_record(value, tmp, SECTION)
        for old in folder.iterdir():
            if old.is_dir() and not old.name.startswith(".tmp-"):
                shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, folder / key)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
