"""Issue 23: habitat stability and the k−1, k, k+1 sensitivity table (hccrad.pipeline.habitat_robustness)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from hccrad.config import parse_spec
from hccrad.core.image import Image
from hccrad.habitat import PopulationHabitats
from hccrad.pipeline.habitat_robustness import HabitatRobustness, habitat_robustness, k_sensitivity
from hccrad.pipeline.modelling import fit_models

CENTRES = np.array([[10.0, 30.0], [45.0, 55.0], [80.0, 85.0]])


def _spec(**habitat):
    return parse_spec({
        "name": "robust", "seed": 2, "data": {"manifest": "m.csv"},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "y"}},
        "habitat": {"n_habitats": 3, **habitat},
        "features": {"icc_min": None},
        "models": [{"name": "hab", "features": "habitat", "selection_steps": ["scale"]}],
        "validation": {"bootstrap": 4, "n_jobs": 1},
    })


def _voxel_cases(n: int = 6) -> list:
    """Tiny stand-ins for the imaging stage's CaseVoxels: three planted clusters in a 4×6×6 block."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        tumor = np.ones((4, 6, 6), dtype=bool)
        truth = rng.integers(0, 3, tumor.sum())
        X = CENTRES[truth] + rng.normal(0, 3.0, (truth.size, 2))
        out.append(SimpleNamespace(case_id=f"P{i}", X=X, tumor=tumor, reader2=None,
                                   reference=Image(np.zeros((4, 6, 6)), (2.5, 0.8, 0.8))))
    return out


def _fractions(model, cv, reader):
    labels = model.predict(cv.X)
    k = int(model.n_habitats_)
    return {f"fraction_{h}": float(np.mean(labels == h)) for h in range(1, k + 1)}, None


def test_imaging_side_refits_at_k_minus_and_plus_one_and_runs_stability():
    spec = _spec(stability_resamples=2, k_sensitivity=True)
    cases = _voxel_cases()
    model = PopulationHabitats(3, descriptor_names=["AE", "VE"], random_state=2, n_init=1).fit([c.X for c in cases])
    rob = habitat_robustness(spec, model, cases, _fractions, units={"AE": "HU", "VE": "HU"})
    assert sorted(rob.features_by_k) == [2, 4]
    f2, r2 = rob.features_by_k[2]
    assert list(f2.columns) == ["fraction_1", "fraction_2"] and r2 is None and len(f2) == len(cases)
    assert list(rob.features_by_k[4][0].columns) == [f"fraction_{h}" for h in range(1, 5)]
    st = rob.stability
    assert st.n_resamples == 2 and st.k_resamples == (3, 3) and min(st.ari) > 0.9, st.ari
    record = rob.record()
    assert record["stability"]["k_frequency"] == {"3": 2} and record["stability"]["centres"][0]["unit"] == "HU"
    assert habitat_robustness(_spec(), model, cases, _fractions) is None  # both off: nothing computed


@pytest.fixture(scope="module")
def sensitivity_inputs():
    rng = np.random.default_rng(5)
    n_train, n_test = 60, 20
    ids = [f"P{i:03d}" for i in range(n_train + n_test)]
    signal = rng.normal(size=len(ids))
    y = (rng.random(len(ids)) < 1 / (1 + np.exp(-2.0 * signal))).astype(int)

    def features(k):  # habitat fractions whose first column carries the signal
        cols = {f"fraction_{h}": rng.normal(size=len(ids)) for h in range(1, k + 1)}
        cols["fraction_1"] = signal + rng.normal(0, 0.3 * k, len(ids))
        return pd.DataFrame(cols, index=pd.Index(ids, name="case_id"))

    base = pd.DataFrame({"y": y, "cohort": ["training"] * n_train + ["internal_test"] * n_test}, index=ids)
    by_k = {k: features(k) for k in (2, 3, 4)}
    return base, by_k


def test_sensitivity_table_has_rows_k_minus_one_k_k_plus_one(sensitivity_inputs, tmp_path):
    base, by_k = sensitivity_inputs
    spec = _spec(k_sensitivity=True)
    data = base.join(by_k[3])
    cols3 = list(by_k[3].columns)
    fitted = fit_models(spec, data, habitat_columns=cols3, out=tmp_path)
    train = base.index[base["cohort"] == "training"]
    rob = HabitatRobustness(k=3, features_by_k={2: (by_k[2].loc[train], None), 4: (by_k[4].loc[train], None)})
    table = k_sensitivity(spec, data, fitted, rob, habitat_columns=cols3, radiomics_columns=[], stability=None)
    assert table["k"].tolist() == [2, 3, 4] and table["is_study_k"].tolist() == [False, True, False]
    main = fitted.models["hab"].optimism
    row3 = table.set_index("k").loc[3]
    assert row3["corrected_auc"] == pytest.approx(main.corrected_auc, abs=1e-12)
    assert (table["n_boot"] == 4).all() and (table["n_cases"] == 60).all()
    assert (table["ci_lower"] <= table["corrected_auc"] + 1e-12).all()
    assert table["n_features"].tolist() == [2, 3, 4]
    # the k = 2 row is the same model path refitted on the k = 2 features
    from hccrad.models.validation import optimism_bootstrap
    from hccrad.pipeline.modelling import build_estimator

    est, cols = build_estimator(spec.models[0], spec, list(by_k[2].columns), [], None, {})
    ref = optimism_bootstrap(est, by_k[2].loc[train, cols], base.loc[train, "y"].to_numpy(), n_boot=4, seed=2)
    assert table.set_index("k").loc[2, "corrected_auc"] == pytest.approx(ref.corrected_auc, abs=1e-12)
    assert rob.record()["k_sensitivity"][1]["k"] == 3


def test_report_items_have_keys_units_and_a_clean_figure(tmp_path):
    from hccrad.pipeline.report_imaging import _habitat_robustness
    from hccrad.report.document import Report
    from hccrad.report.lint import collecting

    spec = _spec(stability_resamples=3)
    cases = _voxel_cases(5)
    model = PopulationHabitats(3, descriptor_names=["AE", "VE"], random_state=2, n_init=1).fit([c.X for c in cases])
    rob = habitat_robustness(spec, model, cases, _fractions, units={"AE": "HU", "VE": "HU"})
    rob.sensitivity = pd.DataFrame({"k": [2, 3, 4], "n_boot": [4, 4, 4]})
    rep = Report(tmp_path, "t")
    s = rep.section("Tumour habitats")
    with collecting() as found:
        _habitat_robustness(rep, s, SimpleNamespace(robustness=rob))
    assert not found, found
    keys = [item.key for item in s.items]
    assert keys == ["habitat_stability", "habitat_stability_k", "habitat_stability_centres", "habitat_k_sensitivity"]
    assert "unitless" in s.items[0].caption and "HU" in (tmp_path / "tables").joinpath(
        next(p.name for p in (tmp_path / "tables").iterdir() if "centre" in p.name)).read_text()
