"""What the Lightning and Hugging Face callbacks share: AutoL2's keywords, a trajectory from its
events, and a replay's checks (settings from an advice: training/advised_settings.py, which
`AutoL2.from_advice` shares). Imports no training framework."""

from __future__ import annotations

import math
import numbers
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


def replay_groups(given: Any, trajectory: WeightDecayTrajectory) -> Any:
    """The groups a replay callback decays: those `given`, else those the recording's AutoL2
    managed (its settings' param_groups; a replay decayed a group the recording left at 0), else
    "not_only_1d" (the groups holding a parameter with 2 or more dimensions)."""
    if given is not None:
        return given
    recorded = (trajectory.extra.get("autol2") or {}).get("param_groups") if isinstance(trajectory.extra, dict) else None
    return recorded if recorded is not None else "not_only_1d"


def json_safe_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as plain JSON: param_groups as a list of Python ints (numpy's are not JSON), numpy
    scalars as Python numbers."""
    return {k: _plain(v) for k, v in settings.items()}


def _plain(value: Any) -> Any:
    if hasattr(value, "tolist") and getattr(value, "ndim", 0):  # a numpy array of group indices
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, int, float)):
        return float(value)
    return value


def check_settings(settings: dict[str, Any]) -> None:
    """AutoL2's keywords checked when a callback is made, on a stand-in optimizer (a bad lam0 or a
    misspelled keyword fails there, not once the trainer starts); param_groups waits for the real one."""
    import torch

    from l2advisor.training.autol2 import AutoL2

    stand_in = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    AutoL2(stand_in, **{k: v for k, v in settings.items() if k != "param_groups"})


def resumed_autol2(optimizer: Any, settings: dict[str, Any], restored: dict[str, Any]) -> tuple[Any, dict[str, Any],
                                                                                                str | None]:
    """AutoL2 on `optimizer` continuing a checkpoint's state: built from the checkpoint's configuration
    (built from the callback's first, it wrote lam0 into groups the checkpoint's AutoL2 leaves alone,
    and there it stayed), with the callback's settings as they are in force and a sentence naming
    those given that the checkpoint's set aside."""
    from l2advisor.errors import AutoL2ArgumentError
    from l2advisor.training.autol2 import AutoL2
    from l2advisor.training.param_groups import resolve_groups

    try:
        groups = resolve_groups(optimizer, settings.get("param_groups", "all"))
    except AutoL2ArgumentError:  # the checkpoint's groups are the ones that run
        groups = None
    autol2 = AutoL2(optimizer, **restored["config"])
    autol2.load_state_dict(restored)
    in_force, note = settings_in_force(settings, restored, groups)
    return autol2, in_force, note


def settings_in_force(settings: dict[str, Any], restored: dict[str, Any],
                      groups: list[int] | None = None) -> tuple[dict[str, Any], str | None]:
    """After a resume, AutoL2 runs on with the checkpoint's configuration (`AutoL2.load_state_dict`):
    the callback's settings as they are in force, and a sentence naming those given that it set aside;
    `groups`: the indices the callback's param_groups resolve to on this optimizer."""
    config = restored.get("config") or {}
    aside = {k: v for k, v in settings.items() if k in config and k != "param_groups" and config[k] != v}
    if groups is not None and "param_groups" in config and list(groups) != list(config["param_groups"]):
        aside["param_groups"] = settings.get("param_groups")
    if not aside:
        return settings, None
    kept = ", ".join(f"{k}={config[k]!r}" for k in aside)
    given = ", ".join(f"{k}={v!r}" for k, v in aside.items())
    return ({**settings, **{k: config[k] for k in aside}},
            f"Resumed from a checkpoint whose AutoL2 settings continue ({kept}); this callback's {given} "
            f"{'is' if len(aside) == 1 else 'are'} not used (a fresh run uses them).")
