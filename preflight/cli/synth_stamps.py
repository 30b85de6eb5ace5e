"""``preflight synth DIR --layout stamps``: write a tiered lens-finder stamp dataset (Parquet).

``synth_stamps`` is a typer command function: ``preflight synth`` calls it for ``--layout
stamps`` (or it can be registered as a command of its own).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from preflight.console import make_console
from preflight.errors import UsageError
from preflight.synth.stamps import StampCorpus, StampDefect, StampSpec, synthesize_stamps

__all__ = ["audit_hint", "synth_stamps"]

_DEFAULT = StampSpec()


def synth_stamps(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write; must be new or empty (see --force).")
    ],
    files: Annotated[
        int, typer.Option(help="Parquet files per tier (debug, train, dev).", min=1)
    ] = _DEFAULT.files_per_tier,
    rows: Annotated[int, typer.Option(help="Stamps per file.", min=1)] = _DEFAULT.rows_per_file,
    row_group_rows: Annotated[
        int, typer.Option(help="Rows per Parquet row group.", min=1)
    ] = _DEFAULT.row_group_rows,
    control_fraction: Annotated[
        float, typer.Option(help="Share of controls (is_control = 1) per tier.", min=0, max=1)
    ] = _DEFAULT.control_fraction,
    seed: Annotated[int, typer.Option(help="Same seed, same stamps.", min=0)] = _DEFAULT.seed,
    defect: Annotated[
        list[StampDefect] | None, typer.Option(help="Plant a defect; repeatable.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Replace an earlier synthetic stamp dataset in DIR.")
    ] = False,
) -> None:
    """Write debug/train/dev tiers of Parquet stamp files and their truth file."""
    try:
        spec = StampSpec(
            files_per_tier=files,
            rows_per_file=rows,
            row_group_rows=row_group_rows,
            control_fraction=control_fraction,
            seed=seed,
            defects=frozenset(defect or ()),
        )
        began = time.perf_counter()
        corpus = synthesize_stamps(directory, spec, overwrite=force)
    except UsageError as error:
        make_console(stderr=True).print(
            f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
        )
        raise typer.Exit(2) from None
    summary = _summary(corpus, time.perf_counter() - began)
    make_console().print(summary, markup=False, highlight=False, soft_wrap=True)


def audit_hint(corpus: StampCorpus) -> str:
    """The audit command for this dataset (with the proposed ``audit`` Parquet options)."""
    options = corpus.options()
    return (
        f"preflight audit {corpus.root} --format parquet --label-column {options.label_column} "
        f"--label-map 0=positive,1=negative --group-column {options.group_column} "
        f"--sample-column {options.sample_column}"
    )


def _summary(corpus: StampCorpus, seconds: float) -> str:
    """What was written, per tier, where the truth is, and how to audit it."""
    tiers = "; ".join(
        f"{name} {t.files} files, {t.positives} lenses / {t.negatives} controls"
        for name, t in corpus.tiers.items()
    )
    lines = [
        f"Wrote {len(corpus.files)} Parquet files to {corpus.root} in {seconds:.1f} s: {tiers}."
    ]
    if corpus.spec.defects:
        lines.append(f"Defects: {', '.join(sorted(corpus.spec.defects))}.")
    if corpus.bad_files:
        lines.append(f"{len(corpus.bad_files)} broken files an audit must reject.")
    lines.append(f"Truth: {corpus.truth_path}. Audit: {audit_hint(corpus)}")
    return " ".join(lines)
