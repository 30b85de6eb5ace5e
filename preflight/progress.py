"""A rich progress bar on standard error that disappears when done (or does nothing)."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING

from preflight.console import make_console

if TYPE_CHECKING:
    from rich.progress import Progress


class ProgressReporter:
    """Counts work items on a transient bar; silent when disabled or not on a terminal.

    Args:
        description: what is being counted.
        total: how many items.
        enabled: False to draw nothing.
    """

    def __init__(self, description: str, total: int, enabled: bool) -> None:
        console = make_console(stderr=True)
        self._progress: Progress | None = None
        if enabled and total > 0 and console.is_terminal:
            # Imported here: a quiet or piped run never pays for rich's progress module.
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self._task = self._progress.add_task(description, total=total)

    def __enter__(self) -> ProgressReporter:
        if self._progress is not None:
            self._progress.start()
        return self

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done."""
        if self._progress is not None:
            self._progress.advance(self._task, n)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
