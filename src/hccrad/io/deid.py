"""De-identification on ingest: pseudonymous ids, the private mapping file, and DICOM header scrubbing.

Pseudonyms are keyed hashes, pseudonym = prefix + HMAC-SHA256(key, identifier)[:12] (RFC 2104), so the
same patient always gets the same id under the same key (which is what makes a batch ingest resumable) and
nobody without the key can recompute it from a guessed patient ID. The key is secret: keep it like the
mapping file. The private mapping file (pseudonym → original folder name / PatientID) is written only when
the user asks for it (`write_mapping`); it is the one file hccrad writes that holds source identifiers.

`deidentify` applies the DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile (Table E.1-1,
the "Basic Prof." column) to a pydicom Dataset, at every nesting level. The table is data, not a hand list:
`ps3_15_basic_profile.json` beside this module is the standard's table (edition and source recorded in the
file), since neither pydicom nor highdicom ships it. Actions: X remove; Z empty value; D dummy value of the
attribute's VR; U UID replaced by 2.25.<int(HMAC-SHA256(key, UID)[:32 hex])> (consistent across a set of
instances under one key); compound actions (X/Z, X/D, Z/D, X/Z/D, X/Z/U*) keep the attribute present with
no identifying content: D when offered, else U, else Z. Private attributes are removed
(`Dataset.remove_private_tags`), and curve (50xx,xxxx) and overlay data/comments (60xx,3000 / 60xx,4000)
go. The result carries PatientIdentityRemoved = YES and DeidentificationMethodCodeSequence = (113100, DCM,
"Basic Application Confidentiality Profile").
"""

from __future__ import annotations

import copy
import csv
import functools
import hashlib
import hmac
import json
import logging
import os
import secrets
import string
import tempfile
from importlib import resources
from pathlib import Path

import pydicom
from pydicom.sr.codedict import codes

from hccrad.core.errors import InputError

logger = logging.getLogger(__name__)

#: The header fields whose values identify the patient directly (used by leak checks in tests).
IDENTIFYING_FIELDS: tuple[str, ...] = ("PatientName", "PatientID", "PatientBirthDate")
#: Dummy values for action D, by value representation (PS3.5 Table 6.2-1 formats).
DUMMY_BY_VR: dict[str, object] = {
    "DA": "19000101", "TM": "000000", "DT": "19000101000000", "AS": "000Y", "IS": "0", "DS": "0",
    "US": 0, "SS": 0, "UL": 0, "SL": 0, "UV": 0, "SV": 0, "FL": 0.0, "FD": 0.0, "AT": 0,
}
DUMMY_TEXT = "ANONYMIZED"
#: Repeating groups of the profile's table: (group mask, group value, element or None for any).
_REPEATING = {"50xxxxxx": (0xFF00, 0x5000, None), "60xx3000": (0xFF00, 0x6000, 0x3000),
              "60xx4000": (0xFF00, 0x6000, 0x4000)}
#: Per-process key for UID replacement when `deidentify` is called without one.
_SESSION_UID_KEY = secrets.token_hex(32)


@functools.cache
def basic_profile() -> dict[int, str]:
    """The Basic Profile's action per tag ({0x00100010: "Z", ...}) from `ps3_15_basic_profile.json`."""
    doc = json.loads(resources.files("hccrad.io").joinpath("ps3_15_basic_profile.json").read_text("utf-8"))
    return {int(tag, 16): action for tag, action, _name in doc["rows"]
            if len(tag) == 8 and all(c in string.hexdigits for c in tag)}  # 50xx/60xx and private rows: below


def profile_action(tag: int) -> str | None:
    """The Basic Profile action for `tag` (repeating curve/overlay groups included), or None if not listed."""
    action = basic_profile().get(int(tag))
    if action is not None:
        return action
    group, element = int(tag) >> 16, int(tag) & 0xFFFF
    for mask, value, elem in _REPEATING.values():
        if group & mask == value and group % 2 == 0 and (elem is None or elem == element):
            return "X"
    return None


def _resolve(action: str) -> str:
    """One action from a compound one: keep the attribute with no identifying content (D, else U, else Z)."""
    options = action.replace("*", "").split("/")
    if len(options) == 1:
        return options[0]
    return next(o for o in ("D", "U", "Z") if o in options)


def replacement_uid(uid: str, key: str) -> str:
    """2.25.<decimal of the first 128 bits of HMAC-SHA256(key, uid)> (PS3.5 B.2: UUID-derived UID)."""
    digest = hmac.new(key.encode(), str(uid).encode(), hashlib.sha256).hexdigest()
    return f"2.25.{int(digest[:32], 16)}"


