"""Fixtures for the radiogenomics tests: a network guard, real GO gene sets (blitzgsea), a synthetic
negative-binomial cohort on real GO symbols with one planted pathway, and a small subset of the airway data."""

from __future__ import annotations

import socket
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest

from hccrad.radiogenomics import RadiogenomicsConfig, bundled_gene_sets, run_radiogenomics

PLANTED = "B Cell Receptor Signaling Pathway (GO:0050853)"
PLANTED_LFC = -3.0  # log2 fold change of the planted genes, high vs low score group
N_PER_GROUP = 6
N_BACKGROUND = 450


class NetworkCalled(AssertionError):
    pass


@contextmanager
def blocked_network():
    """Any socket connection or DNS lookup fails the test (proves the analysis is offline)."""

    attempts: list[str] = []

    def guard(*args, **kwargs):
        attempts.append(repr(args[:2]))  # recorded too, in case a library swallows the exception
        raise NetworkCalled(f"network access attempted: {args[:2]}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", guard)
        mp.setattr(socket.socket, "connect_ex", guard)
        mp.setattr(socket, "create_connection", guard)
        mp.setattr(socket, "getaddrinfo", guard)
        yield
    assert not attempts, f"network access attempted: {attempts}"


@pytest.fixture
def no_network():
    with blocked_network():
        yield


@pytest.fixture(scope="session")
def go_sets():
    return bundled_gene_sets("GO_Biological_Process_2023")


def _nb(rng: np.random.Generator, mu: np.ndarray, dispersion: float) -> np.ndarray:
    r = 1.0 / dispersion
    return rng.negative_binomial(r, r / (r + mu))


@pytest.fixture(scope="session")
def synthetic(go_sets):
    """Counts (gene_id, gene_name + TCGA sample columns), scores, clinical; planted genes down in 'high'."""
    rng = np.random.default_rng(20261125)
    planted = list(go_sets.sets[PLANTED])
    others = sorted(go_sets.genes() - set(planted))
    background = list(rng.choice(others, N_BACKGROUND, replace=False))
    symbols = planted + background
    n_genes, n = len(symbols), 2 * N_PER_GROUP
    patients = [f"TCGA-ZZ-A{i:03d}" for i in range(n)]
    high = np.r_[np.zeros(N_PER_GROUP, bool), np.ones(N_PER_GROUP, bool)]
    base = np.exp(rng.normal(5.0, 1.2, n_genes))
    size = rng.uniform(0.7, 1.4, n)
    lfc = np.zeros(n_genes)
    lfc[: len(planted)] = PLANTED_LFC
    mu = base[:, None] * size[None, :] * np.where(high[None, :], 2.0 ** lfc[:, None], 1.0)
    counts = _nb(rng, mu, 0.05)
    samples = [f"{p}-01A-11R-A00Z-07" for p in patients]
    frame = pd.DataFrame(counts, columns=samples)
    frame.insert(0, "gene_name", symbols)
    frame.insert(0, "gene_id", [f"ENSGSYN{i:06d}" for i in range(n_genes)])
    # a normal-tissue sample of patient 0 and an unscored tumour: both must be ignored by the join
    frame["TCGA-ZZ-A000-11A-11R-A00Z-07"] = _nb(rng, base * 1.0, 0.05)
    frame["TCGA-ZZ-A999-01A-11R-A00Z-07"] = _nb(rng, base * 1.0, 0.05)
    score = np.where(high, rng.uniform(0.1, 1.0, n), rng.uniform(-1.0, -0.1, n))
    scores = pd.DataFrame({"patient": patients, "score": score})
    time = np.where(high, rng.exponential(300, n), rng.exponential(1500, n)).round(0) + 1
    clinical = pd.DataFrame({"patient": patients, "os_time": time, "os_event": rng.random(n) < 0.8,
                             "age": rng.normal(60, 8, n).round(0)})
    return {"counts": frame, "scores": scores, "clinical": clinical, "planted": planted, "high": high}


AIRWAY_GENES = {  # symbol -> Ensembl id in inmoose's airway data (GENCODE/Ensembl annotation)
    "FKBP5": "ENSG00000096060", "TSC22D3": "ENSG00000157514", "ZBTB16": "ENSG00000109906",
    "KLF15": "ENSG00000163884", "DUSP1": "ENSG00000120129", "PER1": "ENSG00000179094",
}


@pytest.fixture(scope="session")
def airway_subset():
    """Raw airway counts (genes x 8 samples) of 600 random expressed genes plus the six known responders."""
    airway = pytest.importorskip("inmoose.data.airway").airway()
    counts = pd.DataFrame(np.asarray(airway.X).T.astype(np.int64), index=airway.var_names, columns=airway.obs_names)
    expressed = counts.index[counts.sum(axis=1) >= 10]
    rng = np.random.default_rng(7)
    genes = list(dict.fromkeys(list(rng.choice(expressed, 600, replace=False)) + list(AIRWAY_GENES.values())))
    obs = airway.obs.copy()
    groups = pd.Series(np.where(obs["dex"].astype(str) == "trt", "high", "low"), index=obs.index)
    return counts.loc[genes], groups, obs[["cell"]].astype(str)


@pytest.fixture(scope="session")
def rg_result(synthetic, go_sets, tmp_path_factory):
    gmt = tmp_path_factory.mktemp("sig") / "signatures.gmt"
    rng = np.random.default_rng(5)
    control = rng.choice(synthetic["counts"]["gene_name"].iloc[len(synthetic["planted"]):], 20, replace=False)
    gmt.write_text("BCR_planted\tplanted\t" + "\t".join(synthetic["planted"]) + "\n"
                   "control\trandom\t" + "\t".join(control) + "\n")
    cfg = RadiogenomicsConfig(gsea_permutations=200, n_cpus=1, covariates=["age"])
    with blocked_network():
        return run_radiogenomics(synthetic["counts"], synthetic["scores"], id_column="patient", groups=0.0,
                                 clinical=synthetic["clinical"], gene_sets=[go_sets], signatures=[gmt],
                                 config=cfg, seed=3)
