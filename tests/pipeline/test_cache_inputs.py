"""The per-case cache: entries keyed by an input digest, stale entries removed, digests trusted from a
stat record only when it is safe, and every written file honouring the umask (not mkstemp's 0600)."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from hccrad.core.files import current_umask
from hccrad.io.volume import write_image
from hccrad.core.image import Image
from hccrad.pipeline import cache as cache_mod
from hccrad.pipeline.cache import CaseCache, InputDigests, atomic_write_text


def test_case_cache_is_keyed_by_inputs_and_drops_stale_entries(tmp_path):
    c = CaseCache(tmp_path, "stage", "k1")
    c.put_json("../x", {"v": 1}, "aaaa")
    assert c.get_json("../x", "aaaa") == {"v": 1} and c.get_json("../x", "bbbb") is None
    assert (c.hits, c.misses) == (1, 1)
    c.put_json("../x", {"v": 2}, "bbbb")
    assert c.get_json("../x", "aaaa") is None  # A -> B -> A is recomputed
    assert [p.parent for p in tmp_path.rglob("*.json")] == [tmp_path / "stage"]  # nothing outside its folder
    c.put_json("..", {"v": 3}, "aaaa")  # an id sharing a prefix keeps its own entry
    assert c.get_json("../x", "bbbb") == {"v": 2}


def test_digest_follows_content_and_reuses_old_records(tmp_path, monkeypatch):
    f = tmp_path / "m.nii"
    f.write_bytes(b"\x00" * 64)
    d = InputDigests(tmp_path / "digests.json")
    first = d.case_digest({"mask_tumor": f, "mask_liver": None})
    assert d.hashed == 1
    st = f.stat()
    f.write_bytes(b"\x00" * 63 + b"\x01")  # same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime
    assert d.case_digest({"mask_tumor": f, "mask_liver": None}) != first
    d.save()
    # a record taken long after the file's last change is trusted: no bytes read
    later = InputDigests(tmp_path / "digests.json")
    monkeypatch.setattr(cache_mod.time, "time_ns", lambda: f.stat().st_ctime_ns + 10 * cache_mod.RACY_NS)
    key = later.file_digest(f)
    later.save()
    fresh = InputDigests(tmp_path / "digests.json")
    assert fresh.file_digest(f) == key and fresh.hashed == 0
    f.write_bytes(b"\x00" * 64)  # changed: its ctime moves, the record no longer matches
    assert fresh.file_digest(f) != key and fresh.hashed == 1


@pytest.mark.parametrize("umask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o002, 0o664, 0o775),
                                                          (0o077, 0o600, 0o700)])
def test_written_files_honour_the_umask(tmp_path, umask, file_mode, dir_mode):
    old = os.umask(umask)
    try:
        assert current_umask() == umask
        text = atomic_write_text(tmp_path / "out" / "report" / "run.json", "{}")
        c = CaseCache(tmp_path / "out" / "cache", "msi", "k")
        c.put_json("c1", {"v": 1}, "d")
        c.put_arrays("c1", {"a": np.zeros(3)}, "d")
        img = write_image(Image(np.zeros((2, 3, 4), np.int16)), tmp_path / "out" / "habitats" / "c1.nii.gz")
    finally:
        os.umask(old)
    files = [text, img, *c.dir.iterdir()]
    assert len(files) == 4
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == file_mode, p
    for d in (text.parent, img.parent, c.dir):
        assert stat.S_IMODE(d.stat().st_mode) == dir_mode, d
