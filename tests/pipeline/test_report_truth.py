"""Issue 26: the synthetic-cohort table gives per-cohort ceilings for each information set."""

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from hccrad.pipeline.results import information_ceilings, truth_comparison
from hccrad.testing import assert_close


def _truth(rng):
    n = 400
    hab, cli = rng.normal(0, 1.2, n), rng.normal(0, 0.4, n)
    p = 1 / (1 + np.exp(-(hab + cli)))
    cases = [{"cohort": "training" if i % 2 else "test", "lp_habitat": hab[i], "lp_clinical": cli[i],
              "probability": p[i]} for i in range(n)]
    return {"cases": cases, "cohorts": {"training": {"bayes_auc_sample": 0.8}, "test": {"bayes_auc_sample": 0.79}},
            "bayes_auc_population": 0.8}, hab, cli, p


def test_ceilings_are_expected_aucs_per_information_set():
    truth, hab, cli, p = _truth(np.random.default_rng(1))
    ceil = information_ceilings(truth)
    test = np.arange(hab.size) % 2 == 0
    # reference: the expected AUC over Y ~ Bernoulli(p) = the AUC over many outcome draws (Monte Carlo)
    draws = np.random.default_rng(2).random((400, test.sum())) < p[test]
    mc = np.mean([roc_auc_score(d, cli[test]) for d in draws])
    assert_close(ceil["test"]["ceiling_clinical"], mc, rtol=0, atol=0.01, what="clinical ceiling vs Monte Carlo")
    assert ceil["test"]["ceiling_clinical"] < ceil["test"]["ceiling_habitat"] < ceil["test"]["ceiling_both"]
    metrics = pd.DataFrame({"model": ["clin"], "cohort": ["test"], "n": [200], "auc": [0.6]})
    row = truth_comparison(metrics, truth).iloc[0]
    assert row["ceiling_both"] == ceil["test"]["ceiling_both"] and row["bayes_auc_sample"] == 0.79
