"""Progress of `l2advisor.probe` as the caller wants it: a callback, a bar, or nothing.

The probing layer reports through a `Progress` object (begin / update / finish per probe) and
never prints; this module turns those calls into `ProgressEvent`s for a callback, or into one
rich bar on stderr (rich renders it in a terminal and in a Jupyter notebook alike; where stderr
is a file, a plain line every L2ADVISOR_LOG_EVERY seconds, as the commands write: rich alone
drew such a bar once, at the end).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from l2advisor.consoles import log_width

ProgressArg = bool | None | Callable[["ProgressEvent"], Any]


@dataclass(frozen=True)
class ProgressEvent:
    """One thing that happened. Units: optimizer steps.

    kind: "begin" (a probe starts), "eval" (an evaluation was recorded), "end" (a probe ended,
    `status` says how). `done_steps` / `total_steps` cover all the probes of this call (a probe
    that stops early counts as complete). `record` is the evaluation record for "eval" (step,
    tau, lam, lr, train_loss, train_acc, val_loss, val_metric, ...), else None.
    """

    kind: str
    run_id: str
    step: int
    max_steps: int
    done_steps: int
    total_steps: int
    status: str | None = None
    record: dict[str, Any] | None = None


class EventProgress:
    """The probing layer's `Progress`, forwarding every call as a `ProgressEvent`."""

    def __init__(self, runs: list[Any], emit: Callable[[ProgressEvent], Any]) -> None:
        self.emit = emit
        self.total = sum(run.max_steps for run in runs)
        self.done = 0
        self.at: dict[str, int] = {}  # steps already counted per probe

    def _event(self, kind: str, run: Any, step: int, **extra: Any) -> None:
        self.done += step - self.at.get(run.run_id, 0)
        self.at[run.run_id] = step
        self.emit(ProgressEvent(kind, run.run_id, step, run.max_steps, self.done, self.total, **extra))

    def add(self, runs: list[Any]) -> None:
        """A further round of probes in the same call (the follow-up seed): the total grows, the
        steps done so far stay (events restarted from 0 with a new total)."""
        self.total += sum(run.max_steps for run in runs)

    def begin(self, run: Any, reused: bool) -> None:
        self._event("begin", run, 0)

    def update(self, run: Any, record: dict[str, Any]) -> None:
        self._event("eval", run, int(record["step"]), record=dict(record))

    def finish(self, run: Any, result: Any) -> None:
        # an early stop skips the rest of the probe: count it whole, so the total is reached
        self.done += run.max_steps - self.at.get(run.run_id, 0)
        self.at[run.run_id] = run.max_steps
        self.emit(ProgressEvent("end", run.run_id, int(result.steps), run.max_steps, self.done, self.total,
                                status=result.status))


class Bar:
    """One rich bar over all the probes' steps, with the latest probe's tau and metric."""

    def __init__(self, total: int, title: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

        from l2advisor.logged_progress import LoggedProgress, log_every

        self.progress = LoggedProgress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                       TextColumn("{task.fields[info]}"), TimeRemainingColumn(),
                                       console=Console(stderr=True, width=log_width()), every_s=log_every(),
                                       plain_unless_live=True)  # a log: plain lines, no frame
        self.task = self.progress.add_task(title, total=total, info="")

    def __call__(self, event: ProgressEvent) -> None:
        info = f"{event.run_id}"
        if event.record is not None:
            info += f"  tau {event.record['tau']:.2f}  val {event.record['val_metric']:.4f}"
        elif event.kind == "end":
            info += f"  {event.status} at step {event.step}"
        self.progress.update(self.task, completed=event.done_steps, total=event.total_steps, info=info)

    def __enter__(self) -> Bar:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()


class _Silent:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def make_progress(progress: ProgressArg, runs: list[Any], title: str) -> tuple[EventProgress | None, Any]:
    """(the probing layer's progress object or None, a context manager around the run)."""
    if progress is None or progress is False or not runs:
        return None, _Silent()
    if progress is True:
        bar = Bar(sum(run.max_steps for run in runs), title)
        return EventProgress(runs, bar), bar
    check_progress(progress)
    return EventProgress(runs, progress), _Silent()


def check_progress(progress: Any) -> None:
    """progress is True, False, None or a callable (InputError, before anything runs)."""
    if not (progress is None or isinstance(progress, bool) or callable(progress)):
        from l2advisor.errors import InputError

        raise InputError(f"progress must be True, False, None or a callable, got {type(progress).__name__}.")
