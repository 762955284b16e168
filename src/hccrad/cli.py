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
from hccrad.core.errors import HccradError, InputError
from hccrad.core.runlog import PlainProgress, repeats_summarised

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
    """A rich progress bar per named step, driven by `progress(step, done, total)` callbacks; off a terminal
    (batch job, log file) plain lines with percentage and ETA instead (`hccrad.core.runlog.PlainProgress`).
    Repeated log messages and Python warnings are shown once and counted at the end (`repeats_summarised`)."""

    def __init__(self) -> None:
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeElapsedColumn(), console=console, transient=False)
        self.plain = None if console.is_terminal else PlainProgress(console.file)
        self.repeats = repeats_summarised()
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "_Bars":
        self.repeats.__enter__()
        if self.plain is None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.plain is None:
            self.progress.__exit__(*exc)
        self.repeats.__exit__(*exc)

    def __call__(self, step: str, done: int, total: int) -> None:
        if self.plain is not None:
            self.plain(step, done, total)
            return
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
    """Run every input check `run` makes (spec, files, columns, outcome coding, column types, each case's
    images and masks) and list every problem at once; exit 2 on any error, 0 with the warnings listed."""
    # lazy: CLI start-up: a command imports the library only when it runs
    from hccrad.config import load_spec
    from hccrad.pipeline.preflight import errors_of, preflight, render

    try:
        spec = load_spec(study)
        problems = preflight(spec)
    except HccradError as exc:
        _fail(exc)
    for p in problems:
        console.print(render(p), markup=False, highlight=False,
                      style="red" if p.severity == "error" else "yellow")
    n_err = len(errors_of(problems))
    if n_err:
        console.print(f"[bold red]{n_err} error(s)[/], {len(problems) - n_err} warning(s): {study} cannot run "
                      "until the errors are fixed", highlight=False)
        raise typer.Exit(code=2)
    console.print(f"[green]OK[/]: {study} — study {spec.name!r}, {len(spec.models)} model(s)"
                  + (f", {len(problems)} warning(s)" if problems else ""), highlight=False)


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
    # lazy: CLI start-up: a command imports the library only when it runs
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
    synth_n: Optional[int] = typer.Option(None, "--synth", help=(
        "If the spec's manifest does not exist yet, first generate a synthetic cohort of this many cases "
        "there (so an example study runs with one command).")),
    set_: list[str] = typer.Option([], "--set", help=(
        "Override a spec setting without editing the file, e.g. --set validation.bootstrap=50 "
        "--set deep.epochs=5 (value read as YAML; repeatable).")),
) -> None:
    """Run every stage of a study and write the report; prints the path of report/index.html."""
    # lazy: CLI start-up: a command imports the library only when it runs
    from hccrad.config import load_spec
    from hccrad.pipeline.run import run_study

    try:
        if synth_n is not None:
            # lazy: CLI start-up: a command imports the library only when it runs
            from hccrad.pipeline.run import synth_for_spec

            synth_for_spec(study, synth_n)
        spec = load_spec(study, overrides=set_)
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
    # lazy: CLI start-up: a command imports the library only when it runs
    from hccrad.pipeline.run import run_demo

    try:
        with _Bars() as bars:
            result = run_demo(out, n=n, seed=seed, bootstrap=bootstrap, progress=bars)
    except HccradError as exc:
        _fail(exc)
    console.print(f"[green]report:[/] {result.report}")
    typer.echo(str(result.report))


@app.command()
def report(
    out: Path = typer.Argument(..., help="Output folder of a finished `hccrad run` (holds results/ and run.json)."),
) -> None:
    """Rebuild OUT/report from the run's saved results (OUT/results) and its resolved spec (OUT/run.json),
    recomputing nothing: for style changes and re-layout. Prints the path of report/index.html."""
    # lazy: CLI start-up: a command imports the library only when it runs
    from hccrad.pipeline.reporting import rebuild_report

    try:
        path = rebuild_report(out)
    except HccradError as exc:
        _fail(exc)
    console.print(f"[green]report:[/] {path}")
    typer.echo(str(path))


def _read_table(path: Path):
    # lazy: CLI start-up: a command imports the library only when it runs
    from hccrad.io.tables import read_table  # CSV (sniffed), TSV, Parquet, Excel; clear errors

    return read_table(path)


@app.command()
def ingest(
    src: Path = typer.Argument(..., help="Cohort folder: one subfolder per patient (DICOM series / NIfTI)."),
    out: Path = typer.Option(..., "--out", help="Folder for de-identified NIfTI files and manifest.csv."),
    cohort: str = typer.Option("training", help="Cohort name written into the manifest."),
    mapping: Optional[Path] = typer.Option(
        None, help="PRIVATE mapping file: write case id -> source folder name and patient id -> DICOM "
                   "PatientID of every case to this CSV (mode 0600). The only file with identifiers: keep it "
                   "outside OUT and out of anything you share."),
    keep_source_names: bool = typer.Option(
        False, "--keep-source-names",
        help="Opt in to source names in OUT/ingest_report.csv (a 'source' column with each case folder "
             "name; series descriptions and file names in 'ignored'; the full error text with file paths "
             "relative to SRC and ROI names in 'reason'), in OUT/<case_id>/ingest.json ('source') and in "
             "log lines. They may identify patients. Off (default): only pseudonyms and roles are written."),
) -> None:
    """Ingest a cohort folder (DICOM or NIfTI) into de-identified NIfTI + manifest.csv (resumable)."""
    # lazy: CLI start-up: a command imports the library only when it runs
    from hccrad.io.ingest import ingest_folder

    try:
        with _Bars() as bars:
            res = ingest_folder(src, out, cohort=cohort, mapping_path=mapping, keep_source_names=keep_source_names,
                                progress=lambda i, total, _case: bars("cases", i, total))
    except HccradError as exc:
        _fail(exc)
    console.print(res.summary().to_string(index=False))
    if res.n_rejected:
        console.print(f"[yellow]{res.n_rejected} case(s) rejected[/]: see {res.table_path}"
                      + ("" if mapping or keep_source_names else
                         " (to find their folders, rerun with --mapping PRIVATE.csv; ingested cases are skipped)"))
    typer.echo(str(res.manifest_path))


