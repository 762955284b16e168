"""ICC against Shrout & Fleiss (1979) and pingouin; CV; stability tables; mask perturbation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import DataError
from hccrad.core.image import Image
from hccrad.features.stability import (
    ICC_KINDS,
    _mean_squares,
    coefficient_of_variation,
    icc,
    perturb_mask,
    perturbation_stability,
    perturbation_table,
    stability_table,
)
from hccrad.testing import assert_close

# Shrout & Fleiss, Psychol Bull 1979;86:420-428, Table 2: 6 targets x 4 judges
SF_RATINGS = np.array(
    [[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]], dtype=float
)
# Table 3 (mean squares, 2 decimals) and Table 4 (ICCs, 2 decimals; k = 4 judges)
SF_MEAN_SQUARES = {"bms": 11.24, "wms": 6.26, "jms": 32.49, "ems": 1.02}
SF_ICC = {"ICC(1,1)": 0.17, "ICC(2,1)": 0.29, "ICC(3,1)": 0.71, "ICC(1,k)": 0.44, "ICC(2,k)": 0.62, "ICC(3,k)": 0.91}
PINGOUIN_TYPES = {"ICC(1,1)": "ICC(1,1)", "ICC(2,1)": "ICC(A,1)", "ICC(3,1)": "ICC(C,1)",
                  "ICC(1,k)": "ICC(1,k)", "ICC(2,k)": "ICC(A,k)", "ICC(3,k)": "ICC(C,k)"}


def _long(wide: np.ndarray) -> pd.DataFrame:
    n, k = wide.shape
    return pd.DataFrame({"targets": np.repeat(np.arange(n), k), "raters": np.tile(np.arange(k), n),
                         "ratings": wide.ravel()})


@pytest.mark.parametrize("name", sorted(SF_MEAN_SQUARES))
def test_mean_squares_match_shrout_fleiss_table3(name):
    assert_close(_mean_squares(SF_RATINGS)[name], SF_MEAN_SQUARES[name], rtol=0.0, atol=0.005, what=name)


@pytest.mark.parametrize("kind", ICC_KINDS)
def test_icc_matches_shrout_fleiss_table4(kind):
    # published to 2 decimals -> half a unit of the last digit
    assert_close(icc(pd.DataFrame(SF_RATINGS), kind).value, SF_ICC[kind], rtol=0.0, atol=0.005, what=kind)


@pytest.mark.parametrize("kind", ICC_KINDS)
@pytest.mark.parametrize("dataset", ["shrout_fleiss", "random"])
def test_icc_matches_pingouin(kind, dataset, rng):
    import pingouin as pg

    wide = SF_RATINGS if dataset == "shrout_fleiss" else rng.normal(0, 1, (15, 1)) + rng.normal(0, 0.6, (15, 3))
    long = _long(wide)
    ours = icc(long, kind)
    ref = pg.intraclass_corr(long, targets="targets", raters="raters", ratings="ratings").set_index("Type")
    row = ref.loc[PINGOUIN_TYPES[kind]]
    assert_close(ours.value, row["ICC"], rtol=1e-10, atol=0.0, what=f"{kind} value")
    assert_close(ours.f, row["F"], rtol=1e-10, atol=0.0, what=f"{kind} F")
    assert_close(ours.pvalue, row["pval"], rtol=1e-8, atol=1e-15, what=f"{kind} p")
    assert (ours.df1, ours.df2) == (row["df1"], row["df2"])
    # pingouin rounds its CI to 2 decimals
    assert_close([ours.ci_lower, ours.ci_upper], np.asarray(row["CI95"], float), rtol=0.0, atol=0.005 + 1e-12,
                 what=f"{kind} CI")


def test_icc_wide_equals_long_and_is_order_invariant(rng):
    wide = rng.normal(0, 1, (10, 1)) + rng.normal(0, 0.5, (10, 2))
    a = icc(pd.DataFrame(wide), "ICC(2,1)")
    b = icc(_long(wide).sample(frac=1.0, random_state=3), "ICC(2,1)")
    assert_close(a.value, b.value, rtol=1e-12, atol=0.0, what="wide vs shuffled long")
    assert a.summary().loc[0, "kind"] == "ICC(2,1)"
    assert "ICC(2,1)" in str(a)


def test_icc_bad_input():
    with pytest.raises(DataError, match="missing"):
        icc(pd.DataFrame([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]]))
    with pytest.raises(DataError, match="0/0"):
        icc(pd.DataFrame(np.ones((4, 2))))
    with pytest.raises(DataError, match="unknown ICC kind"):
        icc(pd.DataFrame(SF_RATINGS), "ICC(4,1)")
    with pytest.raises(DataError, match=">= 2 targets"):
        icc(pd.DataFrame([[1.0, 2.0]]))


def test_coefficient_of_variation():
    x = np.array([[10.0, 12.0, 14.0], [1.0, 1.0, 1.0]])
    cv = coefficient_of_variation(x, axis=1)
    assert_close(cv, [2.0 / 12.0, 0.0], rtol=1e-12, atol=0.0, what="CV")
    assert np.isnan(coefficient_of_variation([-1.0, 1.0]))
    with pytest.raises(DataError):
        coefficient_of_variation([1.0, np.nan])


def test_stability_table_matches_icc_per_feature(rng):
    n = 20
    truth = rng.normal(100, 20, (n, 3))
    r1 = pd.DataFrame(truth + rng.normal(0, [1, 10, 40], (n, 3)), columns=["good", "fair", "poor"],
                      index=[f"c{i}" for i in range(n)])
    r2 = pd.DataFrame(truth + rng.normal(0, [1, 10, 40], (n, 3)) + [0, 5, 0], columns=r1.columns, index=r1.index)
    r2 = r2.iloc[::-1]  # aligned by index, not by position
    r2.loc["c3", "fair"] = np.nan  # excluded for that feature only
    table = stability_table(r1, r2).set_index("feature")
    assert list(table.columns) == ["icc2_1", "icc2_1_lower", "icc2_1_upper", "icc3_1", "cv", "n"]
    assert table.loc["good", "icc2_1"] > table.loc["fair", "icc2_1"] > table.loc["poor", "icc2_1"]
    assert table.loc["fair", "n"] == n - 1 and table.loc["good", "n"] == n
    for feat in r1.columns:
        both = pd.concat([r1[feat], r2[feat]], axis=1).dropna()
        for col, kind in (("icc2_1", "ICC(2,1)"), ("icc3_1", "ICC(3,1)")):
            assert_close(table.loc[feat, col], icc(both, kind).value, rtol=1e-10, atol=0.0, what=f"{feat} {col}")
        ref = icc(both, "ICC(2,1)")
        assert_close([table.loc[feat, "icc2_1_lower"], table.loc[feat, "icc2_1_upper"]],
                     [ref.ci_lower, ref.ci_upper], rtol=1e-10, atol=0.0, what=f"{feat} CI")
        cvs = coefficient_of_variation(both.to_numpy(), axis=1)
        assert_close(table.loc[feat, "cv"], np.sqrt(np.mean(cvs**2)), rtol=1e-10, atol=0.0, what=f"{feat} cv")


def test_stability_table_constant_feature_is_nan_and_logged(rng, caplog):
    idx = [f"c{i}" for i in range(5)]
    r1 = pd.DataFrame({"flat": np.ones(5), "x": rng.normal(size=5)}, index=idx)
    r2 = pd.DataFrame({"flat": np.ones(5), "x": rng.normal(size=5)}, index=idx)
    table = stability_table(r1, r2).set_index("feature")
    assert np.isnan(table.loc["flat", "icc2_1"]) and np.isfinite(table.loc["x", "icc2_1"])
    assert "ICC undefined" in caplog.text
    with pytest.raises(DataError, match="shared"):
        stability_table(r1.iloc[:2], r2.iloc[:2])


def test_perturb_mask_and_perturbation_table(rng):
    mask = np.zeros((6, 12, 12), bool)
    mask[1:5, 3:9, 3:9] = True
    assert perturb_mask(mask, "erode").sum() < mask.sum() < perturb_mask(mask, "dilate").sum()
    shifted = perturb_mask(mask, "shift", seed=1)
    assert shifted.sum() == mask.sum() and not np.array_equal(shifted, mask)
    assert np.array_equal(shifted, perturb_mask(mask, "shift", seed=1))  # seeded
    with pytest.raises(DataError):
        perturb_mask(mask, "rotate")

    def feature_fn(images, m):
        arr = images["portal"].array
        return {"mean": float(arr[m].mean()), "volume": float(m.sum()), "max": float(arr[m].max())}

    per_case = {}
    for c in range(5):
        img = Image(rng.normal(50 * c, 5, mask.shape), name="portal")
        per_case[f"c{c}"] = perturbation_stability({"portal": img}, mask, feature_fn)
    assert list(per_case["c0"].index) == ["original", "erode", "dilate", "shift"]
    table = perturbation_table(per_case).set_index("feature")
    assert table.loc["mean", "icc2_1"] > 0.95  # mean differs across cases far more than across masks
    assert np.isnan(table.loc["volume", "icc2_1"]) or table.loc["volume", "icc2_1"] < 0.5


def test_stability_table_three_repeats(rng):
    idx = [f"c{i}" for i in range(8)]
    truth = rng.normal(10, 3, (8, 2))
    reps = [pd.DataFrame(truth + rng.normal(0, 0.5, (8, 2)), index=idx, columns=["a", "b"]) for _ in range(3)]
    table = stability_table(*reps).set_index("feature")
    wide = pd.concat([r["a"] for r in reps], axis=1)
    assert_close(table.loc["a", "icc2_1"], icc(wide, "ICC(2,1)").value, rtol=1e-10, atol=0.0, what="3 raters")
    cvs = coefficient_of_variation(wide.to_numpy(), axis=1)
    assert_close(table.loc["a", "cv"], np.sqrt(np.mean(cvs**2)), rtol=1e-10, atol=0.0, what="cv 3 raters")
