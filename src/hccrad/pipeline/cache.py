"""Per-case result cache: atomic JSON / NPZ files keyed by case id and a configuration hash.

A crash in case 90 of 150 loses nothing: cases 1–89 are on disk, and a rerun with the same configuration
skips them. A changed configuration (different hash) recomputes. NPZ files are read with
`allow_pickle=False`; nothing here unpickles.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np


def config_hash(obj: Any) -> str:
    """A short stable hash of JSON-able configuration."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def atomic_write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


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


class CaseCache:
    """Files under `root/<stage>/<case_id>.<ext>`, valid only for one configuration hash."""

    def __init__(self, root: Path, stage: str, key: str) -> None:
        self.dir = Path(root) / stage
        self.key = key
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, case_id: str, ext: str) -> Path:
        return self.dir / f"{case_id}.{self.key}.{ext}"

    def get_json(self, case_id: str) -> Any | None:
        p = self._path(case_id, "json")
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            return None  # a torn file from an older crash: recompute

    def put_json(self, case_id: str, obj: Any) -> None:
        atomic_write_json(self._path(case_id, "json"), obj)

    def get_arrays(self, case_id: str) -> dict[str, np.ndarray] | None:
        p = self._path(case_id, "npz")
        if not p.is_file():
            return None
        try:
            with np.load(p, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        except (OSError, ValueError):
            return None

    def put_arrays(self, case_id: str, arrays: dict[str, np.ndarray]) -> None:
        p = self._path(case_id, "npz")
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".npz", dir=self.dir)
        os.close(fd)
        try:
            np.savez(tmp, **arrays)
            os.replace(tmp, p)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
