"""Cheap tensor checks on every batch before the optimizer sees it, and the quarantine.

``BatchGuard.check`` is pure: it returns a ``GuardResult`` whose issues are data. The policy
lives in ``BatchGuard.admit`` (and ``guard(batch)``, which returns the batch or ``None``): a batch
with an error is **quarantined**: it is not returned, it is logged, and the guard's recorder
writes it (``quarantine.ManifestRecorder``: the manifest's ``quarantine`` table, a row per
window). The guard raises ``GuardStopped`` (the trainer turns it into exit code 1) on whichever
of three rules trips first (``GuardRule``):

* ``consecutive_quarantines``: ``max_consecutive_quarantines`` batches in a row (default 10)
  were quarantined, however few batches were seen;
* ``no_batch_passed``: an epoch ended (``end_epoch``; ``GuardedLoader`` calls it when its loader
  is exhausted) in which batches came and none passed, however few there were;
* ``quarantine_fraction``: past ``max_quarantine_fraction`` of the batches seen, once
  ``min_batches`` were seen.

The first two name the first failing check of the streak or the epoch, so a wrong
``expected_samples`` stops a 16-batch epoch with ``shape: x has shape ...`` instead of training
on nothing.

Checks, vectorized over the batch (the value checks cost four passes over ``x``: min, max, and
a comparison with each):

===================  ========  ======================================================
check                severity  fails when
===================  ========  ======================================================
``shape``            error     x is not (B, C, T) as expected, y not (B,), ids not (B, 2)
``dtype``            error     x is not float32, ids not integer, or not tensors at all
``non_finite``       error     a sample holds NaN or Inf
``label_domain``     error     a label is outside {0, 1}
``min_positives``    error     fewer positives than the batch sampler promised
``flat_channel``     warning   a channel is constant along T (std 0)
``clipped_channel``  warning   over ``clip_fraction`` of a channel sits at its min or max
===================  ========  ======================================================

Run the guard on the loader's CPU tensors (before ``.to(device)``): its verdict needs a few
scalars on the host.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import torch

from preflight.errors import PreflightError, UsageError
from preflight.results import Severity

__all__ = [
    "BatchGuard",
    "GuardCheck",
    "GuardIssue",
    "GuardResult",
    "GuardRule",
    "GuardStats",
    "GuardStopped",
    "GuardedLoader",
    "QuarantineRecorder",
    "unpack_batch",
]

log = logging.getLogger(__name__)
EXAMPLES = 3  # samples named in a message

_B = TypeVar("_B")


class GuardCheck(StrEnum):
    """The guard's checks; stable names used in results and the ``quarantine`` table."""

    SHAPE = "shape"
    DTYPE = "dtype"
    NON_FINITE = "non_finite"
    LABEL_DOMAIN = "label_domain"
    MIN_POSITIVES = "min_positives"
    FLAT_CHANNEL = "flat_channel"
    CLIPPED_CHANNEL = "clipped_channel"


class GuardRule(StrEnum):
    """The rules that stop a run; ``GuardStopped.rule`` says which one did."""

    CONSECUTIVE = "consecutive_quarantines"
    NOTHING_PASSED = "no_batch_passed"
    FRACTION = "quarantine_fraction"


class GuardStopped(PreflightError):
    """Too many batches were quarantined; the run stops (the trainer exits with code 1).

    Args:
        message: the rule, the numbers, and the failing check.
        quarantined: batches quarantined so far.
        batches: batches seen so far.
        max_fraction: the allowed quarantined fraction.
        rule: the rule that stopped the run.
        check: the first failing check of the streak or epoch (``shape``, ``non_finite`` ...),
            or for the fraction rule the last quarantine's; None when it was not a check.
    """

    def __init__(
        self,
        message: str,
        *,
        quarantined: int,
        batches: int,
        max_fraction: float,
        rule: GuardRule = GuardRule.FRACTION,
        check: str | None = None,
    ) -> None:
        super().__init__(message)
        self.quarantined = quarantined
        self.batches = batches
        self.max_fraction = max_fraction
        self.rule = rule
        self.check = check


@dataclass(frozen=True)
class GuardIssue:
    """One finding on one batch.

    Attributes:
        check: which check found it.
        severity: ``error`` quarantines the batch; ``warning`` lets it through.
        message: one sentence with the numbers and up to three (rec_idx, window_idx) examples.
        rows: the batch positions concerned (every position for batch-wide findings).
        ids: the (rec_idx, window_idx) of those rows; empty when the batch's ids are unusable.
    """

    check: GuardCheck
    severity: Severity
    message: str
    rows: tuple[int, ...]
    ids: tuple[tuple[int, int], ...]


