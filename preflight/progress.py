"""Rich progress on standard error that disappears when done (or does nothing off a terminal).

``ProgressReporter`` counts work items (files scanned, recordings cached); ``EpochBar`` shows a
training epoch's steps, loss and rate; ``Working`` a spinner for a step of unknown length (the
gate). Off a terminal (a CI log, a pipe) they draw nothing: the commands print one plain line per
finished step there instead.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Self

from preflight.console import make_console

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID


class _Transient:
    """A display drawn while a ``with`` block runs (``_progress``: None when nothing is drawn)."""

    _progress: Progress | None = None

    def __enter__(self) -> Self:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            self._progress.stop()


class ProgressReporter(_Transient):
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
            self._progress = _counting_bar(console)
            self._task = self._progress.add_task(description, total=total)

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done."""
        if self._progress is not None:
            self._progress.advance(self._task, n)


class EpochBar:
    """A training epoch on a transient bar: steps done of the epoch's, the running loss, the rate.

    Args:
        epochs: the run's epochs, for ``epoch 3/6``.
        enabled: False (or not on a terminal) to draw nothing.
    """

    def __init__(self, epochs: int, enabled: bool) -> None:
        console = make_console(stderr=True)
        self._epochs = epochs
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        if enabled and console.is_terminal:
            self._progress = _counting_bar(
                console, "steps  loss {task.fields[loss]}  {task.fields[rate]}"
            )

    def begin(self, epoch: int, steps: int | None) -> None:
        """Start epoch ``epoch`` (1-based) of ``steps`` steps (None: unknown)."""
        if self._progress is None:
            return
        if self._task is None:
            self._progress.start()
        else:
            self._progress.remove_task(self._task)
        self._task = self._progress.add_task(
            f"epoch {epoch}/{self._epochs}", total=steps, loss="-", rate=""
        )

    def step(self, loss: float) -> None:
        """One optimizer step done, with its loss."""
        if self._progress is None or self._task is None:
            return
        self._progress.advance(self._task)
        speed = self._progress.tasks[self._task].speed
        rate = f"{speed:.1f} steps/s" if speed else ""
        self._progress.update(self._task, loss=f"{loss:.4f}", rate=rate)

    def validating(self, splits: str) -> None:
        """The epoch's steps are done; validation on ``splits`` runs now."""
        if self._progress is not None and self._task is not None:
            description = f"epoch {self._progress.tasks[self._task].description.split()[1]}"
            self._progress.update(self._task, description=f"{description} validating on {splits}")

    def close(self) -> None:
        """Remove the bar (at the end of the run, or when it stops)."""
        if self._progress is not None and self._task is not None:
            self._progress.stop()
            self._task = None


class Working(_Transient):
    """A transient spinner saying what runs now, for a step whose length is not known.

    Args:
        description: what runs (``running the gate``).
        enabled: False (or not on a terminal) to draw nothing.
    """

    def __init__(self, description: str, enabled: bool) -> None:
        console = make_console(stderr=True)
        self._progress: Progress | None = None
        if enabled and console.is_terminal:
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._progress = Progress(
                SpinnerColumn(), TextColumn(description), TimeElapsedColumn(),
                console=console, transient=True,
            )  # fmt: skip
            self._progress.add_task(description, total=None)


def _counting_bar(console: Console, *fields: str) -> Progress:
    """A transient bar: the description, the bar, done of total, ``fields`` (text templates over
    the task's fields), the time elapsed. rich's progress module is imported here, when a bar is
    drawn, so a quiet or piped run never pays for it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        *(TextColumn(field) for field in fields), TimeElapsedColumn(),
        console=console, transient=True,
    )  # fmt: skip
