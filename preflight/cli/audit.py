"""``preflight audit SOURCE``: scan, split and gate a corpus, and report in every format."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from preflight.config import PreflightConfig, load_config
from preflight.errors import ConfigError, PreflightError, UsageError
from preflight.manifest.store import Manifest, default_path
from preflight.pipelines.audit import audit as run_audit
from preflight.pipelines.audit import scan_options
from preflight.pipelines.discover import SourceFormat
from preflight.pipelines.split import SplitMethod, parse_ratios
from preflight.reports.json_report import write_text_atomic
from preflight.reports.model import AuditReport
from preflight.reports.terminal import render_audit
from preflight.sources.parquet import LabelClass, ParquetOptions, parse_label_map
from preflight.validators.results import Verdict

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
    console, errors = Console(), Console(stderr=True)
    try:
        tables = {
            "label_column": label_column, "label_map": _label_map(label_map),
            "group_column": group_column, "split_column": split_column,
            "sample_column": sample_column,
        }  # fmt: skip
        cfg = _config(config, fmt, window, stride, min_overlap, labels_only, split, seed, ratios)
        cfg = _with_parquet(cfg, tables)
        target = manifest if manifest is not None else default_path(source)
        refuse_writing_over(target, json_out, junit, markdown, html)
        options = scan_options(cfg.audit, workers=workers, progress=not quiet)
        report = run_audit(source, manifest=manifest, options=options, config=cfg, suite=suite)
        if not quiet:
            render_audit(report, console)
        write_reports(report, json_out, junit, markdown, html)
    except PreflightError as exc:
        errors.print(f"[red]error:[/red] {escape(str(exc))}")
        raise typer.Exit(2) from None
    if report.totals.recordings == 0:
        errors.print(
            f"[red]error:[/red] no usable recording in {escape(str(source))}; "
            "every input was rejected (see the list above)"
        )
        raise typer.Exit(2)
    raise typer.Exit(0 if report.verdict is Verdict.PASS else 1)


def _config(
    path: Path | None,
    fmt: SourceFormat | None,
    window: float | None,
    stride: float | None,
    min_overlap: float | None,
    labels_only: bool,
    split: SplitMethod | None,
    seed: int | None,
    ratios: str | None,
) -> PreflightConfig:
    """The config file (or defaults) with the command-line flags that were given on top."""
    cfg = load_config(path) if path is not None else PreflightConfig()
    audit_over = {
        k: v
        for k, v in {
            "format": fmt, "window_s": window, "stride_s": stride, "min_overlap_s": min_overlap,
            "labels_only": labels_only or None,
        }.items()
        if v is not None
    }  # fmt: skip
    split_over = {
        k: v
        for k, v in {
            "method": split, "seed": seed, "ratios": parse_ratios(ratios) if ratios else None,
        }.items()
        if v is not None
    }  # fmt: skip
    try:
        return PreflightConfig.model_validate(
            {
                **cfg.model_dump(),
                "audit": {**cfg.audit.model_dump(), **audit_over},
                "split": {**cfg.split.model_dump(), **split_over},
            }
        )
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(f"options do not fit together: {problems}") from None


def _label_map(text: str | None) -> dict[int | str, LabelClass] | None:
    """``--label-map 0=positive,1=negative`` as a mapping, or None when not given."""
    if text is None:
        return None
    try:
        return parse_label_map(text)
    except ValueError as exc:
        raise ConfigError(f"--label-map: {exc}") from None


def _with_parquet(cfg: PreflightConfig, flags: Mapping[str, object]) -> PreflightConfig:
    """The config's ``parquet`` section with the Parquet flags that were given on top."""
    given = {k: v for k, v in flags.items() if v is not None}
    if not given:
        return cfg
    try:
        parquet = ParquetOptions.model_validate({**cfg.parquet.model_dump(), **given})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'parquet'}: "
            f"{e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise ConfigError(f"Parquet options do not fit together: {problems}") from None
    return cfg.model_copy(update={"parquet": parquet})


def refuse_writing_over(manifest: Path, *outputs: Path | None) -> None:
    """A report path naming the manifest (or its write-ahead log) would destroy the manifest
    and its audit and run history: refused before anything runs.

    Raises:
        UsageError: naming the option's path.
    """
    guarded = {_same_file_key(manifest), _same_file_key(Path(f"{manifest}.wal"))}
    for out in outputs:
        if out is not None and _same_file_key(out) in guarded:
            raise UsageError(
                "a report cannot be written over the manifest (it holds the audit and run "
                "history); choose another file name",
                path=out,
            )


def _same_file_key(path: Path) -> object:
    """What identifies the file ``path`` names: (device, inode) when it exists, else the
    absolute path with links resolved."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    return (st.st_dev, st.st_ino)


def write_reports(
    report: AuditReport,
    json_out: Path | None,
    junit: Path | None,
    markdown: Path | None,
    html: Path | None,
) -> None:
    """Render the one report into each file asked for (imports only what is needed)."""
    if json_out is not None:
        write_text_atomic(json_out, report.to_json())
    if junit is not None:
        from preflight.reports.junit import render_junit

        write_text_atomic(junit, render_junit(report))
    if markdown is not None:
        from preflight.reports.markdown import render_markdown

        write_text_atomic(markdown, render_markdown(report))
    if html is not None:
        from preflight.reports.html import render_html
        from preflight.reports.plots import collect_plot_data

        with Manifest.open(report.manifest.path, read_only=True) as m:
            extras = collect_plot_data(m)
        write_text_atomic(html, render_html(report, extras))
