"""SIGINT and SIGTERM: one place that turns them into a clean stop for every command.

While a command runs inside ``trapped()``, both signals raise ``Interrupted`` (a
``KeyboardInterrupt``, so no ``except Exception`` swallows it) in the main thread and are
remembered. Whatever surfaces afterwards (``Interrupted`` itself, DuckDB's "Query interrupted",
a broken worker pool) the CLI asks ``received()`` and reports the signal, never the symptom:
transactions roll back on the way out (``Manifest.transaction``), a training run is marked
``interrupted`` (resumable from its newest checkpoint), and the command exits 128 + the signal
number (130 for SIGINT, 143 for SIGTERM). Loops check ``raise_if_received()`` at their safe
points, so a signal caught and dropped by a library still stops the work at the next one.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Interrupted", "raise_if_received", "received", "trapped"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: int | None = None


class Interrupted(KeyboardInterrupt):
    """A SIGINT or SIGTERM arrived; ``exit_code`` is 128 + its number."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum
        self.name = signal.Signals(signum).name
        self.exit_code = 128 + signum

    def __reduce__(self) -> tuple[type[Interrupted], tuple[int]]:
        return Interrupted, (self.signum,)


def _handler(signum: int, frame: FrameType | None) -> None:
    global _received
    first = _received is None
    _received = signum
    if first:  # a second Ctrl-C while unwinding must not interrupt the rollback
        raise Interrupted(signum)


@contextmanager
def trapped() -> Iterator[None]:
    """Handle SIGINT and SIGTERM as above while the block runs (main thread only)."""
    global _received
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received = None
    previous = {s: signal.getsignal(s) for s in _SIGNALS}
    for s in _SIGNALS:
        signal.signal(s, _handler)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def received() -> Interrupted | None:
    """The signal received inside ``trapped()``, if any."""
    return None if _received is None else Interrupted(_received)


def raise_if_received() -> None:
    """A safe point: stop here if a signal arrived (even one a library swallowed)."""
    if _received is not None:
        raise Interrupted(_received)
