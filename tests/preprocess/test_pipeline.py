"""preprocess_case: registration to the reference phase, isotropic resampling, normalisation, records."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from hccrad.core.case import Case
from hccrad.core.errors import SpecError
from hccrad.core.image import Image
from hccrad.preprocess import PreprocessSteps, preprocess_case, steps_record
from hccrad.testing import assert_close


def _case(rng) -> Case:
    z, y, x = np.indices((16, 40, 40))
    body = ((y - 20) ** 2 / 18**2 + (x - 20) ** 2 / 16**2 < 1).astype(float)
    tumour = (z - 8) ** 2 / 16 + (y - 18) ** 2 / 36 + (x - 23) ** 2 / 36 < 1
    por = -1000 + 1060 * body + 60 * tumour
    por = ndimage.gaussian_filter(por, 0.7) + rng.normal(0, 3, por.shape)
    art = ndimage.shift(por, (0, 1.5, -1.0), order=1, mode="nearest")
    sp = (2.5, 1.0, 1.0)
    return Case("case-1", {"portal": Image(por.astype(np.float32), sp, name="portal"),
                           "arterial": Image(art.astype(np.float32), sp, name="arterial")},
                {"tumor": Image(tumour.astype(np.uint8), sp, name="tumor"),
                 "liver": Image(body.astype(np.uint8), sp, name="liver")})


def test_preprocess_case_steps_and_records(rng):
    case = _case(rng)
    steps = PreprocessSteps(reference_phase="portal", register="rigid", spacing_mm=2.0,
                            image_interpolator="linear", normalisation="zscore", normalise_within="liver")
    out, records = preprocess_case(case, steps)
    assert [r["step"] for r in records] == ["register", "resample_isotropic", "normalise"]
    reg = records[0]
    assert reg["phase"] == "arterial" and reg["ncc_after"] > reg["ncc_before"]
    assert_close(reg["parameters"][3:5], [-1.0, 1.5], rtol=0, atol=0.35, what="recovered shift (x, y) mm")
    for img in [*out.images.values(), *out.masks.values()]:
        assert img.spacing == (2.0, 2.0, 2.0) and img.shape == (20, 20, 20)
    assert set(np.unique(out.masks["tumor"].array)) == {0, 1}
    liver = out.mask("liver")
    assert_close(out.images["portal"].array[liver].mean(), 0.0, rtol=0, atol=1e-4, what="z-score mean in liver")
    json.dumps(records)  # recordable in run.json
    json.dumps(steps_record(steps))
    assert case.images["portal"].spacing == (2.5, 1.0, 1.0)  # the input case is untouched


def test_no_registration_resamples_to_reference(rng):
    case = _case(rng)
    art = case.images["arterial"]
    moved = Image(art.array[:, 2:, :], art.spacing, (0.0, 2.0, 0.0), name="arterial")
    out, records = preprocess_case(case.with_images({**case.images, "arterial": moved}),
                                   PreprocessSteps(register=None, spacing_mm=None))
    assert records[0]["step"] == "resample_to_reference"
    assert out.images["arterial"].same_grid(case.images["portal"])


def test_invalid_steps_list_every_problem(rng):
    with pytest.raises(SpecError) as err:
        preprocess_case(_case(rng), PreprocessSteps(register="elastic", image_interpolator="sinc",
                                                    normalisation="window"))
    assert len(err.value.problems) == 3
