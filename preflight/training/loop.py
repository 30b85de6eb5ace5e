"""The training loop: epochs of guarded batches, validation, monitors, checkpoints.

``run_epochs`` reads top to bottom: for each epoch, train on the balanced (or natural) batches the
batch guard admits, validate, let the monitors decide, write a checkpoint and the run's row; after
the last epoch, score the held-out splits once with the best checkpoint (``training.final``).
Everything it needs was built once, after the gate passed, into a ``Session``
(``training.session``; ``training.eeg`` and ``training.stamps`` build its data and model). The
learning rate is a pure function of the step (``learning_rate``), so a resumed run needs only the
step to continue the schedule.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from preflight import signals
from preflight.errors import UsageError
from preflight.manifest.runs import RunStatus, update_run
from preflight.models.registry import model_args
from preflight.progress import EpochBar
from preflight.results import Severity
from preflight.training import checkpoint as ckpt
from preflight.training.final import final_evaluation, score_windows
from preflight.training.monitors import (
    Monitor,
    MonitorRecord,
    StepWatch,
    ValidationMetrics,
    diagnose,
    positives_record,
    stopping,
    validation_records,
)
from preflight.training.session import Session
from preflight.training.validation import model_logits
from preflight.validators.batch_guard import GuardStopped

__all__ = [
    "EpochCallback",
    "EpochSummary",
    "compute_loss",
    "is_better",
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


def _checked_logits(
    output: Any, y: torch.Tensor, mask: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The model's logits, checked against the batch: a user's model returning another shape is
    a set-up error (exit 2), said in one line, not a traceback from inside the loss.

    Raises:
        UsageError: the output is of another form, or its shapes do not match the batch.
    """
    try:
        window, sample = model_logits(output)
    except TypeError as exc:
        raise UsageError(f"the model's output does not fit: {exc}") from None
    if tuple(window.shape) != tuple(y.shape):
        raise UsageError(
            f"the model returned window logits of shape {tuple(window.shape)} for a batch of "
            f"{y.shape[0]} windows; it must return (B,) or (B, 1): (batch, 1) per window"
        )
    if sample is not None and tuple(sample.shape) != tuple(mask.shape):
        raise UsageError(
            f"the model returned per-sample logits of shape {tuple(sample.shape)}; the batch's "
            f"sample labels are {tuple(mask.shape)} (B, T)"
        )
    return window, sample


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
    window, sample = _checked_logits(output, y, mask)  # (B,), (B, T) | None
    loss = F.binary_cross_entropy_with_logits(window.float(), y, pos_weight=pos_weight)
    if sample is not None and sample_weight > 0:
        per_sample = F.binary_cross_entropy_with_logits(sample.float(), mask, pos_weight=pos_weight)
        loss = loss + sample_weight * per_sample
    return loss


