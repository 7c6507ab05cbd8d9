"""The one progress bar every long job shows: description, bar, count, elapsed time, ETA.

Where the console is not a terminal (a CI log, ``nohup``, a pipe) rich draws nothing until the job
ends, so a long job would look hung: there the bar prints one plain line per running task every
:data:`PLAIN_INTERVAL_SECONDS` instead, and a last line when a job that printed some ends well (a
short job stays silent, and a failed one ends with its error line alone).
"""

from __future__ import annotations

import time
from datetime import timedelta

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    Task,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

PLAIN_INTERVAL_SECONDS = 30.0


class LoggedProgress(Progress):
    """rich's Progress, plus plain progress lines where its console is not a terminal."""

    def __init__(self, *columns, plain_interval: float = PLAIN_INTERVAL_SECONDS, **kwargs):
        super().__init__(*columns, **kwargs)
        self.plain = not self.console.is_terminal and not self.disable
        self.plain_interval = plain_interval
        self._last_plain = time.monotonic()
        self._printed = False

    def update(self, task_id: TaskID, **kwargs) -> None:
        super().update(task_id, **kwargs)
        self._plain_lines()

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._plain_lines()

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        super().__exit__(exc_type, exc_val, exc_tb)
        if exc_type is None and self._printed:
            self._plain_lines(final=True)

    def _plain_lines(self, final: bool = False) -> None:
        if not self.plain:
            return
        now = time.monotonic()
        if not final and now - self._last_plain < self.plain_interval:
            return
        self._last_plain = now
        for task in self.tasks:
            if task.visible and (final or not task.finished) and task.completed:
                self.console.print(plain_line(task), highlight=False, markup=False, soft_wrap=True)
                self._printed = True


def plain_line(task: Task) -> str:
    """``description: 40/152 (26%), 0:01:02 elapsed, eta 0:02:55`` (what the bar shows, as text)."""
    elapsed = timedelta(seconds=int(task.finished_time or task.elapsed or 0))
    if task.total:
        line = (
            f"{task.description}: {task.completed:,.0f}/{task.total:,.0f} ({task.percentage:.0f}%), {elapsed} elapsed"
        )
        if task.time_remaining is not None and not task.finished:
            line += f", eta {timedelta(seconds=int(task.time_remaining))}"
        return line
    return f"{task.description}: {task.completed:,.0f}, {elapsed} elapsed"


def progress_bar(console: Console, *extra_columns, transient: bool = True, disable: bool = False) -> Progress:
    return LoggedProgress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        *extra_columns,
        console=console,
        transient=transient,
        disable=disable,
    )
