"""Compute accounting of `compare`: what each method spent to get one trained model (pure).

A method's compute is its whole search (probes, or Optuna trials) plus one final run; Optuna's
search curve is its best-so-far value against cumulative compute. Kept apart from the training
code (no torch) so the tests can check these numbers by hand. Units: `steps` are optimizer
steps, `seconds` wall-clock seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Cost:
    """Compute: optimizer steps and wall-clock seconds."""

    steps: float
    seconds: float


def method_cost(search: Sequence[Cost], finals: Sequence[Cost]) -> Cost:
    """Compute to get one trained model with a method: its whole search (probes, trials) plus
    one final run, the mean over the seeds that measure its spread (none for Optuna, whose best
    trial is already a trained model)."""
    steps = sum(c.steps for c in search) + (sum(c.steps for c in finals) / len(finals) if finals else 0.0)
    seconds = sum(c.seconds for c in search) + (sum(c.seconds for c in finals) / len(finals) if finals else 0.0)
    return Cost(steps, seconds)


def best_so_far(values: Sequence[float | None]) -> list[float | None]:
    """Running max in trial order; None (a pruned trial, no value yet) carries the last best."""
    out: list[float | None] = []
    best: float | None = None
    for value in values:
        if value is not None and math.isfinite(value) and (best is None or value > best):
            best = value
        out.append(best)
    return out


def cumulative(costs: Sequence[Cost]) -> list[Cost]:
    out, steps, seconds = [], 0.0, 0.0
    for cost in costs:
        steps, seconds = steps + cost.steps, seconds + cost.seconds
        out.append(Cost(steps, seconds))
    return out


def trials_to_match(values: Sequence[float | None], costs: Sequence[Cost], target: float) -> dict[str, Any] | None:
    """First trial (1-based, in trial order) whose best-so-far reaches `target`, and the compute
    spent up to and including it; None if the study never reaches it."""
    for k, (best, spent) in enumerate(zip(best_so_far(values), cumulative(costs), strict=True), start=1):
        if best is not None and best >= target:
            return {"trials": k, "steps": spent.steps, "seconds": spent.seconds, "target": target}
    return None


def mean_sd(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None with fewer than 1 or 2 values)."""
    xs = [v for v in values if v is not None and math.isfinite(v)]
    if not xs:
        return None, None
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
    return mean, sd


def optuna_costs(trials: Sequence[dict[str, Any]]) -> tuple[list[float | None], list[Cost]]:
    """Counted trials (COMPLETE, PRUNED) in trial order: their values (None for pruned: Optuna's
    best ignores them) and their compute. FAILed trials (interrupted, surplus) are left out."""
    kept = [t for t in trials if t["state"] in ("COMPLETE", "PRUNED")]
    values = [t["value"] if t["state"] == "COMPLETE" else None for t in kept]
    return values, [Cost(t.get("steps") or 0, t.get("seconds") or 0.0) for t in kept]
