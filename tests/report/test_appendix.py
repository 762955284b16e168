"""The appendix titled "spec, versions and timings" shows all three."""

from __future__ import annotations

from hccrad.pipeline.appendix import report_appendix
from hccrad.pipeline.run import package_versions
from hccrad.report.document import Report


def test_appendix_shows_spec_versions_and_timings(tmp_path):
    versions = package_versions()
    appendix = report_appendix({"name": "study-x", "seed": 3}, versions,
                               {"preflight": 0.25, "imaging_habitats": 12.0, "imaging": 14.5, "models": 700.0})
    rep = Report(tmp_path, "t")
    rep.add_text(rep.section("S"), "body")
    html = rep.write(appendix).read_text()
    assert "Appendix: study spec, versions and timings" in html
    for heading in ("study spec (resolved)", "package versions", "timings per stage (wall clock)"):
        assert f"<h3>{heading}</h3>" in html, heading
    assert "name: study-x" in html
    assert "scikit-learn" in html and versions["scikit-learn"] in html and versions["numpy"] in html
    timings = appendix["timings per stage (wall clock)"].splitlines()
    assert timings[0].split() == ["preflight", "0.2", "s"]
    assert timings[3].split()[:3] == ["models", "700.0", "s"] and "(11.7 min)" in timings[3]
    assert "714.8 s" in timings[4]  # the imaging_* sub-steps are not counted twice
    assert "run.json" in timings[-1]
