"""Per-case result cache: atomic JSON / NPZ files keyed by case id, a configuration hash and a digest of
the case's input files.

A crash in case 90 of 150 loses nothing: cases 1–89 are on disk, and a rerun with the same configuration
skips them. A changed configuration (different hash: the stage's spec section and the hccrad version go
into it) recomputes, and so does a case whose input files changed: `InputDigests` gives each case a
content digest, BLAKE2b-128 of the files' bytes, combined over the case's files by manifest role. The
digest of a file is recomputed unless its (size, mtime_ns, ctime_ns, inode) equal the record made when it
was last hashed; ctime cannot be set back (an edited file that had its mtime restored is still caught),
and a record taken less than `RACY_NS` after the file's last change is never trusted (the file could have
changed again within the file system's timestamp granularity; git's "racily clean" rule). NPZ files are
read with `allow_pickle=False`; nothing here unpickles. Files are written with the umask's mode
(`hccrad.core.files.shareable`), not mkstemp's 0600.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from hccrad.core.files import atomic_write_text, shareable
from hccrad.core.ids import safe_file_stem

RACY_NS = 2_000_000_000  # a record is trusted only if the file had not changed for 2 s when it was hashed

def config_hash(obj: Any) -> str:
    """A short stable hash of JSON-able configuration."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def atomic_write_json(path: Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=1, sort_keys=True, default=_json_default))


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


class InputDigests:
    """Content digests of input files, remembered in `path` (JSON) between runs (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.records: dict[str, dict] = {}
        self.hashed = 0  # files whose bytes were read in this session (the rest came from their stat record)
        self.updated: dict[str, dict] = {}  # the records (re)made in this session (what a worker sends back)
        if self.path.is_file():
            try:
                self.records = json.loads(self.path.read_text(encoding="utf-8"))
            except (json.JSONDecodeError, UnicodeDecodeError):
                self.records = {}  # a torn file: every input is hashed again

    def file_digest(self, path: str | Path) -> str:
        """BLAKE2b-128 (hex) of a file's bytes, or of a folder's files (names and bytes, sorted)."""
        path = Path(path)
        if path.is_dir():
            h = hashlib.blake2b(digest_size=16)
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                h.update(f"{f.relative_to(path).as_posix()}\0{self.file_digest(f)}\0".encode())
            return h.hexdigest()
        st = path.stat()
        key = str(path.resolve())
        stat = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "ino": st.st_ino}
        rec = self.records.get(key)
        if rec is not None and all(rec.get(k) == v for k, v in stat.items()) \
                and max(st.st_mtime_ns, st.st_ctime_ns) + RACY_NS < rec.get("hashed_at_ns", 0):
            return rec["blake2b"]
        hashed_at = time.time_ns()
        h = hashlib.blake2b(digest_size=16)
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        self.hashed += 1
        self.records[key] = self.updated[key] = {**stat, "blake2b": h.hexdigest(), "hashed_at_ns": hashed_at}
        return h.hexdigest()

    def fork(self) -> InputDigests:
        """A view for one case's work in a worker: the same records (a copy once pickled to another
        process), its own `updated` and `hashed`; `absorb` merges what it hashed back into this one."""
        child = copy.copy(self)
        child.updated, child.hashed = {}, 0
        return child

    def absorb(self, updated: Mapping[str, dict], hashed: int) -> None:
        """Take the records a fork made (`fork`)."""
        self.records.update(updated)
        self.updated.update(updated)
        self.hashed += hashed

    def case_digest(self, files: Mapping[str, str | Path | None]) -> str:
        """One digest for a case's files by role (a blank or missing file counts as its own value)."""
        h = hashlib.blake2b(digest_size=16)
        for role in sorted(files):
            path = files[role]
            if isinstance(path, (str, Path)) and str(path).strip() and Path(path).exists():
                value = self.file_digest(path)
            else:
                value = "missing"
            h.update(f"{role}\0{value}\0".encode())
        return h.hexdigest()

    def save(self) -> None:
        atomic_write_json(self.path, self.records)


class CaseCache:
    """Files under `root/<stage>/<case file stem>.<key>.<inputs>.<ext>`, valid only for one configuration
    hash `key` and one digest `inputs` of the case's input files. Writing a case's entry removes its entries
    for other keys or inputs, so inputs changed A → B → A are recomputed, never matched with stale outputs.
    `hits` / `misses` count the lookups of this session."""

    def __init__(self, root: Path, stage: str, key: str) -> None:
        self.dir = Path(root) / stage
        self.key = key
        self.hits = 0
        self.misses = 0
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, case_id: str, ext: str, inputs: str = "") -> Path:
        return self.dir / f"{safe_file_stem(case_id)}.{self.key}.{inputs[:32] or 'none'}.{ext}"

    def _drop_others(self, case_id: str, ext: str, keep: Path) -> None:
        stem = safe_file_stem(case_id)
        for p in self.dir.glob(f"*.{ext}"):
            parts = p.name.rsplit(".", 3)
            if len(parts) == 4 and parts[0] == stem and p != keep:
                p.unlink(missing_ok=True)

    def get_json(self, case_id: str, inputs: str = "") -> Any | None:
        value = self._get_json(case_id, inputs)
        if value is None:
            self.misses += 1
        else:
            self.hits += 1
        return value

    def _get_json(self, case_id: str, inputs: str) -> Any | None:
        p = self._path(case_id, "json", inputs)
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None  # a torn file from an older crash: recompute

    def put_json(self, case_id: str, obj: Any, inputs: str = "") -> None:
        p = self._path(case_id, "json", inputs)
        atomic_write_json(p, obj)
        self._drop_others(case_id, "json", p)

    def get_arrays(self, case_id: str, inputs: str = "") -> dict[str, np.ndarray] | None:
        p = self._path(case_id, "npz", inputs)
        if not p.is_file():
            return None
        try:
            with np.load(p, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError):
            return None

    def put_arrays(self, case_id: str, arrays: dict[str, np.ndarray], inputs: str = "") -> None:
        p = self._path(case_id, "npz", inputs)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.dir)
        os.close(fd)
        try:
            np.savez(tmp, **arrays)
            shareable(tmp)
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        self._drop_others(case_id, "npz", p)
