"""Case ids: what a valid id is, and the file-name form of an id.

An id ends up in file names (habitat maps, caches, Grad-CAM maps), so one like `../../x` could write
outside the output folder. A valid id is non-empty text without surrounding spaces, without path
separators (`/`, `\\`), control characters or NUL, that does not start with `.` (hidden files, `.`, `..`)
and is at most 200 characters long. `safe_file_stem` maps an id to a file-name stem that is the id itself
when it only uses letters, digits, `-`, `_` and `.`, and otherwise percent-encodes every other character
(RFC 3986 style, so two different ids never share a stem).
"""

from __future__ import annotations

import re
import urllib.parse

MAX_ID_LENGTH = 200
_PLAIN = re.compile(r"[A-Za-z0-9_.-]+")


def case_id_problem(value: object) -> str | None:
    """Why `value` is not a usable case id, or None when it is."""
    if value is None or (isinstance(value, float) and value != value):
        return "the id is blank"
    text = str(value)
    if not text.strip():
        return "the id is blank"
    if text != text.strip():
        return "the id has leading or trailing spaces"
    if "/" in text or "\\" in text:
        return "the id holds a path separator ('/' or '\\')"
    if ".." in text:
        return "the id holds '..'"
    if text.startswith("."):
        return "the id starts with '.'"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return "the id holds a control character"
    if len(text) > MAX_ID_LENGTH:
        return f"the id is longer than {MAX_ID_LENGTH} characters"
    return None


def safe_file_stem(case_id: str) -> str:
    """A file-name stem for `case_id` that can never leave its folder (see the module docstring)."""
    text = str(case_id)
    if _PLAIN.fullmatch(text) and not text.startswith("."):
        return text
    stem = urllib.parse.quote(text, safe="-_.")
    return "%2E" + stem[1:] if stem.startswith(".") else stem
