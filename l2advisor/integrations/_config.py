"""What the Lightning and Hugging Face callbacks share: AutoL2 settings from keywords or from
an advice, and a trajectory from AutoL2's events. Imports no training framework."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from l2advisor.training.trajectory import WeightDecayTrajectory, read_trajectory

AUTOL2_KEYS = ("decay", "refractory_tau", "check_every", "patience", "smoothing", "lam_min",
               "param_groups", "refractory_lam_steps")


def settings_from_advice(advice: Any) -> dict[str, Any]:
    """AutoL2 keywords from `l2advisor.recommend(...)` (a Recommendation), its `.autol2`
    (an AutoL2Advice) or the "autol2" dict of advice.json / `recommend --autol2 --json`."""
    source = getattr(advice, "autol2", advice)  # a Recommendation carries its AutoL2Advice
    if isinstance(source, dict) and isinstance(source.get("autol2"), dict):  # advice.json, --json output
        source = source["autol2"]
    if hasattr(source, "to_dict"):
        source = source.to_dict()
    if not isinstance(source, dict) or "lam0" not in source:
        raise TypeError("from_advice needs l2advisor.recommend(...)'s result, its .autol2, or a dict with lam0, "
                        f"got {type(advice).__name__}")
    keys = ("lam0", "decay", "refractory_tau", "lam_min")
    return {k: float(source[k]) for k in keys if source.get(k) is not None}


def as_trajectory(trajectory: WeightDecayTrajectory | str | Path) -> WeightDecayTrajectory:
    return trajectory if isinstance(trajectory, WeightDecayTrajectory) else read_trajectory(trajectory)


def json_safe_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """Settings as plain JSON (param_groups as a list)."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}