@dataclass(frozen=True, eq=False)
class GuardResult:
    """What ``BatchGuard.check`` found on one batch.

    Attributes:
        issues: the findings, errors and warnings.
        batch_size: B, or 0 when ``x`` had no batch dimension.
        n_positive: windows labelled 1.
        ids: int64 (B, 2) (rec_idx, window_idx) of the batch, or None when unusable.
    """

    issues: tuple[GuardIssue, ...]
    batch_size: int
    n_positive: int
    ids: torch.Tensor | None

    @property
    def passed(self) -> bool:
        """True when no issue is an error."""
        return not self.errors

    @property
    def errors(self) -> tuple[GuardIssue, ...]:
        """The error-severity issues."""
        return tuple(i for i in self.issues if i.severity is Severity.ERROR)

    @property
    def warnings(self) -> tuple[GuardIssue, ...]:
        """The warning-severity issues."""
        return tuple(i for i in self.issues if i.severity is Severity.WARNING)


class QuarantineRecorder(Protocol):
    """Called with the step and the result of every quarantined batch."""

    def __call__(self, step: int, result: GuardResult) -> None: ...


@dataclass
class GuardStats:
    """Counts over every batch a guard has seen.

    Attributes:
        batches: batches seen.
        quarantined: batches quarantined.
        warnings: batches with each warning, by check name.
        consecutive: batches quarantined since the last one that passed.
        epoch_batches: batches seen since ``begin_epoch``.
        epoch_passed: batches passed since ``begin_epoch``.
        first_failure: the first error of the current streak of quarantines, or None.
        epoch_first_failure: the first error of the current epoch, or None.
    """

    batches: int = 0
    quarantined: int = 0
    warnings: Counter[str] = field(default_factory=Counter)
    consecutive: int = 0
    epoch_batches: int = 0
    epoch_passed: int = 0
    first_failure: GuardIssue | None = None
    epoch_first_failure: GuardIssue | None = None


class _Issues:
    """Collects issues, naming rows with their (rec_idx, window_idx)."""

    def __init__(self, ids: torch.Tensor | None, batch_size: int) -> None:
        self.pairs = [] if ids is None else [(int(r), int(w)) for r, w in ids.tolist()]
        self.batch_size = batch_size
        self.found: list[GuardIssue] = []

    def add(
        self, check: GuardCheck, severity: Severity, message: str, rows: Sequence[int] = ()
    ) -> None:
        rows = tuple(rows) if rows else tuple(range(self.batch_size))
        ids = tuple(self.pairs[r] for r in rows) if self.pairs else ()
        self.found.append(GuardIssue(check, severity, message, rows, ids))

    def examples(self, rows: Sequence[int]) -> str:
        named = [f"(rec {self.pairs[r][0]}, window {self.pairs[r][1]})" for r in rows[:EXAMPLES]]
        named = named or [f"row {r}" for r in rows[:EXAMPLES]]
        more = f" and {len(rows) - EXAMPLES} more" if len(rows) > EXAMPLES else ""
        return ", ".join(named) + more


def _count(mask: np.ndarray) -> np.ndarray:
    """int32 (B, C): the True entries of a bool (B, C, T) mask along T, summed as bytes."""
    return mask.view(np.uint8).sum(axis=-1, dtype=np.int32)


def _shape_problems(
    x: torch.Tensor, y: torch.Tensor, ids: torch.Tensor, sample_shape: tuple[int, ...]
) -> list[str]:
    problems = []
    if x.ndim != 1 + len(sample_shape) or tuple(x.shape[1:]) != sample_shape:
        expected = ", ".join(map(str, ("B", *sample_shape)))
        problems.append(f"x has shape {tuple(x.shape)}, expected ({expected})")
    b = x.shape[0] if x.ndim else -1
    if tuple(y.shape) != (b,):
        problems.append(f"y has shape {tuple(y.shape)}, expected ({b},)")
    if tuple(ids.shape) != (b, 2):
        problems.append(f"ids has shape {tuple(ids.shape)}, expected ({b}, 2)")
    return problems


