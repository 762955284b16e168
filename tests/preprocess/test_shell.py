"""Liver shell: volume of a spherical ring against the analytic value; liver restriction; errors."""

from __future__ import annotations

import numpy as np
import pytest

from hccrad.core.errors import GeometryError, SpecError
from hccrad.core.image import Image
from hccrad.preprocess import liver_shell
from hccrad.testing import assert_close


def _sphere(shape, centre, radius, spacing):
    idx = np.indices(shape).astype(float)
    d2 = sum(((idx[i] - centre[i]) * spacing[i]) ** 2 for i in range(3))
    return d2 <= radius**2


def test_ring_volume_matches_analytic():
    spacing = (1.0, 0.5, 0.5)
    shape = (40, 80, 80)
    tumour = _sphere(shape, (20, 40, 40), 8.0, spacing)
    ring = liver_shell(tumour, spacing=spacing, width_mm=5.0)
    assert not np.any(ring & tumour)
    idx = np.indices(shape).astype(float)
    d = np.sqrt(sum(((idx[i] - c) * spacing[i]) ** 2 for i, c in enumerate((20, 40, 40))))
    # every ring voxel lies 8 < d <= 13 mm from the centre; every voxel with 8 < d <= 13 - half-diagonal is in
    half_diag = 0.5 * np.sqrt(sum(s**2 for s in spacing))
    assert d[ring].min() > 8.0 and d[ring].max() <= 13.0 + 1e-9
    assert ring[(d > 8.0) & (d <= 13.0 - half_diag)].all()
    # volume within 8 % of the continuous shell 4/3 pi (13^3 - 8^3): the voxelised tumour surface lies up to
    # half a voxel inside the 8 mm sphere, which thins the digital ring
    vol = ring.sum() * np.prod(spacing)
    analytic = 4 / 3 * np.pi * (13.0**3 - 8.0**3)
    assert_close(vol, analytic, rtol=0.08, atol=0, what="shell volume mm3")
    img = Image(tumour.astype(np.uint8), spacing)
    assert np.array_equal(liver_shell(img, width_mm=5.0), ring)


def test_shell_inside_liver_only():
    spacing = (1.0, 1.0, 1.0)
    tumour = _sphere((30, 30, 30), (15, 15, 15), 5.0, spacing)
    liver = np.zeros(tumour.shape, bool)
    liver[:, :, :15] = True  # half of the space is liver
    ring = liver_shell(tumour, liver, spacing, 3.0)
    full = liver_shell(tumour, None, spacing, 3.0)
    assert ring.sum() > 0 and np.array_equal(ring, full & liver)
    assert not ring[:, :, 15:].any()


def test_shell_errors():
    with pytest.raises(GeometryError, match="empty"):
        liver_shell(np.zeros((3, 3, 3)), spacing=(1, 1, 1))
    with pytest.raises(SpecError):
        liver_shell(np.ones((3, 3, 3)))
    with pytest.raises(SpecError):
        liver_shell(np.ones((3, 3, 3)), spacing=(1, 1, 1), width_mm=0)
    with pytest.raises(GeometryError, match="liver mask shape"):
        liver_shell(np.ones((3, 3, 3)), np.ones((3, 3, 4)), (1, 1, 1))


def test_bounding_box_shell_equals_the_whole_volume_transform():
    """The shell is computed on the tumour's grown bounding box (issue 24): identical to the full-volume
    distance transform, for an irregular two-lobed tumour touching the array edge, anisotropic voxels."""
    from scipy import ndimage

    spacing = (2.5, 0.7, 0.9)
    shape = (24, 70, 60)
    tumour = _sphere(shape, (3, 20, 15), 9.0, spacing) | _sphere(shape, (12, 45, 40), 7.0, spacing)
    tumour[0, 18:22, 0:4] = True  # touches two faces of the array
    for width in (1.0, 5.0, 12.0):
        dist = ndimage.distance_transform_edt(~tumour, sampling=spacing)
        expected = (dist > 0) & (dist <= width)
        assert np.array_equal(liver_shell(tumour, spacing=spacing, width_mm=width), expected), width


@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.5, 0.7, 0.9), (3.0, 0.78125, 0.78125), (0.7, 0.7, 0.7)])
def test_ball_dilation_shell_is_the_distance_transform_ring(spacing):
    """The ring built by x-run dilation (issue 24) is the voxel set (0 < d) & (d <= w) of scipy's Euclidean
    distance transform, for random blobs (several components, holes, touching the array faces) and widths
    that sit exactly on a voxel distance (2.1 = 3 x 0.7)."""
    from scipy import ndimage

    rng = np.random.default_rng(7)
    for width in (0.5, 1.0, 2.1, 5.0):
        tumour = ndimage.gaussian_filter(rng.normal(size=(14, 30, 26)), 2.0) > 0.08
        dist = ndimage.distance_transform_edt(~tumour, sampling=spacing)
        expected = (dist > 0) & (dist <= width)
        assert np.array_equal(liver_shell(tumour, spacing=spacing, width_mm=width), expected), (spacing, width)


def test_ring_of_one_voxel_is_the_digital_ball():
    from hccrad.preprocess.shell import ball_runs

    spacing, width = (2.0, 0.8, 0.8), 3.0
    tumour = np.zeros((9, 17, 17), bool)
    tumour[4, 8, 8] = True
    ring = liver_shell(tumour, spacing=spacing, width_mm=width)
    offsets = {(int(z) - 4, int(y) - 8, int(x) - 8) for z, y, x in np.argwhere(ring)}
    expected = {(dz, dy, dx) for dz, dy, r in ball_runs(spacing, width) for dx in range(-r, r + 1)} - {(0, 0, 0)}
    assert offsets == expected
    assert (1, 0, 0) in offsets and (2, 0, 0) not in offsets and (0, 3, 0) in offsets and (0, 4, 0) not in offsets


def test_wide_shell_on_fine_voxels_uses_the_distance_transform_with_the_same_ring(monkeypatch):
    """Above MAX_RUNS x-runs the ring is read off the distance transform; both paths give the same ring."""
    from hccrad.preprocess import shell

    spacing = (1.5, 0.5, 0.5)
    tumour = _sphere((20, 50, 50), (10, 25, 25), 4.0, spacing)
    assert len(shell.ball_runs((0.5, 0.5, 0.5), 10.0)) > shell.MAX_RUNS >= len(shell.ball_runs((1.0, 1.0, 1.0), 5.0))
    runs = len(shell.ball_runs(spacing, 4.0))
    by_runs = liver_shell(tumour, spacing=spacing, width_mm=4.0)
    monkeypatch.setattr(shell, "MAX_RUNS", runs - 1)
    by_distance = liver_shell(tumour, spacing=spacing, width_mm=4.0)
    assert by_runs.sum() > 0 and np.array_equal(by_runs, by_distance)
