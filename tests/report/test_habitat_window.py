"""The habitat figures' grey levels (issue 23, item 4): phases and overlays in the liver window for CT with a
colour bar in HU, a percentile window for other units."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hccrad.report.figures.habitat import LIVER_WINDOW_HU, plot_example_maps, plot_habitat_overlay  # noqa: E402


def test_phases_and_overlays_in_the_liver_window_with_a_unit_bar():
    rng = np.random.default_rng(3)
    mask = np.zeros((10, 10), bool)
    mask[3:7, 3:7] = True
    example = {"case_id": "c", "phases": {"portal": rng.normal(60, 80, size=(10, 10))},
               "descriptors": {"AE": rng.normal(size=(10, 10))}, "mask": mask}
    fig = plt.figure()
    plot_example_maps(fig, example, units={"AE": "HU"}, phase_window=LIVER_WINDOW_HU, intensity_unit="HU")
    phase_ax = next(ax for ax in fig.axes if ax.get_title() == "portal phase")
    assert phase_ax.images[0].get_clim() == LIVER_WINDOW_HU
    assert sorted(ax.get_ylabel() for ax in fig.axes if ax.get_ylabel()) == ["AE (HU)", "HU"]
    fig = plt.figure()
    plot_example_maps(fig, example, intensity_unit="a.u.")  # MRI: each slice's 1st to 99th percentile
    phase_ax = next(ax for ax in fig.axes if ax.get_title() == "portal phase")
    expected = tuple(np.percentile(example["phases"]["portal"], [1, 99]))
    np.testing.assert_allclose(phase_ax.images[0].get_clim(), expected)
    fig, ax = plt.subplots()
    labels = np.where(mask, 1 + (np.arange(100).reshape(10, 10) % 3), 0)
    plot_habitat_overlay(ax, example["phases"]["portal"], labels, 3, window=LIVER_WINDOW_HU, unit="HU")
    assert ax.images[0].get_clim() == LIVER_WINDOW_HU and "HU" in [a.get_ylabel() for a in fig.axes]
    plt.close("all")


def test_preprocessing_qc_becomes_a_report_table(tmp_path):
    from pathlib import Path

    import pandas as pd

    from hccrad.habitat.summary import habitat_summary
    from hccrad.pipeline.imaging import ImagingResult
    from hccrad.pipeline.registration_stage import preprocess_qc_table
    from hccrad.pipeline.report_imaging import section_habitats
    from hccrad.report.document import Report

    X, labels = np.random.default_rng(0).normal(size=(60, 2)), np.repeat([1, 2, 3], 20)
    row = {"case_id": "c1", "phase": "portal", "spacing_before_mm": "0.8 × 0.8 × 2.5",
           "spacing_after_mm": "1 × 1 × 1", "shape_after": "19 × 19 × 20", "tumour_ml_before": 1.2,
           "tumour_ml_after": 1.19, "hu_window": "-100 to 300",
           "clipped_pct": 0.5, "n4_bias_min": None, "n4_bias_max": None, "region": "", "region_mean": None,
           "region_sd": None, "steps": "resample; hu_clip", "warning": ""}
    imaging = ImagingResult(features=pd.DataFrame(), features_reader2=None,
                            habitat_summary=habitat_summary([X], [labels], ["AE", "VE"], [1.0]), k_selection=None,
                            n_habitats=3, model_path=Path("m.json"), errors=pd.DataFrame(),
                            descriptor_names=["AE", "VE"], preprocess_qc=preprocess_qc_table([row]))
    rep = Report(tmp_path, "t")
    section_habitats(rep, imaging, None)  # no MSI feature summary in this unit test
    items = {i.key: i for s in rep.sections for i in s.items}
    table = items["preprocess_qc"]
    assert "resample; hu_clip" in table.title and "0.8 × 0.8 × 2.5" in table.body
    assert "n4_bias_min" not in table.body and "region_mean" not in table.body  # steps not run: no columns
