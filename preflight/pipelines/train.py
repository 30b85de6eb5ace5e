"""``train``: audit, gate and, only if the gate passed, train. The API of ``preflight train``.

The order is the point::

    audit (incremental scan, split, gate)  ->  gate failed: record the run, return (exit 1)
                                           ->  passed: cache, datasets, model, optimizer
    epochs: guarded batches -> validation -> monitors -> checkpoint -> run row
            a monitor failing stops the run (exit 1) with a diagnosis

Under torchrun rank 0 audits, builds the cache and writes every row, checkpoint and report; the
other ranks wait and learn each decision from it (``distributed.World``). On CPU a run is
deterministic for its seed, and ``resume=True`` continues the newest interrupted run of the same
config from its newest readable checkpoint, ending with the weights an uninterrupted run has.

``smoke`` is the same path made small (``preflight.pipelines.smoke``): the same audit and gate,
then one short epoch on the smallest subset of recordings that holds both classes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from preflight import signals
from preflight.data.montage import check_recordings
from preflight.errors import NoUsableInputError, PreflightError, UsageError
from preflight.manifest.audits import last_audit_id
from preflight.manifest.runs import (
    RunStatus,
    get_run,
    new_run_id,
    resumable_runs,
    set_status,
    start_run,
)
from preflight.manifest.store import Manifest, ManifestKind
from preflight.pipelines.audit import audit, last_report, scan_options
from preflight.pipelines.smoke import check_subset, choose_files, choose_subset, smoke_config
from preflight.pipelines.submit import Expected, adopt, check_submitted, refuse
from preflight.progress import EpochBar
from preflight.reports.model import AuditReport, GateNotice, RunResult
from preflight.results import Severity, Verdict
from preflight.run_config import RunConfig
from preflight.training import checkpoint as ckpt
from preflight.training.distributed import World
from preflight.training.eeg import build_eeg_session
from preflight.training.heldout import SplitRoles, peeking_record, split_roles
from preflight.training.loop import EpochCallback, run_epochs
from preflight.training.monitors import Monitor, MonitorRecord
from preflight.training.session import Session, Start
from preflight.training.stamps import build_stamp_session

__all__ = ["GateCallback", "GateNotice", "RunResult", "run_page", "smoke", "train"]

GateCallback = Callable[[GateNotice], None]


def run_page(
    manifest: str | Path,
    run_id: str,
    *,
    title: str | None = None,
    also: Sequence[tuple[str, AuditReport]] = (),
) -> str:
    """The HTML page of a recorded run: the audit whose gate let it train, its epochs and its
    evaluation (``reports.training.run_html``), then the audits in ``also`` (title, report).

    Raises:
        UsageError: no such run, or its audit is not in the manifest.
    """
    from preflight.reports.training import run_html

    with Manifest.open(manifest, read_only=True) as m:
        run = get_run(m, run_id)
        report = last_report(m, run.audit_id)
    return run_html(manifest, run, report, title=title, also=also)


@dataclass(frozen=True)
class _GateFailed:
    run_id: str
    message: str


def train(
    config: RunConfig,
    *,
    resume: bool = False,
    progress: bool = False,
    on_epoch: EpochCallback | None = None,
    on_gate: GateCallback | None = None,
    expected: Expected | None = None,
) -> RunResult:
    """Audit the corpus, gate it, and train only if the gate passed.

    Args:
        config: the run config (``preflight.run_config.load_run_config``).
        resume: continue the newest interrupted run of this config instead of starting one.
        progress: show progress bars for the scan, the gate, the cache build and each epoch.
        on_epoch: called on rank 0 after every finished epoch with its summary (the dict stored
            in the run's metrics); raising in it interrupts the run as a kill would.
        on_gate: called on rank 0 once the gate decided, before anything is built, with what
            it decided (the splits' roles, the run resumed).
        expected: in a job ``preflight submit`` queued: the run to continue and the manifest
            fingerprint and suite hash its gate passed; a re-audit that finds others refuses
            the run (gate_failed) before any model is built.

    Seeds torch's global generator (``train.seed``) as a training script does, and turns on
    ``torch.use_deterministic_algorithms`` on the CPU for the run (restored afterwards).

    Returns:
        The result; ``exit_code`` is 0 when completed, 1 when the gate failed or a monitor
        stopped the run.

    Raises:
        UsageError: an input or setting the run cannot use (the CLI exits 2); with ``resume``,
            no interrupted run of this config, no readable checkpoint, or a changed corpus.
        NoUsableInputError: the corpus holds no usable recording at all.
        ManifestError: the manifest cannot be opened or is locked.
    """
    return _run(
        config,
        resume=resume,
        progress=progress,
        on_epoch=on_epoch,
        on_gate=on_gate,
        smoke=False,
        expected=expected,
    )


def smoke(
    config: RunConfig,
    *,
    progress: bool = False,
    on_epoch: EpochCallback | None = None,
    on_gate: GateCallback | None = None,
) -> RunResult:
    """The whole pipeline, for a few steps, on the smallest subset with both classes.

    Audits and gates the corpus exactly as ``train`` does (same thresholds, nothing skipped),
    then chooses from the manifest, per split, the two shortest recordings with seizures and
    the two shortest without, from different patients, and trains one epoch of a few batches
    on them with every monitor, the batch guard, a checkpoint, validation and the event scores.
    The run is recorded in the manifest with kind ``smoke``.

    Args:
        config: the run config a real run would use (its epochs and steps are reduced here).
        progress: show progress bars.
        on_epoch: as for ``train``.
        on_gate: as for ``train``.

    Returns:
        The result: exit code 0 when the smoke run completed; 1 when the gate failed, the subset
        cannot hold both classes, or a monitor stopped it.

    Raises:
        As ``train``.
    """
    small = smoke_config(config)
    return _run(
        small, resume=False, progress=progress, on_epoch=on_epoch, on_gate=on_gate, smoke=True
    )


def _run(
    config: RunConfig,
    *,
    resume: bool,
    progress: bool,
    on_epoch: EpochCallback | None,
    on_gate: GateCallback | None,
    smoke: bool,
    expected: Expected | None = None,
) -> RunResult:
    world = World.from_env(config.train.device)
    deterministic = torch.are_deterministic_algorithms_enabled()
    try:
        holder: dict[str, AuditReport] = {}
        decided = world.on_main(
            lambda: _audit_and_gate(config, resume, progress, holder, smoke, expected)
        )
        report = holder.get("report")
        if on_gate is not None and report is not None:  # rank 0: say it before building
            on_gate(_notice(report, decided))
        if isinstance(decided, _GateFailed):  # nothing was built: no model, no device memory
            return RunResult(
                decided.run_id, RunStatus.GATE_FAILED, decided.message, world.rank, report
            )
        world.bind_device()
        if world.device.type == "cpu":
            _deterministic(True)
        return _train(config, world, decided, report, progress, on_epoch)
    finally:
        _deterministic(deterministic)
        world.close()


def _notice(report: AuditReport, decided: Start | _GateFailed) -> GateNotice:
    """What the gate decided, for ``on_gate``."""
    if isinstance(decided, _GateFailed):
        refused = None if report.verdict is Verdict.FAIL else decided.message
        return GateNotice(report, refused=refused)
    resumed = None
    if decided.resume_from is not None and decided.resume_at is not None:
        resumed = (decided.run_id, decided.resume_from, *decided.resume_at)
    return GateNotice(
        report, train=decided.train_split, validation=decided.val_splits,
        held_out=decided.held_out_splits, resumed=resumed,
        subset=None if decided.subset is None else len(decided.subset),
    )  # fmt: skip


def _ended_by(exc: BaseException) -> tuple[RunStatus, str]:
    """A signal (or Ctrl-C) interrupts a run, resumable; anything else fails it."""
    stop = signals.received()
    if stop is not None or isinstance(exc, KeyboardInterrupt):
        name = stop.name if stop is not None else "KeyboardInterrupt"
        return RunStatus.INTERRUPTED, (
            f"interrupted by {name}; resume from the newest checkpoint with --resume"
        )
    return RunStatus.FAILED, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _deterministic(mode: bool) -> None:
    """``torch.use_deterministic_algorithms(mode)``, without importing Inductor to do it.

    The public call imports ``torch._inductor`` (2-4 s here) only to set its ``deterministic``
    flag for ``torch.compile``; preflight never compiles, so unless Inductor is already loaded
    (a user's model compiles) only the flag the eager kernels read is set, as torch itself does.
    """
    if "torch._inductor" in sys.modules:
        torch.use_deterministic_algorithms(mode)
    else:
        torch._C._set_deterministic_algorithms(mode)


def _build_session(config: RunConfig, world: World, start: Start, *, progress: bool) -> Session:
    """The EEG session for a manifest of recordings, the stamp session for Parquet tables."""
    with Manifest.open(start.manifest, read_only=True) as m:
        tables = m.kind is ManifestKind.TABLES
    build = build_stamp_session if tables else build_eeg_session
    return build(config, world, start, progress=progress)


def _train(
    config: RunConfig,
    world: World,
    start: Start,
    report: AuditReport | None,
    progress: bool,
    on_epoch: EpochCallback | None,
) -> RunResult:
    """Build and run; any failure marks the run failed (then propagates)."""
    try:
        session = _build_session(config, world, start, progress=progress)
        bar = EpochBar(config.train.epochs, enabled=progress and world.is_main)
        status, message = run_epochs(session, on_epoch, bar)
    except BaseException as exc:
        if world.is_main:
            status, why = _ended_by(exc)
            with contextlib.suppress(PreflightError):  # the original error is the one to see
                set_status(start.manifest, start.run_id, status, why)
        raise
    best = session.book.best.get("path")
    return RunResult(
        run_id=start.run_id, status=status, message=message, rank=world.rank, audit=report,
        metrics=session.book.history, monitors=session.book.monitors,
        checkpoints=session.book.kept, best_checkpoint=best, run_dir=start.run_dir,
        evaluation=session.book.evaluation,
    )  # fmt: skip


def _audit_and_gate(
    config: RunConfig,
    resume: bool,
    progress: bool,
    holder: dict[str, AuditReport],
    smoke: bool,
    expected: Expected | None = None,
) -> Start | _GateFailed:
    """Rank 0: audit, gate, and record the run (new, resumed, or refused by the gate)."""
    kind = "smoke" if smoke else "train"
    manifest = config.data.manifest_path
    options = scan_options(config.audit, progress=progress)
    report = audit(
        config.data.source, manifest=manifest, options=options, config=config.preflight_config()
    )
    holder["report"] = report
    if report.totals.recordings == 0:
        raise NoUsableInputError(
            "every input was rejected, so there is nothing to train on; see "
            "`preflight report` for the rejected list",
            path=config.data.source,
        )
    recorded = json.loads(config.model_dump_json())
    with Manifest.open(manifest, read_only=True) as m:
        audit_id = last_audit_id(m)
    if expected is not None:  # a submitted run: the corpus must be the one its gate passed
        refused = check_submitted(report, expected, manifest, recorded)
        if refused is not None:
            refuse(manifest, expected.run_id, refused, config=recorded, audit_id=audit_id)
            return _GateFailed(expected.run_id, refused)
    if report.verdict is Verdict.FAIL:
        run_id, message = new_run_id(), _gate_message(report)
        start_run(
            manifest, run_id, config=recorded, audit_id=audit_id, run_dir=None,
            status=RunStatus.GATE_FAILED, message=message, kind=kind,
        )  # fmt: skip
        return _GateFailed(run_id, message)
    roles, fraction = _splits(config, report)
    train_split, val_splits = roles.train, roles.validation
    subset = None
    if smoke:
        subset, refused = _smoke_subset(config, manifest, roles)
        if refused is not None:
            run_id = new_run_id()
            start_run(
                manifest, run_id, config=recorded, audit_id=audit_id, run_dir=None,
                status=RunStatus.GATE_FAILED, message=refused, kind=kind,
            )  # fmt: skip
            return _GateFailed(run_id, refused)
    fingerprint = report.manifest.fingerprint
    start = Start(
        run_id="", manifest=manifest, run_dir=Path(), fingerprint=fingerprint,
        suite_hash=str(report.provenance.get("suite_hash")), train_split=train_split,
        val_splits=val_splits, held_out_splits=roles.held_out, train_fraction=fraction,
        subset=subset, notes=tuple(r for r in (peeking_record(roles),) if r is not None),
    )  # fmt: skip
    if expected is not None:
        run_dir = (config.checkpoint.dir or manifest.parent / "runs") / expected.run_id
        return adopt(start, expected.run_id, config=recorded, audit_id=audit_id, run_dir=run_dir)
    if resume:
        return _resumed(start, recorded)
    run_id = new_run_id()
    run_dir = (config.checkpoint.dir or manifest.parent / "runs") / run_id
    start_run(manifest, run_id, config=recorded, audit_id=audit_id, run_dir=run_dir, kind=kind)
    return dataclasses.replace(start, run_id=run_id, run_dir=run_dir)


def _smoke_subset(
    config: RunConfig, manifest: Path, roles: SplitRoles
) -> tuple[tuple[int, ...], str | None]:
    """A smoke run's recordings (files, for a table source), and why they cannot make one.

    The held-out splits get their few recordings too, so the smoke run scores them once at
    the end as a real run does; only the training and validation splits must hold both classes.
    """
    train_split, val_splits = roles.train, roles.validation
    splits = (train_split, *val_splits, *roles.held_out)
    with Manifest.open(manifest, read_only=True) as m:
        table = m.kind is ManifestKind.TABLES
        if table:
            subset = choose_files(m, splits)
        else:
            montage = config.preprocess.preprocessing().montage
            subset = choose_subset(m, splits, check_recordings(m, montage, splits).usable)
    return subset.recordings, check_subset(subset, train_split, val_splits, table=table)


def _gate_message(report: AuditReport) -> str:
    """The failed error-severity checks, each in one sentence."""
    failed = [c for c in report.checks if not c.passed and c.severity is Severity.ERROR]
    listed = "; ".join(f"{c.name}: {c.message}" for c in failed)
    return f"the gate failed {len(failed)} check(s), so no model was built: {listed}"


def _splits(config: RunConfig, report: AuditReport) -> tuple[SplitRoles, float]:
    """The roles of the splits (``heldout.split_roles``), and the training split's positive
    fraction.

    Raises:
        UsageError: a validation or held-out split the manifest lacks, or none to validate on.
    """
    roles = split_roles(
        train=config.gate.train_split, available=report.splits,
        evaluation=config.gate.evaluation_splits, validation=config.validation.splits,
        held_out=config.validation.held_out,
    )  # fmt: skip
    stats = report.splits[roles.train]
    return roles, stats.positive_windows / max(stats.windows, 1)


def _resumed(start: Start, recorded: dict[str, Any]) -> Start:
    """The newest interrupted run of this config, and its newest readable checkpoint.

    Raises:
        UsageError: no such run; its config differs; no checkpoint loads; the corpus changed.
    """
    with Manifest.open(start.manifest, read_only=True) as m:
        candidates = resumable_runs(m)
    same = [r for r in candidates if r.config == recorded]
    if not same:
        if candidates:
            newest = candidates[0]
            keys = ", ".join(_differences(newest.config, recorded)[:8])
            raise UsageError(
                f"nothing to resume with this config: the newest interrupted run "
                f"{newest.run_id} had another one (differs at {keys})",
                path=start.manifest,
            )
        raise UsageError(
            "nothing to resume: the manifest holds no interrupted run; start without --resume",
            path=start.manifest,
        )
    run = same[0]
    run_dir = Path(run.run_dir or "")
    payload, path, problems = ckpt.latest_readable(run_dir)
    if payload is None or path is None:
        found = f": {'; '.join(problems)}" if problems else ""
        raise UsageError(f"run {run.run_id} has no readable checkpoint{found}", path=run_dir)
    if payload["manifest_fingerprint"] != start.fingerprint:
        raise UsageError(
            f"the corpus changed since {path.name} was written (manifest fingerprint "
            f"{payload['manifest_fingerprint'][:12]} then, {start.fingerprint[:12]} now): the "
            f"run would not continue on the same data; start a new run",
            path=path,
        )
    notes = _fallback_notes(payload, path, problems)
    set_status(start.manifest, run.run_id, RunStatus.RUNNING, f"resumed from {path.name}")
    return dataclasses.replace(
        start, run_id=run.run_id, run_dir=run_dir, resume_from=path, notes=notes,
        resume_at=(int(payload["epoch"]), int(payload["step"])),
    )  # fmt: skip


def _fallback_notes(
    payload: dict[str, Any], path: Path, problems: list[str]
) -> tuple[MonitorRecord, ...]:
    """A warning record when newer checkpoints could not be read and an older one is used."""
    if not problems:
        return ()
    return (
        MonitorRecord(
            name=Monitor.CHECKPOINT_FALLBACK, epoch=int(payload["epoch"]),
            step=int(payload["step"]), severity=Severity.WARNING, passed=False,
            observed=problems, expected="the newest checkpoint readable",
            message=f"resumed from {path.name}: {len(problems)} newer checkpoint(s) unreadable "
            f"({'; '.join(problems)})",
        ),
    )  # fmt: skip


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    out: list[str] = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            out.append(f"{prefix}{key}")
    return out
