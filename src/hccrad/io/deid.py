"""De-identification on ingest: pseudonymous ids and header scrubbing.

Pseudonyms are keyed hashes, pseudonym = prefix + HMAC-SHA256(key, identifier)[:12] (RFC 2104), so the
same patient always gets the same id under the same key (which is what makes a batch ingest resumable) and
nobody without the key can recompute it from a guessed patient ID. The key is secret: keep it like the
mapping file. A mapping file (pseudonym → original identifier) is written only when the user asks for it.

`deidentify` scrubs a pydicom Dataset following the spirit of the DICOM PS3.15 Annex E Basic Application
Level Confidentiality Profile for the attributes listed in `PHI_KEYWORDS`, and removes private tags.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import hmac
import logging
import os
import secrets
import tempfile
from pathlib import Path

import pydicom

from hccrad.core.errors import InputError

logger = logging.getLogger(__name__)

#: Attributes removed by `deidentify` (PS3.15 Annex E, the patient/operator/institution subset).
PHI_KEYWORDS: tuple[str, ...] = (
    "PatientName", "PatientID", "PatientBirthDate", "PatientBirthTime", "OtherPatientIDs",
    "OtherPatientNames", "OtherPatientIDsSequence", "PatientAddress", "PatientTelephoneNumbers",
    "PatientMotherBirthName", "MilitaryRank", "EthnicGroup", "PatientComments", "MedicalRecordLocator",
    "ReferringPhysicianName", "PerformingPhysicianName", "OperatorsName", "NameOfPhysiciansReadingStudy",
    "PhysiciansOfRecord", "RequestingPhysician", "InstitutionName", "InstitutionAddress",
    "InstitutionalDepartmentName", "StationName", "AccessionNumber", "StudyID", "DeviceSerialNumber",
    "IssuerOfPatientID", "PatientInsurancePlanCodeSequence", "RequestAttributesSequence",
)
#: The header fields whose values must never reach an output, a log or a file name.
IDENTIFYING_FIELDS: tuple[str, ...] = ("PatientName", "PatientID", "PatientBirthDate")


def new_key() -> str:
    """A fresh random pseudonymisation key (64 hex characters)."""
    return secrets.token_hex(32)


def pseudonym(identifier: str, key: str, *, prefix: str = "case-") -> str:
    """prefix + first 12 hex digits of HMAC-SHA256(key, identifier)."""
    if not key:
        raise InputError("empty pseudonymisation key", field="key", hint="pass a non-empty key or let hccrad make one")
    digest = hmac.new(key.encode(), str(identifier).encode(), hashlib.sha256).hexdigest()
    return f"{prefix}{digest[:12]}"


def deidentify(ds: pydicom.Dataset, *, pseudo_id: str | None = None) -> pydicom.Dataset:
    """A copy of `ds` with the `PHI_KEYWORDS` attributes and private tags removed.

    When `pseudo_id` is given it is written as PatientID and PatientName so the file stays valid DICOM;
    PatientIdentityRemoved (0012,0062) is set to "YES".
    """
    out = copy.deepcopy(ds)
    for kw in PHI_KEYWORDS:
        if kw in out:
            delattr(out, kw)
    out.remove_private_tags()
    if pseudo_id is not None:
        out.PatientID = pseudo_id
        out.PatientName = pseudo_id
    out.PatientIdentityRemoved = "YES"
    return out


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
