"""Published models: formulas reproduce hand-computed scores; external validation statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hccrad.core.errors import InputError, ModelError
from hccrad.models.bundle import bundle_scores, predict_bundle
from hccrad.models.published import list_published, load_published, validate_published
from hccrad.testing import assert_close

HAB = ["2b3r", "habitat3.1", "habitat1.1", "b01", "2border0"]


def _clinical(rng, n):
    return pd.DataFrame({
        "case_id": [f"p{i}" for i in range(n)], "Comorbidities": rng.integers(0, 2, n), "VP": rng.integers(0, 2, n),
        "TBIL": rng.gamma(4.0, 5.0, n), "Cirrhosis": rng.integers(0, 2, n),
        "2b3r": rng.uniform(0, 0.6, n), "habitat3.1": rng.uniform(0, 0.5, n), "habitat1.1": rng.uniform(0, 0.6, n),
        "b01": rng.uniform(0, 0.1, n), "2border0": rng.uniform(100, 3000, n),
    })


def test_all_shipped_bundles_load():
    names = list_published()
    assert set(names) == {"wu2025_habitat", "wu2025_clinical", "wu2025_combined", "seed001_clinical",
                          "seed001_cr", "seed001_crh", "seed004_clinical_radiomics"}
    for n in names:
        b = load_published(n)
        assert b.spec["source"]["citation"]
        for v in b.spec["variables"]:
            assert v["definition"], f"{n}: {v['name']} lacks a definition"
    with pytest.raises(InputError, match="no published model"):
        load_published("wu2024_typo")


def test_wu2025_clinical_and_combined_hand_computed(rng):
    df = _clinical(rng, 12)
    hand = 1.9806 - 1.5059 * df.Comorbidities + 1.2923 * df.VP - 0.0470 * df.TBIL - 1.0785 * df.Cirrhosis
    out = predict_bundle(load_published("wu2025_clinical"), df)
    assert_close(out["score"].to_numpy(), hand.to_numpy(), rtol=0, atol=1e-12, what="clinical score")
    assert_close(out["probability"].to_numpy(), 1 / (1 + np.exp(-hand.to_numpy())), rtol=0, atol=1e-12, what="P")
    z = (df[HAB] - df[HAB].mean()) / df[HAB].std(ddof=1)
    hab = 0.1689 + 0.0722 * z["2b3r"] + 0.7221 * z["habitat3.1"] - 0.6679 * z["habitat1.1"] - 0.5208 * z["b01"] \
        + 0.7522 * z["2border0"]
    s_hab = bundle_scores(load_published("wu2025_habitat"), df, standardize="cohort")
    assert_close(s_hab, hab.to_numpy(), rtol=0, atol=1e-12, what="habitat score (cohort z-scores)")
    comb = 1.8243 - 1.8950 * df.Comorbidities + 1.1727 * df.VP - 0.0442 * df.TBIL - 0.6937 * df.Cirrhosis \
        + 1.0357 * hab
    s_comb = bundle_scores(load_published("wu2025_combined"), df, standardize="cohort")
    assert_close(s_comb, comb.to_numpy(), rtol=0, atol=1e-12, what="combined score, HabitatScore derived")
    given = df.assign(HabitatScore=hab)
    assert_close(bundle_scores(load_published("wu2025_combined"), given), comb.to_numpy(), rtol=0, atol=1e-12,
                 what="combined score, HabitatScore given")


def test_unpublished_normalisation_requires_opt_in(rng):
    df = _clinical(rng, 10)
    with pytest.raises(ModelError, match="normalisation"):
        bundle_scores(load_published("wu2025_habitat"), df)
    assert load_published("wu2025_habitat").formula() == (
        "HabitatScore = 0.1689 + 0.0722·z(2b3r) + 0.7221·z(habitat3.1) − 0.6679·z(habitat1.1) − 0.5208·z(b01) "
        "+ 0.7522·z(2border0)")
    assert load_published("wu2025_clinical").formula() == (
        "ClinicalScore = 1.9806 − 1.5059·Comorbidities + 1.2923·VP − 0.0470·TBIL − 1.0785·Cirrhosis")


def test_seed001_formulas_and_flags(rng):
    b = load_published("seed001_clinical")
    assert b.spec["link"] == "unknown"
    assert [v["sign_inferred"] for v in b.spec["variables"]] == [False, True]
    df = pd.DataFrame({"VascularInvasion": rng.integers(0, 2, 30), "d_tumor": rng.uniform(2, 18, 30)})
    z = (df - df.mean()) / df.std(ddof=1)
    hand = 0.6212 + 0.4103 * z.VascularInvasion - 0.0652 * z.d_tumor
    assert_close(bundle_scores(b, df, standardize="cohort"), hand.to_numpy(), rtol=0, atol=1e-12, what="seed001")
    crh = load_published("seed001_crh")
    assert len(crh.spec["variables"]) == 14
    assert sum(v["sign_inferred"] for v in crh.spec["variables"]) == 6


def test_validate_published_on_cohort_from_the_model(rng):
    """Outcomes drawn from the published clinical model itself: CITL ~ 0, slope ~ 1, recalibration ~ identity."""
    df = _clinical(rng, 3000)
    lp = 1.9806 - 1.5059 * df.Comorbidities + 1.2923 * df.VP - 0.0470 * df.TBIL - 1.0785 * df.Cirrhosis
    df["OR"] = (rng.random(len(df)) < 1 / (1 + np.exp(-lp))).astype(int)
    res = validate_published("wu2025_clinical", df, "OR")
    assert res.citl_ci[0] < 0 < res.citl_ci[1]
    assert res.slope_ci[0] < 1 < res.slope_ci[1]
    assert_close(res.recal_slope, 1.0, rtol=0, atol=0.15, what="recalibration slope")
    assert 0.6 < res.auc < 0.9 and res.auc_lower < res.auc < res.auc_upper
    table = res.summary()
    assert {"AUC", "calibration-in-the-large", "calibration slope"} <= set(table.index)
    # miscalibrated cohort: response rate shifted up by 1 logit -> CITL ~ +1
    df["OR2"] = (rng.random(len(df)) < 1 / (1 + np.exp(-(lp + 1.0)))).astype(int)
    shifted = validate_published("wu2025_clinical", df, "OR2")
    assert_close(shifted.citl, 1.0, rtol=0, atol=0.2, what="calibration-in-the-large after +1 logit shift")
    assert "recalibrated" in shifted.recalibrated_formula


def test_validate_published_refuses_bad_coding(rng):
    df = _clinical(rng, 50)
    df["OR"] = rng.integers(0, 2, 50)
    df.loc[3, "VP"] = 4  # Vp classification given instead of the 0/1 Vp4 indicator
    with pytest.raises(ModelError, match="VP"):
        validate_published("wu2025_clinical", df, "OR")
    res = validate_published("seed001_clinical", pd.DataFrame({
        "VascularInvasion": rng.integers(0, 2, 60), "d_tumor": rng.uniform(2, 18, 60),
        "OR": rng.integers(0, 2, 60)}), "OR", standardize="cohort")
    assert res.citl is None and any("logit" in n for n in res.notes)
    df["OR"] = rng.integers(0, 2, 50)
    df.loc[3, "VP"] = 1
    comb = validate_published("wu2025_combined", df, "OR", standardize="cohort")
    assert comb.citl is None and any("z-scored" in n for n in comb.notes)


def test_seed004_clinical_radiomics_formula():
    """Seed 004: Y = -1.092 + 1.904·[AFP > 200] + 2.214·radscore (logit scale)."""
    import numpy as np
    import pandas as pd

    from hccrad.models.bundle import bundle_scores
    from hccrad.models.published import load_published

    b = load_published("seed004_clinical_radiomics")
    df = pd.DataFrame({"AFP_gt_200": [0, 1, 1], "radscore": [0.0, -0.3, 1.2]})
    expected = -1.092 + 1.904 * df["AFP_gt_200"] + 2.214 * df["radscore"]
    np.testing.assert_allclose(bundle_scores(b, df, id_col=None), expected, rtol=0, atol=1e-12)
