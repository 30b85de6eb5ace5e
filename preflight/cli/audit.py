"""``preflight audit SOURCE``: scan a corpus into the manifest and report per split."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from preflight.errors import PreflightError
from preflight.manifest.windows import WindowParams
from preflight.pipelines.audit import audit as run_audit
from preflight.pipelines.discover import SourceFormat
from preflight.pipelines.scan import ScanOptions
from preflight.reports.json_report import write_text_atomic
from preflight.reports.model import AuditReport
from preflight.reports.terminal import render_audit
from preflight.validators.results import Verdict


def audit(
    source: Annotated[Path, typer.Argument(help="Corpus root folder (recordings + annotations).")],
    fmt: Annotated[
        SourceFormat, typer.Option("--format", help="Which readers to use.")
    ] = SourceFormat.AUTO,
    manifest: Annotated[
        Path | None,
        typer.Option(help="Manifest file [default: SOURCE/.preflight/manifest.duckdb]."),
    ] = None,
    window: Annotated[float, typer.Option(help="Window length in seconds.", min=0.001)] = 10.0,
    stride: Annotated[
        float | None,
        typer.Option(help="Window stride in seconds [default: the window].", min=0.001),
    ] = None,
    min_overlap: Annotated[
        float, typer.Option(help="Seizure seconds a window needs to be positive (0: any).", min=0)
    ] = 0.0,
    labels_only: Annotated[
        bool, typer.Option("--labels-only", help="Audit from annotation files alone.")
    ] = False,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="Write the JSON report here.")
    ] = None,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes [default: cores].", min=1)
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")] = False,
) -> None:
    """Scan headers and annotations into the manifest, then report statistics per split."""
    console = Console()
    params = WindowParams(window_s=window, stride_s=stride or window, min_overlap_s=min_overlap)
    options = ScanOptions(
        fmt=fmt, labels_only=labels_only, window=params, workers=workers, progress=not quiet
    )
    try:
        report = run_audit(source, manifest=manifest, options=options)
    except PreflightError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    _emit(report, console, json_out, quiet)
    if report.totals.recordings == 0:
        Console(stderr=True).print(
            f"[red]error:[/red] no usable recording in {escape(str(source))}; "
            "every input was rejected (see the list above)"
        )
        raise typer.Exit(2)
    raise typer.Exit(0 if report.verdict is Verdict.PASS else 1)


def _emit(report: AuditReport, console: Console, json_out: Path | None, quiet: bool) -> None:
    if not quiet:
        render_audit(report, console)
    if json_out is not None:
        try:
            write_text_atomic(json_out, report.to_json())
        except PreflightError as exc:
            Console(stderr=True).print(f"[red]error:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
