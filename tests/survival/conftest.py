"""Fixtures for the survival tests: R's lung data (read in place) and a seeded simulated cohort."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


@pytest.fixture(scope="module")
def lung(shared_data) -> pd.DataFrame:
    df = pd.read_csv(shared_data / "stats_reference" / "survival_lung_veteran" / "lung.csv")
    df["event"] = df["status"] - 1
    return df


def _simulate(n: int, seed: int, beta: float = 0.8, censor_rate: float = 0.05) -> pd.DataFrame:
    """Exponential PH cohort: hazard 0.1 * exp(beta * x), x ~ N(0,1), independent exponential censoring."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t_event = rng.exponential(1.0 / (0.1 * np.exp(beta * x)))
    t_cens = rng.exponential(1.0 / censor_rate, size=n)
    time = np.minimum(t_event, t_cens)
    return pd.DataFrame({"time": np.round(time, 3) + 0.001, "event": (t_event <= t_cens).astype(int), "x": x,
                         "noise": rng.normal(size=n)})


@pytest.fixture(scope="session")
def simulate():
    """The cohort generator, as a fixture (tests import nothing from conftest)."""
    return _simulate


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return _simulate(300, seed=11)