def _dummy(elem: pydicom.DataElement, pseudo_id: str | None, key: str):
    if elem.VR == "UI":
        return _new_uids(elem.value, key)
    if elem.VR == "SQ":
        return []
    if elem.keyword in ("PatientID", "PatientName") and pseudo_id is not None:
        return pseudo_id
    if elem.VR in DUMMY_BY_VR:
        return DUMMY_BY_VR[elem.VR]
    if elem.VR in ("OB", "OW", "OD", "OF", "OL", "OV", "UN"):
        return b""
    return DUMMY_TEXT


def _new_uids(value, key: str):
    if value is None or value == "":
        return value
    if isinstance(value, (list, pydicom.multival.MultiValue)):
        return [replacement_uid(v, key) for v in value]
    return replacement_uid(value, key)


def _apply_profile(ds: pydicom.Dataset, pseudo_id: str | None, key: str) -> None:
    for tag in list(ds.keys()):
        elem = ds[tag]
        action = profile_action(tag)
        if action is None or action in ("K", "C"):
            if elem.VR == "SQ":
                for item in elem.value:
                    _apply_profile(item, pseudo_id, key)
            continue
        action = _resolve(action)
        if action == "X":
            del ds[tag]
        elif action == "Z":
            elem.value = [] if elem.VR == "SQ" else None
        elif action == "D":
            elem.value = _dummy(elem, pseudo_id, key)
        elif action == "U":
            if elem.VR == "SQ":  # X/Z/U*: keep the sequence, replace the UIDs it contains
                for item in elem.value:
                    _apply_profile(item, pseudo_id, key)
            else:
                elem.value = _new_uids(elem.value, key)


def deidentify(ds: pydicom.Dataset, *, pseudo_id: str | None = None, key: str | None = None) -> pydicom.Dataset:
    """A copy of `ds` de-identified by the PS3.15 Basic Profile (see module docstring); `ds` is not modified.

    pseudo_id: written as PatientID and PatientName (their D value) so the file stays usable; without it
    both are emptied. key: the secret for UID replacement; pass the same key for every file of a set so
    references between them stay consistent (default: one random key per process).
    """
    out = copy.deepcopy(ds)
    key = key or _SESSION_UID_KEY
    out.remove_private_tags()
    _apply_profile(out, pseudo_id, key)
    if pseudo_id is not None:
        out.PatientID = pseudo_id
        out.PatientName = pseudo_id
    meta = getattr(out, "file_meta", None)
    if meta is not None and "SOPInstanceUID" in out:
        meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    out.PatientIdentityRemoved = "YES"
    code = codes.DCM.BasicApplicationConfidentialityProfile
    item = pydicom.Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = code.value, code.scheme_designator, code.meaning
    out.DeidentificationMethodCodeSequence = [item]
    out.DeidentificationMethod = "PS3.15 Basic Application Confidentiality Profile"
    return out


def new_key() -> str:
    """A fresh random pseudonymisation key (64 hex characters)."""
    return secrets.token_hex(32)


def pseudonym(identifier: str, key: str, *, prefix: str = "case-") -> str:
    """prefix + first 12 hex digits of HMAC-SHA256(key, identifier)."""
    if not key:
        raise InputError("empty pseudonymisation key", field="key", hint="pass a non-empty key or let hccrad make one")
    digest = hmac.new(key.encode(), str(identifier).encode(), hashlib.sha256).hexdigest()
    return f"{prefix}{digest[:12]}"


def identifying_values(ds: pydicom.Dataset) -> list[str]:
    """The non-empty PatientName / PatientID / PatientBirthDate strings of a header (for leak checks)."""
    vals = []
    for kw in IDENTIFYING_FIELDS:
        v = str(ds.get(kw, "") or "").strip()
        if v:
            vals.append(v)
            if kw == "PatientName":
                vals.extend(p for p in v.replace("^", " ").split() if len(p) > 2)
    return vals


def load_or_create_key(path: Path) -> str:
    """Read the key stored at `path`, or create one there (mode 0600)."""
    path = Path(path)
    if path.exists():
        key = path.read_text().strip()
        if not key:
            raise InputError("pseudonymisation key file is empty", file=path,
                             hint="restore the key from backup; without it ids of a resumed run change")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = new_key()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def write_mapping(mapping: dict[str, str], path: str | Path) -> Path:
    """Write (merge) the pseudonym → original-identifier table to `path` as CSV, atomically, mode 0600."""
    path = Path(path)
    merged: dict[str, str] = {}
    if path.exists():
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                merged[row["pseudonym"]] = row["original"]
    merged.update(mapping)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".csv", dir=path.parent)
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["pseudonym", "original"])
            for k in sorted(merged):
                w.writerow([k, merged[k]])
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    logger.info("wrote pseudonym mapping (%d entries)", len(merged))
    return path
