"""``preflight synth DIR``: write a synthetic corpus with known statistics.

``--layout tusz|chbmit|bids`` writes EEG recordings and annotations; ``--layout stamps`` writes
tiers of Parquet image stamps.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from preflight.cli._exit import exit_2_on_error, print_error
from preflight.cli._help import flag
from preflight.console import make_console
from preflight.synth.spec import Defect, Layout, SynthSpec
from preflight.synth.stamps import StampDefect, StampSpec

__all__ = ["SynthLayout", "synth"]

_DEFAULT = SynthSpec()
_STAMPS = StampSpec()


class SynthLayout(StrEnum):
    """``--layout``: the EEG layouts (``synth.corpus.Layout``) and Parquet image stamps."""

    TUSZ = Layout.TUSZ.value
    CHBMIT = Layout.CHBMIT.value
    BIDS = Layout.BIDS.value
    STAMPS = "stamps"


_DEFAULT_LAYOUT = SynthLayout(_DEFAULT.layout.value)
_D = TypeVar("_D", Defect, StampDefect)
_DEFECTS = (
    f"EEG: {', '.join(d.value for d in Defect)}; stamps: {', '.join(d.value for d in StampDefect)}"
)


def synth(
    directory: Annotated[
        Path, typer.Argument(help="Folder to write; must be new or empty (see --force).")
    ],
    layout: Annotated[
        SynthLayout, typer.Option(help="Corpus layout to imitate (stamps: Parquet tiers).")
    ] = _DEFAULT_LAYOUT,
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
        int | None, typer.Option(help="EDF signals \\[default: the layout's montage].")
    ] = None,
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = _DEFAULT.seed,
    sparse: Annotated[
        bool, flag("--sparse", help="Header-only EDFs over a file hole (for scan benchmarks).")
    ] = False,
    files: Annotated[
        int, typer.Option(help="Stamps: Parquet files per tier (debug, train, dev).", min=1)
    ] = _STAMPS.files_per_tier,
    rows: Annotated[
        int, typer.Option(help="Stamps: rows per file.", min=1)
    ] = _STAMPS.rows_per_file,
    row_group_rows: Annotated[
        int, typer.Option(help="Stamps: rows per Parquet row group.", min=1)
    ] = _STAMPS.row_group_rows,
    control_fraction: Annotated[
        float,
        typer.Option(help="Stamps: share of controls (is_control = 1) per tier.", min=0, max=1),
    ] = _STAMPS.control_fraction,
    defect: Annotated[
        list[str] | None, typer.Option(help=f"Plant a defect; repeatable ({_DEFECTS}).")
    ] = None,
    force: Annotated[
        bool,
        flag(
            "--force", help="Replace an earlier synthetic corpus in DIR (other files are refused)."
        ),
    ] = False,
) -> None:
    """Write a synthetic corpus (EDF + annotations, or Parquet stamp tiers) and its truth file."""
    # Imported here: NumPy and pyarrow are for writing a corpus, not for `--help`.
    from preflight.reports.synth import corpus_summary, stamps_summary
    from preflight.synth.corpus import synthesize
    from preflight.synth.stamps import synthesize_stamps

    began = time.perf_counter()
    if layout is SynthLayout.STAMPS:
        with exit_2_on_error():
            stamp_spec = StampSpec(
                files_per_tier=files, rows_per_file=rows, row_group_rows=row_group_rows,
                control_fraction=control_fraction, seed=seed,
                defects=frozenset(_defects(defect, StampDefect)),
            )  # fmt: skip
            stamps = synthesize_stamps(directory, stamp_spec, overwrite=force)
        _say(stamps_summary(stamps, time.perf_counter() - began))
        return
    with exit_2_on_error():
        spec = SynthSpec(
            layout=Layout(layout.value),
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
            defects=frozenset(_defects(defect, Defect)),
        )
        corpus = synthesize(directory, spec, overwrite=force)
    _say(corpus_summary(corpus, time.perf_counter() - began))


def _say(summary: str) -> None:
    make_console().print(summary, markup=False, highlight=False, soft_wrap=True)


def _defects(given: list[str] | None, kind: type[_D]) -> list[_D]:
    """``--defect`` values as the layout's defects; another value exits 2 naming the choices."""
    out = []
    for value in given or ():
        try:
            out.append(kind(value))
        except ValueError:
            choices = ", ".join(d.value for d in kind)
            print_error(f"--defect {value!r} is not a defect of this layout (choices: {choices})")
            raise typer.Exit(2) from None
    return out
