"""MSI matrix and features against hand-computed matrices (Wu et al. 2018 rule, ARCHITECTURE.md §5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage

from hccrad.core.errors import FeatureError
from hccrad.features.msi import (
    habitat_components,
    heterogeneity_score,
    msi_features,
    msi_matrix,
)
from hccrad.testing import assert_close

# 2-D example (one slice):  [[1, 2],
#                             [1, 1]]
# Each habitat-1 voxel sees two 1s, one 2 and five outside (0); the 2 sees three 1s and five 0s.
# Raw rows: M[1] = [15, 6, 3], M[2] = [5, 3, 0]; then row 0 := column 0 and M[0, 0] := 0.
SMALL = np.array([[[1, 2], [1, 1]]])
SMALL_M = np.array([[0, 15, 5], [15, 6, 3], [5, 3, 0]], dtype=float)


def test_msi_2d_small_matches_hand_matrix():
    assert_close(msi_matrix(SMALL, 2, "2d"), SMALL_M, rtol=0, atol=0, what="2-D MSI matrix")


def test_msi_2d_ignores_neighbouring_slices():
    vol = np.stack([SMALL[0], SMALL[0]])  # identical slice above: invisible to 8-connectivity
    assert_close(msi_matrix(vol, 2, "2d"), 2 * SMALL_M, rtol=0, atol=0, what="2-D MSI, two slices")


def test_msi_3d_two_voxels_hand_matrix():
    vol = np.array([1, 2]).reshape(2, 1, 1)
    # each voxel: 1 in-array neighbour (the other label), 25 outside the array
    ref3 = np.array([[0, 25, 25], [25, 0, 1], [25, 1, 0]], dtype=float)
    assert_close(msi_matrix(vol, 2, "3d"), ref3, rtol=0, atol=0, what="3-D MSI matrix")
    ref2 = np.array([[0, 8, 8], [8, 0, 0], [8, 0, 0]], dtype=float)
    assert_close(msi_matrix(vol, 2, "2d"), ref2, rtol=0, atol=0, what="2-D MSI of the same volume")


def test_msi_3d_cube_hand_matrix():
    vol = np.zeros((4, 4, 4), dtype=int)
    vol[1:3, 1:3, 1:3] = 1  # a 2x2x2 cube: each voxel has 7 cube neighbours and 19 outside
    ref = np.array([[0, 8 * 19], [8 * 19, 8 * 7]], dtype=float)
    assert_close(msi_matrix(vol, 1, "3d"), ref, rtol=0, atol=0, what="3-D cube MSI")


def test_msi_background_shell_counts_only_liver_neighbours():
    vol = np.zeros((1, 3, 3), dtype=int)
    vol[0, 1, 1] = 1
    shell = np.zeros((1, 3, 3), dtype=bool)
    shell[0, 0, 1] = shell[0, 1, 0] = shell[0, 1, 2] = shell[0, 2, 1] = True  # 4 edge neighbours only
    ref = np.array([[0, 4], [4, 0]], dtype=float)
    assert_close(msi_matrix(vol, 1, "2d", background=shell), ref, rtol=0, atol=0, what="shell MSI")
    assert_close(msi_matrix(vol, 1, "2d"), [[0, 8], [8, 0]], rtol=0, atol=0, what="no-shell MSI")


def _blob_labels(seed: int, shape=(5, 20, 24), k: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=shape), 2)
    z, y, x = np.indices(shape)
    c = (np.array(shape) - 1) / 2
    mask = ((z - c[0]) / 3) ** 2 + ((y - c[1]) / 8) ** 2 + ((x - c[2]) / 9) ** 2 <= 1
    lab = np.digitize(field, np.quantile(field[mask], [1 / 3, 2 / 3])) + 1
    return np.where(mask, lab, 0)


@pytest.mark.parametrize("conn,n_neigh", [("2d", 8), ("3d", 26)])
def test_row_sums_are_neighbour_count_times_habitat_voxels(conn, n_neigh):
    lab = _blob_labels(1)
    m = msi_matrix(lab, 3, conn)
    counts = np.bincount(lab.ravel(), minlength=4)[1:]
    assert_close(m[1:].sum(axis=1), n_neigh * counts, rtol=0, atol=0, what="habitat row sums")
    assert_close(m, m.T, rtol=0, atol=0, what="symmetry")
    assert m[0, 0] == 0


@pytest.mark.parametrize("conn", ["2d", "3d"])
@pytest.mark.parametrize("turns", [1, 2, 3])
def test_msi_invariant_to_in_plane_rotation(conn, turns):
    lab = _blob_labels(2)
    rot = np.rot90(lab, k=turns, axes=(1, 2))
    assert_close(msi_matrix(rot, 3, conn), msi_matrix(lab, 3, conn), rtol=0, atol=0, what="rotated MSI")
    f0 = msi_features(lab, 3, (1.0, 1.0, 1.0), conn)
    f1 = msi_features(rot, 3, (1.0, 1.0, 1.0), conn)
    assert f0.keys() == f1.keys()
    assert_close(list(f1.values()), list(f0.values()), rtol=1e-12, atol=0, what="rotated features")


def test_second_order_features_match_hand_computation():
    f = msi_features(SMALL, 2, (1.0, 1.0, 1.0))
    # P = SMALL_M / 52
    assert_close(f["msi_contrast"], 76 / 52, rtol=1e-12, atol=0, what="contrast")
    assert_close(f["msi_homogeneity"], (6 + 36 / 2 + 10 / 3) / 52, rtol=1e-12, atol=0, what="homogeneity")
    assert_close(f["msi_energy"], 554 / 52**2, rtol=1e-12, atol=0, what="energy")
    mu, e_i2, e_ij = 40 / 52, 56 / 52, 18 / 52
    corr = (e_ij - mu**2) / (e_i2 - mu**2)
    assert_close(f["msi_correlation"], corr, rtol=1e-12, atol=0, what="correlation")
    ps = [15 / 52] * 2 + [5 / 52] * 2 + [6 / 52] + [3 / 52] * 2
    assert_close(f["msi_entropy"], -sum(p * math.log2(p) for p in ps), rtol=1e-12, atol=0, what="entropy")


def test_reference_first_order_features_use_voxel_volume():
    sp = (2.0, 0.5, 0.5)  # 0.5 mm3 voxels
    f = msi_features(SMALL, 2, sp)
    assert_close(f["msi_within_1_mm3"], 6 * 0.5, rtol=0, atol=1e-12, what="within 1")
    assert_close(f["msi_within_2_mm3"], 0.0, rtol=0, atol=1e-12, what="within 2")
    assert_close(f["msi_border_1_0_mm3"], 15 * 0.5, rtol=0, atol=1e-12, what="border 1-0")
    assert_close(f["msi_border_2_0_mm3"], 5 * 0.5, rtol=0, atol=1e-12, what="border 2-0")
    assert_close(f["msi_border_2_1_mm3"], 3 * 0.5, rtol=0, atol=1e-12, what="border 2-1")
    assert_close(f["msi_border_2_1_frac"], 3 / 52, rtol=0, atol=1e-12, what="border 2-1 frac")
    assert_close(f["habitat1_volume_mm3"], 1.5, rtol=0, atol=1e-12, what="habitat 1 volume")
    assert_close(f["habitat2_fraction"], 0.25, rtol=0, atol=1e-12, what="habitat 2 fraction")
    assert all(k.isidentifier() for k in f)


def test_wu2025_layout_has_41_features_for_k3_with_seed_names():
    lab = _blob_labels(3)
    f = msi_features(lab, 3, (1.0, 1.0, 1.0), layout="wu2025")
    assert len(f) == 41
    for name in ("habitat3.1", "habitat1.1", "b01", "2b3r", "2border0", "contrast", "homogeneity",
                 "energy", "entropy"):
        assert name in f
    assert "correlation" not in f
    m = msi_matrix(lab, 3)
    n = np.bincount(lab.ravel(), minlength=4)
    assert_close(f["habitat3.1"], n[3] / n[1:].sum(), rtol=1e-12, atol=0, what="habitat3.1")
    assert_close(f["b01"], m[1, 0] / m.sum(), rtol=1e-12, atol=0, what="b01")
    assert_close(f["2border0"], m[2, 0], rtol=1e-12, atol=0, what="2border0")
    assert_close(f["2b3r"], m[2, 3] / (m[2].sum() - m[2, 2]), rtol=1e-12, atol=0, what="2b3r")
    ref = msi_features(lab, 3, (1.0, 1.0, 1.0))
    assert_close(f["contrast"], ref["msi_contrast"], rtol=1e-12, atol=0, what="contrast alias")


def test_errors_for_empty_tiny_and_bad_maps():
    with pytest.raises(FeatureError, match="empty"):
        msi_features(np.zeros((2, 3, 3), dtype=int), 3, (1, 1, 1))
    with pytest.raises(FeatureError, match="fewer than the 3"):
        msi_features(np.array([[[0, 1, 2]]]), 3, (1, 1, 1))
    with pytest.raises(FeatureError, match="0..2"):
        msi_matrix(np.array([[[0, 3]]]), 2)
    with pytest.raises(FeatureError, match="connectivity"):
        msi_matrix(SMALL, 2, "4d")
    with pytest.raises(FeatureError, match="layout"):
        msi_features(SMALL, 2, (1, 1, 1), layout="habit")
    with pytest.raises(FeatureError, match="background"):
        msi_matrix(SMALL, 2, background=np.zeros((1, 3, 3), bool))


def test_heterogeneity_score_counts_components():
    lab = np.zeros((1, 5, 7), dtype=int)
    lab[0, 1, 1] = lab[0, 1, 5] = lab[0, 3, 3] = 1  # three isolated islands of habitat 1
    lab[0, 2:4, 0:2] = 2  # one region of habitat 2 (touches (1,1) only diagonally: a separate label)
    assert habitat_components(lab, 3) == {1: 3, 2: 1, 3: 0}
    assert heterogeneity_score(lab, 3) == pytest.approx(2.0)
    vol = np.zeros((3, 3, 3), dtype=int)
    vol[0, 0, 0] = vol[1, 1, 1] = 1  # diagonal neighbours: one 26-connected component, two in 2-D
    assert habitat_components(vol, 1, "3d") == {1: 1}
    assert habitat_components(vol, 1, "2d") == {1: 2}


def test_reference_layout_order_follows_reference_code_and_counts():
    f = msi_features(_blob_labels(4), 3, (1.0, 1.0, 1.0))
    keys = list(f)
    assert len(keys) == 29
    assert keys[:5] == ["msi_contrast", "msi_homogeneity", "msi_correlation", "msi_energy", "msi_entropy"]
    # MATLAB M(tril(true, -1)) is column-major: (1,0), (2,0), (3,0), (2,1), (3,1), (3,2)
    assert keys[8:14] == ["msi_border_1_0_mm3", "msi_border_2_0_mm3", "msi_border_3_0_mm3",
                          "msi_border_2_1_mm3", "msi_border_3_1_mm3", "msi_border_3_2_mm3"]
    fracs = [v for key, v in f.items() if key.startswith("msi_") and key.endswith("_frac")]
    assert_close(sum(fracs) + sum(v for key, v in f.items() if key.startswith("msi_border_") and
                                  key.endswith("_frac")), 1.0, rtol=1e-12, atol=0,
                 what="diagonal + 2 x lower triangle of P sums to 1")


def test_2d_array_is_one_slice():
    assert_close(msi_matrix(SMALL[0], 2), SMALL_M, rtol=0, atol=0, what="2-D input")


# Reference values computed with HABIT (pip habitat-analysis 1.0.2, habit.kernels.habitat_metrics:
# spatial_interaction_matrix and msi_features_from_matrix) on the same label volumes.
HABIT_VOL = np.array(
    [[[0, 0, 0, 0, 0], [0, 1, 1, 2, 0], [0, 3, 2, 2, 0], [0, 0, 0, 0, 0]],
     [[0, 0, 0, 0, 0], [0, 1, 3, 0, 0], [0, 3, 3, 0, 0], [0, 2, 0, 0, 0]],
     [[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 2, 0, 0], [0, 0, 0, 0, 0]]]
)
HABIT_REF = {
    "small": (SMALL, 2, [[168, 12, 4], [12, 4, 2], [4, 2, 0]],
              {"firstorder_0_and_1": 12.0, "firstorder_1_and_1": 4.0,
               "firstorder_normalized_0_and_1": 0.5454545454545454,
               "firstorder_normalized_1_and_2": 0.09090909090909091, "contrast": 2.7272727272727275,
               "homogeneity": 8.527272727272727, "correlation": -0.08332142346720024,
               "energy": 59.02479338842976}),
    "vol": (HABIT_VOL, 3, [[490, 8, 20, 10], [8, 4, 2, 4], [20, 2, 4, 4], [10, 4, 4, 6]],
            {"firstorder_0_and_3": 10.0, "firstorder_2_and_3": 4.0, "firstorder_3_and_3": 6.0,
             "firstorder_normalized_0_and_2": 0.3225806451612903,
             "firstorder_normalized_3_and_3": 0.0967741935483871, "contrast": 6.451612903225806,
             "homogeneity": 8.541935483870969, "correlation": -0.06652629458122655,
             "energy": 62.79084287200833}),
}


@pytest.mark.parametrize("name", sorted(HABIT_REF))
def test_habit_compatible_option_matches_habit(name):
    from hccrad.features.msi import habit_msi_features, habit_msi_matrix

    lab, k, ref_m, ref_f = HABIT_REF[name]
    assert_close(habit_msi_matrix(lab, k), np.array(ref_m, float), rtol=0, atol=0,
                 what=f"HABIT matrix {name}")
    f = habit_msi_features(lab, k)
    assert len(f) == 2 * (k * (k + 1) // 2 + k) + 4
    for key, ref in ref_f.items():
        assert_close(f[key], ref, rtol=1e-12, atol=1e-15, what=f"HABIT {key} ({name})")
    assert_close(f["homogeneity"], ref_f["homogeneity"], rtol=1e-12, atol=0, what="habit homogeneity")
    # and the reference (Wu) rule gives other numbers, as ARCHITECTURE.md section 5 warns
    assert msi_matrix(lab, k)[0, 0] == 0


def test_isolated_voxel_with_empty_shell_is_an_error():
    vol = np.zeros((1, 3, 3), dtype=int)
    vol[0, 1, 1] = 1
    with pytest.raises(FeatureError, match="empty"):
        msi_features(vol, 1, (1, 1, 1), background=np.zeros((1, 3, 3), bool))


def _msi_by_loops(lab: np.ndarray, k: int, conn: str, background: np.ndarray | None) -> np.ndarray:
    """The module docstring's rule, one voxel and one neighbour at a time (the reference for the vectorised
    matrix)."""
    offsets = [(dz, dy, dx) for dz in ((0,) if conn == "2d" else (-1, 0, 1)) for dy in (-1, 0, 1)
               for dx in (-1, 0, 1) if (dz, dy, dx) != (0, 0, 0)]
    m = np.zeros((k + 1, k + 1))
    for z, y, x in np.argwhere(lab > 0):
        for dz, dy, dx in offsets:
            v = (z + dz, y + dy, x + dx)
            inside = all(0 <= v[a] < lab.shape[a] for a in range(3))
            neigh = int(lab[v]) if inside else 0
            if neigh == 0 and background is not None and not (inside and background[v]):
                continue
            m[lab[z, y, x], neigh] += 1
    m[0, :] = m[:, 0]
    m[0, 0] = 0
    return m


@pytest.mark.parametrize("conn", ["2d", "3d"])
def test_vectorised_matrix_equals_voxel_loops_with_and_without_shell(conn):
    """The coded one-bincount-per-offset matrix (issue 24) counts exactly what the per-voxel loop counts,
    with a liver shell that covers only part of the outside and a tumour touching the array faces."""
    lab = _blob_labels(3, shape=(4, 9, 11))
    lab[0, 4, 0] = 2
    shell = ndimage.binary_dilation(lab > 0, iterations=1) & (lab == 0)
    shell[:, :, 6:] = False
    for bg in (None, shell):
        assert np.array_equal(msi_matrix(lab, 3, conn, background=bg), _msi_by_loops(lab, 3, conn, bg)), bg is None
