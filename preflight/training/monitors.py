"""Training monitors: every decision is a record, and one function decides whether to stop.

The rules (thresholds from ``MonitorConfig``; ``preflight.run_config``):

=============================  ========  =====================================================
monitor                        when      fails when
=============================  ========  =====================================================
``finite_loss``                step      the training loss is NaN or Inf
``finite_gradients``           step      the gradient norm is NaN or Inf (not with fp16 loss
                                         scaling, which skips such steps by design)
``batch_guard``                step      the batch guard stopped: 10 quarantines in a row,
                                         an epoch with no batch passed, or too many in all
``batches_with_positives``     epoch     no training batch held a positive window (warning)
``finite_validation_scores``   epoch     a validation logit is NaN or Inf
``positive_prediction_rate``   epoch     the share of validation windows predicted positive is
                                         below ``min_positive_rate_ratio`` x their positive share
``positive_recall``            epoch     no positive validation window is predicted positive
``logit_spread``               epoch     the validation logits' standard deviation is below
                                         ``min_logit_std`` (a constant model)
=============================  ========  =====================================================

Records that never stop a run: ``cache_rejected`` (recordings the cache cannot serve),
``checkpoint_fallback`` (a resume skipped unreadable checkpoints) and ``held_out_in_validation``
(a held-out split validates, so it chooses what it would measure: ``heldout``).

Step monitors record a failure at its step, and one passing record per epoch (steps checked).
The three collapse monitors (the last three) are warnings during the first ``warmup_epochs``
epochs and errors after: a fresh model predicts near-constant scores. ``stopping`` returns the
first failed error record; ``diagnose`` turns it into the sentence the report shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from preflight.results import Severity
from preflight.run_config import MonitorConfig, RunConfig, Sampling

__all__ = [
    "Monitor",
    "MonitorRecord",
    "StepWatch",
    "ValidationMetrics",
    "diagnose",
    "positives_record",
    "stopping",
    "validation_records",
]


class Monitor(StrEnum):
    """Stable monitor names, used in records, the runs table and reports."""

    FINITE_LOSS = "finite_loss"
    FINITE_GRADIENTS = "finite_gradients"
    BATCH_GUARD = "batch_guard"
    BATCHES_WITH_POSITIVES = "batches_with_positives"
    FINITE_SCORES = "finite_validation_scores"
    POSITIVE_RATE = "positive_prediction_rate"
    POSITIVE_RECALL = "positive_recall"
    LOGIT_SPREAD = "logit_spread"
    CACHE_REJECTED = "cache_rejected"
    CHECKPOINT_FALLBACK = "checkpoint_fallback"
    HELD_OUT_IN_VALIDATION = "held_out_in_validation"


_COLLAPSE = frozenset({Monitor.POSITIVE_RATE, Monitor.POSITIVE_RECALL, Monitor.LOGIT_SPREAD})
_RANKS_WELL = 0.75  # a validation AUROC from which a collapse reads as under-training


class MonitorRecord(BaseModel):
    """One monitor decision.

    Attributes:
        name: the monitor (a ``Monitor`` value).
        epoch: the epoch (0-based) it was made in.
        step: the optimizer steps done when it was made.
        severity: a failed ``error`` stops the run; a ``warning`` is only recorded.
        passed: whether the rule held.
        observed: what was measured.
        expected: the rule, as data.
        message: one sentence with both sides.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    epoch: int
    step: int
    severity: Severity
    passed: bool
    observed: Any
    expected: Any
    message: str


