"""``submit``: audit and gate here, and queue the training on Slurm only if the gate passed.

The order is the point: the queue and the accelerators are spent only on a corpus that passed::

    audit (incremental scan, split, gate) on this host, CPU only
        gate failed  ->  record the run (gate_failed), return: sbatch is never called (exit 1)
        passed       ->  record the run (queued), write the batch script beside it, sbatch,
                         record the job id, the script and the resources in the run's row
    at job start     ->  every rank runs ``preflight train CONFIG --run-id R
                         --expect-fingerprint F --expect-suite-hash H``; rank 0 re-audits
                         (unchanged files are not read again) and ``check_submitted`` refuses
                         (exit 1, before any model) if the corpus, the suite or the config
                         changed since; ``adopt`` continues R (from its newest checkpoint when
                         the job was requeued)

``sbatch --parsable`` is called directly rather than through submitit: the job must run
``preflight train`` under torchrun across nodes with a rendezvous on the first node, which is a
shell script to begin with, and submitit's pickled-callable model has nothing to add to it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from preflight.cluster import slurm
from preflight.errors import NoUsableInputError, PreflightError, UsageError
from preflight.manifest.audits import last_audit_id
from preflight.manifest.runs import (
    RunRecord,
    RunStatus,
    list_runs,
    new_run_id,
    set_job,
    set_status,
    start_run,
)
from preflight.manifest.store import Manifest
from preflight.pipelines.audit import audit, scan_options
from preflight.reports.model import AuditReport
from preflight.results import Severity, Verdict
from preflight.run_config import ClusterConfig, RunConfig, load_run_config
from preflight.training import checkpoint as ckpt
from preflight.training.eeg import Start

if TYPE_CHECKING:
    from preflight.pipelines.train import RunResult

__all__ = [
    "SCRIPT_NAME",
    "Expected",
    "SubmitResult",
    "adopt",
    "check_submitted",
    "gate_message",
    "refuse",
    "requeue_before_training",
    "requeue_interrupted",
    "submit",
]

SCRIPT_NAME = "slurm.sbatch"  # in the run's folder
_ADOPTABLE = (RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.INTERRUPTED, RunStatus.FAILED)


@dataclass(frozen=True)
class Expected:
    """What the gate passed at submit time; the job checks it before building anything.

    Attributes:
        run_id: the run ``submit`` recorded (the job continues it).
        fingerprint: the manifest fingerprint the gate passed.
        suite_hash: the hash of the expectation suite it ran.
    """

    run_id: str
    fingerprint: str
    suite_hash: str


@dataclass(frozen=True)
class SubmitResult:
    """How a submission ended.

    Attributes:
        run_id: the run's id (its row; None for a dry run that passed: nothing was recorded).
        status: queued, or gate_failed.
        message: the gate's failed checks, or where the job went.
        audit: the audit report whose gate decided.
        script: the batch script's text (None when the gate failed).
        script_path: where it was written (None for a dry run or a failed gate).
        job_id: Slurm's job id (None unless queued).
        cluster: the resources asked for.
    """

    run_id: str | None
    status: RunStatus
    message: str
    audit: AuditReport
    script: str | None = None
    script_path: Path | None = None
    job_id: str | None = None
    cluster: ClusterConfig | None = None

    @property
    def exit_code(self) -> int:
        """0 when queued (or a dry run's gate passed), 1 when the gate said no."""
        return 1 if self.status is RunStatus.GATE_FAILED else 0


def submit(
    config_path: str | Path,
    *,
    cluster: dict[str, Any] | None = None,
    dry_run: bool = False,
    progress: bool = False,
) -> SubmitResult:
    """Audit and gate on this host; only if the gate passed, queue the training on Slurm.

    Args:
        config_path: the run config (its ``cluster`` section gives the resources).
        cluster: settings that override the config's ``cluster`` section (the CLI flags).
        dry_run: audit, gate and render the script, but record and submit nothing.
        progress: show the scan's progress bar.

    Returns:
        The result; ``exit_code`` 1 when the gate failed (nothing was queued).

    Raises:
        ConfigError: the config or a cluster setting is invalid.
        NoUsableInputError: every input was rejected.
        SchedulerError: sbatch is missing or refused the script (the run is marked failed).
        ManifestError: the manifest cannot be opened or is locked.
    """
    path = Path(config_path).absolute()
    config = load_run_config(path)
    resources = ClusterConfig.model_validate(config.cluster.model_dump() | (cluster or {}))
    manifest = config.data.manifest_path
    options = scan_options(config.audit, progress=progress)
    report = audit(
        config.data.source, manifest=manifest, options=options, config=config.preflight_config()
    )
    if report.totals.recordings == 0:
        raise NoUsableInputError(
            "every input was rejected, so there is nothing to train on", path=config.data.source
        )
    recorded = json.loads(config.model_dump_json())  # what the job will load from the file
    settings = json.loads(resources.model_dump_json())
    run_id = new_run_id()
    if report.verdict is Verdict.FAIL:
        message = gate_message(report)
        if not dry_run:
            _record(manifest, run_id, recorded, RunStatus.GATE_FAILED, message, None)
            set_job(manifest, run_id, scheduler="slurm", job_id=None, script=None, cluster=settings)
        return SubmitResult(run_id, RunStatus.GATE_FAILED, message, report, cluster=resources)
    run_dir = (config.checkpoint.dir or manifest.parent / "runs") / run_id
    spec = slurm.JobSpec(
        run_id=run_id, config=path, run_dir=run_dir.absolute(), workdir=Path.cwd(),
        fingerprint=report.manifest.fingerprint,
        suite_hash=str(report.provenance.get("suite_hash")), cluster=resources,
        torchrun=_torchrun(),
    )  # fmt: skip
    script = slurm.render_script(spec)
    if dry_run:
        return SubmitResult(
            None, RunStatus.QUEUED, "nothing recorded or submitted", report, script,
            cluster=resources,
        )  # fmt: skip
    script_path = run_dir / SCRIPT_NAME
    run_dir.mkdir(parents=True, exist_ok=True)
    script_path.write_text(script, encoding="utf-8")
    queued = "submitted to Slurm; the job re-checks the corpus before it trains"
    _record(manifest, run_id, recorded, RunStatus.QUEUED, queued, run_dir)  # before the job
    set_job(manifest, run_id, scheduler="slurm", job_id=None, script=script_path, cluster=settings)
    try:
        job_id = slurm.sbatch(script_path)
    except PreflightError as exc:
        set_status(manifest, run_id, RunStatus.FAILED, exc.message)
        raise
    set_job(
        manifest, run_id, scheduler="slurm", job_id=job_id, script=script_path, cluster=settings
    )
    message = f"queued as Slurm job {job_id}; log {slurm.log_path(run_dir, job_id)}"
    return SubmitResult(
        run_id, RunStatus.QUEUED, message, report, script, script_path, job_id, resources
    )


def _torchrun() -> Path:
    """The torchrun beside this interpreter (the job runs preflight from this environment)."""
    beside = Path(sys.executable).parent / "torchrun"
    if beside.exists():
        return beside
    found = shutil.which("torchrun")
    if found is None:
        raise UsageError("torchrun not found beside this Python or on PATH; is torch installed?")
    return Path(found)


def _record(
    manifest: Path,
    run_id: str,
    config: dict[str, Any],
    status: RunStatus,
    message: str,
    run_dir: Path | None,
) -> None:
    with Manifest.open(manifest, read_only=True) as m:
        audit_id = last_audit_id(m)
    start_run(
        manifest, run_id, config=config, audit_id=audit_id, run_dir=run_dir, status=status,
        message=message,
    )  # fmt: skip


def gate_message(report: AuditReport) -> str:
    """The failed error-severity checks, each in one sentence."""
    failed = [c for c in report.checks if not c.passed and c.severity is Severity.ERROR]
    listed = "; ".join(f"{c.name}: {c.message}" for c in failed)
    return f"the gate failed {len(failed)} check(s), so nothing was queued: {listed}"


def check_submitted(
    report: AuditReport, expected: Expected, manifest: Path, config: dict[str, Any]
) -> str | None:
    """Rank 0, at job start: why the submitted run must not train, or None when it may.

    Refuses when the manifest fingerprint or the suite hash differs from the gate's at submit
    time (the corpus or the suite changed while the job waited), when the run config file
    changed, or when the re-audit's gate fails.

    Raises:
        UsageError: no such run, or one that already ended (a script run twice).
    """
    run = _row(manifest, expected.run_id)
    if run is not None and run.status not in _ADOPTABLE:
        raise UsageError(
            f"run {expected.run_id} is {run.status}; a job continues only a run that has not "
            "ended (was this script run twice?)", path=manifest,
        )  # fmt: skip
    now = report.manifest.fingerprint, str(report.provenance.get("suite_hash"))
    for what, then, seen in zip(
        ("corpus (manifest fingerprint)", "expectation suite (suite hash)"),
        (expected.fingerprint, expected.suite_hash), now, strict=True,
    ):  # fmt: skip
        if then != seen:
            return (
                f"the {what} changed since the gate passed at submit ({then[:12]} then, "
                f"{seen[:12]} now); nothing was trained: audit and submit again"
            )
    if run is not None and run.config != config:
        return "the run config changed since submit; nothing was trained: submit again"
    if report.verdict is Verdict.FAIL:
        return gate_message(report)
    return None


def adopt(
    start: Start, run_id: str, *, config: dict[str, Any], audit_id: int | None, run_dir: Path
) -> Start:
    """The submitted run continued by this job: from its newest checkpoint when it has one
    (a requeued job), else from the start; its row is marked running.

    A run id with no row (the script of ``submit --dry-run``, given to sbatch by hand) is
    recorded now, with this job's id; the fingerprint and suite checks have passed already.
    """
    job = os.environ.get("SLURM_JOB_ID")
    run = _row(start.manifest, run_id)
    if run is None:
        start_run(start.manifest, run_id, config=config, audit_id=audit_id, run_dir=run_dir)
        set_job(start.manifest, run_id, scheduler="slurm", job_id=job, script=None, cluster={})
    else:
        run_dir = Path(run.run_dir or run_dir)
    payload, path, _ = ckpt.latest_readable(run_dir)
    if payload is None or path is None:
        set_status(start.manifest, run_id, RunStatus.RUNNING, f"training in Slurm job {job}")
        return dataclasses.replace(start, run_id=run_id, run_dir=run_dir)
    message = f"resumed from {path.name} in Slurm job {job}"
    set_status(start.manifest, run_id, RunStatus.RUNNING, message)
    return dataclasses.replace(start, run_id=run_id, run_dir=run_dir, resume_from=path)


def refuse(
    manifest: Path, run_id: str, message: str, *, config: dict[str, Any], audit_id: int | None
) -> None:
    """Mark a submitted run refused at job start (gate_failed), recording it if it has no row."""
    if _row(manifest, run_id) is None:
        start_run(
            manifest, run_id, config=config, audit_id=audit_id, run_dir=None,
            status=RunStatus.GATE_FAILED, message=message,
        )  # fmt: skip
        job = os.environ.get("SLURM_JOB_ID")
        set_job(manifest, run_id, scheduler="slurm", job_id=job, script=None, cluster={})
        return
    set_status(manifest, run_id, RunStatus.GATE_FAILED, message)


def _row(manifest: Path, run_id: str) -> RunRecord | None:
    """The run with exactly this id, or None."""
    with Manifest.open(manifest, read_only=True) as m:
        return next((r for r in list_runs(m) if r.run_id == run_id), None)


def requeue_interrupted(config: RunConfig, result: RunResult) -> None:
    """After a submitted run returned: if SIGTERM interrupted it, rank 0 requeues its Slurm job,
    which then continues from the run's newest checkpoint (``adopt``). Called last (the CLI
    first prints the outcome): Slurm ends the job's processes as soon as it requeues.

    A job being cancelled is not requeued (Slurm refuses); the refusal joins the run's message.
    """
    job = os.environ.get("SLURM_JOB_ID")
    if job is None or result.rank != 0 or result.status is not RunStatus.INTERRUPTED:
        return
    manifest = config.data.manifest_path
    message = result.message
    set_status(
        manifest, result.run_id, RunStatus.INTERRUPTED, f"{message}; Slurm job {job} requeued"
    )
    refused = slurm.requeue(job)
    if refused is not None:
        set_status(
            manifest, result.run_id, RunStatus.INTERRUPTED, f"{message}; not requeued: {refused}"
        )


def requeue_before_training(config: RunConfig, run_id: str) -> None:
    """SIGTERM outside a submitted run's training loop (a time limit or a preemption during the
    job-start audit, the gate, the cache build, or the evaluation after the last epoch): requeue
    its Slurm job, which starts over from the re-audit and continues from the run's newest
    checkpoint, if one was written.

    Called by rank 0 on its way out. The run's row, when it has one, says so first; a manifest
    that cannot be written to does not stop the requeue, which is what saves the job.
    """
    job = os.environ.get("SLURM_JOB_ID")
    if job is None:
        return
    what = "interrupted by SIGTERM outside the training loop"
    _note(config.data.manifest_path, run_id, f"{what}; Slurm job {job} requeued")
    refused = slurm.requeue(job)
    if refused is not None:
        _note(config.data.manifest_path, run_id, f"{what}; not requeued: {refused}")


def _note(manifest: Path, run_id: str, message: str) -> None:
    """Mark the run interrupted with ``message`` if it can be (no row: nothing to mark)."""
    # e.g. the manifest stays locked past the wait: the requeue still goes ahead
    with contextlib.suppress(PreflightError):
        set_status(manifest, run_id, RunStatus.INTERRUPTED, message)
