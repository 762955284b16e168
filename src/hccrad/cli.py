"""The `hccrad` command line: thin Typer commands, each parsing options and calling one library function.

Pipeline stages, in order: ingest → preprocess → habitats → features → selection → models → evaluate →
report. `hccrad run STUDY.yaml` runs them all; `hccrad demo` does it on the built-in synthetic cohort.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from hccrad import __version__
from hccrad.core.errors import HccradError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help=(
        "hccrad — habitat radiomics, models and paper-grade evaluation for HCC treatment response.\n\n"
        "Pipeline stages: ingest → preprocess → habitats → features → selection → models → evaluate → "
        "report. `hccrad run STUDY.yaml` runs every stage; `hccrad demo` runs them on a synthetic cohort."
    ),
)
console = Console(stderr=True)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING, format="%(name)s: %(message)s",
        handlers=[RichHandler(console=console, show_time=False, show_path=False)], force=True,
    )


class _Bars:
    """A rich progress bar per named step, driven by `progress(step, done, total)` callbacks."""

    def __init__(self) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "_Bars":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def __call__(self, step: str, done: int, total: int) -> None:
        if step not in self.tasks:
            self.tasks[step] = self.progress.add_task(step, total=total)
        self.progress.update(self.tasks[step], completed=done, total=total)


def _fail(exc: HccradError) -> None:
    console.print(f"[bold red]error:[/] {exc}", highlight=False)
    raise typer.Exit(code=2)


@app.callback()
def main(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log every step (debug level)."),
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    _setup_logging(verbose)
    if version:
        typer.echo(__version__)
        raise typer.Exit()


@app.command()
def validate(study: Path = typer.Argument(..., help="Study spec (YAML).")) -> None:
    """Check a study spec and its input files; report every problem at once (with YAML line numbers)."""
    from hccrad.config import load_spec

    try:
        spec = load_spec(study)
    except HccradError as exc:
        _fail(exc)
    console.print(f"[green]OK[/]: {study} — study {spec.name!r}, {len(spec.models)} model(s)")


@app.command()
def synth(
    out: Path = typer.Option(..., "--out", help="Folder to write the cohort into."),
    n: int = typer.Option(150, "--n", help="Number of cases."),
    seed: int = typer.Option(0, "--seed", help="Random seed (same seed, same cohort)."),
    test_fraction: float = typer.Option(0.3, help="Fraction of cases in the internal_test cohort."),
    delayed: bool = typer.Option(False, help="Also write a delayed phase."),
    misregistration_mm: float = typer.Option(0.0, help="Random rigid shift between phases (mm)."),
) -> None:
    """Generate a synthetic multi-phase CT cohort with planted habitats and known outcome models."""
    from hccrad.synth import generate_cohort

    try:
        with _Bars() as bars:
            res = generate_cohort(out, n=n, seed=seed, delayed=delayed, misregistration_mm=misregistration_mm,
                                  cohorts={"training": 1 - test_fraction, "internal_test": test_fraction},
                                  progress=lambda i, total: bars("synthetic cases", i, total))
    except HccradError as exc:
        _fail(exc)
    typer.echo(str(res.manifest))


@app.command()
def run(
    study: Path = typer.Argument(..., help="Study spec (YAML)."),
    out: Optional[Path] = typer.Option(None, "--out", help="Output folder (default: the spec's output_dir)."),
) -> None:
    """Run every stage of a study and write the report; prints the path of report/index.html."""
    from hccrad.config import load_spec
    from hccrad.pipeline.run import run_study

    try:
        spec = load_spec(study)
        with _Bars() as bars:
            result = run_study(spec, out_dir=out, progress=bars)
    except HccradError as exc:
        _fail(exc)
    console.print(f"[green]report:[/] {result.report}")
    typer.echo(str(result.report))


@app.command()
def demo(
    out: Path = typer.Option(Path("hccrad-demo"), "--out", help="Folder for the cohort and the results."),
    n: int = typer.Option(60, "--n", help="Number of synthetic cases."),
    seed: int = typer.Option(0, "--seed", help="Random seed."),
    bootstrap: Optional[int] = typer.Option(None, help="Bootstrap resamples (default: the demo spec's)."),
) -> None:
    """Generate the synthetic cohort, write the seed-000 demo study and run it end to end."""
    from hccrad.pipeline.run import run_demo

    try:
        with _Bars() as bars:
            result = run_demo(out, n=n, seed=seed, bootstrap=bootstrap, progress=bars)
    except HccradError as exc:
        _fail(exc)
    console.print(f"[green]report:[/] {result.report}")
    typer.echo(str(result.report))


def entry() -> None:  # pragma: no cover - console-script shim
    try:
        app()
    except HccradError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)
