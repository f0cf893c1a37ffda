"""What the Lightning and Hugging Face callbacks share: AutoL2's keywords, a trajectory from its
events, and a replay's checks (settings from an advice: training/advised_settings.py, which
`AutoL2.from_advice` shares). Imports no training framework."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from l2advisor.training.trajectory import WeightDecayTrajectory, read_trajectory, replay_notes

AUTOL2_KEYS = ("decay", "refractory_tau", "check_every", "patience", "smoothing", "lam_min",
               "param_groups", "refractory_lam_steps")


def as_trajectory(trajectory: WeightDecayTrajectory | str | Path) -> WeightDecayTrajectory:
    return trajectory if isinstance(trajectory, WeightDecayTrajectory) else read_trajectory(trajectory)


def planned_steps(max_steps: Any) -> int | None:
    """A trainer's planned optimizer steps when it knows them (finite, > 0); else None (-1, inf)."""
    known = isinstance(max_steps, (int, float)) and math.isfinite(max_steps) and max_steps > 0
    return int(max_steps) if known else None


def _peak_lr(optimizer: Any, group: int) -> float:
    """The group's lr before any scheduler moved it (`initial_lr`: a warmup may start at 0)."""
    params = optimizer.param_groups[group]
    return float(params.get("initial_lr", params["lr"]))


def run_meta(optimizer: Any, group: int, max_steps: Any) -> dict[str, Any]:
    """What a trajectory records of the run that wrote it: the decayed group's lr before any
    scheduler (`initial_lr`), and the planned steps when the trainer knows them (> 0)."""
    return {"lr": _peak_lr(optimizer, group), "budget_steps": planned_steps(max_steps)}


def replay_name(given: Any, trajectory: WeightDecayTrajectory, who: str) -> str:
    """How a replay callback's warnings name the schedule: its file, or the run that recorded it."""
    if isinstance(given, (str, os.PathLike)):
        return f"{who}: the schedule {given}"
    return f"{who}: the schedule recorded by {trajectory.source}" if trajectory.source else f"{who}: the schedule"


def replay_mismatches(trajectory: WeightDecayTrajectory, name: str, max_steps: Any, optimizer: Any,
                      groups: Any) -> list[str]:
    """`replay_notes` for a callback's run: its planned steps (unknown: no length note), the lr
    before any scheduler of the first group it replays (as `run_meta` records it). Never the lr
    schedule: a trainer's scheduler has no name in the CLI's vocabulary (constant, cosine, ...)."""
    group = groups[0] if groups else 0
    return replay_notes(trajectory, name, planned_steps(max_steps), None, _peak_lr(optimizer, group))


def json_safe_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as plain JSON (param_groups as a list)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