@app.command()
def predict(
    bundle: Path = typer.Argument(..., help="Model bundle folder (or its bundle.json) written by hccrad."),
    cases: Path = typer.Argument(..., help="Table (CSV/TSV/Parquet) with one row per patient."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write predictions here (CSV); default stdout."),
    id_column: str = typer.Option("case_id", help="Patient id column."),
    sep: Optional[str] = typer.Option(None, "--sep", help=(
        "Delimiter of a CSV: ',', ';' or 'tab' (default: sniffed from the first lines; with ';' a decimal "
        "comma is accepted).")),
    allow_duplicates: bool = typer.Option(False, "--allow-duplicates", help=(
        "Score rows whose patient id appears more than once (refused by default, naming the ids).")),
) -> None:
    """Score new patients with a saved model bundle; refuses missing columns and out-of-range values."""
    # lazy: CLI start-up: a command imports the library only when it runs
    from hccrad.models.bundle import load_bundle, predict_bundle
    from hccrad.models.cases_table import read_cases_table

    try:
        model = load_bundle(bundle)
        table = read_cases_table(cases, sep=sep, id_col=id_column, required=model.input_features,
                                 allow_duplicates=allow_duplicates)
        pred = predict_bundle(model, table, id_col=id_column)
    except HccradError as exc:
        _fail(exc)
    if out is None:
        typer.echo(pred.to_csv(index=False))
    else:
        # lazy: CLI start-up: a command imports the library only when it runs
        from hccrad.pipeline.cache import atomic_write_text

        atomic_write_text(out, pred.to_csv(index=False))
        console.print(f"[green]predictions:[/] {out}")


@app.command("validate-published")
def validate_published_cmd(
    model: str = typer.Argument(..., help="Published model name (see --list) or a bundle path."),
    cases: Optional[Path] = typer.Argument(None, help="Table with the model's variables and the outcome."),
    outcome: str = typer.Option("response", help="Binary outcome column (1 = positive)."),
    list_models: bool = typer.Option(False, "--list", help="List the shipped published models and exit."),
) -> None:
    """Externally validate a published model (seed 000/001 formulas) on your own cohort."""
    # lazy: CLI start-up: a command imports the library only when it runs
    from hccrad.models.published import list_published, validate_published

    if list_models:
        typer.echo("\n".join(list_published()))
        raise typer.Exit()
    if cases is None:
        console.print("[red]error:[/] give a CASES table (or --list)")
        raise typer.Exit(code=2)
    try:
        res = validate_published(model, _read_table(cases), outcome)
    except HccradError as exc:
        _fail(exc)
    typer.echo(res.summary().to_string(index=False))


@app.command()
def serve(
    bundle: Path = typer.Argument(..., help="Model bundle folder written by hccrad."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (localhost by default)."),
    port: int = typer.Option(8000, help="Port."),
    token: Optional[str] = typer.Option(None, envvar="HCCRAD_TOKEN", help="Require this access token."),
    max_upload_mb: float = typer.Option(200, help="Largest image upload (multipart body), MiB."),
    max_json_kb: float = typer.Option(64, help="Largest JSON body of /api/predict, KiB."),
    max_json_keys: int = typer.Option(256, help="Most keys in a JSON body."),
    max_form_kb: float = typer.Option(64, help="Largest form body without image upload, KiB."),
    max_files: int = typer.Option(2000, help="Most files per form and members per zip."),
    body_timeout: float = typer.Option(15, help="Drop a request whose body pauses this many seconds (408)."),
    body_deadline: float = typer.Option(600, help="Drop a request whose body is not complete after this many seconds."),
    keep_alive: int = typer.Option(5, help="Close an idle kept-alive connection after this many seconds."),
    header_timeout: float = typer.Option(10, help="Close a connection whose request headers take longer than this."),
    max_connections: int = typer.Option(100, help="Answer 503 above this many open connections."),
    workers: int = typer.Option(4, help="Threads for scoring, image features and page rendering."),
) -> None:
    """Serve a clinician-facing web page (and JSON API) for one model bundle (limits: docs/serve.md, Security)."""
    # lazy: CLI start-up; FastAPI is optional (requirements/serve.txt)
    from hccrad.serve import serve as serve_bundle
    from hccrad.serve.guard import Limits

    try:
        limits = Limits(max_upload_bytes=int(max_upload_mb * 2**20), max_json_bytes=int(max_json_kb * 2**10),
                        max_json_keys=max_json_keys, max_form_bytes=int(max_form_kb * 2**10), max_files=max_files,
                        body_timeout_s=body_timeout, body_deadline_s=body_deadline)
    except ValueError as exc:
        _fail(InputError(str(exc), field="serve options"))
    try:
        serve_bundle(bundle, host=host, port=port, token=token, limits=limits, workers=workers,
                     keep_alive_s=keep_alive, max_connections=max_connections, header_timeout_s=header_timeout)
    except HccradError as exc:
        _fail(exc)


def entry() -> None:  # pragma: no cover - console-script shim
    try:
        app()
    except HccradError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":  # `python -m hccrad.cli ...` (without it the module ran nothing and exited 0)
    entry()
