"""Habitat report items follow the actual k and carry units: the overlay caption names the colours of the
k fitted (not "habitats 1/2/3 for k = 3" whatever k was), descriptor colour bars and axes say HU (bits, z)
and the overlays are zoomed to the tumour; the registration QC becomes a table and, past a threshold, a
warning table."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hccrad.habitat.descriptors import descriptor_unit  # noqa: E402
from hccrad.habitat.summary import habitat_summary  # noqa: E402
from hccrad.pipeline.imaging import ImagingResult  # noqa: E402
from hccrad.pipeline.registration_stage import qc_table  # noqa: E402
from hccrad.pipeline.report_imaging import section_habitats  # noqa: E402
from hccrad.pipeline.results import habitat_feature_summary  # noqa: E402
from hccrad.report.document import Report  # noqa: E402
from hccrad.report.figures.habitat import (habitat_colour_legend, plot_example_maps,  # noqa: E402
                                           plot_habitat_descriptors, plot_voxel_scatter, tumour_zoom)

UNITS = {"AE": "HU", "VE": "HU"}


def _imaging(k: int, qc_rows: list[dict]) -> ImagingResult:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 2))
    labels = rng.integers(1, k + 1, size=400)
    image = rng.normal(80, 20, (60, 60))
    lab = np.zeros((60, 60), int)
    lab[25:35, 20:32] = rng.integers(1, k + 1, size=(10, 12))
    return ImagingResult(
        features=pd.DataFrame(), features_reader2=None,
        habitat_summary=habitat_summary([X], [labels], ["AE", "VE"], [1.0]), k_selection=None, n_habitats=k,
        model_path=Path("m.json"), errors=pd.DataFrame(), descriptor_names=["AE", "VE"],
        descriptor_units=UNITS, voxel_sample=(X, labels),
        overlays=[{"case_id": "c1", "cohort": "training", "image": image, "labels": lab}],
        registration_qc=qc_table(qc_rows))


def _qc_row(case: str, ncc_after: float, translation: float, warning: str) -> dict:
    return {"case_id": case, "phase": "arterial", "reference": "image_portal", "transform": "rigid",
            "ncc_before": 0.5, "ncc_after": ncc_after, "tx_mm": translation, "ty_mm": 0.0, "tz_mm": 0.0,
            "translation_mm": translation, "rotation_deg": 0.1, "iterations": 12, "warning": warning}


def test_captions_follow_k_and_registration_qc_is_shown(tmp_path):
    rep = Report(tmp_path, "t")
    rows = [_qc_row("c1", 0.8, 2.0, ""), _qc_row("c2", 0.2, 12.0, "NCC after registration 0.20 < 0.3")]
    imaging = _imaging(4, rows)
    section_habitats(rep, imaging, habitat_feature_summary(imaging, ["c1"]))
    items = {i.key: i for s in rep.sections for i in s.items}
    caption = items["habitat_overlays"].caption
    assert "1/2/3" not in caption and "k = 4" in caption and "habitats 1–4" in caption, caption
    assert "-65 to 185 HU" in caption and "zoomed to the tumour" in caption, caption
    assert "c2" in items["registration_warnings"].body and "c1" not in items["registration_warnings"].body
    assert "c1" in items["registration_qc"].body and "median NCC" in items["registration_qc"].title
    assert "habitat 4 the highest" in rep.sections[-1].intro
    plt.close("all")
    assert habitat_colour_legend(3) == "blue, green, red = habitats 1, 2, 3"


def test_descriptor_axes_and_colour_bars_carry_units():
    assert (descriptor_unit("difference"), descriptor_unit("local_entropy"),
            descriptor_unit("intensity", "zscore"), descriptor_unit("intensity", intensity_unit="a.u.")) == \
        ("HU", "bits", "z, SD of tumour", "a.u.")
    rng = np.random.default_rng(1)
    fig = plt.figure()
    mask = np.zeros((8, 8), bool)
    mask[2:6, 2:6] = True
    plot_example_maps(fig, {"case_id": "c", "phases": {"portal": rng.normal(size=(8, 8))},
                            "descriptors": {"AE": rng.normal(size=(8, 8))}, "mask": mask}, units=UNITS)
    assert "AE (HU)" in [ax.get_ylabel() for ax in fig.axes], [ax.get_ylabel() for ax in fig.axes]
    fig, (a, b) = plt.subplots(1, 2)
    X, lab = rng.normal(size=(50, 2)), rng.integers(1, 4, size=50)
    plot_voxel_scatter(a, X, lab, ["AE", "VE"], 3, units=UNITS)
    assert (a.get_xlabel(), a.get_ylabel()) == ("AE (HU)", "VE (HU)")
    plot_habitat_descriptors(b, habitat_summary([X], [lab], ["AE", "VE"], [1.0]), ["AE", "VE"], units=UNITS)
    assert b.get_ylabel() == "mean ± SD (HU)"
    plt.close("all")
    img, lab2 = tumour_zoom(np.zeros((60, 60)), np.pad(np.ones((4, 4), int), 28), margin=5)
    assert img.shape == lab2.shape == (14, 14)
