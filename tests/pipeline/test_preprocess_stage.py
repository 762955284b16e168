"""Resampling and intensity steps in the run (`preprocess.spacing_mm`, `hu_window`, `n4`, `normalise`) on a
tiny synthetic study: the per-case cache (a rerun reads the same volumes back, byte for byte; a changed
spacing recomputes); the imaging stage builds the habitat maps on the new grid with one QC row per case and
phase and run.json's entry from them; later stages read the preprocessed volumes; the spec and the
preflight refuse what run would refuse."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from hccrad.cohort.study import Study
from hccrad.core.errors import HccradError
from hccrad.io.volume import read_image
from hccrad.pipeline.imaging import habitat_path, run_imaging
from hccrad.pipeline.preflight import errors_of, preflight
from hccrad.pipeline.registration_stage import (preprocess_cache, preprocess_record, preprocess_registered_case,
                                                with_registered_phases)

from .conftest import tiny_cohort, write_small_study


def _spec(root: Path, preprocess: dict, **extra):
    return write_small_study(root, "preprocess", preprocess=preprocess, **extra)


@pytest.fixture(scope="module")
def study_root(tmp_path_factory) -> Path:
    """10 tiny cases (12 × 32 × 32 voxels, 2.5 × 1.5 × 1.5 mm)."""
    root = tmp_path_factory.mktemp("preprocess")
    tiny_cohort(root / "cohort", n=10, seed=4)
    return root


def test_cache_rereads_the_same_volumes_and_a_new_spacing_recomputes(study_root, tmp_path):
    out = tmp_path / "results"
    spec = _spec(study_root, {"spacing_mm": [2.0, 2.0, 2.0], "hu_window": [-100, 300]})
    study = Study(spec)
    cid = study.case_ids()[0]
    inputs = "digest-of-the-inputs"
    cache = preprocess_cache(spec, out)
    first, rows = preprocess_registered_case(spec, study.load_case(cid), inputs, cache, out)
    assert cache.misses == 1 and cache.hits == 0 and len(rows) == len(spec.data.phases)
    assert first.image("portal").spacing == (2.0, 2.0, 2.0) and first.mask("tumor").any()
    assert first.image("portal").array.max() <= 300 and first.image("portal").array.min() >= -100

    again_cache = preprocess_cache(spec, out)
    again, again_rows = preprocess_registered_case(spec, study.load_case(cid), inputs, again_cache, out)
    assert again_cache.hits == 1 and again_rows == rows
    for name in [*first.images, *first.masks]:
        a = first.images.get(name) or first.masks[name]
        b = again.images.get(name) or again.masks[name]
        np.testing.assert_array_equal(a.array, b.array)
        assert (a.spacing, a.origin, a.direction) == (b.spacing, b.origin, b.direction), name

    coarser = _spec(study_root, {"spacing_mm": [3.0, 3.0, 3.0], "hu_window": [-100, 300]})
    new_cache = preprocess_cache(coarser, out)
    assert new_cache.key != cache.key
    third, _ = preprocess_registered_case(coarser, study.load_case(cid), inputs, new_cache, out)
    assert new_cache.misses == 1 and third.image("portal").spacing == (3.0, 3.0, 3.0)
    # later stages (CNN) read the volumes the habitat maps saw
    read = with_registered_phases(coarser, study.load_case(cid), out)
    assert read.image("arterial").shape == third.image("arterial").shape
    assert preprocess_cache(_spec(study_root, {}), out) is None  # all steps off: nothing to cache


def test_imaging_stage_on_the_resampled_grid(study_root, tmp_path):
    shutil.copytree(study_root / "cohort", tmp_path / "cohort")
    spec = _spec(tmp_path, {"spacing_mm": [2.0, 2.0, 2.0], "hu_window": [-100, 300]})
    out = tmp_path / "results"
    result = run_imaging(Study(spec), out)
    n = len(result.features)
    assert n == 10 and len(result.preprocess_qc) == n * len(spec.data.phases)
    assert set(result.preprocess_qc["spacing_after_mm"]) == {"2 × 2 × 2"}
    assert set(result.preprocess_qc["steps"]) == {"resample; hu_clip"}
    habitats = read_image(habitat_path(out, result.features.index[0]))
    assert np.allclose(habitats.spacing, (2.0, 2.0, 2.0)) and habitats.array.max() >= 1
    record = preprocess_record(spec, result.preprocess_qc, "features/preprocess_qc.csv")
    assert record["spacing_mm"] == [2.0, 2.0, 2.0] and record["n_cases"] == n
    assert record["order"].startswith("register -> resample")


def test_spec_and_preflight_refuse_what_run_would_refuse(study_root):
    for bad, words in (({"spacing_mm": [1.0, 0.0, 1.0]}, "positive"), ({"hu_window": [300, -100]}, "lo < hi"),
                       ({"n4": True}, "n4 is for MRI"), ({"normalise": "zscore"}, "for MRI"),
                       ({"modality": "mri", "hu_window": [0, 100]}, "Hounsfield")):
        with pytest.raises(HccradError) as err:
            _spec(study_root, bad)
        assert words in str(err.value), (bad, str(err.value))
    no_liver = _spec(study_root, {"modality": "mri", "normalise": "zscore", "intensity_region": "liver"},
                     data={"manifest": "cohort/manifest.csv", "clinical": "cohort/clinical.csv",
                           "reader2_mask": None, "liver_mask": None})
    problems = preflight(no_liver, workers=1)
    assert any(p.field == "preprocess.intensity_region" and p.severity == "error" for p in problems), problems
    assert any(p.field == "report.intensity_unit" and p.severity == "warning" for p in problems)
    coarse = _spec(study_root, {"spacing_mm": [40.0, 40.0, 40.0]})  # one voxel, at the volume's corner
    errors = errors_of(preflight(coarse, workers=1))  # every case: more than 20 % left out stays an error
    flagged = [p for p in errors if p.field == "preprocess.spacing_mm"]
    assert len(flagged) == 10 and all(p.case_id and p.file == "mask_tumor" for p in flagged), errors
    assert "empty after resampling" in flagged[0].message