@dataclass(frozen=True)
class ValidationMetrics:
    """What one validation pass measured, over the pooled validation windows.

    Attributes:
        windows: windows scored.
        positives: positive windows among them.
        loss: mean unweighted binary cross-entropy of the window logits (NaN if any is).
        auroc: area under the ROC curve, None when undefined (see ``undefined``).
        auprc: area under the precision-recall curve, None when undefined.
        recall: sensitivity: share of positive windows predicted positive.
        specificity: share of negative windows predicted negative.
        positive_rate: share of windows with probability >= the threshold.
        logit_std: standard deviation of the window logits.
        finite: every logit is finite.
        threshold: the probability threshold used.
        undefined: metric name -> why it is undefined.
    """

    windows: int
    positives: int
    loss: float
    auroc: float | None
    auprc: float | None
    recall: float | None
    specificity: float | None
    positive_rate: float
    logit_std: float
    finite: bool
    threshold: float
    undefined: dict[str, str] = field(default_factory=dict)

    @property
    def positive_fraction(self) -> float:
        """Share of positive windows."""
        return self.positives / self.windows if self.windows else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready values (NaN becomes None)."""
        out: dict[str, Any] = {}
        for key, value in self.__dict__.items():
            bad = isinstance(value, float) and not math.isfinite(value)
            out[key] = None if bad else value
        out["positive_fraction"] = self.positive_fraction
        return out


@dataclass
class StepWatch:
    """The step monitors of one epoch: a failure at once, a passing summary at the end.

    Args:
        epoch: the epoch watched.
        scaled: fp16 loss scaling is on, so non-finite gradients are skipped steps, not failures.
    """

    epoch: int
    scaled: bool = False
    steps: int = 0
    skipped: int = 0
    worst_loss: float = field(default=0.0)

    def observe(self, step: int, loss: float, grad_norm: float) -> MonitorRecord | None:
        """Check one step (values already agreed over ranks); the failing record or None."""
        if not math.isfinite(loss):
            return self._fail(Monitor.FINITE_LOSS, step, loss, "training loss")
        if not math.isfinite(grad_norm):
            if not self.scaled:
                return self._fail(Monitor.FINITE_GRADIENTS, step, grad_norm, "gradient norm")
            self.skipped += 1
        self.steps += 1
        self.worst_loss = max(self.worst_loss, loss)
        return None

    def _fail(self, name: Monitor, step: int, value: float, what: str) -> MonitorRecord:
        return MonitorRecord(
            name=name, epoch=self.epoch, step=step, severity=Severity.ERROR, passed=False,
            observed=str(value), expected="finite",
            message=f"{what} is {value} at step {step} (epoch {self.epoch + 1}); must be finite",
        )  # fmt: skip

    def records(self, step: int) -> list[MonitorRecord]:
        """The passing summaries of the epoch."""
        skipped = (
            f"; {self.skipped} fp16 step(s) skipped by the loss scaler" if self.skipped else ""
        )
        observed = {"steps": self.steps, "max_loss": self.worst_loss}
        out = []
        for name, what in ((Monitor.FINITE_LOSS, "loss"), (Monitor.FINITE_GRADIENTS, "gradients")):
            message = f"{what} finite on all {self.steps} steps of epoch {self.epoch + 1}{skipped}"
            out.append(
                MonitorRecord(
                    name=name,
                    epoch=self.epoch,
                    step=step,
                    severity=Severity.ERROR,
                    passed=True,
                    observed=observed,
                    expected="finite",
                    message=message,
                )
            )
        return out


def positives_record(epoch: int, step: int, batches: int, with_positives: int) -> MonitorRecord:
    """How many training batches held a positive window (a warning when none did)."""
    return MonitorRecord(
        name=Monitor.BATCHES_WITH_POSITIVES, epoch=epoch, step=step, severity=Severity.WARNING,
        passed=with_positives > 0, observed={"batches": batches, "with_positives": with_positives},
        expected=">= 1",
        message=f"{with_positives} of {batches} training batches of epoch {epoch + 1} held a "
        "positive window (needs >= 1)",
    )  # fmt: skip


def validation_records(
    metrics: ValidationMetrics, config: MonitorConfig, epoch: int, step: int
) -> list[MonitorRecord]:
    """The epoch-end monitors on a validation pass (collapse and finite scores)."""
    collapse = Severity.ERROR if epoch + 1 > config.warmup_epochs else Severity.WARNING
    bound = config.min_positive_rate_ratio * metrics.positive_fraction
    rate, std = metrics.positive_rate, metrics.logit_std
    made = [
        (Monitor.FINITE_SCORES, Severity.ERROR, metrics.finite, metrics.finite, "all finite",
         "validation logits are " + ("finite" if metrics.finite else "NaN or Inf")),
        (Monitor.POSITIVE_RATE, collapse, rate >= bound, rate, f">= {bound:.4g}",
         f"{rate:.2%} of validation windows predicted positive (needs >= {bound:.2%}: "
         f"{config.min_positive_rate_ratio:g} x the {metrics.positive_fraction:.2%} that are)"),
        (Monitor.LOGIT_SPREAD, collapse, std >= config.min_logit_std, std,
         f">= {config.min_logit_std:g}",
         f"validation logits vary by {std:.3g} (std; needs >= {config.min_logit_std:g})"),
    ]  # fmt: skip
    if metrics.recall is not None:
        made.insert(2, (
            Monitor.POSITIVE_RECALL, collapse, metrics.recall > 0, metrics.recall, "> 0",
            f"{metrics.recall:.2%} of {metrics.positives} positive validation windows "
            f"predicted positive (needs > 0)",
        ))  # fmt: skip
    out = []
    for name, severity, passed, observed, expected, message in made:
        warm = severity is Severity.WARNING and name in _COLLAPSE
        out.append(
            MonitorRecord(
                name=name,
                epoch=epoch,
                step=step,
                severity=severity,
                passed=bool(passed),
                observed=observed,
                expected=expected,
                message=f"epoch {epoch + 1}: {message}" + (" (warm-up)" if warm else ""),
            )
        )
    return out


def stopping(records: list[MonitorRecord]) -> MonitorRecord | None:
    """The first failed error-severity record: the one the run stops on."""
    return next((r for r in records if not r.passed and r.severity is Severity.ERROR), None)


def diagnose(
    record: MonitorRecord, config: RunConfig, train_fraction: float, auroc: float | None = None
) -> str:
    """Why a run stopped, and what to change: the record's message and a hint.

    Args:
        record: the failed record the run stopped on.
        config: the run's config (the hint names the settings to change).
        train_fraction: the training split's positive-window fraction.
        auroc: the last validation AUROC, if defined.
    """
    if record.name in _COLLAPSE:
        return f"collapse: {record.message}; {_collapse_hint(config, train_fraction, auroc)}"
    if record.name in (Monitor.FINITE_LOSS, Monitor.FINITE_GRADIENTS, Monitor.FINITE_SCORES):
        return (
            f"non-finite values: {record.message}; the batch guard admits only finite inputs, "
            f"so the model's arithmetic diverged: lower optim.lr (now {config.optim.lr:g}) or "
            f"set optim.grad_clip (now {config.optim.grad_clip})"
        )
    return f"{record.name}: {record.message}"


def _collapse_hint(config: RunConfig, train_fraction: float, auroc: float | None) -> str:
    if config.train.sampling is Sampling.NATURAL and not config.train.pos_weight:
        return (
            f"training drew the split's natural mix ({train_fraction:.2%} positive windows) with "
            "an unweighted loss, which predicting 'negative' everywhere minimises; set "
            "train.sampling: balanced (or train.pos_weight: true)"
        )
    if auroc is not None and auroc >= _RANKS_WELL:
        return (
            f"the scores still rank windows well (AUROC {auroc:.3f}) but few reach the "
            f"{config.monitors.threshold:g} threshold: the model is under-trained; train longer "
            "(train.epochs, train.steps_per_epoch), raise optim.lr, or give "
            "monitors.warmup_epochs more epochs"
        )
    return (
        "check the labels of the positive windows, raise optim.lr or train.epochs, or give "
        "monitors.warmup_epochs more epochs"
    )