@dataclass
class EpochSummary:
    """What one epoch did: its training figures (summed over ranks) and its validation.

    ``as_dict`` is the JSON form kept in the run's history, its checkpoints and reports, and
    given to ``on_epoch`` callbacks.
    """

    epoch: int  # 1-based
    step: int  # optimizer steps done at its end
    lr: float
    train_loss: float | None  # None when no batch trained
    batches: int
    with_positives: int
    seconds: float
    quarantined: int | None = None  # None when the epoch stopped before its end
    validation: ValidationMetrics | None = None  # None when a monitor stopped it first

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain values: ``quarantined`` and ``validation`` only when known."""
        out: dict[str, Any] = {
            "epoch": self.epoch, "step": self.step, "lr": self.lr,
            "train_loss": self.train_loss, "batches": self.batches,
            "with_positives": self.with_positives, "seconds": self.seconds,
        }  # fmt: skip
        if self.quarantined is not None:
            out["quarantined"] = self.quarantined
        if self.validation is not None:
            out["validation"] = self.validation.as_dict()
        return out


def run_epochs(
    s: Session, on_epoch: EpochCallback | None = None, bar: EpochBar | None = None
) -> tuple[RunStatus, str]:
    """Train from ``s.book.epoch`` to the configured epochs, or until a monitor stops it.

    Args:
        s: the session built after the gate passed.
        on_epoch: called on rank 0 with each finished epoch's summary.
        bar: a progress bar for the steps of each epoch (rank 0, on a terminal).

    Returns:
        The final status (completed, stopped_by_monitor, or interrupted by SIGTERM) and the
        message saying why.
    """
    bar = bar or EpochBar(s.run.config.train.epochs, enabled=False)
    try:
        with s.preemption.catching():
            return _epochs(s, on_epoch, bar)
    finally:
        bar.close()


def _epochs(s: Session, on_epoch: EpochCallback | None, bar: EpochBar) -> tuple[RunStatus, str]:
    for epoch in range(s.book.epoch, s.run.config.train.epochs):
        summary, records, stop = _train_epoch(s, epoch, bar)
        if s.preemption.agreed:  # the row and the checkpoints stay at the last finished epoch
            message = (
                f"interrupted by SIGTERM in epoch {epoch + 1} after {s.book.step} steps; "
                f"resumes from the checkpoint of epoch {s.book.epoch}"
            )
            _write_row(s, RunStatus.INTERRUPTED, message)
            return RunStatus.INTERRUPTED, message
        if stop is None:
            bar.validating(s.run.val_name)
            metrics = s.run.world.on_main(functools.partial(_measure, s))
            summary.validation = metrics
            records += validation_records(metrics, s.run.config.monitors, epoch, s.book.step)
            stop = stopping(records)
        s.book.monitors += records
        s.book.history.append(summary.as_dict())
        _flush_quarantine(s)
        if stop is not None:
            auroc = summary.validation.auroc if summary.validation is not None else None
            message = diagnose(stop, s.run.config, s.run.train_fraction, auroc)
            _write_row(s, RunStatus.STOPPED_BY_MONITOR, message)
            return RunStatus.STOPPED_BY_MONITOR, message
        s.book.epoch = epoch + 1
        _checkpoint(s, summary, metrics)
        if on_epoch is not None and s.run.world.is_main:
            bar.close()  # the epoch's line replaces its bar
            on_epoch(summary.as_dict())
    s.book.evaluation = s.run.world.on_main(functools.partial(final_evaluation, s))
    message = _completion(s)
    _write_row(s, RunStatus.COMPLETED, message)
    return RunStatus.COMPLETED, message


def _train_epoch(
    s: Session, epoch: int, bar: EpochBar
) -> tuple[EpochSummary, list[MonitorRecord], MonitorRecord | None]:
    """One pass over the epoch's batches; the summary, the monitor records, a stop or None."""
    started = time.perf_counter()
    bar.begin(epoch + 1, _steps(s.data.loaders.train))
    s.data.loaders.batches.set_epoch(epoch)  # the sample is a function of (seed, epoch): any rank
    s.data.loaders.generator.manual_seed(s.run.config.train.seed * 100_003 + epoch)
    s.engine.model.train()
    watch = StepWatch(epoch, scaled=s.engine.scaler.is_enabled())
    batches = with_positives = quarantined = 0
    loss_sum = 0.0
    s.data.guard.begin_epoch()
    for x, y, mask, ids in s.data.loaders.train:  # (B, C, T), (B,), (B, T), (B, 2) on the CPU
        signals.raise_if_received()  # a safe point: between optimizer steps
        admitted, stop = _admit(s, x, y, ids, epoch)
        if s.preemption.agreed:  # SIGTERM on some rank: every rank leaves at this batch
            return _summary(s, epoch, started, batches, with_positives, loss_sum), [], None
        if admitted:
            loss, grad_norm = _step(s, x, y, mask)
            stop = watch.observe(s.book.step, loss, grad_norm)
        if stop is not None:  # agreed by every rank: they all leave the loop here
            return _summary(s, epoch, started, batches, with_positives, loss_sum), [stop], stop
        if not admitted:
            quarantined += 1
            continue
        s.engine.scaler.step(s.engine.optimizer)
        s.engine.scaler.update()
        s.engine.optimizer.zero_grad(set_to_none=True)
        s.book.step += 1
        batches += 1
        with_positives += bool((y == 1).any())
        loss_sum += loss
        bar.step(loss)
    stop = _end_epoch(s, epoch)
    if stop is not None:  # every batch was quarantined: nothing was trained on
        return _summary(s, epoch, started, batches, with_positives, loss_sum), [stop], stop
    summary = _summary(s, epoch, started, batches, with_positives, loss_sum)
    summary.quarantined = int(s.run.world.sum(quarantined)[0])
    records = watch.records(s.book.step)
    records.append(positives_record(epoch, s.book.step, summary.batches, summary.with_positives))
    return summary, records, None


def _steps(loader: Any) -> int | None:
    """Batches per epoch, when the loader knows it."""
    try:
        return len(loader)
    except TypeError:
        return None


def _admit(
    s: Session, x: torch.Tensor, y: torch.Tensor, ids: torch.Tensor, epoch: int
) -> tuple[bool, MonitorRecord | None]:
    """Guard one batch; every rank skips the step if any rank quarantined its batch."""
    stopped: GuardStopped | None = None
    try:
        passed = s.data.guard.admit(x, y, ids, step=s.book.step).passed
    except GuardStopped as exc:
        passed, stopped = False, exc
    quarantined, halt, s.preemption.agreed = s.run.world.any_rank(
        not passed, stopped is not None, s.preemption.requested
    )
    if halt:
        return False, _guard_record(s, epoch, stopped)
    if quarantined and passed:
        s.data.quarantine.dropped(s.book.step, ids)
    return not quarantined, None


