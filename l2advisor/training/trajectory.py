"""A weight-decay trajectory: lam against the optimizer step, written by a dynamic run
(AutoL2) and replayed by another, so the dynamic run can be reproduced exactly.

The file (`wd_trajectory.json`, JSON, never pickle) holds lam at its change points only::

    {"schema_version": 1, "kind": "l2advisor.wd_trajectory",
     "steps": [0, 412, 980], "lams": [0.025, 0.0025, 0.00025],
     "lr": 0.1, "lr_schedule": "constant", "warmup": 0, "budget_steps": 2000, "source": "..."}

`lams[i]` is the weight_decay in force for every optimizer step whose 0-based index is
>= `steps[i]` (until the next change point): `steps[0]` is always 0, and a decay that
AutoL2 decides after its k-th step (`DecayEvent.step == k`) takes force at index k.
`lr`, `lr_schedule`, `warmup` (steps; absent from files written before it was kept) and
`budget_steps` describe the run that wrote it (for the record:
a replay follows the steps, whatever its own lr); `extra["steps_run"]` how far it ran, and
`extra["status"]`, where the writer knows it, how it ended (interrupted, diverged, ...).
"""

from __future__ import annotations

import bisect
import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from l2advisor.errors import InputError
from l2advisor.runs.store import make_dir

SCHEMA_VERSION = 1
KIND = "l2advisor.wd_trajectory"
TRAJECTORY_FILE = "wd_trajectory.json"


@dataclass(frozen=True)
class WeightDecayTrajectory:
    """lam (torch's weight_decay) against the 0-based optimizer step index, at change points."""

    steps: tuple[int, ...]  # first step index at which lams[i] is in force; steps[0] == 0
    lams: tuple[float, ...]
    lr: float | None = None  # peak lr of the run that wrote it
    lr_schedule: str | None = None
    budget_steps: int | None = None
    source: str = ""  # what wrote it (a run id)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. the AutoL2 settings
    warmup: int | None = None  # steps of lr warmup of the run that wrote it (None: not recorded)

    def __post_init__(self) -> None:
        _check(self.steps, self.lams)

    def lam_at(self, step: int) -> float:
        """weight_decay for the optimizer step with 0-based index `step` (past the end: the last)."""
        return self.lams[bisect.bisect_right(self.steps, step) - 1]

    def to_dict(self) -> dict[str, Any]:
        return {"schema_version": SCHEMA_VERSION, "kind": KIND, "steps": list(self.steps),
                "lams": list(self.lams), "lr": self.lr, "lr_schedule": self.lr_schedule, "warmup": self.warmup,
                "budget_steps": self.budget_steps, "source": self.source, "extra": self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any], where: str = "the trajectory") -> WeightDecayTrajectory:
        if not isinstance(data, dict) or data.get("kind") != KIND:
            raise InputError(f"{where} is not a weight-decay trajectory (no \"kind\": \"{KIND}\").")
        if data.get("schema_version") != SCHEMA_VERSION:
            raise InputError(f"{where} has schema version {data.get('schema_version')!r}; this "
                             f"l2advisor reads version {SCHEMA_VERSION}.")
        try:
            return cls(steps=tuple(data["steps"]), lams=tuple(data["lams"]), lr=data.get("lr"),
                       lr_schedule=data.get("lr_schedule"), warmup=data.get("warmup"),
                       budget_steps=data.get("budget_steps"),
                       source=data.get("source", ""), extra=data.get("extra") or {})
        except (KeyError, TypeError) as error:
            raise InputError(f"{where} lacks its steps or lams ({error}).") from None
        except ValueError as error:
            raise InputError(f"{where}: {error}") from None

    @classmethod
    def from_events(cls, lam0: float, events: Sequence[Any], **meta: Any) -> WeightDecayTrajectory:
        """From AutoL2's start lam and its `DecayEvent`s (each: `step` taken, `new_lam`)."""
        steps, lams = [0], [float(lam0)]
        for event in events:
            if event.step == steps[-1]:  # two decisions at one step: the later one holds
                lams[-1] = float(event.new_lam)
            else:
                steps.append(int(event.step))
                lams.append(float(event.new_lam))
        return cls(steps=tuple(steps), lams=tuple(lams), **meta)


def _check(steps: Sequence[int], lams: Sequence[float]) -> None:
    if len(steps) != len(lams) or not steps:
        raise ValueError(f"steps and lams must be non-empty and of one length, got {len(steps)} and {len(lams)}")
    if any(isinstance(s, bool) or not isinstance(s, int) for s in steps):
        raise ValueError("steps must be whole numbers of optimizer steps")
    if steps[0] != 0 or any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise ValueError(f"steps must start at 0 and increase strictly, got {list(steps)[:6]}")
    for lam in lams:
        if isinstance(lam, bool) or not isinstance(lam, (int, float)) or not math.isfinite(lam) or lam < 0:
            raise ValueError(f"lams must be finite numbers >= 0, got {lam!r}")


