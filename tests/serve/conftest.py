"""Fixtures for the web page tests: a small logistic bundle fitted on synthetic data (with the coefficient
covariance added by hccrad.serve.covariance.add_covariance), and a tiny synthetic imaging bundle: three phases with three
planted enhancement regions in a disc-shaped tumour, a PopulationHabitats model fitted on three such cases,
and a logistic bundle on habitat fractions + TBIL (layout A: bundle.json + imaging.json + habitat_model.json)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hccrad.core.image import Image
from hccrad.habitat.descriptors import SEED000_DESCRIPTORS, descriptor_maps, voxel_matrix
from hccrad.habitat.estimators import PopulationHabitats
from hccrad.io.volume import write_image
from hccrad.models import build_model_pipeline
from hccrad.models.bundle import ModelBundle, bundle_from_pipeline
from hccrad.serve.covariance import add_covariance
from hccrad.serve.imaging import write_imaging_spec

UNITS = {"TBIL": "µmol/L", "AFP": "log10 ng/mL", "VP": "0/1"}


def synthetic_cohort(seed: int = 7, n: int = 90) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"TBIL": rng.gamma(4.0, 5.0, n), "AFP": rng.normal(2.0, 1.0, n),
                      "VP": rng.integers(0, 2, n).astype(float)})
    eta = -0.5 + 0.9 * X.VP - 0.06 * (X.TBIL - 20) + 0.7 * (X.AFP - 2)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    return X, y


def fit_bundle(X: pd.DataFrame, y, name: str, *, covariance: bool, threshold: float | None = 0.5,
               units: dict | None = None) -> ModelBundle:
    pipe = build_model_pipeline(list(X.columns), steps=["scale", "logistic"]).fit(X, y)
    bundle = bundle_from_pipeline(pipe, X, y, name, units=units if units is not None else UNITS,
                                  thresholds={"youden": threshold} if threshold is not None else None,
                                  definitions={"VP": "1 = Vp4 portal vein tumour thrombus"})
    spec = dict(bundle.spec)
    spec["allowed_values"] = {"VP": [0, 1]} if "VP" in X.columns else {}
    return add_covariance(ModelBundle(spec), X, y) if covariance else ModelBundle(spec)


@pytest.fixture(scope="session")
def cohort():
    return synthetic_cohort()


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory, cohort):
    X, y = cohort
    return fit_bundle(X, y, "synthetic_clinical", covariance=True).save(tmp_path_factory.mktemp("b") / "clinical")


@pytest.fixture(scope="session")
def bundle_dir_nocov(tmp_path_factory, cohort):
    X, y = cohort
    return fit_bundle(X, y, "synthetic_nocov", covariance=False, threshold=None).save(
        tmp_path_factory.mktemp("b") / "nocov")

SHAPE = (4, 24, 24)
SPACING = (2.0, 0.8, 0.8)
PHASES = ("pre", "arterial", "portal")


def make_case(seed: int, cut: tuple[int, int] = (9, 15)) -> tuple[dict[str, Image], Image, dict[int, float]]:
    """(phases, tumour mask, planted fraction of regions 1..3 in the tumour). Region = x-band of the disc;
    AE (arterial - pre) 10 / 35 / 70 HU and VE 30 / 50 / 80 HU, noise SD 2 HU."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(SHAPE)
    tumor = ((y - 12) ** 2 + (x - 12) ** 2 <= 64) & (z >= 1) & (z <= 2)
    region = np.digitize(x, cut)
    ae = np.choose(region, [10.0, 35.0, 70.0])
    ve = np.choose(region, [30.0, 50.0, 80.0])
    pre = 40 + rng.normal(0, 2, SHAPE)
    art = pre + np.where(tumor, ae, 5.0) + rng.normal(0, 2, SHAPE)
    por = pre + np.where(tumor, ve, 20.0) + rng.normal(0, 2, SHAPE)
    geo = {"spacing": SPACING, "origin": (-10.0, 5.0, 20.0)}
    images = {p: Image(np.round(a).astype(np.float32), name=p, **geo) for p, a in zip(PHASES, (pre, art, por))}
    n = tumor.sum()
    planted = {i + 1: float(((region == i) & tumor).sum() / n) for i in range(3)}
    return images, Image(tumor.astype(np.uint8), name="tumor", **geo), planted


def build_imaging_bundle(folder: Path) -> Path:
    Xs = []
    for seed, cut in [(1, (8, 14)), (2, (10, 16)), (3, (9, 15))]:
        images, tumor, _ = make_case(seed, cut)
        maps = descriptor_maps(images, tumor.array > 0, SEED000_DESCRIPTORS)
        Xs.append(voxel_matrix(maps, tumor.array > 0, ["AE", "VE"]))
    model = PopulationHabitats(n_habitats=3, descriptor_names=["AE", "VE"], random_state=0, n_init=2).fit(Xs)
    rng = np.random.default_rng(11)
    n = 80
    X = pd.DataFrame({"habitat3_fraction": rng.uniform(0, 0.9, n), "habitat1_fraction": rng.uniform(0, 0.9, n),
                      "TBIL": rng.gamma(4.0, 5.0, n)})
    eta = -0.3 + 3.0 * (X.habitat3_fraction - 0.4) - 2.0 * (X.habitat1_fraction - 0.4) - 0.05 * (X.TBIL - 20)
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    pipe = build_model_pipeline(list(X.columns), steps=["scale", "logistic"]).fit(X, y)
    bundle = bundle_from_pipeline(pipe, X, y, "synthetic_imaging", thresholds={"youden": 0.5},
                                  units={"TBIL": "µmol/L", "habitat3_fraction": "fraction",
                                         "habitat1_fraction": "fraction"})
    out = bundle.save(folder)
    model.save(out / "habitat_model.json")
    write_imaging_spec(out, "habitat_model.json", list(SEED000_DESCRIPTORS), list(PHASES), "portal")
    return out


def write_case(folder: Path, images: dict[str, Image], tumor: Image, prefix: str = "") -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {p: write_image(img, folder / f"{prefix}{p}.nii.gz") for p, img in images.items()}
    paths["tumor"] = write_image(tumor, folder / f"{prefix}tumor.nii.gz")
    return paths


def zip_files(archive: Path, members: dict[str, Path | bytes]) -> Path:
    with zipfile.ZipFile(archive, "w") as zf:
        for name, src in members.items():
            zf.writestr(name, src if isinstance(src, bytes) else Path(src).read_bytes())
    return archive


@pytest.fixture(scope="session")
def imaging_bundle(tmp_path_factory):
    return build_imaging_bundle(tmp_path_factory.mktemp("img") / "bundle")


@pytest.fixture(scope="session")
def case(tmp_path_factory):
    """A case with identifying file names (to check they never reach logs): images, mask, planted, paths."""
    images, tumor, planted = make_case(42, (7, 17))
    paths = write_case(tmp_path_factory.mktemp("case") / "DOE_JOHN", images, tumor, prefix="DOE_JOHN_")
    return images, tumor, planted, paths


@pytest.fixture(scope="session")
def make_zip():
    return zip_files
