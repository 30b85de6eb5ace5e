"""The training loop: epochs of guarded batches, validation, monitors, checkpoints.

``run_epochs`` reads top to bottom: for each epoch, train on the balanced (or natural) batches the
batch guard admits, validate, let the monitors decide, write a checkpoint and the run's row.
Everything it needs was built once, after the gate passed, into a ``Session``
(``train_setup.build_session``). The learning rate is a pure function of the step
(``learning_rate``), so a resumed run needs only the step to continue the schedule.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from preflight.data.sample import PositiveBatchSampler
from preflight.evaluation.events import event_evaluation
from preflight.manifest.runs import RunStatus, update_run
from preflight.manifest.store import Manifest
from preflight.models.registry import model_args
from preflight.results import Severity
from preflight.run_config import RunConfig
from preflight.training import checkpoint as ckpt
from preflight.training.distributed import World
from preflight.training.monitors import (
    Monitor,
    MonitorRecord,
    StepWatch,
    diagnose,
    positives_record,
    stopping,
    validation_records,
)
from preflight.training.signals import Preemption
from preflight.training.validation import model_logits, validate
from preflight.validators.batch_guard import BatchGuard, GuardResult, GuardStopped
from preflight.validators.quarantine import BATCH_QUARANTINED, quarantine_rows, record_quarantine

__all__ = [
    "EpochCallback",
    "Progress",
    "QuarantineLog",
    "Session",
    "compute_loss",
    "learning_rate",
    "run_epochs",
]

EpochCallback = Callable[[dict[str, Any]], None]


def learning_rate(step: int, *, lr: float, min_lr: float, warmup: int, total: int) -> float:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then a cosine decay to ``min_lr``.

    Args:
        step: optimizer steps done (0-based).
        lr: peak learning rate.
        min_lr: the rate at ``total`` steps and after.
        warmup: warm-up steps.
        total: all steps of the run.
    """
    if step < warmup:
        return lr * (step + 1) / (warmup + 1)
    if step >= total:
        return min_lr
    progress = (step - warmup) / max(1, total - warmup)  # in [0, 1)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * progress)) * (lr - min_lr)


def compute_loss(
    output: Any,
    y: torch.Tensor,
    mask: torch.Tensor,
    *,
    pos_weight: torch.Tensor | None,
    sample_weight: float,
) -> torch.Tensor:
    """Binary cross-entropy of the window logits, plus the per-sample one when the model has it.

    Args:
        output: the model's output (see ``train_eval.model_logits``).
        y: (B,) window labels.
        mask: (B, T) 1 inside a seizure, per sample.
        pos_weight: (1,) weight of positive terms, or None.
        sample_weight: weight of the per-sample loss; 0 leaves it out.
    """
    window, sample = model_logits(output)  # (B,), (B, T) | None
    loss = F.binary_cross_entropy_with_logits(window.float(), y, pos_weight=pos_weight)
    if sample is not None and sample_weight > 0:
        per_sample = F.binary_cross_entropy_with_logits(sample.float(), mask, pos_weight=pos_weight)
        loss = loss + sample_weight * per_sample
    return loss


class QuarantineLog:
    """A batch-guard recorder that keeps quarantines until the epoch's end, then writes them.

    Every rank keeps its own; rank 0 gathers them all and writes one transaction (only rank 0
    writes to the manifest).
    """

    def __init__(self) -> None:
        self.rows: list[tuple[int, np.ndarray | None, list[str], list[str]]] = []

    def __call__(self, step: int, result: GuardResult) -> None:
        self.rows.append((step, *quarantine_rows(result)))

    def dropped(self, step: int, ids: torch.Tensor) -> None:
        """A healthy batch skipped because another rank quarantined its batch at this step."""
        pairs = ids.numpy().astype(np.int64).reshape(-1, 2)
        message = "dropped: another rank quarantined its batch at this step"
        self.rows.append((step, pairs, [BATCH_QUARANTINED] * len(pairs), [message] * len(pairs)))

    def flush(self, world: World, manifest: Path, run_id: str) -> int:
        """Write every rank's rows into the manifest's ``quarantine`` table; returns the count."""
        rows = [row for rank_rows in world.gather(self.rows) for row in rank_rows]
        self.rows = []

        def write() -> int:
            if not rows:
                return 0
            with Manifest.open(manifest) as m, m.transaction():
                return sum(record_quarantine(m, run_id, *row) for row in rows)

        return world.on_main(write)


