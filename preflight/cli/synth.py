"""``preflight synth DIR``: write a synthetic seizure corpus with known statistics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from preflight.errors import UsageError
from preflight.pipelines.synth import Defect, Layout, SynthCorpus, SynthSpec, synthesize

__all__ = ["synth"]

_DEFAULT = SynthSpec()


def synth(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write; must be new or empty (see --force).")
    ],
    layout: Annotated[Layout, typer.Option(help="Corpus layout to imitate.")] = _DEFAULT.layout,
    patients: Annotated[
        int | None,
        typer.Option(
            help="Patients per split (TUSZ train/dev/eval; unsplit layouts get 3x in total). "
            f"Default {_DEFAULT.train_patients}/{_DEFAULT.dev_patients}/{_DEFAULT.eval_patients}.",
        ),
    ] = None,
    recordings: Annotated[
        int, typer.Option(help="Recordings per patient.")
    ] = _DEFAULT.recordings_per_patient,
    min_duration: Annotated[
        int, typer.Option(help="Shortest recording (whole seconds).")
    ] = _DEFAULT.min_duration_s,
    max_duration: Annotated[
        int, typer.Option(help="Longest recording (whole seconds).")
    ] = _DEFAULT.max_duration_s,
    seizure_rate: Annotated[
        float, typer.Option(help="Fraction of recordings with seizures (per split).")
    ] = _DEFAULT.seizure_rate,
    sampling_rate: Annotated[
        list[int] | None,
        typer.Option(help="Sampling rate in Hz; repeat to mix rates. Default 256."),
    ] = None,
    channels: Annotated[
        int | None, typer.Option(help="EDF signals (default: the layout's montage).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = _DEFAULT.seed,
    sparse: Annotated[
        bool, typer.Option(help="Header-only EDFs over a file hole (for scan benchmarks).")
    ] = False,
    defect: Annotated[list[Defect] | None, typer.Option(help="Plant a defect; repeatable.")] = None,
    force: Annotated[
        bool,
        typer.Option(help="Replace an earlier synthetic corpus in DIR (other files are refused)."),
    ] = False,
) -> None:
    """Write a synthetic seizure corpus (EDF + annotations) and its truth file."""
    try:
        spec = SynthSpec(
            layout=layout,
            train_patients=_DEFAULT.train_patients if patients is None else patients,
            dev_patients=_DEFAULT.dev_patients if patients is None else patients,
            eval_patients=_DEFAULT.eval_patients if patients is None else patients,
            recordings_per_patient=recordings,
            min_duration_s=min_duration,
            max_duration_s=max_duration,
            seizure_rate=seizure_rate,
            sampling_rates=tuple(sampling_rate or _DEFAULT.sampling_rates),
            n_channels=channels,
            seed=seed,
            sparse=sparse,
            defects=frozenset(defect or ()),
        )
        began = time.perf_counter()
        corpus = synthesize(directory, spec, overwrite=force)
    except UsageError as error:
        message = f"[bold red]error:[/] {escape(str(error))}"
        Console(stderr=True).print(message, highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    summary = _summary(corpus, time.perf_counter() - began)
    Console().print(summary, markup=False, highlight=False, soft_wrap=True)


def _summary(corpus: SynthCorpus, seconds: float) -> str:
    """One paragraph: what was written, where, and where the truth is."""
    totals = corpus.summary()["totals"]
    splits = ", ".join(
        f"{name} {stats['recordings']}" for name, stats in corpus.summary()["splits"].items()
    )
    kind = "sparse " if corpus.spec.sparse else ""
    lines = [
        f"Wrote {totals['recordings']} {kind}{corpus.spec.layout} recordings "
        f"({totals['hours']:.1f} h, {totals['patients']} patients"
        + (f"; {splits}" if splits else "")
        + f") to {corpus.root} in {seconds:.1f} s.",
        f"{totals['events']} seizures in {totals['positive_recordings']} recordings "
        f"({totals['positive_hours'] * 60:.1f} min of seizure).",
    ]
    if corpus.spec.defects:
        defects = ", ".join(sorted(corpus.spec.defects))
        lines.append(f"Defects: {defects}; {totals['rejected']} inputs an audit must reject.")
    lines.append(f"Truth: {corpus.truth_path}")
    return " ".join(lines)