def _end_epoch(s: Session, epoch: int) -> MonitorRecord | None:
    """The guard's end-of-epoch rule (no batch passed), agreed by every rank."""
    stopped: GuardStopped | None = None
    try:
        s.data.guard.end_epoch()
    except GuardStopped as exc:
        stopped = exc
    (halt,) = s.run.world.any_rank(stopped is not None)
    return _guard_record(s, epoch, stopped) if halt else None


def _guard_record(s: Session, epoch: int, stopped: GuardStopped | None) -> MonitorRecord:
    """The error record of a batch guard that stopped the run (here, or on another rank)."""
    g = s.data.guard
    rules = (
        f"< {g.max_consecutive_quarantines} quarantined in a row, >= 1 batch passed per epoch, "
        f"<= {g.max_quarantine_fraction:.1%} quarantined"
    )
    message = stopped.message if stopped is not None else "another rank's batch guard stopped"
    observed: dict[str, Any] = {"batches": g.stats.batches, "quarantined": g.stats.quarantined}
    if stopped is not None:
        observed |= {"rule": str(stopped.rule), "check": stopped.check}
    return MonitorRecord(
        name=Monitor.BATCH_GUARD, epoch=epoch, step=s.book.step, severity=Severity.ERROR,
        passed=False, observed=observed, expected=rules, message=message,
    )  # fmt: skip


