"""Per-case cache of the preflight's image and mask checks (issue 24: a warm rerun read every file in full
again before the first stage).

The preflight's per-case check (`hccrad.preprocess.inspect.inspect_case_images`: every file decompressed to
its last byte, geometry against the reference phase, mask labels, empty masks, near-constant images, phase
alignment) is a function of the files' bytes and a few options. Under ``out/cache/inspection/`` each case's
list of problems (errors and warnings, every field) is stored as JSON (`hccrad.pipeline.cache.CaseCache`),
used only when both parts of its key match:

* the case's input digest (`hccrad.pipeline.cache.InputDigests.case_digest`: BLAKE2b of the bytes of every
  image and mask file by manifest role, with the same stat records as the imaging stage's caches, in
  ``out/cache/input_digests.json``), so one changed voxel, a replaced or a missing file re-inspects that case;
* `inspection_key`: the check's options (reference role, mask label, multi-label masks, alignment mask,
  geometry tolerance) and the hccrad version.

A case whose files cannot be hashed (unreadable, e.g. permissions) is inspected every time, so the check
reports it. `hccrad validate` (no output folder) always inspects; `run_study` passes its output folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from hccrad import __version__
from hccrad.io.geometry import DEFAULT_TOLERANCE
from hccrad.pipeline.cache import CaseCache, InputDigests, config_hash
from hccrad.preprocess.inspect import InputProblem

STAGE = "inspection"  # out/cache/inspection/
Job = tuple[str, dict, dict]  # case id, images (role -> path), masks (role -> path)

__all__ = ["cached_case_problems", "inspection_key"]


def inspection_key(options: dict) -> str:
    """The configuration part of the key (module docstring)."""
    return config_hash({"options": options, "tolerance": asdict(DEFAULT_TOLERANCE), "version": __version__})


def _digest(digests: InputDigests, job: Job) -> str:
    """The case's input digest, or "" when a file cannot be read to hash it (then no caching)."""
    try:
        return digests.case_digest({**job[1], **job[2]})
    except OSError:
        return ""


def cached_case_problems(jobs: Sequence[Job], options: dict, inspect: Callable[[list[Job]], list[list[InputProblem]]],
                         cache_dir: Path | None) -> list[list[InputProblem]]:
    """Each job's problems, in job order: from the cache where the key and digest match, the others from
    ``inspect(missing jobs)`` (then stored). ``cache_dir`` None: ``inspect(jobs)``, nothing stored."""
    if cache_dir is None:
        return inspect(list(jobs))
    digests = InputDigests(Path(cache_dir) / "input_digests.json")
    cache = CaseCache(Path(cache_dir), STAGE, inspection_key(options))
    keys = [_digest(digests, job) for job in jobs]
    found: list[list[InputProblem] | None] = [
        None if not key else _problems(cache.get_json(job[0], key)) for job, key in zip(jobs, keys)]
    missing = [i for i, f in enumerate(found) if f is None]
    for i, problems in zip(missing, inspect([jobs[i] for i in missing])):
        found[i] = problems
        if keys[i]:
            cache.put_json(jobs[i][0], [asdict(p) for p in problems], keys[i])
    digests.save()
    return [f or [] for f in found]


def _problems(entry: object) -> list[InputProblem] | None:
    """The problems of a cache entry; None for an entry that is not a list of problem records (recomputed)."""
    if not isinstance(entry, list) or not all(isinstance(e, dict) for e in entry):
        return None
    try:
        return [InputProblem(**e) for e in entry]
    except TypeError:
        return None
