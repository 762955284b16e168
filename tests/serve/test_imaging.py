"""Imaging bundles: an uploaded case (NIfTI files, a zip of them, or a zip of DICOM series) goes through
descriptors -> habitats -> MSI features -> score; unsafe archives and oversized ones are refused."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import pandas as pd
import pytest

from hccrad.io.dicom_write import write_dicom_series
from hccrad.models.bundle import bundle_scores, load_bundle
from hccrad.serve import create_app
from hccrad.testing import assert_close

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TBIL = {"TBIL": "21.0"}


@pytest.fixture(scope="module")
def client(imaging_bundle):
    return TestClient(create_app(imaging_bundle))


def test_form_asks_for_clinical_fields_and_files_only(client):
    html = client.get("/").text
    assert 'name="TBIL"' in html and 'name="file_tumor"' in html and 'name="archive"' in html
    assert 'name="habitat3_fraction"' not in html
    info = client.get("/api/model").json()
    assert info["imaging"] and set(info["image_features"]) == {"habitat1_fraction", "habitat3_fraction"}


def test_zip_upload_recovers_planted_habitats_and_scores_like_the_bundle(client, imaging_bundle, case, tmp_path, make_zip):
    _, _, planted, paths = case
    archive = make_zip(tmp_path / "DOE_JOHN.zip", {f"DOE_JOHN/{p.name}": p for p in paths.values()})
    r = client.post("/api/predict-imaging", data=TBIL, files={"archive": ("DOE_JOHN.zip", archive.read_bytes())})
    assert r.status_code == 200, r.text
    out = r.json()
    feats = out["image_features"]
    # noise SD 2 HU against region gaps >= 20 HU: k-means recovers the planted regions exactly
    assert_close(feats["habitat1_fraction"], planted[1], rtol=0, atol=1e-12, what="habitat 1 fraction")
    assert_close(feats["habitat3_fraction"], planted[3], rtol=0, atol=1e-12, what="habitat 3 fraction")
    ref = bundle_scores(load_bundle(imaging_bundle), pd.DataFrame([{**feats, "TBIL": 21.0}]))[0]
    assert_close(out["score"], ref, rtol=0, atol=1e-12, what="imaging score vs bundle_scores")


def test_form_with_separate_files_shows_overlay(client, case):
    _, _, planted, paths = case
    files = {f"file_{role}": (p.name, p.read_bytes()) for role, p in paths.items()}
    r = client.post("/predict", data=TBIL, files=files)
    assert r.status_code == 200, r.text
    assert 'id="overlay"' in r.text and "data:image/png;base64," in r.text
    assert f"habitat 3 {100 * planted[3]:.0f}%" in r.text


def test_dicom_zip_gives_the_same_features(client, case, tmp_path, make_zip):
    images, tumor, planted, paths = case
    members = {}
    for p in ("pre", "arterial", "portal"):
        for f in write_dicom_series(images[p], tmp_path / "dcm" / p, patient_name="DOE^JOHN", patient_id="123456"):
            members[f"case/{p}/{f.name}"] = f
    members["case/tumor.nii.gz"] = paths["tumor"]
    archive = make_zip(tmp_path / "dicom.zip", members)
    r = client.post("/api/predict-imaging", data=TBIL, files={"archive": ("dicom.zip", archive.read_bytes())})
    assert r.status_code == 200, r.text
    assert_close(r.json()["image_features"]["habitat3_fraction"], planted[3], rtol=0, atol=1e-12,
                 what="habitat 3 fraction from DICOM")


@pytest.mark.parametrize("member", ["../evil_tumor.nii.gz", "/tmp/evil_tumor.nii.gz", "a/../../evil_tumor.nii.gz",
                                    "C:/evil_tumor.nii.gz"])
def test_zip_slip_refused(client, case, tmp_path, member, make_zip):
    _, _, _, paths = case
    members = {f"{p}.nii.gz": paths[p] for p in ("pre", "arterial", "portal")}
    members[member] = paths["tumor"]
    archive = make_zip(tmp_path / "slip.zip", members)
    r = client.post("/api/predict-imaging", data=TBIL, files={"archive": ("slip.zip", archive.read_bytes())})
    assert r.status_code == 422
    d = r.json()["detail"][0]
    assert d["loc"][-1] == "archive" and "'..'" in d["msg"]
    assert not (tmp_path.parent / "evil_tumor.nii.gz").exists()


def test_archive_member_limit(imaging_bundle, case, tmp_path, make_zip):
    _, _, _, paths = case
    c = TestClient(create_app(imaging_bundle, max_files=3))
    archive = make_zip(tmp_path / "many.zip", {p.name: p for p in paths.values()})
    r = c.post("/api/predict-imaging", data=TBIL, files={"archive": ("many.zip", archive.read_bytes())})
    assert r.status_code == 422 and "more than the limit of 3" in r.json()["detail"][0]["msg"]


def test_missing_mask_named(client, case):
    _, _, _, paths = case
    files = {f"file_{p}": (paths[p].name, paths[p].read_bytes()) for p in ("pre", "arterial", "portal")}
    r = client.post("/api/predict-imaging", data=TBIL, files=files)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][-1] == "file_tumor"
    page = client.post("/predict", data=TBIL, files=files)
    assert page.status_code == 422 and 'data-error-for="file_tumor">missing upload' in page.text


def test_no_patient_identifiers_in_logs(client, case, tmp_path, caplog, make_zip):
    images, _, _, paths = case
    members = {}
    for p in ("pre", "arterial", "portal"):
        for f in write_dicom_series(images[p], tmp_path / "dcm" / p, patient_name="DOE^JOHN", patient_id="P123456"):
            members[f"DOE_JOHN/{p}/{f.name}"] = f
    members["DOE_JOHN/DOE_JOHN_tumor.nii.gz"] = paths["tumor"]
    archive = make_zip(tmp_path / "DOE_JOHN.zip", members)
    caplog.set_level(logging.DEBUG)
    r = client.post("/api/predict-imaging", data=TBIL, files={"archive": ("DOE_JOHN.zip", archive.read_bytes())})
    assert r.status_code == 200, r.text
    bad = client.post("/api/predict-imaging", data=TBIL,
                      files={"file_pre": ("DOE_JOHN_pre.nii.gz", b"not an image"),
                             "file_tumor": ("DOE_JOHN_tumor.nii.gz", b"no")})
    assert bad.status_code == 422
    text = caplog.text + r.text + bad.text
    assert "DOE" not in text and "P123456" not in text and "21.0" not in caplog.text


def test_run_output_layout(imaging_bundle, case, tmp_path, make_zip):
    """Layout B: OUT/models/<model>/bundle.json + OUT/models/habitat_model.json + OUT/run.json (resolved spec)."""
    import json
    import shutil
    from importlib import resources

    from hccrad.config.load import dump_spec, load_spec
    from hccrad.serve.imaging import load_imaging_spec

    spec = load_spec(Path(str(resources.files("hccrad.pipeline") / "demo_study.yaml")), check_files=False)
    out = tmp_path / "results"
    (out / "models" / "habitat").mkdir(parents=True)
    shutil.copy(imaging_bundle / "bundle.json", out / "models" / "habitat" / "bundle.json")
    shutil.copy(imaging_bundle / "habitat_model.json", out / "models" / "habitat_model.json")
    resolved = dump_spec(spec)
    (out / "run.json").write_text(json.dumps({"spec": resolved}))
    assert [d.smooth_mm for d in load_imaging_spec(out / "models" / "habitat").descriptors] == [
        d.get("smooth_mm", 0.0) for d in resolved["habitat"]["descriptors"]]  # every descriptor setting is kept
    for d in resolved["habitat"]["descriptors"]:
        d["smooth_mm"] = 0.0  # as the test's habitat model was fitted
    (out / "run.json").write_text(json.dumps({"spec": resolved}))
    found = load_imaging_spec(out / "models" / "habitat")
    explicit = load_imaging_spec(imaging_bundle)
    assert found.descriptors == explicit.descriptors and found.phases == explicit.phases
    _, _, planted, paths = case
    archive = make_zip(tmp_path / "c.zip", {p.name: p for p in paths.values()})
    r = TestClient(create_app(out / "models" / "habitat")).post(
        "/api/predict-imaging", data=TBIL, files={"archive": ("c.zip", archive.read_bytes())})
    assert r.status_code == 200, r.text
    assert_close(r.json()["image_features"]["habitat3_fraction"], planted[3], rtol=0, atol=1e-12,
                 what="layout B habitat 3 fraction")


def test_token_in_multipart_form_with_files(imaging_bundle, case):
    _, _, _, paths = case
    c = TestClient(create_app(imaging_bundle, token="t0k"))
    files = {f"file_{role}": (p.name, p.read_bytes()) for role, p in paths.items()}
    assert c.post("/predict", data=TBIL, files=files).status_code == 401
    # checked before the body is read: a token inside the form is not seen, the one in the URL is
    assert c.post("/predict", data={**TBIL, "token": "t0k"}, files=files).status_code == 401
    r = c.post("/predict?token=t0k", data=TBIL, files=files)
    assert r.status_code == 200 and 'id="overlay"' in r.text
