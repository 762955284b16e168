"""Named cohorts: everything data-driven is fitted on the training cohort and frozen. Changing the test
cohorts' data (even wildly) must not change any training-derived quantity or any unchanged case's score."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hccrad.config import parse_spec
from hccrad.pipeline.modelling import fit_models


def _spec():
    return parse_spec({
        "name": "leak", "seed": 1, "data": {"manifest": "m.csv"},
        "cohorts": {"training": "training", "tests": ["internal_test", "external_test"]},
        "outcome": {"response": {"column": "y"}},
        "models": [
            {"name": "img", "features": ["f1", "f2", "f3", "f4", "f5"],
             "selection_steps": ["univariate", "correlation", "scale", "lasso"], "lasso_rule": "min"},
            {"name": "clin", "features": "none", "clinical": ["c1", "c2"], "clinical_selection": "all"},
            {"name": "comb", "features": "none", "clinical": ["c1"], "fuse": "img"},
        ],
        "validation": {"bootstrap": 0},
    })


def _data(seed=0, n=(80, 40, 40)):
    rng = np.random.default_rng(seed)
    cohorts = np.repeat(["training", "internal_test", "external_test"], n)
    N = cohorts.size
    f = rng.normal(size=(N, 5))
    c = rng.normal(size=(N, 2))
    lp = 1.5 * f[:, 0] - 1.0 * f[:, 1] + 0.8 * c[:, 0]
    y = (rng.random(N) < 1 / (1 + np.exp(-lp))).astype(int)
    df = pd.DataFrame(f, columns=[f"f{i}" for i in range(1, 6)]).assign(c1=c[:, 0], c2=c[:, 1], y=y,
                                                                        cohort=cohorts)
    df.index = [f"P{i:03d}" for i in range(N)]
    return df


def test_test_cohorts_cannot_move_training_state(tmp_path):
    spec = _spec()
    data = _data()
    a = fit_models(spec, data, habitat_columns=[], out=tmp_path / "a")
    changed = data.copy()
    ext = changed["cohort"] == "external_test"
    changed.loc[ext, ["f1", "f2", "f3", "c1", "c2"]] = changed.loc[ext, ["f1", "f2", "f3", "c1", "c2"]] * 50 + 7
    changed.loc[ext, "y"] = 1 - changed.loc[ext, "y"]
    b = fit_models(spec, changed, habitat_columns=[], out=tmp_path / "b")
    for name in ("img", "clin", "comb"):
        ma, mb = a.models[name], b.models[name]
        assert ma.selected == mb.selected, name
        assert ma.threshold == mb.threshold, f"{name}: cut-off must come from training only"
        keep = ~ext
        np.testing.assert_array_equal(ma.scores[keep].to_numpy(), mb.scores[keep].to_numpy(),
                                      err_msg=f"{name}: scores of unchanged cases moved")
        assert not np.allclose(ma.scores[ext], mb.scores[ext]), f"{name}: changed cases must change"


def test_scores_for_every_case_and_cohort(tmp_path):
    fm = fit_models(_spec(), _data(1), habitat_columns=[], out=tmp_path)
    assert set(fm.cohort.unique()) == {"training", "internal_test", "external_test"}
    for m in fm.models.values():
        assert m.scores.notna().all() and m.scores.between(0, 1).all()
        assert (tmp_path / "models" / m.name).exists()


def test_as_published_protocol_is_reported_beside_the_honest_one(tmp_path):
    """Seed 000's protocol (select on all, bootstrap the final model only) is optimistic: with many noise
    features it reports a higher AUC than the honest optimism correction, and both are shown."""
    from hccrad.pipeline.evaluation import evaluate_models

    rng = np.random.default_rng(3)
    n = 90
    noise = pd.DataFrame(rng.normal(size=(n, 60)), columns=[f"n{i}" for i in range(60)])
    y = (rng.random(n) < 1 / (1 + np.exp(-0.8 * noise["n0"]))).astype(int)
    data = noise.assign(y=y, cohort=np.where(np.arange(n) < 70, "training", "internal_test"))
    data.index = [f"P{i}" for i in range(n)]
    spec = parse_spec({
        "name": "pub", "seed": 0, "data": {"manifest": "m.csv"},
        "cohorts": {"training": "training", "tests": ["internal_test"]},
        "outcome": {"response": {"column": "y"}},
        "models": [{"name": "img", "features": list(noise.columns), "univariate_p": 0.2,
                    "selection_steps": ["univariate", "scale", "lasso"], "lasso_cv": 5}],
        "validation": {"bootstrap": 30, "as_published": True},
    })
    fm = fit_models(spec, data, habitat_columns=[], out=tmp_path)
    ev = evaluate_models(spec, data, fm)
    row = ev.metrics[(ev.metrics["model"] == "img") & (ev.metrics["cohort"] == "training")].iloc[0]
    assert row["as_published_auc"] > row["corrected_auc"], row[["as_published_auc", "corrected_auc"]].to_dict()
    assert row["corrected_sd"] > 0


def test_logistic_bundles_carry_their_covariance(tmp_path):
    """Study bundles of logistic models store the coefficient covariance (for the web page's CI)."""
    from hccrad.models.bundle import load_bundle

    fm = fit_models(_spec(), _data(2), habitat_columns=[], out=tmp_path)
    b = load_bundle(fm.models["clin"].bundle)
    cov = np.asarray(b.spec["covariance"]["matrix"])
    assert cov.shape == (3, 3) and np.all(np.diag(cov) > 0)