class BatchGuard:
    """Checks batches, quarantines the failing ones and stops a run that fails too often.

    Args:
        expected_channels: C of ``x`` (B, C, T).
        expected_samples: T of ``x``.
        sample_shape: the shape of one sample instead, for other data: ``(3, 64, 64)`` for image
            stamps (B, 3, 64, 64). Its first axis is the channel axis of the value checks, the
            rest flattened into T. Give either this or both of the above.
        min_positives: positives every batch must hold (the batch sampler's promise).
        max_quarantine_fraction: above this share of quarantined batches the run stops.
        min_batches: batches to see before the fraction is judged.
        max_consecutive_quarantines: this many quarantined batches in a row stop the run,
            whatever ``min_batches`` says.
        clip_fraction: above this share of a channel's samples at its min or max, the
            channel is reported as clipped (a warning).
        recorder: called with every quarantined batch, e.g. a ``ManifestRecorder``; without
            one, quarantines are only logged and counted.
    """

    def __init__(
        self,
        expected_channels: int | None = None,
        expected_samples: int | None = None,
        *,
        sample_shape: tuple[int, ...] | None = None,
        min_positives: int = 0,
        max_quarantine_fraction: float = 0.05,
        min_batches: int = 20,
        max_consecutive_quarantines: int = 10,
        clip_fraction: float = 0.01,
        recorder: QuarantineRecorder | None = None,
    ) -> None:
        if not 0.0 <= max_quarantine_fraction <= 1.0:
            raise UsageError(f"max_quarantine_fraction {max_quarantine_fraction} is not in [0, 1]")
        if max_consecutive_quarantines < 1:
            raise UsageError(
                f"max_consecutive_quarantines {max_consecutive_quarantines} is not >= 1"
            )
        if (sample_shape is None) == (expected_channels is None or expected_samples is None):
            raise UsageError(
                "give the batch guard either expected_channels and expected_samples (B, C, T), "
                "or sample_shape"
            )
        if sample_shape is None:
            sample_shape = (int(expected_channels or 0), int(expected_samples or 0))
        if not sample_shape or any(n < 1 for n in sample_shape):
            raise UsageError(f"sample_shape {sample_shape} must hold positive sizes")
        self.sample_shape = tuple(sample_shape)
        self.channels = self.sample_shape[0]
        self.samples = math.prod(self.sample_shape[1:])
        self.min_positives = min_positives
        self.max_quarantine_fraction = max_quarantine_fraction
        self.min_batches = min_batches
        self.max_consecutive_quarantines = max_consecutive_quarantines
        self.clip_fraction = clip_fraction
        self.recorder = recorder
        self.stats = GuardStats()

    def check(self, x: torch.Tensor, y: torch.Tensor, ids: torch.Tensor) -> GuardResult:
        """Check one batch; no side effects.

        Args:
            x: float32 (B, C, T) signals.
            y: (B,) window labels, 0 or 1.
            ids: int64 (B, 2) (rec_idx, window_idx) of each window.
        """
        tensors = all(isinstance(t, torch.Tensor) for t in (x, y, ids))
        b = int(x.shape[0]) if tensors and x.ndim else 0
        batch_ids = ids.detach().cpu() if tensors and tuple(ids.shape) == (b, 2) else None
        issues = _Issues(batch_ids, b)
        n_positive = 0
        if not tensors:
            kinds = ", ".join(type(t).__name__ for t in (x, y, ids))
            issues.add(GuardCheck.DTYPE, Severity.ERROR, f"x, y, ids must be tensors, got {kinds}")
        elif problems := _shape_problems(x, y, ids, self.sample_shape):
            issues.add(GuardCheck.SHAPE, Severity.ERROR, "; ".join(problems))
        else:
            self._check_dtypes(x, ids, issues)
            n_positive = self._check_labels(y, issues)
            self._check_values(x, issues)
        return GuardResult(tuple(issues.found), b, n_positive, batch_ids)

    def _check_dtypes(self, x: torch.Tensor, ids: torch.Tensor, issues: _Issues) -> None:
        wrong = []
        if x.dtype != torch.float32:
            wrong.append(f"x is {x.dtype}, expected torch.float32")
        if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
            wrong.append(f"ids is {ids.dtype}, expected torch.int64")
        if wrong:
            issues.add(GuardCheck.DTYPE, Severity.ERROR, "; ".join(wrong))

    def _check_labels(self, y: torch.Tensor, issues: _Issues) -> int:
        """Label domain and the promised positives; returns the number of positives."""
        positive = y == 1  # (B,)
        outside = ~(positive | (y == 0))  # (B,), NaN included
        n_positive = int(positive.sum())
        if bool(outside.any()):
            rows = torch.nonzero(outside).flatten().tolist()
            values = sorted({str(v) for v in y[outside].tolist()})[:EXAMPLES]
            issues.add(
                GuardCheck.LABEL_DOMAIN,
                Severity.ERROR,
                f"{len(rows)} of {issues.batch_size} labels outside {{0, 1}} "
                f"(values {', '.join(values)}): {issues.examples(rows)}",
                rows,
            )
        if n_positive < self.min_positives:
            issues.add(
                GuardCheck.MIN_POSITIVES,
                Severity.ERROR,
                f"batch has {n_positive} positive windows of {issues.batch_size}, "
                f"promised >= {self.min_positives}",
            )
        return n_positive

    def _check_values(self, x: torch.Tensor, issues: _Issues) -> None:
        """Non-finite samples (error), flat and clipped channels (warnings).

        NumPy on the batch's own memory: on CPU its row-broadcast comparisons and byte counts
        run 4-10x faster than torch's, and it never waits on intra-op threads.
        """
        a = x.detach().to("cpu", torch.float32).numpy()  # (B, C, T); no copy for CPU float32
        a = a.reshape(a.shape[0], self.channels, -1)  # (B, C, H*W) for image samples
        low = a.min(axis=-1, keepdims=True)  # (B, C, 1); NaN and Inf propagate
        high = a.max(axis=-1, keepdims=True)  # (B, C, 1)
        finite = np.isfinite(low[..., 0]) & np.isfinite(high[..., 0])  # (B, C)
        bad = ~finite.all(axis=1)  # (B,)
        if bad.any():
            rows = np.flatnonzero(bad).tolist()
            issues.add(
                GuardCheck.NON_FINITE,
                Severity.ERROR,
                f"{len(rows)} of {issues.batch_size} samples hold NaN or Inf: "
                f"{issues.examples(rows)}",
                rows,
            )
        flat = (low == high)[..., 0] & finite  # (B, C)
        self._warn_channels(GuardCheck.FLAT_CHANNEL, flat, "flat (std 0 along T)", issues)
        at_edge = _count(a == low) + _count(a == high)  # (B, C)
        # Every channel has one min and one max sample: count the ties beyond those two.
        clipped = (at_edge - 2 > self.clip_fraction * a.shape[-1]) & finite & ~flat  # (B, C)
        what = f"clipped (> {self.clip_fraction:.0%} of samples at the channel's min or max)"
        self._warn_channels(GuardCheck.CLIPPED_CHANNEL, clipped, what, issues)

    def _warn_channels(
        self, check: GuardCheck, mask: np.ndarray, what: str, issues: _Issues
    ) -> None:
        """One warning naming the samples and channels set in ``mask`` (B, C)."""
        if not mask.any():
            return
        rows = np.flatnonzero(mask.any(axis=1)).tolist()
        channels = np.flatnonzero(mask.any(axis=0)).tolist()
        issues.add(
            check,
            Severity.WARNING,
            f"{len(rows)} of {issues.batch_size} samples have {what} channels "
            f"(channels {channels[: EXAMPLES * 3]}): {issues.examples(rows)}",
            rows,
        )

    def admit(
        self, x: torch.Tensor, y: torch.Tensor, ids: torch.Tensor, *, step: int | None = None
    ) -> GuardResult:
        """Check a batch and apply the policy: count, quarantine, record, maybe stop.

        Args:
            x: float32 (B, C, T); y: (B,); ids: int64 (B, 2), as for ``check``.
            step: the training step recorded with a quarantine; default the batches seen.

        Returns:
            The result; train on the batch only if ``result.passed``.

        Raises:
            GuardStopped: ``max_consecutive_quarantines`` in a row, or the quarantined
                fraction past ``max_quarantine_fraction`` (see ``GuardRule``).
        """
        result = self.check(x, y, ids)
        step = self.stats.batches if step is None else step
        stats = self.stats
        stats.batches += 1
        stats.epoch_batches += 1
        stats.warnings.update({str(i.check) for i in result.warnings})
        if result.passed:
            stats.epoch_passed += 1
            stats.consecutive, stats.first_failure = 0, None
        else:
            stats.quarantined += 1
            stats.consecutive += 1
            stats.first_failure = stats.first_failure or result.errors[0]
            stats.epoch_first_failure = stats.epoch_first_failure or result.errors[0]
            log.warning(
                "quarantined batch at step %d: %s",
                step,
                "; ".join(f"{i.check}: {i.message}" for i in result.errors),
            )
            if self.recorder is not None:
                self.recorder(step, result)
        self._stop_if_consecutive()
        self._stop_if_too_many(result)
        return result

    def begin_epoch(self) -> None:
        """Start counting an epoch's batches for ``end_epoch``."""
        self.stats.epoch_batches = self.stats.epoch_passed = 0
        self.stats.epoch_first_failure = None

    def end_epoch(self) -> None:
        """Stop the run if batches came since ``begin_epoch`` and none of them passed.

        Raises:
            GuardStopped: every batch of the epoch was quarantined (rule ``no_batch_passed``),
                naming the epoch's first failing check.
        """
        stats = self.stats
        if stats.epoch_batches == 0 or stats.epoch_passed > 0:
            return
        self._stop(
            GuardRule.NOTHING_PASSED,
            f"all {stats.epoch_batches} batches of the epoch were quarantined, so the model "
            f"trained on nothing",
            stats.epoch_first_failure,
            "first failing check",
        )

    def _stop_if_consecutive(self) -> None:
        stats = self.stats
        if stats.consecutive < self.max_consecutive_quarantines:
            return
        self._stop(
            GuardRule.CONSECUTIVE,
            f"{stats.consecutive} batches in a row were quarantined (max_consecutive_quarantines "
            f"{self.max_consecutive_quarantines})",
            stats.first_failure,
            "first failing check",
        )

    def _stop_if_too_many(self, result: GuardResult) -> None:
        seen, bad = self.stats.batches, self.stats.quarantined
        if seen < self.min_batches or bad <= self.max_quarantine_fraction * seen:
            return
        self._stop(
            GuardRule.FRACTION,
            f"quarantined {bad} of {seen} batches ({bad / seen:.1%}), above "
            f"max_quarantine_fraction {self.max_quarantine_fraction:.1%}",
            result.errors[0] if result.errors else None,
            "last",
        )

    def _stop(self, rule: GuardRule, why: str, issue: GuardIssue | None, which: str) -> None:
        """Raise ``GuardStopped`` for ``rule``, naming ``issue`` (a failing check) if any."""
        told = f"{which}: {issue.check}: {issue.message}" if issue else "last: this batch passed"
        raise GuardStopped(
            f"{why}; {told}",
            quarantined=self.stats.quarantined,
            batches=self.stats.batches,
            max_fraction=self.max_quarantine_fraction,
            rule=rule,
            check=None if issue is None else str(issue.check),
        )

    def __call__(self, batch: _B, *, step: int | None = None) -> _B | None:
        """The batch if it passed, else None (quarantined); see ``admit``."""
        return batch if self.admit(*unpack_batch(batch), step=step).passed else None


