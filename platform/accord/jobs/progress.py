"""Progress of a job: rich bars (rate and ETA) on a terminal, plain lines elsewhere,
counters everywhere.

When the console is not a terminal (a log file, a pipe, CI), animated bars would write control
sequences and redraws into it; the job prints one line when a step starts and one when it is
done instead. Everything goes to stderr: stdout carries only results (``accord run --json``).
The counters feed the job row (``progress_done`` / ``progress_total``) so the service and
``accord jobs show`` see the same numbers as the terminal.

>>> import io
>>> from rich.console import Console
>>> out = io.StringIO()
>>> with JobProgress(console=Console(file=out, width=80)) as progress:
...     task = progress.add_step("generate", total=2)
...     progress.advance(task, 2)
>>> print(out.getvalue().replace("0.0s", "…s"), end="")
generate: 2 to do
generate: done 2/2 in …s
"""

from __future__ import annotations

import time

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
        return Text(
            "  -- it/s" if speed is None else f"{speed:6.2f} it/s", style="progress.data.speed"
        )


class JobProgress:
    """Per-step bars; ``done`` / ``total`` count work units over the whole job."""

    def __init__(self, *, show: bool = True, console: Console | None = None):
        self.done = 0
        self.total = 0
        self.console = console or Console(stderr=True)
        self._show = show
        self._bars: Progress | None = None
        if show and self.console.is_terminal:
            self._bars = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TaskProgressColumn(),
                RateColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=self.console,
            )
        self._next_id = 0
        self._lines: dict[int, list] = {}  # plain mode: task → [description, done, total, start]

    def __enter__(self) -> JobProgress:
        if self._bars is not None:
            self._bars.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._bars is not None:
            self._bars.stop()

    @property
    def plain(self) -> bool:
        """True when progress is shown as plain lines (the console is not a terminal)."""
        return self._show and self._bars is None

    def add_step(self, description: str, *, total: int) -> int:
        description = _without_repeated_step_name(description)
        self.total += total
        if self._bars is not None:
            return self._bars.add_task(description, total=total)
        self._next_id += 1
        if self.plain:
            self._lines[self._next_id] = [description, 0, total, time.perf_counter()]
            self._line(f"{description}: {total} to do")
            if total == 0:
                self._finish(self._next_id)
        return self._next_id

    def advance(self, task_id: int, n: int = 1) -> None:
        self.done += n
        if self._bars is not None:
            self._bars.advance(task_id, n)
        elif task_id in self._lines:
            line = self._lines[task_id]
            line[1] += n
            if line[1] >= line[2]:
                self._finish(task_id)

    def note(self, message: str) -> None:
        """A line worth reading among the bars (e.g. rows skipped and where they went); always
        shown, on stderr, even without progress display."""
        (self._bars.console if self._bars is not None else self.console).print(
            message, soft_wrap=True, highlight=False, markup=False
        )

    def _finish(self, task_id: int) -> None:
        description, done, total, start = self._lines.pop(task_id)
        self._line(f"{description}: done {done}/{total} in {time.perf_counter() - start:.1f}s")

    def _line(self, text: str) -> None:
        self.console.print(text, soft_wrap=True, highlight=False, markup=False)


def _without_repeated_step_name(description: str) -> str:
    """``"generate: generate"`` → ``"generate"``: a step named after its activity says it once.

    >>> _without_repeated_step_name("prompts: prompts")
    'prompts'
    >>> _without_repeated_step_name("dpo: train dpo")
    'dpo: train dpo'
    """
    head, sep, tail = description.partition(": ")
    if sep and (tail == head or tail.startswith(head + " ")):
        return tail
    return description
