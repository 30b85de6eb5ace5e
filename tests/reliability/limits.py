"""A time limit for code that must not hang the test run (main thread, POSIX)."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the code inside after ``seconds`` with a TimeoutError.

    SIGALRM interrupts pure-Python loops, regular-expression matching and blocking system calls
    alike, so a hang fails its test instead of stalling the whole run.
    """

    def expire(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
