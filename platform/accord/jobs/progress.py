"""Progress of a job: rich bars (rate and ETA) on a terminal, counters everywhere.

The counters feed the job row (``progress_done`` / ``progress_total``) so the service and
``accord jobs show`` see the same numbers as the terminal.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second for the task."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("  -- it/s" if speed is None else f"{speed:6.2f} it/s", style="progress.data.speed")


class JobProgress:
    """Per-step bars; ``done`` / ``total`` count work units over the whole job."""

    def __init__(self, *, show: bool = True, console: Console | None = None):
        self.done = 0
        self.total = 0
        self._bars: Progress | None = None
        if show:
            self._bars = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TaskProgressColumn(), RateColumn(), TimeElapsedColumn(), TextColumn("eta"),
                TimeRemainingColumn(), console=console or Console(stderr=True),
            )
        self._next_id = 0

    def __enter__(self) -> JobProgress:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bars is not None:
            self._bars.stop()

    def add_step(self, description: str, *, total: int) -> int:
        self.total += total
        if self._bars is not None:
            return self._bars.add_task(description, total=total)
        self._next_id += 1
        return self._next_id

    def advance(self, task_id: int, n: int = 1) -> None:
        self.done += n
        if self._bars is not None:
            self._bars.advance(task_id, n)
