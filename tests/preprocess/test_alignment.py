"""Phase alignment (`hccrad.preprocess.alignment`): registration around the tumour recovers a known shift on
anisotropic voxels, the QC reports it, and the preflight's cheap misalignment check flags a shifted phase and
stays quiet on an aligned one."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi

from hccrad.core.image import Image
from hccrad.preprocess.alignment import (alignment_qc, apply_phase_registrations, fit_phase_registrations,
                                         misalignment, rigid_motion)

SPACING = (2.5, 0.8, 0.8)  # (z, y, x) mm


def _phantom(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A 32³ liver-like volume: a smooth background, an ellipsoidal 'liver' and a tumour with a bright rim
    (arterial) or washout (portal); returns (portal, arterial, tumour mask)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.arange(32) * s for s in SPACING], indexing="ij")
    c = [16 * s for s in SPACING]
    r_liver = ((z - c[0]) / 30) ** 2 + ((y - c[1]) / 11) ** 2 + ((x - c[2]) / 10) ** 2
    r_tum = ((z - c[0] - 2) / 14) ** 2 + ((y - c[1] + 1) / 5) ** 2 + ((x - c[2] - 1) / 4.5) ** 2
    liver, tumour = r_liver < 1, r_tum < 1
    texture = ndi.gaussian_filter(rng.normal(0, 1, (32, 32, 32)), (0.6, 2, 2)) * 60
    portal = np.where(liver, 110.0, 20.0) + texture
    portal[tumour] = 70.0
    arterial = np.where(liver, 70.0, 25.0) + texture
    arterial[tumour] = 150.0
    arterial[ndi.binary_dilation(tumour, iterations=1) & ~tumour] = 120.0
    portal = ndi.gaussian_filter(portal, 0.7) + rng.normal(0, 3, portal.shape)
    arterial = ndi.gaussian_filter(arterial, 0.7) + rng.normal(0, 3, arterial.shape)
    return portal.astype(np.float32), arterial.astype(np.float32), tumour


@pytest.fixture(scope="module")
def phantom():
    return _phantom()


def test_rigid_registration_recovers_a_known_shift_on_anisotropic_voxels(phantom):
    portal, arterial, tumour = phantom
    shift_vox = (0.0, 0.0, 3.0)  # 3 voxels along x = 2.4 mm
    moved = ndi.shift(arterial, shift_vox, order=1, mode="nearest")
    images = {"portal": Image(portal, SPACING, name="portal"), "arterial": Image(moved, SPACING, name="arterial")}
    fitted = fit_phase_registrations(images, "portal", tumour, transform="rigid", margin_mm=30, seed=0)
    again = fit_phase_registrations(images, "portal", tumour, transform="rigid", margin_mm=30, seed=0)
    assert again == fitted, "the same seed gives the same transform (ITK's seed 0 would be the wall clock)"
    t, angle = rigid_motion("rigid", fitted["arterial"].parameters)
    expected = np.array([3 * SPACING[2], 0.0, 0.0])  # physical (x, y, z): the content moved +x
    err = float(np.linalg.norm(t - expected))
    assert err < 0.5, f"translation {t} mm, expected {expected} mm, error {err:.3f} mm (tolerance 0.5 mm)"
    assert angle < 1.0, f"rotation {angle:.3f}° on a pure translation"
    after = apply_phase_registrations(images, "portal", fitted)
    (row,) = alignment_qc("c1", images, after, "portal", tumour, fitted, min_ncc=0.3, max_translation_mm=10)
    assert row["ncc_after"] > row["ncc_before"] + 0.02, row
    assert abs(row["translation_mm"] - 2.4) < 0.5 and row["warning"] == "", row
    # a limit of 1 mm makes the QC warn, naming the translation
    (strict,) = alignment_qc("c1", images, after, "portal", tumour, fitted, min_ncc=0.3, max_translation_mm=1)
    assert "translation" in strict["warning"] and "> 1 mm" in strict["warning"]


def test_misalignment_flags_a_shifted_phase_and_not_an_aligned_one(phantom):
    portal, arterial, tumour = phantom
    aligned = misalignment(portal, arterial, tumour, SPACING)
    assert not aligned.looks_misaligned, aligned
    shifted = misalignment(portal, ndi.shift(arterial, (0, 4, 0), order=1, mode="nearest"), tumour, SPACING)
    assert shifted.looks_misaligned, shifted
    assert shifted.shift_vox == (0, 4, 0), shifted
    assert abs(shifted.shift_mm - 3.2) < 1e-9
