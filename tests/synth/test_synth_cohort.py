"""The synthetic cohort on disk: layout, determinism, planted truth recovered from the written files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import ndimage as ndi
from sklearn.metrics import roc_auc_score

from hccrad.core.errors import HccradError, SpecError
from hccrad.io.volume import read_image
from hccrad.synth import GenerativeModel, SynthCohort, generate_cohort
from hccrad.synth.cohort import _split
from hccrad.testing import assert_close

N = 12
SEED = 7
MANIFEST_COLUMNS = ["case_id", "patient_id", "cohort", "image_pre", "image_arterial", "image_portal",
                    "mask_tumor", "mask_liver", "mask_tumor_reader2"]
CLINICAL_COLUMNS = ["case_id", "centre", "age", "sex", "comorbidities", "cirrhosis", "vp_grade", "vp4",
                    "tbil_umol_l", "alb_g_l", "afp_ng_ml", "tumor_diameter_cm", "tumor_number", "ecog_ps", "extrahepatic", "inr", "ascites", "encephalopathy", "response",
                    "os_months", "os_event", "mtm"]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> SynthCohort:
    calls: list[tuple[int, int]] = []
    out = generate_cohort(tmp_path_factory.mktemp("syn") / "a", n=N, seed=SEED,
                          progress=lambda i, n: calls.append((i, n)))
    assert calls == [(i, N) for i in range(1, N + 1)]
    return out


@pytest.fixture(scope="module")
def tables(cohort):
    return (pd.read_csv(cohort.manifest), pd.read_csv(cohort.clinical), json.loads(cohort.truth.read_text()))


def _arr(cohort: SynthCohort, rel: str) -> np.ndarray:
    return read_image(cohort.out_dir / rel).array


def test_layout_and_columns(cohort, tables):
    manifest, clinical, truth = tables
    assert list(manifest.columns) == MANIFEST_COLUMNS
    assert list(clinical.columns) == CLINICAL_COLUMNS
    assert manifest["case_id"].tolist() == [f"SYN{i:04d}" for i in range(1, N + 1)]
    assert clinical["case_id"].tolist() == manifest["case_id"].tolist()
    assert manifest["cohort"].value_counts().to_dict() == {"training": 8, "internal_test": 4}
    for col in MANIFEST_COLUMNS[3:]:
        for rel in manifest[col]:
            assert not Path(rel).is_absolute()
            assert (cohort.out_dir / rel).is_file(), rel
    for cid in manifest["case_id"]:
        assert (cohort.out_dir / "truth" / f"{cid}_habitats.nii.gz").is_file()
    assert set(clinical["sex"]) <= {"M", "F"}
    assert set(clinical["vp_grade"]) <= {f"Vp{i}" for i in range(5)}
    assert (clinical["vp4"] == (clinical["vp_grade"] == "Vp4")).all()
    for col in ("comorbidities", "cirrhosis", "vp4", "response", "os_event"):
        assert set(clinical[col]) <= {0, 1}, col
    assert clinical["tumor_diameter_cm"].between(1.5, 10.0).all()
    assert (clinical["os_months"] > 0).all()
    assert truth["n"] == N and truth["seed"] == SEED and len(truth["cases"]) == N
    assert truth["population"]["n_draws"] >= 200_000
    assert set(truth["cohorts"]) == {"training", "internal_test"}


def test_masks_on_image_grid_and_types(cohort, tables):
    manifest = tables[0]
    for _, row in manifest.iloc[:4].iterrows():
        pre = read_image(cohort.out_dir / row["image_pre"])
        assert pre.array.dtype == np.int16
        assert pre.spacing == (3.0, 1.5, 1.5)
        imgs = {c: read_image(cohort.out_dir / row[c]) for c in MANIFEST_COLUMNS[4:]}
        for col, img in imgs.items():
            assert img.same_grid(pre), col
            if col.startswith("mask"):
                assert img.array.dtype == np.uint8 and set(np.unique(img.array)) == {0, 1}, col
        tumour = imgs["mask_tumor"].array.astype(bool)
        assert not (tumour & ~imgs["mask_liver"].array.astype(bool)).any(), "tumour must lie inside the liver"
        # realistic pre-contrast HU: liver ~55, tumour ~40 (noise averages out)
        liver_only = imgs["mask_liver"].array.astype(bool) & ~ndi.binary_dilation(tumour, iterations=2)
        liver_core = ndi.binary_erosion(liver_only, iterations=2)
        assert_close(pre.array[liver_core].mean(), 55.0, rtol=0, atol=3.0, what="pre-contrast liver HU")
        assert_close(pre.array[ndi.binary_erosion(tumour)].mean(), 40.0, rtol=0, atol=4.0,
                     what="pre-contrast tumour HU")


def test_determinism_same_seed(cohort, tmp_path):
    again = generate_cohort(tmp_path / "b", n=N, seed=SEED)
    for name in ("manifest.csv", "clinical.csv", "truth.json"):
        assert (again.out_dir / name).read_bytes() == (cohort.out_dir / name).read_bytes(), name
    manifest = pd.read_csv(cohort.manifest)
    for col in MANIFEST_COLUMNS[3:]:
        for rel in manifest[col].iloc[:3]:
            np.testing.assert_array_equal(_arr(again, rel), _arr(cohort, rel), err_msg=rel)


def test_planted_proportions_match_label_volumes(cohort, tables):
    truth = tables[2]
    for case in truth["cases"]:
        lab = _arr(cohort, f"truth/{case['case_id']}_habitats.nii.gz")
        tumour = _arr(cohort, f"masks/{case['case_id']}_tumor.nii.gz").astype(bool)
        assert ((lab > 0) == tumour).all(), "habitat labels must cover exactly the tumour mask"
        counts = np.bincount(lab[tumour], minlength=4)[1:]
        assert_close(counts / counts.sum(), case["proportions"], rtol=0, atol=1e-6,
                     what=f"{case['case_id']} realised proportions")
        # quantile thresholding hits the Dirichlet target to within a voxel
        assert_close(case["proportions"], case["target_proportions"], rtol=0, atol=2.0 / tumour.sum() + 1e-6,
                     what=f"{case['case_id']} target proportions")
        # habitats are smooth contiguous blobs: a few components hold 90% of each habitat's voxels
        for h in (1, 2, 3):
            comp, k = ndi.label(lab == h)
            if k and counts[h - 1] >= 50:
                sizes = np.sort(np.bincount(comp.ravel())[1:])[::-1]
                n90 = int(np.searchsorted(np.cumsum(sizes) / sizes.sum(), 0.9)) + 1
                assert n90 <= 4, f"{case['case_id']} habitat {h} is fragmented ({n90} blobs hold 90%)"


def test_habitat_centres_recovered_from_images(cohort, tables):
    """Mean AE/VE over habitat interiors (away from partial volume) equal the planted per-case centres."""
    manifest, _, truth = tables
    dev = {h: [] for h in (1, 2, 3)}
    struct = np.zeros((3, 3, 3), dtype=bool)
    struct[1] = True
    for (_, row), case in zip(manifest.iterrows(), truth["cases"]):
        pre = _arr(cohort, row["image_pre"]).astype(float)
        ae = _arr(cohort, row["image_arterial"]) - pre
        ve = _arr(cohort, row["image_portal"]) - pre
        lab = _arr(cohort, f"truth/{case['case_id']}_habitats.nii.gz")
        for h in (1, 2, 3):
            core = ndi.binary_erosion(lab == h, struct, iterations=2)
            if core.sum() >= 30:
                c = case["habitat_centres_hu"][h - 1]
                dev[h].append((ae[core].mean() - c[0], ve[core].mean() - c[1], core.sum()))
    for h, rows in dev.items():
        d = np.asarray(rows)
        assert len(d) >= 4, f"too few cases with a habitat-{h} interior"
        mean_dev = np.average(d[:, :2], axis=0, weights=d[:, 2])
        assert_close(mean_dev, [0.0, 0.0], rtol=0, atol=3.0, what=f"habitat {h} (AE, VE) - planted centre")
    # the planted centres are separable: a few noise-free SDs apart
    centres = np.array([[v["AE"], v["VE"]] for v in truth["habitat_centres_hu"].values()])
    assert np.all(np.diff(centres[:, 0]) >= 20)


def test_truth_linear_predictor_and_bayes_auc(cohort, tables):
    _, clinical, truth = tables
    m = GenerativeModel()
    props = np.array([c["proportions"] for c in truth["cases"]])
    lp = m.b0 + m.habitat_part(props) + m.clinical_part(clinical)
    assert_close(lp, [c["lp"] for c in truth["cases"]], rtol=0, atol=1e-5, what="true linear predictor")
    prob = np.array([c["probability"] for c in truth["cases"]])
    y = clinical["response"].to_numpy()
    if 0 < y.sum() < y.size:
        assert_close(truth["bayes_auc_sample"], roc_auc_score(y, prob), rtol=0, atol=1e-6, what="sample AUC")
    assert 0.80 <= truth["bayes_auc_population"] <= 0.90
    assert truth["population"]["auc_habitat_part"] > truth["population"]["auc_clinical_part"]
    assert_close(truth["population"]["prevalence"], 0.527, rtol=0, atol=0.02, what="population OR rate")
    for name, c in truth["cohorts"].items():
        assert c["bayes_auc_population"] == truth["bayes_auc_population"], name


def test_reader2_dice_in_range(cohort, tables):
    truth = tables[2]
    for case in truth["cases"]:
        a = _arr(cohort, f"masks/{case['case_id']}_tumor.nii.gz").astype(bool)
        b = _arr(cohort, f"masks/{case['case_id']}_tumor_reader2.nii.gz").astype(bool)
        dice = 2 * (a & b).sum() / (a.sum() + b.sum())
        assert 0.80 <= dice <= 0.97, f"{case['case_id']} reader-2 Dice {dice:.3f}"
        assert dice < 1.0


def test_delayed_phase_and_misregistration(tmp_path):
    out = generate_cohort(tmp_path / "d", n=10, seed=3, delayed=True, misregistration_mm=2.0, noise_hu=5.0,
                          cohorts={"training": 0.5, "internal_test": 0.2, "external_test": 0.3})
    manifest = pd.read_csv(out.manifest)
    clinical = pd.read_csv(out.clinical)
    truth = json.loads(out.truth.read_text())
    assert "image_delayed" in manifest.columns
    assert manifest["cohort"].value_counts().to_dict() == {"training": 5, "external_test": 3, "internal_test": 2}
    centre = dict(zip(manifest["case_id"], manifest["cohort"]))
    for cid, c in zip(clinical["case_id"], clinical["centre"]):
        assert c == ("C2" if centre[cid] == "external_test" else "C1")
    assert truth["reference_phase"] == "portal"
    shifts = [np.linalg.norm(case["phase_shift_mm"][p]) for case in truth["cases"]
              for p in ("pre", "arterial", "delayed")]
    assert all(np.linalg.norm(case["phase_shift_mm"]["portal"]) == 0 for case in truth["cases"])
    assert 0 < np.mean(shifts) < 5.0
    # delayed phase: the most enhancing habitat washes out relative to the portal phase
    row, case = manifest.iloc[0], truth["cases"][0]
    lab = read_image(out.out_dir / f"truth/{case['case_id']}_habitats.nii.gz").array
    portal = read_image(out.out_dir / row["image_portal"]).array.astype(float)
    delayed = read_image(out.out_dir / row["image_delayed"]).array.astype(float)
    core = ndi.binary_erosion(lab == 3, iterations=1)
    if core.sum() > 20:
        assert delayed[core].mean() < portal[core].mean() - 15


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"n": 5}, "n: must be an integer >= 10"),
        ({"cohorts": {"training": 0.6, "internal_test": 0.3}}, "fractions must sum to 1"),
        ({"noise_hu": -1.0}, "noise_hu"),
        ({"misregistration_mm": 50.0}, "misregistration_mm"),
        ({"seed": -2}, "seed"),
        ({"cohorts": {"training": 0.95, "internal_test": 0.05}}, "gives no case"),
    ],
)
def test_invalid_arguments_raise(tmp_path, kwargs, fragment):
    with pytest.raises(SpecError) as err:
        generate_cohort(tmp_path / "x", **{"n": 10, **kwargs})
    assert fragment in str(err.value)
    assert isinstance(err.value, HccradError)
    assert not (tmp_path / "x").exists(), "nothing is written when the arguments are invalid"


def test_all_problems_reported_at_once(tmp_path):
    with pytest.raises(SpecError) as err:
        generate_cohort(tmp_path / "x", n=3, noise_hu=-5, cohorts={"training": 0.5})
    assert len(err.value.problems) == 3


@pytest.mark.parametrize("n, fractions", [(60, (0.7, 0.3)), (151, (0.5, 0.25, 0.25)), (10, (0.7, 0.3))])
def test_split_exact_sizes_and_stratified(n, fractions):
    rng = np.random.default_rng(n)
    y = (rng.random(n) < 0.6).astype(int)
    names = ["training", "internal_test", "external_test"][: len(fractions)]
    cohorts = dict(zip(names, fractions))
    labels = np.asarray(_split(np.random.default_rng(0), y, cohorts))
    for name, f in cohorts.items():
        sel = labels == name
        assert abs(sel.sum() - n * f) < 1, name
        assert abs(y[sel].sum() - y.sum() * sel.sum() / n) <= 1.0 + 1e-9, f"{name} responders not stratified"
    again = np.asarray(_split(np.random.default_rng(0), y, cohorts))
    assert (labels == again).all()


def test_summary_table(cohort):
    table = cohort.summary()
    assert table["cohort"].tolist() == ["training", "internal_test", "all"]
    assert table.loc[table["cohort"] == "all", "n"].item() == N
    assert table["bayes_auc_population"].notna().all()


def test_mtm_subtype_column(tables):
    """MTM (seed 002): logistic in the high-enhancement habitat fraction, missing when not resected."""
    from hccrad.synth.cohort import MTM_B0, MTM_B_HIGH
    from hccrad.synth.model import sigmoid

    _, clinical, truth = tables
    cases = truth["cases"]
    p3 = np.array([c["proportions"][2] for c in cases])
    assert_close([c["mtm_probability"] for c in cases], sigmoid(MTM_B0 + MTM_B_HIGH * (p3 - 0.20) / 0.10),
                 rtol=0, atol=1e-5, what="P(MTM) from the habitat fraction (truth rounded to 1e-6)")
    resected = np.array([c["resected"] for c in cases])
    mtm = clinical["mtm"]
    assert (mtm.isna().to_numpy() == ~resected).all()
    assert set(mtm.dropna().unique()) <= {0, 1}
    assert (mtm[resected].to_numpy() == np.array([c["mtm"] for c in cases])[resected]).all()
    assert truth["mtm_model"]["p_resected"] == 0.6


def test_mtm_association_and_missing_rate():
    """The planted MTM model at population size: missing ≈ 40 %, MTM more frequent with more high-AE habitat."""
    from hccrad.synth.cohort import MTM_B0, MTM_B_HIGH, MTM_KNOWN
    from hccrad.synth.model import sigmoid

    rng = np.random.default_rng(0)
    p3 = GenerativeModel().draw_proportions(rng, 20_000)[:, 2]
    prob = sigmoid(MTM_B0 + MTM_B_HIGH * (p3 - 0.20) / 0.10)
    mtm = rng.random(p3.size) < prob
    assert_close(1 - MTM_KNOWN, 0.4, rtol=0, atol=1e-12, what="missing MTM fraction")
    assert roc_auc_score(mtm, p3) > 0.6
    assert 0.2 < mtm.mean() < 0.6
