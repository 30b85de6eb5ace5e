"""``preflight audit SOURCE``: scan, split and gate a corpus, and report in every format."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from preflight.config import SourceFormat, SplitMethod

_Opt = typer.Option


def audit(
    source: Annotated[Path, typer.Argument(help="Corpus root folder (recordings + annotations).")],
    fmt: Annotated[
        SourceFormat | None, _Opt("--format", help="Readers to use [default: auto].")
    ] = None,
    config: Annotated[
        Path | None, _Opt(help="YAML config: audit, gate and split sections.")
    ] = None,
    manifest: Annotated[
        Path | None, _Opt(help="Manifest file [default: SOURCE/.preflight/manifest.duckdb].")
    ] = None,
    suite: Annotated[
        str | None, _Opt(help="Expectation suite: seizure, binary_table or a JSON file.")
    ] = None,
    window: Annotated[
        float | None, _Opt(help="Window length (s) [default: 10].", min=0.001)
    ] = None,
    stride: Annotated[
        float | None, _Opt(help="Window stride (s) [default: the window].", min=0.001)
    ] = None,
    min_overlap: Annotated[
        float | None,
        _Opt(help="Seizure seconds a window needs to be positive [default: any].", min=0),
    ] = None,
    labels_only: Annotated[
        bool, _Opt("--labels-only", help="Audit from annotation files alone.")
    ] = False,
    no_errata: Annotated[
        bool,
        _Opt("--no-errata", help="Read annotation files as published: no errata corrections."),
    ] = False,
    split: Annotated[
        SplitMethod | None, _Opt(help="Keep the corpus's split or build a stratified one.")
    ] = None,
    seed: Annotated[int | None, _Opt(help="Seed of the stratified split.", min=0)] = None,
    ratios: Annotated[
        str | None, _Opt(help="Split ratios, e.g. train=0.7,dev=0.15,eval=0.15.")
    ] = None,
    label_column: Annotated[
        str | None, _Opt(help="Parquet: the label column [default: is_control].")
    ] = None,
    label_map: Annotated[
        str | None,
        _Opt(help="Parquet: label values to classes, e.g. 0=positive,1=negative (the default)."),
    ] = None,
    group_column: Annotated[
        str | None, _Opt(help="Parquet: rows sharing a value must share a split (leak check).")
    ] = None,
    split_column: Annotated[
        str | None, _Opt(help="Parquet: the split column [default: each file's first folder].")
    ] = None,
    sample_column: Annotated[
        str | None, _Opt(help="Parquet: the sample column (e.g. stamp_npz); must be binary.")
    ] = None,
    json_out: Annotated[Path | None, _Opt("--json", help="Write the JSON report here.")] = None,
    junit: Annotated[
        Path | None, _Opt(help="Write a JUnit XML report here (one case per check).")
    ] = None,
    markdown: Annotated[
        Path | None, _Opt(help="Write a Markdown report here (CI job summary).")
    ] = None,
    html: Annotated[Path | None, _Opt(help="Write a self-contained HTML report here.")] = None,
    workers: Annotated[int | None, _Opt(help="Worker processes [default: cores].", min=1)] = None,
    quiet: Annotated[bool, _Opt("--quiet", "-q", help="No progress bar or table.")] = False,
) -> None:
    """Scan headers and annotations, build the split, run the gate, and report per split."""
    # Imported here, so that `preflight --help` does not load DuckDB, NumPy and pyarrow.
    from preflight.cli._exit import exit_2_on_error
    from preflight.config import PreflightConfig, apply_flags, load_config
    from preflight.pipelines.audit import audit as run_audit
    from preflight.pipelines.audit import require_usable, scan_options
    from preflight.reports.files import write_reports
    from preflight.results import Verdict

    with exit_2_on_error():
        cfg = apply_flags(
            load_config(config) if config is not None else PreflightConfig(),
            audit={
                "format": fmt, "window_s": window, "stride_s": stride,
                "min_overlap_s": min_overlap, "labels_only": labels_only or None,
                "errata": False if no_errata else None,
            },
            split={"method": split, "seed": seed, "ratios": ratios},
            parquet={
                "label_column": label_column, "label_map": label_map,
                "group_column": group_column, "split_column": split_column,
                "sample_column": sample_column,
            },
        )  # fmt: skip
        options = scan_options(cfg.audit, workers=workers, progress=not quiet)
        report = run_audit(source, manifest=manifest, options=options, config=cfg, suite=suite)
        if not quiet:
            from preflight.console import make_console
            from preflight.reports.terminal import render_audit  # rich tables: not for -q

            render_audit(report, make_console())
        write_reports(report, json_out, junit, markdown, html)
        require_usable(report, source)
    raise typer.Exit(0 if report.verdict is Verdict.PASS else 1)
