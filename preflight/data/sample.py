"""Balanced, event-aware sampling from the manifest's window labels, sharded across ranks.

Every number comes from a ``WindowIndex`` (labels, seizure ids and patients read from the manifest
in one query) in NumPy; no window is loaded and nothing is estimated. A draw picks a window with
this probability (its *mass*):

* positive windows share ``target_positive_fraction`` of the mass, spread

  - ``"window"``: equally over positive windows;
  - ``"event"``: equally over seizure events, then equally over each event's windows, so a
    100-window seizure and a 2-window one are drawn equally often;
  - ``"patient"``: equally over patients with positives, then over each patient's events, then
    over each event's windows;

* negative windows share the rest equally (background is plentiful; its natural mix is kept).

A positive window without a seizure id (tabular sources) counts as an event of its own.

Distributed semantics: every rank draws the same epoch sample (seeded by ``(seed, epoch)``) of
``len(sampler) * world_size`` indices and keeps ``sample[rank::world_size]``: the shards are
disjoint slices, equally long, and their union is exactly the epoch's sample. Draws are with
replacement, so one window can appear in several slices (and several times in one).

Nothing falls back silently: a request the split cannot satisfy raises ``UsageError`` with the
numbers, before any training step.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal, get_args

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from preflight.data.window_index import WindowIndex
from preflight.errors import UsageError

__all__ = [
    "BalancedSampler",
    "PositiveBatchSampler",
    "Spread",
    "class_weights",
    "pos_weight",
    "positive_weights",
]

Spread = Literal["window", "event", "patient"]
_TOP_UP_STREAM = 1  # keeps the batch sampler's top-up draws apart from the epoch's draw


def _where(index: WindowIndex) -> str:
    return f"split '{'+'.join(index.splits)}'"


def _check_feasible(index: WindowIndex, target: float) -> None:
    """Raise unless ``index`` can supply ``target`` positives and ``1 - target`` negatives."""
    if not 0.0 <= target <= 1.0:  # also rejects NaN
        raise UsageError(f"target_positive_fraction {target!r} is outside [0, 1]")
    n, n_pos = len(index), index.n_positive
    if n == 0:
        raise UsageError(f"{_where(index)} has 0 windows; nothing to sample")
    if target > 0 and n_pos == 0:
        raise UsageError(
            f"{_where(index)} has 0 positive windows of {n}; cannot sample {target * 100:g} % "
            "positives; the gate's min_positive_windows check should have stopped this"
        )
    if target < 1 and n_pos == n:
        raise UsageError(
            f"{_where(index)} has 0 negative windows of {n}; cannot sample "
            f"{(1 - target) * 100:g} % negatives; the gate's both_classes check should have "
            "stopped this"
        )


def _event_codes(seizure: np.ndarray) -> np.ndarray:
    """Dense event codes 0..E-1 for positive windows; a missing id (-1) is an event of its own."""
    ids = seizure.astype(np.int64)
    missing = ids < 0
    ids[missing] = ids.max(initial=-1) + 1 + np.arange(int(missing.sum()))
    return np.unique(ids, return_inverse=True)[1].reshape(-1)


def positive_weights(index: WindowIndex, spread: Spread) -> tuple[np.ndarray, np.ndarray]:
    """The positive windows and how the positive mass is spread over them.

    Args:
        index: the windows.
        spread: ``"window"``, ``"event"`` or ``"patient"`` (see the module docstring).

    Returns:
        ``(positions, weights)``: int64 [P] positions of the positive windows in ``index`` and
        float64 [P] weights summing to 1 (both empty when there is no positive window).
    """
    positions = np.flatnonzero(index.positive)
    n_pos = positions.size
    if n_pos == 0 or spread == "window":
        return positions, np.full(n_pos, 1.0 / max(n_pos, 1))
    event = _event_codes(index.seizure[positions])  # (P,) dense event code
    per_event = np.bincount(event)  # (E,) windows per event
    if spread == "event":
        weights = 1.0 / (per_event.size * per_event[event])
    else:
        patient = np.unique(index.patient[positions], return_inverse=True)[1].reshape(-1)  # (P,)
        event_patient = np.zeros(per_event.size, dtype=np.int64)
        event_patient[event] = patient  # a seizure lies in one recording, so one patient
        per_patient = np.bincount(event_patient)  # (Q,) events per patient
        weights = 1.0 / (per_patient.size * per_patient[patient] * per_event[event])
    return positions, weights / weights.sum()


def _resolve_rank(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """Explicit values win; else ``torch.distributed`` when initialized; else rank 0 of 1."""
    live = dist.is_available() and dist.is_initialized()
    if world_size is None:
        world_size = dist.get_world_size() if live else 1
    if rank is None:
        rank = dist.get_rank() if live else 0
    if world_size < 1 or not 0 <= rank < world_size:
        raise UsageError(f"rank {rank} does not exist in a world of {world_size} process(es)")
    return rank, world_size


class BalancedSampler(Sampler[int]):
    """Draws window positions with a target positive fraction, seeded per epoch, per rank.

    Args:
        index: the windows to draw from; a yielded ``i`` is position ``i`` in ``index``.
        target_positive_fraction: the expected share of positive windows in the draw, in [0, 1].
        spread: how the positive mass is spread: per ``"window"``, seizure ``"event"`` or
            ``"patient"`` (see the module docstring).
        num_samples: draws per epoch over all ranks; default ``len(index)``. Rounded up to a
            multiple of ``world_size`` so every rank gets as many.
        seed: with the epoch, seeds the draw; the same on every rank.
        rank: this process's rank; default from ``torch.distributed`` if initialized, else 0.
        world_size: the number of ranks; default from ``torch.distributed``, else 1.

    Raises:
        UsageError: an unknown ``spread``, a fraction outside [0, 1], a split without the
            positive (or negative) windows the fraction asks for, a non-positive
            ``num_samples``, a negative seed, or a rank outside the world.
    """

    def __init__(
        self,
        index: WindowIndex,
        *,
        target_positive_fraction: float = 0.5,
        spread: Spread = "event",
        num_samples: int | None = None,
        seed: int = 0,
        rank: int | None = None,
        world_size: int | None = None,
    ) -> None:
        super().__init__()
        if spread not in get_args(Spread):
            raise UsageError(f"spread {spread!r} is not one of {', '.join(get_args(Spread))}")
        _check_feasible(index, target_positive_fraction)
        total = len(index) if num_samples is None else num_samples
        if total < 1:
            raise UsageError(f"num_samples {num_samples} must be at least 1")
        if seed < 0:
            raise UsageError(f"seed {seed} must be non-negative")
        self.index = index
        self.target_positive_fraction = float(target_positive_fraction)
        self.spread: Spread = spread
        self.seed = seed
        self.epoch = 0
        self.rank, self.world_size = _resolve_rank(rank, world_size)
        self.num_samples = math.ceil(total / self.world_size)  # per rank
        self._positives, weights = positive_weights(index, spread)
        self._positive_cdf = np.cumsum(weights)  # (P,) for inverse-CDF draws
        self._negatives = np.flatnonzero(~index.positive)  # (N - P,)

    def __len__(self) -> int:
        return self.num_samples

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_sample()[self.rank :: self.world_size].tolist())

    def set_epoch(self, epoch: int) -> None:
        """Draw a different, reproducible sample; call with the same epoch on every rank."""
        if epoch < 0:
            raise UsageError(f"epoch {epoch} must be non-negative")
        self.epoch = epoch

    def window_weights(self) -> np.ndarray:
        """float64 [N]: the probability that one draw picks each window (sums to 1)."""
        weights = np.zeros(len(self.index))
        target = self.target_positive_fraction
        weights[self._positives] = target * np.diff(self._positive_cdf, prepend=0.0)
        if self._negatives.size:
            weights[self._negatives] = (1.0 - target) / self._negatives.size
        return weights

    def epoch_sample(self, size: int | None = None) -> np.ndarray:
        """int64 [size]: this epoch's draw for all ranks together.

        Args:
            size: how many draws; default ``len(self) * world_size``.
        """
        size = self.num_samples * self.world_size if size is None else size
        rng = np.random.default_rng((self.seed, self.epoch))
        positive = rng.random(size) < self.target_positive_fraction  # (size,)
        n_pos = int(positive.sum())
        sample = np.empty(size, dtype=np.int64)
        sample[positive] = self.draw_positives(n_pos, rng)
        if n_pos < size:  # target < 1, so negatives exist (checked at construction)
            picks = rng.integers(self._negatives.size, size=size - n_pos)
            sample[~positive] = self._negatives[picks]
        return sample

    def draw_positives(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """int64 [n]: positive windows drawn with the positive mass's spread (events, patients).

        Raises:
            UsageError: ``n > 0`` and the index has no positive window.
        """
        if n == 0:
            return np.empty(0, dtype=np.int64)
        if self._positives.size == 0:
            raise UsageError(
                f"{_where(self.index)} has 0 positive windows of {len(self.index)}; "
                f"cannot draw {n} positives"
            )
        cdf = self._positive_cdf
        picks = np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right")
        return self._positives[np.minimum(picks, cdf.size - 1)]


class PositiveBatchSampler(Sampler[list[int]]):
    """Batches from a ``BalancedSampler`` with at least ``min_positives`` positives in each.

    Each rank's slice of the epoch sample is cut into full batches; a batch short of
    ``min_positives`` positives gets its first negatives replaced by positives drawn with the
    sampler's spread (a second stream seeded by ``(seed, epoch)``). Batches already holding
    enough positives are untouched, so the positive fraction stays at the target unless the
    floor is above it. Seeding, ``set_epoch`` and sharding are the sampler's.

    Args:
        sampler: the balanced sampler, or a ``WindowIndex`` to wrap in one with its defaults.
        batch_size: windows per batch; every batch is full.
        min_positives: the promised floor of positive windows per batch.

    Raises:
        UsageError: ``batch_size < 1``, ``min_positives`` outside ``[0, batch_size]``, or
            ``min_positives > 0`` with no positive window in the split.
    """

    def __init__(
        self, sampler: BalancedSampler | WindowIndex, batch_size: int, min_positives: int
    ) -> None:
        super().__init__()
        self.sampler = sampler if isinstance(sampler, BalancedSampler) else BalancedSampler(sampler)
        index = self.sampler.index
        if batch_size < 1:
            raise UsageError(f"batch_size {batch_size} must be at least 1")
        if not 0 <= min_positives <= batch_size:
            raise UsageError(
                f"min_positives {min_positives} is outside [0, batch_size {batch_size}]"
            )
        if min_positives > 0 and index.n_positive == 0:
            raise UsageError(
                f"{_where(index)} has 0 positive windows of {len(index)}; cannot put "
                f"{min_positives} in every batch; the gate's sampler_feasible check should have "
                "stopped this"
            )
        self.batch_size = batch_size
        self.min_positives = min_positives
        self.num_batches = math.ceil(len(self.sampler) / batch_size)  # per rank

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.epoch_batches()[self.sampler.rank].tolist())

    def set_epoch(self, epoch: int) -> None:
        """Forwarded to the sampler; call with the same epoch on every rank."""
        self.sampler.set_epoch(epoch)

    def epoch_batches(self) -> np.ndarray:
        """int64 [world_size, batches, batch_size]: every rank's batches this epoch.

        Row ``r`` holds ``sample[r::world_size]`` of the epoch sample, cut into batches and
        topped up to ``min_positives``.
        """
        world = self.sampler.world_size
        per_rank = self.num_batches * self.batch_size
        sample = self.sampler.epoch_sample(per_rank * world)  # (per_rank * W,)
        shards = sample.reshape(per_rank, world).T  # (W, per_rank); [r] == sample[r::W]
        batches = np.ascontiguousarray(shards).reshape(-1, self.batch_size)  # (W * batches, B)
        self._top_up(batches)
        return batches.reshape(world, self.num_batches, self.batch_size)

    def _top_up(self, batches: np.ndarray) -> None:
        """Replace negatives by positives, in place, in batches (R, B) short of the floor."""
        if self.min_positives == 0:
            return
        positive = self.sampler.index.positive[batches]  # (R, B)
        deficit = self.min_positives - positive.sum(axis=1)  # (R,)
        negative_rank = np.cumsum(~positive, axis=1)  # (R, B) 1-based rank among negatives
        replace = ~positive & (negative_rank <= deficit[:, None])  # (R, B)
        rng = np.random.default_rng((self.sampler.seed, self.sampler.epoch, _TOP_UP_STREAM))
        batches[replace] = self.sampler.draw_positives(int(replace.sum()), rng)


def _class_counts(index: WindowIndex) -> tuple[int, int]:
    n_pos = index.n_positive
    n_neg = len(index) - n_pos
    if n_pos == 0 or n_neg == 0:
        raise UsageError(
            f"{_where(index)} has {n_pos} positive and {n_neg} negative windows; class weights "
            "need both classes; the gate's both_classes check should have stopped this"
        )
    return n_pos, n_neg


def class_weights(index: WindowIndex) -> dict[int, float]:
    """Per-class loss weights ``n / (2 n_c)`` that make both classes weigh the same in total.

    Meant for training on the natural class mix; a ``BalancedSampler`` already rebalances.

    Returns:
        ``{0: weight of negatives, 1: weight of positives}``.

    Raises:
        UsageError: the index lacks positive or negative windows.
    """
    n_pos, n_neg = _class_counts(index)
    n = n_pos + n_neg
    return {0: n / (2 * n_neg), 1: n / (2 * n_pos)}


def pos_weight(index: WindowIndex) -> torch.Tensor:
    """``n_neg / n_pos`` as float32 [1], for ``BCEWithLogitsLoss(pos_weight=...)``.

    Meant for training on the natural class mix; with a ``BalancedSampler`` at target ``p`` the
    sampled ratio is ``(1 - p) / p`` instead (1 at 0.5).

    Raises:
        UsageError: the index lacks positive or negative windows.
    """
    n_pos, n_neg = _class_counts(index)
    return torch.tensor([n_neg / n_pos], dtype=torch.float32)
