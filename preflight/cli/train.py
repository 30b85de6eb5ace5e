"""``preflight train CONFIG`` and ``preflight smoke CONFIG``: audit and gate, then train.

``smoke`` is ``train`` made small (one short epoch on the smallest subset with both classes),
not ``train`` with checks off: both audit and gate the corpus first, and both exit 1 when the
gate or a monitor says no.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from preflight import signals
from preflight.cli._exit import exit_2_on_error, print_error
from preflight.cli._help import flag
from preflight.cli.interrupts import say_interrupted
from preflight.console import make_console
from preflight.errors import PreflightError

if TYPE_CHECKING:
    from preflight.pipelines.submit import Expected
    from preflight.reports.model import GateNotice
    from preflight.run_config import RunConfig

_Opt = typer.Option
_Config = Annotated[
    Path, typer.Argument(help="Run config (YAML): data, model, train, optim ... sections.")
]
_Quiet = Annotated[
    bool, flag("--quiet", "-q", help="No progress bars, audit table or epoch lines.")
]
_Html = Annotated[
    Path | None,
    _Opt("--html", help="Write an HTML report here: the audit, training curves, evaluation."),
]


def train(
    config: _Config,
    resume: Annotated[
        bool, flag("--resume", help="Continue the newest interrupted run of this config.")
    ] = False,
    quiet: _Quiet = False,
    html: _Html = None,
    run_id: Annotated[
        str | None,
        _Opt(help="The run `preflight submit` queued (set by its batch script) to continue."),
    ] = None,
    expect_fingerprint: Annotated[
        str | None,
        _Opt(help="With --run-id: refuse (exit 1) unless the re-audit finds this fingerprint."),
    ] = None,
    expect_suite_hash: Annotated[
        str | None, _Opt(help="With --run-id: refuse (exit 1) unless the suite has this hash.")
    ] = None,
) -> None:
    """Audit, gate and train: exit 0 completed, 1 the gate or a monitor said no, 2 bad input.

    Works under `torchrun --standalone --nproc_per_node N -m preflight train CONFIG` (rank 0
    reports). An interrupted run (exit 130; 143 after SIGTERM) continues with --resume.
    """
    given = [run_id, expect_fingerprint, expect_suite_hash]
    if any(v is not None for v in given) and None in given:
        print_error("--run-id, --expect-fingerprint and --expect-suite-hash go together")
        raise typer.Exit(2)
    expected = None
    if run_id is not None and expect_fingerprint is not None and expect_suite_hash is not None:
        from preflight.pipelines.submit import Expected

        expected = Expected(run_id, expect_fingerprint, expect_suite_hash)
    if expected is not None and resume:
        print_error("--resume is implied by --run-id (a requeued job continues its run)")
        raise typer.Exit(2)
    _run(config, smoke=False, resume=resume, quiet=quiet, html=html, expected=expected)


def smoke(config: _Config, quiet: _Quiet = False, html: _Html = None) -> None:
    """The whole pipeline for a few steps on the smallest subset with both classes.

    Audits and gates the corpus like `preflight train` (the same thresholds; nothing turns a
    check off), picks two recordings with seizures and two without per split from the
    manifest, and trains one epoch of a few batches on them. Recorded as a smoke run.
    Exit 0 completed, 1 the gate, the subset or a monitor said no, 2 bad input.
    """
    _run(config, smoke=True, resume=False, quiet=quiet, html=html)


def _run(
    config: Path,
    *,
    smoke: bool,
    resume: bool,
    quiet: bool,
    html: Path | None,
    expected: Expected | None = None,
) -> None:
    from preflight.manifest.runs import RunStatus
    from preflight.pipelines.smoke import smoke_config
    from preflight.pipelines.train import smoke as run_smoke  # torch: only for these commands
    from preflight.pipelines.train import train as run_train
    from preflight.reports.runs import render_epoch, render_gate, render_result
    from preflight.reports.terminal import render_audit
    from preflight.run_config import load_run_config

    console, errors = make_console(), make_console(stderr=True)
    talk = not quiet and _rank_zero()
    try:
        cfg = load_run_config(config)
        epochs = (smoke_config(cfg) if smoke else cfg).train.epochs
        on_epoch = (lambda s: render_epoch(s, epochs, console)) if talk else None

        def on_gate(notice: GateNotice) -> None:  # rank 0; told even with --quiet
            render_gate(notice, console)

        if smoke:
            result = run_smoke(cfg, progress=talk, on_epoch=on_epoch, on_gate=on_gate)
        else:
            with _requeued_if_stopped_early(cfg, expected):
                result = run_train(
                    cfg,
                    resume=resume,
                    progress=talk,
                    on_epoch=on_epoch,
                    on_gate=on_gate,
                    expected=expected,
                )
        if html is not None and result.rank == 0:
            _write_html(result.run_id, cfg, html)
    except PreflightError as exc:
        print_error(str(exc))
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        if signals.received() is not None:
            raise  # a signal: the command's interrupt handler says so (cli.interrupts)
        errors.print(
            "[yellow]interrupted[/yellow]: continue from the last checkpoint with "
            f"`preflight train {escape(str(config))} --resume`"
        )
        raise typer.Exit(130) from None
    if result.rank == 0:
        gate_failed = result.status is RunStatus.GATE_FAILED
        if talk and gate_failed and result.audit is not None:
            render_audit(result.audit, console)  # the gate said no: show why, split by split
        render_result(result, console)
        if html is not None:
            console.print(f"HTML report: {escape(str(html))}")
    if result.status is RunStatus.INTERRUPTED:  # SIGTERM at a batch all ranks agreed on
        say_interrupted("SIGTERM", "smoke" if smoke else "train")
    if expected is not None:  # a submitted run that SIGTERM stopped: back into the queue
        from preflight.pipelines.submit import requeue_interrupted

        sys.stdout.flush()
        with exit_2_on_error():
            requeue_interrupted(cfg, result)
    raise typer.Exit(result.exit_code)


@contextmanager
def _requeued_if_stopped_early(config: RunConfig, expected: Expected | None) -> Iterator[None]:
    """A submitted run that SIGTERM stopped outside its training loop (job-start audit, gate,
    cache build, final evaluation) goes back into the queue: rank 0 requeues its Slurm job on
    the way out.

    Whatever the signal surfaced as counts (``Interrupted``, or a collective that failed once
    another rank had left). A stop inside training returns a result instead, requeued by
    ``requeue_interrupted``.
    """
    try:
        yield
    except BaseException:
        stop = signals.received()
        if expected is not None and stop is not None and stop.name == "SIGTERM" and _rank_zero():
            from preflight.pipelines.submit import requeue_before_training

            sys.stdout.flush()
            requeue_before_training(config, expected.run_id)
        raise


def _rank_zero() -> bool:
    """Whether this is rank 0; a malformed RANK counts as 0, so its error is shown."""
    try:
        return int(os.environ.get("RANK") or "0") == 0
    except ValueError:
        return True


def _write_html(run_id: str, config: RunConfig, path: Path) -> None:
    """The run's HTML report (``pipelines.train.run_page``), written atomically."""
    from preflight.pipelines.train import run_page
    from preflight.reports.json_report import write_text_atomic

    manifest = config.data.manifest_path
    write_text_atomic(path, run_page(manifest, run_id))
