"""Cost accounting of the suite's harnesses (pure): probe cost against one budget run, the
spread of the advice over probe-seed sets, and the compute a method spends before the lam it
would pick is good.

Units: compute in budget runs (steps / budget steps, or seconds / one budget run's seconds).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ProbeCost:
    """A probe's cost: optimizer steps and wall seconds, and as fractions of one budget run
    (steps / budget; probe wall / the wall of one budget run measured beside it; the same without
    the start-up every command pays)."""

    steps: int
    seconds: float
    budget: int
    budget_run_seconds: float | None
    loop_seconds: float | None = None  # the probe's training and evaluation, start-up left out
    budget_run_loop_seconds: float | None = None  # the same of the budget run

    @property
    def runs_by_steps(self) -> float:
        return self.steps / self.budget

    @property
    def runs_by_time(self) -> float | None:
        if not self.budget_run_seconds or self.budget_run_seconds <= 0:
            return None
        return self.seconds / self.budget_run_seconds

    @property
    def runs_by_loop(self) -> float | None:
        """Like runs_by_time with each command's start-up left out: what grows with the budget. On
        a small model a command's start-up (torch, the data) outweighs a short budget's training."""
        if self.loop_seconds is None or not self.budget_run_loop_seconds:
            return None
        return self.loop_seconds / self.budget_run_loop_seconds


def advice_spread(lams: Sequence[float | None]) -> float | None:
    """max / min of the advised lams over probe-seed sets; inf when one advises 0 and another
    does not; None with fewer than two advices."""
    xs = [float(x) for x in lams if x is not None and math.isfinite(x)]
    if len(xs) < 2:
        return None
    if min(xs) <= 0:
        return 1.0 if max(xs) <= 0 else math.inf
    return max(xs) / min(xs)


@dataclass(frozen=True)
class Reach:
    """When a method's pick first became good: `compute` (budget runs) spent by then, or its
    whole spend when it never got there (`reached` False)."""

    reached: bool
    compute: float
    final_accuracy: float  # ground-truth accuracy of the pick after the whole spend
    spend: float  # the whole spend, budget runs


def compute_to_reach(spent: Sequence[float], pick_accuracy: Sequence[float | None],
                     best: float, tolerance: float) -> Reach:
    """spent[k]: cumulative compute (budget runs) after step k of a method; pick_accuracy[k]: the
    ground-truth accuracy of the lam it would pick then (None: no pick yet). The first k with
    accuracy >= best - tolerance; otherwise the whole spend, flagged as never."""
    if len(spent) != len(pick_accuracy) or not spent:
        raise ValueError("spent and pick_accuracy must be equally long and not empty")
    if any(b < a for a, b in zip(spent, spent[1:], strict=False)):
        raise ValueError("spent must be cumulative (non-decreasing)")
    final = pick_accuracy[-1]
    final_acc = float(final) if final is not None else math.nan
    for cost, acc in zip(spent, pick_accuracy, strict=True):
        if acc is not None and acc >= best - tolerance - 1e-12:
            return Reach(True, float(cost), final_acc, float(spent[-1]))
    return Reach(False, float(spent[-1]), final_acc, float(spent[-1]))


def cumulative(costs: Sequence[float]) -> list[float]:
    out, total = [], 0.0
    for cost in costs:
        total += cost
        out.append(total)
    return out


def median(xs: Sequence[float | None]) -> float | None:
    ys = sorted(float(x) for x in xs if x is not None and math.isfinite(x))
    if not ys:
        return None
    mid = len(ys) // 2
    return ys[mid] if len(ys) % 2 else 0.5 * (ys[mid - 1] + ys[mid])
