"""Rendering training runs with rich: a line per epoch, the outcome, the run history."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from preflight.cluster.slurm import SchedulerState, log_path
from preflight.manifest.runs import RunRecord, RunStatus
from preflight.reports.model import AuditReport
from preflight.reports.training import evaluation, event_lines
from preflight.results import Severity

if TYPE_CHECKING:
    from preflight.pipelines.train import RunResult

__all__ = [
    "render_epoch",
    "render_job",
    "render_result",
    "render_run",
    "render_runs",
    "render_submit",
    "status_text",
]

_STYLE = {
    RunStatus.COMPLETED: "green",
    RunStatus.RUNNING: "cyan",
    RunStatus.STOPPED_BY_MONITOR: "red",
    RunStatus.GATE_FAILED: "red",
    RunStatus.FAILED: "red",
    RunStatus.QUEUED: "cyan",
    RunStatus.INTERRUPTED: "yellow",
    RunStatus.CANCELLED: "yellow",
}


def status_text(run: RunRecord, state: SchedulerState | None) -> str:
    """The run's own status, merged with its job's state when a scheduler holds it
    (``running · RUNNING``; ``running · CANCELLED`` tells of a job that ended unrecorded)."""
    style = _STYLE[run.status]
    own = f"[{style}]{run.status}[/{style}]"
    if run.job_id is None or state is None:
        return own
    return f"{own} · {state}"


def _number(value: Any, spec: str = ".4f") -> str:
    return "-" if value is None else format(value, spec)


def render_epoch(summary: dict[str, Any], epochs: int, console: Console) -> None:
    """One line for a finished epoch: training loss, validation metrics, batch counts."""
    val = summary.get("validation") or {}
    console.print(
        f"epoch {summary['epoch']}/{epochs}  step {summary['step']}  "
        f"loss {_number(summary.get('train_loss'))}  lr {summary['lr']:.2e}  |  "
        f"val loss {_number(val.get('loss'))}  AUROC {_number(val.get('auroc'), '.3f')}  "
        f"predicted + {_number(val.get('positive_rate'), '.1%')}  "
        f"recall {_number(val.get('recall'), '.2f')}  |  "
        f"batches with positives {summary['with_positives']}/{summary['batches']}  "
        f"{summary['seconds']:.1f} s"
    )


def render_result(result: RunResult, console: Console) -> None:
    """The run's outcome: the gate, warnings worth reading, the status and why, the best file."""
    if result.audit is not None:
        report = result.audit
        warned = sum(not c.passed for c in report.checks)
        console.print(
            f"gate: {report.verdict} ({len(report.checks)} checks, {warned} not passed), "
            f"manifest {escape(report.manifest.path)}"
        )
    for record in result.monitors:
        if (
            not record.passed
            and record.severity is Severity.WARNING
            and "warm-up" not in (record.message)
        ):
            console.print(f"[yellow]WARNING[/yellow] {record.name}: {escape(record.message)}")
    events = evaluation(result.metrics)
    if events is not None:
        for line in event_lines(events):
            console.print(escape(line))
    style = _STYLE[result.status]
    console.print(
        f"\nRun {result.run_id}: [bold {style}]{result.status.upper()}[/bold {style}]  "
        f"{escape(result.message)}"
    )
    if result.best_checkpoint:
        console.print(f"best checkpoint: {escape(result.best_checkpoint)}")


def render_runs(
    runs: list[RunRecord], console: Console, states: dict[str, SchedulerState] | None = None
) -> None:
    """A table of runs, oldest first (``render_run`` shows one in full).

    Args:
        runs: the runs.
        console: where to print.
        states: the scheduler's state per job id, for runs ``preflight submit`` queued.
    """
    jobs = any(run.job_id for run in runs)
    table = Table(title="Training runs", title_justify="left")
    table.add_column("run", no_wrap=True, min_width=22)
    table.add_column("status", no_wrap=True, min_width=27 if jobs else 18)  # + the job's state
    if jobs:
        table.add_column("job", no_wrap=True, min_width=8)
    table.add_column("started", no_wrap=True, min_width=11)
    table.add_column("epochs", justify="right", no_wrap=True, min_width=6)
    table.add_column("best", no_wrap=True, min_width=11)
    table.add_column("message", overflow="ellipsis", no_wrap=True, max_width=48)
    for run in runs:
        best = run.checkpoints.get("best") or {}
        score = f"{best['by']} {abs(best['score']):.3f}" if best.get("score") is not None else "-"
        state = (states or {}).get(run.job_id or "")
        table.add_row(
            run.run_id,
            status_text(run, state),
            *([f"{run.scheduler} {run.job_id}" if run.job_id else "-"] if jobs else []),
            f"{run.started:%m-%d %H:%M}",
            str(len(run.metrics)),
            score,
            escape(run.message or ""),
        )
    console.print(table)
    if not runs:
        console.print("no run recorded in this manifest yet; start one with `preflight train`")