def write_trajectory(path: str | Path, trajectory: WeightDecayTrajectory) -> Path:
    """Write atomically (a temporary file renamed over the old one)."""
    path = Path(path)
    make_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(trajectory.to_dict(), handle, indent=1)
        handle.write("\n")
    os.replace(tmp, path)
    return path


def read_trajectory(path: str | Path) -> WeightDecayTrajectory:
    """Read a trajectory file; a missing or malformed one is one `InputError` sentence."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"Weight-decay schedule {path} does not exist.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"Weight-decay schedule {path} is not readable JSON ({error}).") from None
    return WeightDecayTrajectory.from_dict(data, where=str(path))


class ReplaySchedule:
    """Replays a trajectory in any loop: the same call order as `AutoL2`.

    ``optimizer.step(); replay.step()`` sets the weight_decay for the next step; the
    constructor writes the lam of step 0. Stateless but for the step count, so a resumed run
    only needs `step_count` (or `set_step`). Writes the groups that `param_groups` names, as
    `AutoL2`'s: "nonzero" (default) the groups whose weight_decay is non-zero at creation, "all",
    "exclude_1d", "not_only_1d", or a list of indices.
    """

    def __init__(self, optimizer: Any, trajectory: WeightDecayTrajectory,
                 param_groups: str | Sequence[int] = "nonzero", start_step: int = 0) -> None:
        self.optimizer, self.trajectory = optimizer, trajectory
        from l2advisor.training.param_groups import resolve_groups  # torch behind it

        self.groups = resolve_groups(optimizer, param_groups)  # AutoL2's modes and checks
        self.step_count = start_step
        self.set_step(start_step)

    @property
    def lam(self) -> float:
        return self.trajectory.lam_at(self.step_count)

    def set_step(self, step: int) -> float:
        """Write the lam for the step with 0-based index `step`."""
        self.step_count = step
        lam = self.trajectory.lam_at(step)
        for i in self.groups:
            self.optimizer.param_groups[i]["weight_decay"] = lam
        return lam

    def step(self, loss: float | None = None, accuracy: float | None = None) -> float:
        """Account for the step just taken (loss and accuracy are ignored); lam for the next."""
        return self.set_step(self.step_count + 1)


def replay_notes(replay: WeightDecayTrajectory, name: str, steps: int | None, lr_schedule: str | None,
                 lr: float | None = None, warmup: int | None = None) -> list[str]:
    """What differs between a recorded schedule and the run replaying it, one sentence each: a
    recording cut short (`_cut_short_note`), its length (the lams follow the recorded steps), its
    lr, its lr schedule and its warmup (another tau for the same lams). What the run cannot tell is
    given as None and not compared: its steps, its lr, its lr schedule by the names of
    `lr_schedules.SCHEDULES`, or its warmup."""
    notes = [] if (cut := _cut_short_note(replay, name)) is None else [cut]
    if lr is not None and replay.lr is not None and not math.isclose(lr, replay.lr, rel_tol=1e-6):
        notes.append(f"{name} was recorded at lr {replay.lr:g}, this run's is {lr:g}: the same lams at the same "
                     "steps make another tau (lr*lam summed).")
    if steps is not None and replay.budget_steps is not None and replay.budget_steps != steps:
        notes.append(f"{name} was recorded over {replay.budget_steps} steps, this run is {steps}: its lams follow "
                     "the recorded steps" + (f", and after step {replay.budget_steps} the last one "
                     f"({replay.lams[-1]:.3g}) stays." if steps > replay.budget_steps else ", cut at the end."))
    if lr_schedule is not None and replay.lr_schedule is not None and replay.lr_schedule != lr_schedule:
        notes.append(f"The schedule was recorded under a {replay.lr_schedule} lr; this run's is {lr_schedule}: "
                     "the same lams at the same steps make another tau (lr*lam summed).")
    if warmup is not None and replay.warmup is not None and replay.warmup != warmup:
        notes.append(f"{name} was recorded with {replay.warmup} warmup steps, this run has {warmup}: the same lams "
                     "at the same steps make another tau (lr*lam summed).")
    return notes


# How a recording's run ended (`extra["status"]`, TrainResult's words) as the cut-short note says it.
# A recording that does not say (a callback's early stop, an older file) only stopped there: early
# stopping or a max_steps reached sooner is no interruption.
ENDINGS = {"interrupted": "its run was interrupted", "diverged": "its run diverged there",
           "failed": "its run failed there"}


def _cut_short_note(replay: WeightDecayTrajectory, name: str) -> str | None:
    """The note for a recording that ended before its planned steps (`extra["steps_run"]`), worded
    by what the recording says of how its run ended; None when it ran them all or does not say."""
    ran = replay.extra.get("steps_run")
    if not (isinstance(ran, int) and replay.budget_steps is not None and ran < replay.budget_steps):
        return None
    status = replay.extra.get("status")
    how = ENDINGS.get(status, "its run stopped there") if isinstance(status, str) else "its run stopped there"
    return (f"{name} ends at step {ran} of the {replay.budget_steps} it was planned for ({how}): from step "
            f"{ran} on it holds {replay.lams[-1]:.3g}, a schedule the recording run never made.")
