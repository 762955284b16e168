"""Per-case cache of the preflight's image and mask checks (issue 24: a warm rerun read every file in full
again before the first stage).

The preflight's per-case check (`hccrad.preprocess.inspect.inspect_case_images`: every file decompressed to
its last byte, geometry against the reference phase, mask labels, empty masks, near-constant images, phase
alignment) is a function of the files' bytes and a few options. Under ``out/cache/inspection/`` each case's
list of problems (errors and warnings, every field) is stored as JSON (`hccrad.pipeline.cache.CaseCache`),
used only when both parts of its key match:

* the case's input digest (`hccrad.pipeline.cache.InputDigests.case_digest`: BLAKE2b of the bytes of every
  image and mask file by manifest role, with the same stat records as the imaging stage's caches, in
  ``out/cache/input_digests.json``) and the files' paths (which messages may name), so one changed voxel, a
  replaced, moved or missing file re-inspects that case;
* `inspection_key`: the check's options (reference role, mask label, multi-label masks, alignment mask,
  geometry tolerance) and the hccrad version.

A case whose files cannot be hashed (unreadable, e.g. permissions) is inspected every time, so the check
reports it. `hccrad validate` (no output folder) always inspects; `run_study` passes an `InspectionCache` of
its output folder and writes the new entries only after the preflight passed (a refused run writes nothing).

A case inspected here without an error also gets an entry in ``out/cache/verified/`` (`verified_cache`) under
the content digest of its files: the full-payload check (`hccrad.io.integrity`, every file decompressed to its
end and float payloads checked for NaN/inf) passed on exactly these bytes, so the imaging stage, which
inspects each case again as it reads it, skips that one check for them as it does for bytes it verified itself
in an earlier run (issue 24: a fresh run decompressed and checked every file twice); every other check runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

from hccrad import __version__
from hccrad.io.geometry import DEFAULT_TOLERANCE
from hccrad.pipeline.cache import CaseCache, InputDigests, config_hash
from hccrad.preprocess.inspect import InputProblem

STAGE = "inspection"  # out/cache/inspection/
VERIFIED_STAGE = "verified"  # out/cache/verified/: cases whose input bytes passed the full-payload check
Job = tuple[str, dict, dict]  # case id, images (role -> path), masks (role -> path)

__all__ = ["InspectionCache", "cached_case_problems", "inspection_key", "verified_cache", "VERIFIED_STAGE"]


def inspection_key(options: dict) -> str:
    """The configuration part of the key (module docstring)."""
    return config_hash({"options": options, "tolerance": asdict(DEFAULT_TOLERANCE), "version": __version__})


def verified_cache(cache_dir: Path) -> CaseCache:
    """out/cache/verified/: `True` under a case's content digest (`InputDigests.case_digest`) once its files
    passed the full-payload check (module docstring)."""
    return CaseCache(Path(cache_dir), VERIFIED_STAGE, config_hash({"version": __version__}))


class InspectionCache:
    """The cache of one run's output folder (``cache_dir`` = out/cache). Lookups read only; the entries made
    for the cases inspected now are kept in memory until `save`, which `run_study` calls once the preflight has
    passed and the output folder exists (a refused run leaves no output folder behind)."""

    def __init__(self, cache_dir: Path) -> None:
        self.dir = Path(cache_dir)
        self.digests = InputDigests(self.dir / "input_digests.json")
        self.pending: list[tuple[str, str, str, list[dict]]] = []  # (key, case id, digest, problems)
        self.verified: list[tuple[str, str]] = []  # (case id, content digest) inspected now without an error

    def _digests(self, job: Job) -> tuple[str, str]:
        """The case's input digest with its file paths (messages name them) and the content digest alone, or
        ("", "") when a file cannot be read to hash it (then no caching)."""
        files = {**job[1], **job[2]}
        try:
            content = self.digests.case_digest(files)
        except OSError:
            return "", ""
        where = sorted((role, str(path)) for role, path in files.items())
        return hashlib.blake2b(json.dumps([content, where]).encode(), digest_size=16).hexdigest(), content

    def _stored(self, key: str, case_id: str, digest: str) -> list[InputProblem] | None:
        if not digest or not (self.dir / STAGE).is_dir():
            return None
        return _problems(CaseCache(self.dir, STAGE, key).get_json(case_id, digest))

    def problems(self, jobs: Sequence[Job], options: dict,
                 inspect: Callable[[list[Job]], list[list[InputProblem]]]) -> list[list[InputProblem]]:
        """Each job's problems, in job order: stored ones where the key and digest match, the others from
        ``inspect(missing jobs)`` (kept for `save`)."""
        key = inspection_key(options)
        digests = [self._digests(job) for job in jobs]
        found = [self._stored(key, job[0], d) for job, (d, _) in zip(jobs, digests)]
        missing = [i for i, f in enumerate(found) if f is None]
        for i, problems in zip(missing, inspect([jobs[i] for i in missing])):
            found[i] = problems
            digest, content = digests[i]
            if digest:
                self.pending.append((key, jobs[i][0], digest, [asdict(p) for p in problems]))
                if not any(p.severity == "error" for p in problems):
                    self.verified.append((jobs[i][0], content))
        return [f or [] for f in found]

    def save(self) -> None:
        """Write the entries made in this run (and the verified marks of the cases inspected without an error)
        and the digests' stat records."""
        for key, case_id, digest, problems in self.pending:
            CaseCache(self.dir, STAGE, key).put_json(case_id, problems, digest)
        self.pending.clear()
        verified = verified_cache(self.dir) if self.verified else None
        for case_id, content in self.verified:
            verified.put_json(case_id, True, content)
        self.verified.clear()
        self.digests.save()


def cached_case_problems(jobs: Sequence[Job], options: dict, inspect: Callable[[list[Job]], list[list[InputProblem]]],
                         cache: InspectionCache | None) -> list[list[InputProblem]]:
    """``cache.problems(...)``, or ``inspect(jobs)`` without a cache."""
    return inspect(list(jobs)) if cache is None else cache.problems(jobs, options, inspect)


def _problems(entry: object) -> list[InputProblem] | None:
    """The problems of a cache entry; None for an entry that is not a list of problem records (recomputed)."""
    if not isinstance(entry, list) or not all(isinstance(e, dict) for e in entry):
        return None
    try:
        return [InputProblem(**e) for e in entry]
    except TypeError:
        return None