@dataclass
class Progress:
    """What a checkpoint restores besides the weights and the optimizer."""

    step: int = 0  # optimizer steps done
    epoch: int = 0  # epochs finished
    history: list[dict[str, Any]] = field(default_factory=list)  # one summary per epoch
    monitors: list[MonitorRecord] = field(default_factory=list)
    best: dict[str, Any] = field(default_factory=dict)  # {"by", "score", "epoch", "path"}
    kept: list[str] = field(default_factory=list)  # epoch checkpoints on disk


@dataclass
class Session:
    """Everything the loop uses, built once after the gate passed."""

    config: RunConfig
    config_json: str
    world: World
    run_id: str
    run_dir: Path
    manifest: Path
    fingerprint: str
    suite_hash: str
    train_fraction: float  # positive windows / windows of the training split
    val_name: str  # the validation split(s), "dev" or "dev+eval"
    model: nn.Module  # what trains (DDP-wrapped under torchrun)
    raw: nn.Module  # the model itself: validated, checkpointed
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler
    autocast: dict[str, Any]  # torch.autocast arguments
    train_loader: DataLoader[Any]
    batches: PositiveBatchSampler
    loader_generator: torch.Generator
    val_loader: DataLoader[Any] | None  # rank 0 only
    guard: BatchGuard
    quarantine: QuarantineLog
    pos_weight: torch.Tensor | None
    total_steps: int
    warmup_steps: int
    progress: Progress
    # Seizure corpora: SzCORE event scores of the last epoch's validation pass (train_events).
    event_scoring: bool = False
    # SIGTERM (a Slurm time limit, a preemption): every rank stops at the same batch.
    preemption: Preemption = field(default_factory=Preemption)


def run_epochs(s: Session, on_epoch: EpochCallback | None = None) -> tuple[RunStatus, str]:
    """Train from ``s.progress.epoch`` to the configured epochs, or until a monitor stops it.

    Returns:
        The final status (completed, stopped_by_monitor, or interrupted by SIGTERM) and the
        message saying why.
    """
    with s.preemption.catching():
        return _epochs(s, on_epoch)


def _epochs(s: Session, on_epoch: EpochCallback | None) -> tuple[RunStatus, str]:
    for epoch in range(s.progress.epoch, s.config.train.epochs):
        summary, records, stop = _train_epoch(s, epoch)
        if s.preemption.agreed:  # the row and the checkpoints stay at the last finished epoch
            message = (
                f"interrupted by SIGTERM in epoch {epoch + 1} after {s.progress.step} steps; "
                f"resumes from the checkpoint of epoch {s.progress.epoch}"
            )
            _write_row(s, RunStatus.INTERRUPTED, message)
            return RunStatus.INTERRUPTED, message
        if stop is None:
            measure = functools.partial(_measure, s, events=epoch == s.config.train.epochs - 1)
            metrics, events = s.world.on_main(measure)
            summary["validation"] = metrics.as_dict()
            if events is not None:
                summary["events"] = events
            records += validation_records(metrics, s.config.monitors, epoch, s.progress.step)
            stop = stopping(records)
        s.progress.monitors += records
        s.progress.history.append(summary)
        s.quarantine.flush(s.world, s.manifest, s.run_id)
        if stop is not None:
            auroc = summary.get("validation", {}).get("auroc")
            message = diagnose(stop, s.config, s.train_fraction, auroc)
            _write_row(s, RunStatus.STOPPED_BY_MONITOR, message)
            return RunStatus.STOPPED_BY_MONITOR, message
        s.progress.epoch = epoch + 1
        _checkpoint(s, summary)
        if on_epoch is not None and s.world.is_main:
            on_epoch(summary)
    message = _completion(s)
    _write_row(s, RunStatus.COMPLETED, message)
    return RunStatus.COMPLETED, message