def unpack_batch(batch: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x, y, ids)`` of a collated batch.

    A mapping gives its ``x``, ``y`` and ``ids`` entries; a sequence gives its first, second and
    last items, which fits both ``(x, y, ids)`` and the dataset's ``(x, y, mask, ids)``.

    Raises:
        UsageError: a batch of another form.
    """
    if isinstance(batch, Mapping) and {"x", "y", "ids"} <= batch.keys():
        return batch["x"], batch["y"], batch["ids"]
    if isinstance(batch, Sequence) and len(batch) >= 3:
        return batch[0], batch[1], batch[-1]
    raise UsageError(
        f"cannot find x, y and ids in a batch of type {type(batch).__name__}; "
        "expected (x, y, ..., ids) or a mapping with keys x, y, ids"
    )


class GuardedLoader(Generic[_B]):
    """Iterates a loader's batches through a guard, yielding only the healthy ones.

    Args:
        loader: a ``DataLoader`` (or any iterable of batches ``unpack_batch`` understands).
        guard: the guard; its stats span every epoch.

    Attributes:
        batches: healthy batches yielded in the current (or last) epoch.
        batches_with_positives: those holding at least one positive window.
    """

    def __init__(self, loader: Iterable[_B], guard: BatchGuard) -> None:
        self.loader = loader
        self.guard = guard
        self.batches = 0
        self.batches_with_positives = 0

    def __iter__(self) -> Iterator[_B]:
        """The healthy batches of one pass over the loader (an epoch).

        Raises:
            GuardStopped: as ``BatchGuard.admit``; and, once the loader is exhausted, when
                batches came and none passed (``BatchGuard.end_epoch``).
        """
        self.batches = self.batches_with_positives = 0
        self.guard.begin_epoch()
        for batch in self.loader:
            result = self.guard.admit(*unpack_batch(batch))
            if result.passed:
                self.batches += 1
                self.batches_with_positives += result.n_positive > 0
                yield batch
        self.guard.end_epoch()

    def __len__(self) -> int:
        """The loader's length: an upper bound, as quarantined batches are skipped."""
        if not isinstance(self.loader, Sized):
            raise TypeError(f"{type(self.loader).__name__} has no length")
        return len(self.loader)

    def set_epoch(self, epoch: int) -> None:
        """Forward ``set_epoch`` to the loader's sampler and batch sampler where they have it."""
        for name in ("batch_sampler", "sampler"):
            set_epoch = getattr(getattr(self.loader, name, None), "set_epoch", None)
            if callable(set_epoch):
                set_epoch(epoch)
