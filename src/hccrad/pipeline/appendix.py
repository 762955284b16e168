"""The report's closing appendix: the resolved study spec, the package versions and the per-stage timings.

The same three things are written to run.json ("spec", "versions", "timings_s"); the appendix shows them
as text so the page documents how it was made. Timings are wall-clock seconds of each stage (imaging
sub-steps prefixed "imaging_"); the report stage itself is timed after its page is written, so the page
lists the stages before it and run.json holds the report's own time and the total.
"""

from __future__ import annotations

import yaml


def versions_text(versions: dict[str, str]) -> str:
    """One "package  version" line per package, names aligned."""
    width = max((len(k) for k in versions), default=0)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in versions.items())


def timings_text(timings: dict[str, float]) -> str:
    """One "stage  seconds" line per stage in run order, then the sum of the top-level stages shown."""
    if not timings:
        return "no stage timed"
    width = max(len(k) for k in timings)
    lines = [f"{k:<{width}}  {_seconds(v)}" for k, v in timings.items()]
    top = sum(v for k, v in timings.items() if not k.startswith("imaging_") and k != "total")
    lines.append(f"{'(stages above)':<{width}}  {_seconds(top)}")
    lines.append("report writing and the total time: run.json, timings_s (timed after this page was written)")
    return "\n".join(lines)


def _seconds(v: float) -> str:
    return f"{v:8.1f} s" if v < 600 else f"{v:8.1f} s ({v / 60:.1f} min)"


def report_appendix(spec_dump: dict, versions: dict[str, str], timings: dict[str, float]) -> dict[str, str]:
    """{heading: preformatted text} for `Report.write`: spec, versions, timings."""
    return {"study spec (resolved)": yaml.safe_dump(spec_dump, sort_keys=False),
            "package versions": versions_text(versions),
            "timings per stage (wall clock)": timings_text(timings)}