def _train_epoch(
    s: Session, epoch: int
) -> tuple[dict[str, Any], list[MonitorRecord], MonitorRecord | None]:
    """One pass over the epoch's batches; the summary, the monitor records, a stop or None."""
    started = time.perf_counter()
    s.batches.set_epoch(epoch)  # the sample is a function of (seed, epoch) on every rank
    s.loader_generator.manual_seed(s.config.train.seed * 100_003 + epoch)
    s.model.train()
    watch = StepWatch(epoch, scaled=s.scaler.is_enabled())
    batches = with_positives = quarantined = 0
    loss_sum = 0.0
    for x, y, mask, ids in s.train_loader:  # (B, C, T), (B,), (B, T), (B, 2) on the CPU
        admitted, stop = _admit(s, x, y, ids, epoch)
        if s.preemption.agreed:
            return {}, [], None
        if admitted:
            loss, grad_norm = _step(s, x, y, mask)
            stop = watch.observe(s.progress.step, loss, grad_norm)
        if stop is not None:  # agreed by every rank: they all leave the loop here
            return _summary(s, epoch, started, batches, with_positives, loss_sum), [stop], stop
        if not admitted:
            quarantined += 1
            continue
        s.scaler.step(s.optimizer)
        s.scaler.update()
        s.optimizer.zero_grad(set_to_none=True)
        s.progress.step += 1
        batches += 1
        with_positives += bool((y == 1).any())
        loss_sum += loss
    summary = _summary(s, epoch, started, batches, with_positives, loss_sum)
    summary["quarantined"] = int(s.world.sum(quarantined)[0])
    records = watch.records(s.progress.step)
    records.append(
        positives_record(epoch, s.progress.step, summary["batches"], summary["with_positives"])
    )
    return summary, records, None


def _admit(
    s: Session, x: torch.Tensor, y: torch.Tensor, ids: torch.Tensor, epoch: int
) -> tuple[bool, MonitorRecord | None]:
    """Guard one batch; every rank skips the step if any rank quarantined its batch."""
    stopped: GuardStopped | None = None
    try:
        passed = s.guard.admit(x, y, ids, step=s.progress.step).passed
    except GuardStopped as exc:
        passed, stopped = False, exc
    quarantined, halt, s.preemption.agreed = s.world.any_rank(
        not passed, stopped is not None, s.preemption.requested
    )
    if halt:
        message = stopped.message if stopped is not None else "another rank's batch guard stopped"
        return False, MonitorRecord(
            name=Monitor.BATCH_GUARD, epoch=epoch, step=s.progress.step, severity=Severity.ERROR,
            passed=False, observed={"batches": s.guard.stats.batches,
                                    "quarantined": s.guard.stats.quarantined},
            expected=f"<= {s.guard.max_quarantine_fraction:.1%} quarantined", message=message,
        )  # fmt: skip
    if quarantined and passed:
        s.quarantine.dropped(s.progress.step, ids)
    return not quarantined, None


