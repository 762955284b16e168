"""`hccrad report OUT` (issue 26) against the report `hccrad run` wrote: shared by the stage tests."""

from __future__ import annotations


def rebuilt_report_is_the_same(out, section: str) -> None:
    """`hccrad report OUT` (issue 26) rebuilds the run's report from OUT/results: the same tables byte for
    byte and the same figures (redrawn from the recorded data); a tampered record is refused."""
    import json
    import re
    import shutil

    import pytest
    from typer.testing import CliRunner

    from hccrad.cli import app
    from hccrad.pipeline.records import RecordError
    from hccrad.pipeline.results import load_results

    report = out / "report"
    before = {p.relative_to(report): p.read_bytes() for p in report.rglob("*") if p.suffix in (".csv", ".png")}
    sections = re.findall(r"<h2[^>]*>(.*?)</h2>", (report / "index.html").read_text())
    shutil.rmtree(report)
    res = CliRunner().invoke(app, ["report", str(out)])
    assert res.exit_code == 0, res.output
    after = {p.relative_to(report): p.read_bytes() for p in report.rglob("*") if p.suffix in (".csv", ".png")}
    assert sorted(after) == sorted(before)
    changed = [str(name) for name in before if after[name] != before[name]]
    assert not changed, f"not identical after `hccrad report`: {changed}"
    assert re.findall(r"<h2[^>]*>(.*?)</h2>", (report / "index.html").read_text()) == sections
    tampered = out.parent / f"{out.name}_tampered"
    shutil.copytree(out / "results", tampered / "results")
    path = tampered / "results" / f"{section}.json"
    doc = json.loads(path.read_text())
    doc["value"]["fields"]["injected"] = 1
    path.write_text(json.dumps(doc))
    with pytest.raises(RecordError, match="has no field 'injected'") as err:
        load_results(tampered)
    assert err.value.field == f"{section}.injected" and err.value.file.endswith(f"results/{section}.json")
