"""Progress in a log: a line every so often where no bar can be redrawn.

On a terminal rich redraws its bars in place. Elsewhere it cannot: in a log file, a pipe, a batch
job's output (SLURM, nohup, CI) it draws them once, when the work ends, so an hour's training
showed nothing until its last step. There `LoggedProgress` also writes one plain line at most
every `L2ADVISOR_LOG_EVERY` seconds (30 by default; 0: never), as the work advances: the first
bar (the overall one, or the only one) with its steps, share, info, the time spent and rich's
own estimate of the time left, and the bar updated last when there are several (tune's trial).
No line before the first step nor at the end: the command's own output says how it ended.
Shared by the command line's bars and `l2advisor.probe`'s (in a notebook rich redraws them: no lines).
"""

from __future__ import annotations

import datetime
import math
import os
from collections.abc import Mapping
from typing import Any

from rich import get_console
from rich.progress import Progress, Task, TaskID
from rich.text import Text

from l2advisor.errors import InputError

ENV = "L2ADVISOR_LOG_EVERY"
DEFAULT_EVERY_S = 30.0


def log_every(environ: Mapping[str, str] = os.environ) -> float | None:
    """Seconds between two progress lines in a log, from `L2ADVISOR_LOG_EVERY`; None: never."""
    value = environ.get(ENV, "").strip()
    if not value:
        return DEFAULT_EVERY_S
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and seconds >= 0):
        raise InputError(f"{ENV} must be a number of seconds >= 0 (0: no progress lines in a log), got {value!r}.")
    return seconds or None


def redraws(console: Any) -> bool:
    """Whether `console` can redraw a bar in place: a terminal or Jupyter, not a log file or a pipe."""
    return bool((console.is_terminal and not console.is_dumb_terminal) or console.is_jupyter)


class LoggedProgress(Progress):
    """rich's `Progress`, writing a plain progress line now and then where its console cannot
    redraw bars (`every_s`: seconds between lines; None: never). The time is rich's clock
    (`get_time`), so a test can drive it. `plain_unless_live`: where the console cannot redraw,
    no bar at all (its last frame, glyphs and all, was written into log files on stop) and, on
    stop, one plain line where none was written yet."""

    def __init__(self, *columns: Any, every_s: float | None, plain_unless_live: bool = False, **kwargs: Any) -> None:
        live = redraws(kwargs.get("console") or get_console())
        if plain_unless_live and not live:
            kwargs["disable"] = True
        super().__init__(*columns, **kwargs)
        self.final_line = plain_unless_live and not live  # on stop: one plain line of where it ended
        self.every_s = None if live else every_s
        self.started = self.last_line = self.get_time()
        self.latest: TaskID | None = None  # the bar updated last, other than the first
        self.last_completed = 0.0  # the first bar's steps at the last line

    def update(self, task_id: TaskID, **kwargs: Any) -> None:  # type: ignore[override]
        super().update(task_id, **kwargs)
        self._touched(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._touched(task_id)

    def _touched(self, task_id: TaskID) -> None:
        tasks = self.tasks
        if tasks and task_id != tasks[0].id:
            self.latest = task_id
        if self.every_s is None or not tasks:
            return
        now, first = self.get_time(), tasks[0]
        # nothing new since the last line, or the end, which the command's own output says
        if now - self.last_line < self.every_s or first.completed == self.last_completed or first.finished:
            return
        self.last_line, self.last_completed = now, first.completed
        self.console.print(self.line(now), highlight=False, markup=False, soft_wrap=True)

    def stop(self) -> None:
        super().stop()
        # a log file without a line of this bar yet (a short run, all reused): one, in place of the
        # bar's last frame; after lines as it went, the end is the command's own output to say
        if self.final_line and self.every_s is not None and self.tasks and self.last_completed == 0:
            self.console.print(self.line(self.get_time()), highlight=False, markup=False, soft_wrap=True)
            self.final_line = False  # said once, however often stopped

    def line(self, now: float) -> str:
        """One line: the first bar, the one updated last (if another), time spent and left."""
        tasks = self.tasks
        first = tasks[0]
        parts = [_bar_text(first)]
        latest = next((task for task in tasks if task.id == self.latest and not task.finished), None)
        if latest is not None:
            parts.append(_bar_text(latest))
        timing = f"{clock(now - self.started)} elapsed"
        remaining = first.time_remaining
        if remaining is not None:
            timing += f", about {clock(remaining)} left"
        return "; ".join(parts) + f" ({timing})"


def _bar_text(task: Task) -> str:
    """`description: done/total (share%), info` of one bar, markup removed, spaces single."""
    text = f"{task.description}: {int(task.completed):,}"
    if task.total:
        text += f"/{int(task.total):,} ({100 * task.completed / task.total:.0f}%)"
    info = " ".join(Text.from_markup(str(task.fields.get("info", ""))).plain.split())
    return f"{text}, {info}" if info else text


def clock(seconds: float) -> str:
    """h:mm:ss, as rich's time columns write it."""
    return str(datetime.timedelta(seconds=max(0, round(seconds))))
