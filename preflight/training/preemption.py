"""SIGTERM during training: stop at the next batch, on every rank, so the run can continue.

Slurm sends SIGTERM before a job's time limit (``#SBATCH --signal=TERM@120``) and on preemption;
torchrun passes it on to its ranks. ``Preemption`` turns the signal into a flag; the loop reads
it in the all-reduce that already agrees on every batch (``loop._admit``), so all ranks leave at
the same step and nobody waits alone in a collective. The run is then marked ``interrupted``
with the newest epoch checkpoint as its resume point (a checkpoint is a whole epoch: resuming
mid-epoch would break the promise that a resumed run ends with an uninterrupted run's weights).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Preemption"]


class Preemption:
    """Whether SIGTERM arrived (``requested``) and all ranks agreed to stop (``agreed``)."""

    def __init__(self) -> None:
        self.requested = False
        self.agreed = False

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True

    @contextmanager
    def catching(self) -> Iterator[None]:
        """SIGTERM sets ``requested`` inside the block (the previous handler is restored).

        Only the main thread can install a handler; elsewhere the block runs unchanged.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGTERM, self._handle)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous)