def render_run(run: RunRecord, console: Console) -> None:
    """One run: status, where, per-epoch metrics, monitor decisions that failed, checkpoints."""
    style = _STYLE[run.status]
    console.print(
        f"Run {run.run_id} ({run.kind}): [bold {style}]{run.status.upper()}[/bold {style}]"
    )
    console.print(f"  {escape(run.message or '')}")
    ended = f", finished {run.finished:%Y-%m-%d %H:%M:%S}" if run.finished else ""
    console.print(f"  started {run.started:%Y-%m-%d %H:%M:%S}{ended}, audit {run.audit_id}")
    if run.run_dir:
        console.print(f"  folder {escape(run.run_dir)}")
    model = run.config.get("model", {})
    console.print(f"  model {model.get('name')} {escape(str(model.get('kwargs', {})))}")
    if run.metrics:
        console.print(_epoch_table(run.metrics))
    events = evaluation(run.metrics)
    if events is not None:
        for line in event_lines(events):
            console.print(escape(line))
    failed = [m for m in run.monitors if not m["passed"]]
    console.print(
        f"monitor decisions: {len(run.monitors)}, failed: {len(failed)}"
        + ("" if failed else " (all passed)")
    )
    for record in failed:
        colour = "red" if record["severity"] == "error" else "yellow"
        console.print(
            f"  [{colour}]{record['severity'].upper()}[/{colour}] {record['name']} "
            f"(epoch {record['epoch'] + 1}, step {record['step']}): {escape(record['message'])}"
        )
    for path in run.checkpoints.get("kept", []):
        console.print(f"  checkpoint {escape(path)}")
    best = run.checkpoints.get("best")
    if best:
        console.print(f"  best {escape(best['path'])} ({best['by']} at epoch {best['epoch']})")


def _epoch_table(metrics: list[dict[str, Any]]) -> Table:
    table = Table(title="Epochs", title_justify="left")
    columns = ("epoch", "step", "loss", "val loss", "AUROC", "pred +", "recall", "+batches")
    for name in columns:
        table.add_column(name, justify="right")
    for m in metrics:
        val = m.get("validation") or {}
        table.add_row(
            str(m["epoch"]),
            str(m["step"]),
            _number(m.get("train_loss")),
            _number(val.get("loss")),
            _number(val.get("auroc"), ".3f"),
            _number(val.get("positive_rate"), ".1%"),
            _number(val.get("recall"), ".2f"),
            f"{m['with_positives']}/{m['batches']}",
        )
    return table


def render_job(run: RunRecord, state: SchedulerState | None, console: Console) -> None:
    """Where a submitted run went: the job id and state, its log, and the batch script."""
    if run.scheduler is None:
        return
    job = run.job_id or "none (the gate failed, so nothing was queued)"
    console.print(f"{run.scheduler} job {job}: {state or SchedulerState.UNKNOWN}")
    settings = ", ".join(f"{k} {v}" for k, v in (run.cluster or {}).items() if v not in (None, []))
    console.print(f"  resources: {escape(settings)}")
    if run.job_id and run.run_dir:
        console.print(f"  log {escape(str(log_path(run.run_dir, run.job_id)))}")
    if run.script:
        console.print(f"  script {escape(run.script)}")
        try:
            text = Path(run.script).read_text(encoding="utf-8")
        except OSError as exc:
            text = f"(cannot read the script: {exc.strerror})"
        console.print(escape(text), highlight=False, soft_wrap=True)


def render_submit(
    report: AuditReport,
    console: Console,
    *,
    status: RunStatus,
    message: str,
    run_id: str | None,
    job_id: str | None,
    script: Path | None,
) -> None:
    """What ``preflight submit`` did: the gate's verdict, then the job or why there is none."""
    warned = sum(not c.passed for c in report.checks)
    console.print(
        f"gate: {report.verdict} ({len(report.checks)} checks, {warned} not passed), "
        f"manifest {escape(report.manifest.path)}"
    )
    if status is RunStatus.GATE_FAILED:
        console.print(f"[bold red]NOT SUBMITTED[/bold red]  {escape(message)}")
        return
    if job_id is None:
        console.print(f"[cyan]dry run[/cyan]: {escape(message)}")
        return
    console.print(f"Run {run_id}: [bold cyan]QUEUED[/bold cyan]  {escape(message)}")
    console.print(f"script {escape(str(script))}")
    console.print(f"follow it with `preflight runs`; stop it with `preflight runs cancel {run_id}`")