def _step(s: Session, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
    """Forward, backward and clip (the optimizer steps after the monitors agree).

    Returns:
        The loss averaged over ranks, and the gradient norm before clipping.
    """
    lr = learning_rate(
        s.progress.step, lr=s.config.optim.lr, min_lr=s.config.optim.min_lr,
        warmup=s.warmup_steps, total=s.total_steps,
    )  # fmt: skip
    for group in s.optimizer.param_groups:
        group["lr"] = lr
    device = s.world.device
    x, y, mask = (t.to(device, non_blocking=True) for t in (x, y, mask))
    with torch.autocast(**s.autocast):
        output = s.model(x)  # SeizureOutput: window (B,), sample (B, T)
    loss = compute_loss(
        output, y, mask, pos_weight=s.pos_weight, sample_weight=s.config.train.sample_loss_weight
    )
    s.scaler.scale(loss).backward()
    s.scaler.unscale_(s.optimizer)
    clip = s.config.optim.grad_clip or math.inf
    grad_norm = float(nn.utils.clip_grad_norm_(s.model.parameters(), clip))  # same on all ranks
    (total,) = s.world.sum(float(loss.detach()))  # NaN on any rank makes the sum NaN
    return total / s.world.size, grad_norm


def _summary(
    s: Session, epoch: int, started: float, batches: int, with_positives: int, loss_sum: float
) -> dict[str, Any]:
    """The epoch's training figures, summed over ranks."""
    all_batches, all_positive, all_loss = s.world.sum(batches, with_positives, loss_sum)
    return {
        "epoch": epoch + 1,
        "step": s.progress.step,
        "lr": s.optimizer.param_groups[0]["lr"],
        "train_loss": all_loss / all_batches if all_batches else None,
        "batches": int(all_batches),
        "with_positives": int(all_positive),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _measure(s: Session, *, events: bool) -> tuple[Any, dict[str, Any] | None]:
    """Rank 0's validation pass (the other ranks receive its result).

    Returns:
        The validation metrics, and with ``events`` on a seizure corpus, the event-level
        evaluation (``train_events.event_evaluation``); else None.
    """
    if s.val_loader is None:
        raise RuntimeError(f"rank {s.world.rank} has no validation loader; only rank 0 validates")
    scored: list[tuple[torch.Tensor, torch.Tensor]] | None = (
        [] if events and s.event_scoring else None
    )
    metrics = validate(
        s.raw, s.val_loader, device=s.world.device, threshold=s.config.monitors.threshold,
        autocast=s.autocast, split=s.val_name, collect=scored,
    )  # fmt: skip
    if scored is None or not metrics.finite:
        return metrics, None
    ids = torch.cat([i for i, _ in scored]).numpy() if scored else np.zeros((0, 2), np.int64)
    probabilities = torch.cat([p for _, p in scored]).numpy() if scored else np.zeros(0)
    evaluation = event_evaluation(
        s.manifest, ids, probabilities, threshold=s.config.monitors.threshold,
        target_fa_per_24h=s.config.validation.target_false_alarms_per_24h,
    )  # fmt: skip
    return metrics, evaluation


def _score(summary: dict[str, Any], by: str) -> float | None:
    """Higher is better: AUROC, or minus the validation loss; None when undefined."""
    value = summary["validation"].get("auroc" if by == "auroc" else "loss")
    if value is None or not math.isfinite(value):
        return None
    return float(value) if by == "auroc" else -float(value)


def _checkpoint(s: Session, summary: dict[str, Any]) -> None:
    """Rank 0 writes the epoch's checkpoint, updates best.pt and the run's row."""
    s.world.on_main(lambda: _write_checkpoint(s, summary))  # the others wait for it


def _write_checkpoint(s: Session, summary: dict[str, Any]) -> None:
    by = s.config.checkpoint.best_by
    score = _score(summary, by)
    path = ckpt.checkpoint_path(s.run_dir, s.progress.epoch)
    best = s.progress.best.get("score")
    improved = score is not None and (best is None or score > best)
    if improved:
        s.progress.best = {
            "by": by, "score": score, "epoch": s.progress.epoch,
            "path": str(s.run_dir / ckpt.BEST), "copy_of": path.name,
        }  # fmt: skip
    ckpt.save_checkpoint(path, _payload(s, summary))
    if improved:
        ckpt.mark_best(path)
    s.progress.kept = [str(p) for p in ckpt.prune(s.run_dir, s.config.checkpoint.keep_last)]
    _write_row(s, RunStatus.RUNNING, f"epoch {s.progress.epoch} of {s.config.train.epochs}")


def _payload(s: Session, summary: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's contents (see ``checkpoint``): tensors and plain values only."""
    return {
        "model": model_args(s.raw),
        "model_state": s.raw.state_dict(),
        "optimizer_state": s.optimizer.state_dict(),
        "scaler_state": s.scaler.state_dict() if s.scaler.is_enabled() else None,
        "step": s.progress.step,
        "epoch": s.progress.epoch,
        "rng": ckpt.rng_state(s.config.train.seed, s.progress.epoch),
        "run_id": s.run_id,
        "config": s.config_json,
        "manifest_fingerprint": s.fingerprint,
        "suite_hash": s.suite_hash,
        "metrics": json.dumps(summary),
        "history": json.dumps(s.progress.history),
        "monitors": json.dumps([r.model_dump(mode="json") for r in s.progress.monitors]),
        "best": json.dumps(s.progress.best),
        "guard": {"batches": s.guard.stats.batches, "quarantined": s.guard.stats.quarantined},
    }


def _completion(s: Session) -> str:
    best = s.progress.best
    told = f"; best {best['by']} {abs(best['score']):.4f} at epoch {best['epoch']}" if best else ""
    epochs = s.config.train.epochs
    return f"completed {epochs} epoch{'s' * (epochs != 1)} ({s.progress.step} steps){told}"


def _write_row(s: Session, status: RunStatus, message: str) -> None:
    """Rank 0 writes the run's metrics, checkpoints and monitor records into its row."""
    if not s.world.is_main:
        return
    update_run(
        s.manifest, s.run_id, status=status, message=message, metrics=s.progress.history,
        checkpoints={"kept": s.progress.kept, "best": s.progress.best or None},
        monitors=[r.model_dump(mode="json") for r in s.progress.monitors],
    )  # fmt: skip
