"""File modes for outputs written through a temporary file: they honour the umask like `open()` does.

`tempfile.mkstemp` creates its file with mode 0600 whatever the umask, so a file written atomically
(temporary file, then `os.replace`) would stay private and a shared project folder could not read the
report. `shareable(tmp)` sets the mode `open()` would have given, 0o666 & ~umask (0644 under the default
umask 022, 0664 under 002); folders made with `Path.mkdir` already get 0o777 & ~umask (0755).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def current_umask() -> int:
    """The process umask, read without changing it (Linux /proc); elsewhere by setting and restoring it."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode a new file gets from `open()`: 0o666 & ~umask."""
    return 0o666 & ~current_umask()


def shareable(path: str | Path) -> None:
    """Give a file made by `tempfile.mkstemp` (0600) the mode `open()` would have given it."""
    os.chmod(path, file_mode())


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file in the same folder, then ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        shareable(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
