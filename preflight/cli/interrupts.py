"""Every command under one interrupt handler: SIGINT exits 130, SIGTERM 143, in one line."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from preflight import signals

_F = TypeVar("_F", bound=Callable[..., Any])

# What stopping means for each command, said after "interrupted by SIGINT: ".
AFTER = {
    "audit": "the audit stopped; its scan, split and gate are rolled back, the manifest holds "
    "the previous audit",
    "train": "the run is marked interrupted; continue it with `preflight train CONFIG --resume`",
    "smoke": "the smoke run stopped; nothing to resume",
}


def interruptible(command: Callable[..., Any], name: str) -> Callable[..., Any]:
    """``command`` run inside ``signals.trapped()``: a signal ends it with one line and exit
    128 + the signal number, whatever exception (or exit code) it surfaced as."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with signals.trapped():
            try:
                result = command(*args, **kwargs)
            except BaseException:
                stop = signals.received()
                if stop is None:
                    raise
                _say(stop, name)
                raise typer.Exit(stop.exit_code) from None
            stop = signals.received()
            if stop is not None:  # swallowed by a library: still not a success
                _say(stop, name)
                raise typer.Exit(stop.exit_code)
            return result

    return wrapper


def _say(stop: signals.Interrupted, name: str) -> None:
    say_interrupted(stop.name, name)


def say_interrupted(signal_name: str, command: str) -> None:
    """The one line a stopped command ends with: which signal, and what stopping meant."""
    from preflight.console import make_console  # here: `preflight --version` never loads rich

    what = AFTER.get(command, f"{command} stopped")
    make_console(stderr=True).print(f"[yellow]interrupted by {signal_name}[/yellow]: {what}")
