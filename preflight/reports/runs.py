"""Rendering training runs with rich: a line per epoch, the outcome, the run history."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from preflight.cluster.slurm import SchedulerState, log_path
from preflight.manifest.runs import RunRecord, RunStatus
from preflight.manifest.store import ManifestKind
from preflight.reports.training import evaluation, event_lines, final_lines
from preflight.results import Severity, Verdict

if TYPE_CHECKING:
    from preflight.reports.model import AuditReport, GateNotice, RunResult

__all__ = [
    "gate_line",
    "render_epoch",
    "render_gate",
    "render_job",
    "render_result",
    "render_run",
    "render_runs",
    "render_submit",
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


def gate_line(notice: GateNotice) -> str:
    """``Gate PASS (29 checks): training on train (529 windows, 44 positive), validating on
    dev, eval held out``, or the failed checks' count and what happens next (plain text)."""
    report = notice.report
    failed = [c for c in report.checks if not c.passed and c.severity is Severity.ERROR]
    warned = sum(not c.passed and c.severity is Severity.WARNING for c in report.checks)
    counted = f"{len(report.checks)} checks" + (f", {warned} warning(s)" if warned else "")
    if failed:
        return f"Gate FAIL ({counted}, {len(failed)} failed): no model is built"
    if notice.train is None:
        return f"Gate PASS ({counted}), but {notice.refused}"
    stats = report.splits[notice.train]
    unit = "rows" if report.kind is ManifestKind.TABLES else "windows"
    held = f", {'+'.join(notice.held_out)} held out" if notice.held_out else ", nothing held out"
    subset = f"; a smoke subset of {notice.subset} recordings" if notice.subset is not None else ""
    return (
        f"Gate PASS ({counted}): training on {notice.train} ({stats.windows:,} {unit}, "
        f"{stats.positive_windows:,} positive), validating on {'+'.join(notice.validation)}"
        f"{held}{subset}"
    )


def render_gate(notice: GateNotice, console: Console) -> None:
    """The gate's verdict, before the cache, the model and the first epoch; and for a resumed
    run, which run and checkpoint it continues from."""
    passed = notice.report.verdict is Verdict.PASS and notice.refused is None
    colour = "green" if passed else "red"
    word, _, rest = gate_line(notice).partition(" ")
    verdict, _, rest = rest.partition(" ")
    console.print(f"{word} [bold {colour}]{verdict}[/] {escape(rest)}", highlight=False)
    if notice.resumed is not None:
        run_id, path, epoch, step = notice.resumed
        console.print(
            f"Resuming run {run_id} from {escape(str(path))} (epoch {epoch} done, step {step})",
            highlight=False,
        )


def render_result(result: RunResult, console: Console) -> None:
    """The run's outcome: warnings worth reading, the evaluation, the status and why, the best
    file (the gate's verdict was told before training: ``render_gate``)."""
    for record in result.monitors:
        if (
            not record.passed
            and record.severity is Severity.WARNING
            and "warm-up" not in (record.message)
        ):
            console.print(f"[yellow]WARNING[/yellow] {record.name}: {escape(record.message)}")
    _evaluation(result.evaluation, result.metrics, console)
    style = _STYLE[result.status]
    console.print(
        f"\nRun {result.run_id}: [bold {style}]{result.status.upper()}[/bold {style}]  "
        f"{escape(result.message)}"
    )
    if result.best_checkpoint:
        console.print(f"best checkpoint: {escape(result.best_checkpoint)}")


def _evaluation(
    final: dict[str, Any] | None, metrics: list[dict[str, Any]], console: Console
) -> None:
    """The evaluation after training (validation, then held out), or an older run's events."""
    if final is not None:
        lines = final_lines(final)
    else:
        events = evaluation(metrics)
        lines = [] if events is None else event_lines(events)
    for line in lines:
        console.print(escape(line))


def render_runs(
    runs: list[RunRecord], console: Console, states: dict[str, SchedulerState] | None = None
) -> None:
    """The runs, oldest first, one line each and the message indented below it.

    Columns of fixed content (id, kind, status, epochs, best score) stay whole at 80 columns;
    the message, the one part of any length, gets a line of its own and wraps only there. A run
    ``preflight submit`` queued shows its job's state beside its own (``running · RUNNING``)
    and its job id on the message line. ``render_run`` shows one run in full.

    Args:
        runs: the runs.
        console: where to print.
        states: the scheduler's state per job id, for runs ``preflight submit`` queued.
    """
    header = ("run", "kind", "status", "epochs", "best")
    rows = [
        (
            run.run_id, run.kind, status_text(run, (states or {}).get(run.job_id or "")),
            _epochs(run), _best(run), _STYLE[run.status], _job_and_message(run),
        )
        for run in runs
    ]  # fmt: skip
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(header)]
    console.print(f"Training runs ({len(runs)}), oldest first", style="bold", highlight=False)
    console.print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    for run_id, kind, status, epochs, best, style, message in rows:
        cells = [run_id.ljust(widths[0]), kind.ljust(widths[1])]
        line = Text("  ".join(cells) + "  ")
        line.append(status.ljust(widths[2]), style=style)
        line.append(f"  {epochs.rjust(widths[3])}  {best}".rstrip())
        console.print(line, highlight=False)
        if message:
            console.print(Text(f"    {message}"), highlight=False)
    if not runs:
        console.print("no run recorded in this manifest yet; start one with `preflight train`")


def status_text(run: RunRecord, state: SchedulerState | None) -> str:
    """The run's own status, merged with its job's state when a scheduler holds it
    (``running · RUNNING``; ``running · CANCELLED`` tells of a job that ended unrecorded)."""
    if run.job_id is None or state is None:
        return str(run.status)
    return f"{run.status} · {state}"


def _job_and_message(run: RunRecord) -> str:
    job = f"{run.scheduler} job {run.job_id}" if run.job_id else ""
    return "; ".join(part for part in (job, run.message or "") if part)


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


def _epochs(run: RunRecord) -> str:
    """Epochs done of those configured (``6/6``; ``0`` when the gate refused the run)."""
    planned = (run.config.get("train") or {}).get("epochs")
    done = len(run.metrics)
    return f"{done}/{planned}" if planned and run.status is not RunStatus.GATE_FAILED else str(done)


def _best(run: RunRecord) -> str:
    best = run.checkpoints.get("best") or {}
    return f"{best['by']} {abs(best['score']):.3f}" if best.get("score") is not None else "-"


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
    _evaluation(run.evaluation, run.metrics, console)
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
