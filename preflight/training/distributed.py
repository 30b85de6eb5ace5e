"""The few ``torch.distributed`` calls a run needs, and the single-process case without them.

Under ``torchrun`` (``WORLD_SIZE > 1`` in the environment) the process group is initialised from
the environment variables torchrun sets (``env://``): gloo on CPU; on CUDA gloo for the CPU
messages below and NCCL for the gradients. Rank 0 does everything that writes (audit, cache,
manifest rows, checkpoints, reports); the other ranks wait at a barrier and learn the outcome
from a broadcast. Control messages always travel as CPU tensors, so nothing here touches a GPU:
a run whose gate fails never allocates device memory.

Every decision that ends a loop (a quarantined batch, a NaN, a monitor) is agreed by all ranks
(``any_rank``) before anyone acts on it: a rank that left the loop alone would leave the others
waiting forever in the next gradient all-reduce.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from preflight.errors import UsageError

__all__ = ["World", "pick_device"]

_T = TypeVar("_T")
# The audit and the cache build run on rank 0 while the others wait: allow them hours.
_TIMEOUT = timedelta(hours=4)
_CPU = torch.device("cpu")


def pick_device(choice: str, local_rank: int = 0) -> torch.device:
    """The device a run trains on (a ``torch.device`` value: nothing is allocated).

    Args:
        choice: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
        local_rank: this process's rank on its machine; picks its GPU.

    Raises:
        UsageError: ``cuda`` asked for and not available.
    """
    cuda = torch.cuda.is_available()
    if choice == "cuda" and not cuda:
        raise UsageError("train.device is cuda but torch sees no CUDA device; use auto or cpu")
    if choice == "cpu" or not cuda:
        return _CPU
    return torch.device("cuda", local_rank)


def env_int(name: str, default: int, *, low: int) -> int:
    """A whole-number environment variable (torchrun's ``WORLD_SIZE``, ``RANK`` ...).

    Raises:
        UsageError: naming the variable and its value.
    """
    text = os.environ.get(name)
    if text is None or text.strip() == "":
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if value < low:
        raise UsageError(
            f"environment variable {name}={text!r} is not a whole number >= {low}; torchrun "
            f"sets it: unset it, or launch with torchrun"
        )
    return value


def _require_torchrun(size: int, rank: int) -> None:
    """``WORLD_SIZE`` > 1 joins a process group: only torchrun (or a launcher like it) sets the
    rendezvous; without it the run would fail deep inside torch.distributed, or wait forever."""
    missing = [v for v in ("RANK", "MASTER_ADDR", "MASTER_PORT") if not os.environ.get(v)]
    if missing:
        raise UsageError(
            f"WORLD_SIZE={size} asks for {size} processes but {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set: launch with `torchrun "
            f"--nproc-per-node {size} -m preflight train CONFIG`, or unset WORLD_SIZE"
        )
    if rank >= size:
        raise UsageError(f"environment variable RANK={rank} is not below WORLD_SIZE={size}")


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of a run.

    Attributes:
        rank: global rank, 0 in a single process.
        size: number of ranks.
        device: where this rank trains.
        owns_group: this run initialised the process group (and destroys it in ``close``).
    """

    rank: int
    size: int
    device: torch.device
    owns_group: bool = False

    @classmethod
    def from_env(cls, device_choice: str) -> World:
        """Join the process group torchrun describes in the environment, if there is one.

        Raises:
            UsageError: ``WORLD_SIZE``, ``RANK`` or ``LOCAL_RANK`` is not a whole number (or out
                of range), or ``WORLD_SIZE`` > 1 without the rendezvous torchrun sets up.
        """
        size = env_int("WORLD_SIZE", 1, low=1)
        rank = env_int("RANK", 0, low=0)
        device = pick_device(device_choice, env_int("LOCAL_RANK", 0, low=0))
        if size > 1:
            _require_torchrun(size, rank)
        if size <= 1:
            return cls(rank=0, size=1, device=device)
        owns = not dist.is_initialized()
        if owns:
            backend = "gloo" if device.type == "cpu" else "cpu:gloo,cuda:nccl"
            dist.init_process_group(backend, timeout=_TIMEOUT)
        return cls(rank=dist.get_rank(), size=dist.get_world_size(), device=device, owns_group=owns)

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that writes."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True with more than one rank."""
        return self.size > 1

    def bind_device(self) -> None:
        """Make this rank's GPU the current one (after the gate: it creates a CUDA context)."""
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)

    def close(self) -> None:
        """Leave the process group if this run joined it."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()

    def barrier(self) -> None:
        """Wait until every rank got here."""
        if self.distributed:
            dist.all_reduce(torch.zeros(1, device=_CPU))

    def any_rank(self, *flags: bool) -> tuple[bool, ...]:
        """Each flag OR-ed over all ranks (one all-reduce for all of them)."""
        if not self.distributed:
            return flags
        tensor = torch.tensor([int(f) for f in flags], dtype=torch.int64, device=_CPU)
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return tuple(bool(v) for v in tensor.tolist())

    def sum(self, *values: float) -> tuple[float, ...]:
        """Each value summed over all ranks."""
        if not self.distributed:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=_CPU)
        dist.all_reduce(tensor)
        return tuple(tensor.tolist())

    def broadcast(self, value: _T) -> _T:
        """Rank 0's ``value`` (picklable), on every rank."""
        if not self.distributed:
            return value
        box: list[Any] = [value]
        dist.broadcast_object_list(box, src=0, device=_CPU)
        return box[0]

    def on_main(self, compute: Callable[[], _T]) -> _T:
        """``compute()`` run on rank 0 alone, its (picklable) result given to every rank.

        Raises:
            UsageError: on the other ranks, when ``compute`` raised on rank 0 (which re-raises
                its own error), so no rank is left waiting for a result that never comes.
        """
        if not self.distributed:
            return compute()
        if self.is_main:
            try:
                value = compute()
            except BaseException as exc:
                self.broadcast(("error", f"{type(exc).__name__}: {exc}"))
                raise
            self.broadcast(("ok", value))
            return value
        received: tuple[str, Any] = self.broadcast(("", None))
        if received[0] == "error":
            raise UsageError(f"rank 0 stopped: {received[1]}")
        return received[1]

    def gather(self, value: _T) -> list[_T]:
        """Every rank's ``value`` on rank 0 (in rank order); an empty list elsewhere."""
        if not self.distributed:
            return [value]
        out: list[Any] | None = [None] * self.size if self.is_main else None
        dist.gather_object(value, out, dst=0)
        return out or []