def _step(s: Session, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
    """Forward, backward and clip (the optimizer steps after the monitors agree).

    Returns:
        The loss averaged over ranks, and the gradient norm before clipping.
    """
    lr = learning_rate(
        s.book.step, lr=s.run.config.optim.lr, min_lr=s.run.config.optim.min_lr,
        warmup=s.engine.warmup_steps, total=s.engine.total_steps,
    )  # fmt: skip
    for group in s.engine.optimizer.param_groups:
        group["lr"] = lr
    device = s.run.world.device
    x, y, mask = (t.to(device, non_blocking=True) for t in (x, y, mask))
    with torch.autocast(**s.engine.autocast):
        output = s.engine.model(x)  # SeizureOutput: window (B,), sample (B, T)
    weight = s.run.config.train.sample_loss_weight
    loss = compute_loss(output, y, mask, pos_weight=s.engine.pos_weight, sample_weight=weight)
    s.engine.scaler.scale(loss).backward()
    s.engine.scaler.unscale_(s.engine.optimizer)
    clip = s.run.config.optim.grad_clip or math.inf
    grad_norm = float(nn.utils.clip_grad_norm_(s.engine.model.parameters(), clip))  # every rank
    (total,) = s.run.world.sum(float(loss.detach()))  # NaN on any rank makes the sum NaN
    return total / s.run.world.size, grad_norm


def _summary(
    s: Session, epoch: int, started: float, batches: int, with_positives: int, loss_sum: float
) -> EpochSummary:
    """The epoch's training figures, summed over ranks."""
    all_batches, all_positive, all_loss = s.run.world.sum(batches, with_positives, loss_sum)
    return EpochSummary(
        epoch=epoch + 1, step=s.book.step, lr=s.engine.optimizer.param_groups[0]["lr"],
        train_loss=all_loss / all_batches if all_batches else None, batches=int(all_batches),
        with_positives=int(all_positive), seconds=round(time.perf_counter() - started, 3),
    )  # fmt: skip


def _flush_quarantine(s: Session) -> int:
    """Rank 0 writes every rank's quarantined batches of the epoch; returns the rows written."""
    rows = [row for rank_rows in s.run.world.gather(s.data.quarantine.take()) for row in rank_rows]
    return s.run.world.on_main(lambda: s.data.quarantine.write(rows))


def _measure(s: Session) -> Any:
    """Rank 0's validation pass (the other ranks receive its metrics); its window scores are
    kept in ``s.book.last_scores`` for the evaluation after training."""
    if s.data.loaders.val is None:
        rank = s.run.world.rank
        raise RuntimeError(f"rank {rank} has no validation loader; only rank 0 validates")
    metrics, s.book.last_scores = score_windows(s, s.data.loaders.val, s.run.val_name)
    return metrics


def is_better(validation: ValidationMetrics, best: dict[str, Any], by: str) -> bool:
    """Whether an epoch's validation beats the best so far (``Bookkeeping.best``), by ``by``.

    Higher AUROC (or lower loss) wins; equal values (an AUROC saturated at 1.000) are broken by
    the lower validation loss, and when that ties too, the later epoch (this one) wins. An
    epoch whose ``by`` metric is undefined never becomes the best.
    """
    score = _score(validation, by)
    held = _held_score(best)
    return score is not None and (held is None or score >= held)  # >=: ties go to this epoch


def _held_score(best: dict[str, Any]) -> tuple[float, float] | None:
    """The best epoch's ``_score``, or None before there is one (``validation_loss`` is
    missing from checkpoints written before ties were broken: they lose a tie)."""
    if not best:
        return None
    loss = best.get("validation_loss")
    return best["score"], -float(loss) if loss is not None else -math.inf


def _score(validation: ValidationMetrics, by: str) -> tuple[float, float] | None:
    """Higher is better: ``(AUROC or minus the validation loss, minus the validation loss)``.

    The second element breaks ties of the first (an AUROC saturated at 1.000): the lower
    validation loss wins, and when that ties too, the later epoch (``_write_checkpoint``).
    None when the first is undefined.
    """
    loss = -validation.loss if math.isfinite(validation.loss) else -math.inf
    value = validation.auroc if by == "auroc" else validation.loss
    if value is None or not math.isfinite(value):
        return None
    return (float(value) if by == "auroc" else -float(value)), loss


def _checkpoint(s: Session, summary: EpochSummary, validation: ValidationMetrics) -> None:
    """Rank 0 writes the epoch's checkpoint, updates best.pt and the run's row."""
    s.run.world.on_main(lambda: _write_checkpoint(s, summary, validation))  # the others wait


def _write_checkpoint(s: Session, summary: EpochSummary, validation: ValidationMetrics) -> None:
    by = s.run.config.checkpoint.best_by
    score = _score(validation, by)
    path = ckpt.checkpoint_path(s.run.run_dir, s.book.epoch)
    improved = is_better(validation, s.book.best, by)
    if improved and score is not None:
        s.book.best = {
            "by": by, "score": score[0], "validation_loss": validation.loss,
            "epoch": s.book.epoch, "path": str(s.run.run_dir / ckpt.BEST), "copy_of": path.name,
        }  # fmt: skip
        s.book.best_scores = (s.book.epoch, validation.as_dict(), s.book.last_scores)
    ckpt.save_checkpoint(path, _payload(s, summary))
    if improved:
        ckpt.mark_best(path)
    s.book.kept = [str(p) for p in ckpt.prune(s.run.run_dir, s.run.config.checkpoint.keep_last)]
    _write_row(s, RunStatus.RUNNING, f"epoch {s.book.epoch} of {s.run.config.train.epochs}")


def _payload(s: Session, summary: EpochSummary) -> dict[str, Any]:
    """The checkpoint's contents (see ``checkpoint``): tensors and plain values only."""
    return {
        "model": model_args(s.engine.raw),
        "model_state": s.engine.raw.state_dict(),
        "optimizer_state": s.engine.optimizer.state_dict(),
        "scaler_state": s.engine.scaler.state_dict() if s.engine.scaler.is_enabled() else None,
        "step": s.book.step,
        "epoch": s.book.epoch,
        "rng": ckpt.rng_state(s.run.config.train.seed, s.book.epoch),
        "run_id": s.run.run_id,
        "config": s.run.config_json,
        "manifest_fingerprint": s.run.fingerprint,
        "suite_hash": s.run.suite_hash,
        "metrics": json.dumps(summary.as_dict()),
        "history": json.dumps(s.book.history),
        "monitors": json.dumps([r.model_dump(mode="json") for r in s.book.monitors]),
        "best": json.dumps(s.book.best),
        "guard": {
            "batches": s.data.guard.stats.batches,
            "quarantined": s.data.guard.stats.quarantined,
            "consecutive": s.data.guard.stats.consecutive,
        },
    }


def _completion(s: Session) -> str:
    best = s.book.best
    told = f"; best {best['by']} {abs(best['score']):.4f} at epoch {best['epoch']}" if best else ""
    epochs = s.run.config.train.epochs
    return f"{epochs} epoch{'s' * (epochs != 1)} ({s.book.step} steps){told}"


def _write_row(s: Session, status: RunStatus, message: str) -> None:
    """Rank 0 writes the run's metrics, checkpoints, monitor records and evaluation into its
    row."""
    if not s.run.world.is_main:
        return
    update_run(
        s.run.manifest, s.run.run_id, status=status, message=message, metrics=s.book.history,
        checkpoints={"kept": s.book.kept, "best": s.book.best or None},
        monitors=[r.model_dump(mode="json") for r in s.book.monitors],
        evaluation=s.book.evaluation,
    )  # fmt: skip
