"""Learning-rate schedules as plain functions of the step: `lr_at(step) -> lr`.

`step` is the 0-based index of the optimizer step about to be taken (the training loop
calls `lr_at(self.step)` before each step), so a run of `total_steps` steps asks for
steps 0 .. total_steps - 1. The tau clock integrates whatever these return. The shapes
(and what they do to the tau clock) live in `l2advisor.science.schedules`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from l2advisor.science.schedules import SCHEDULES, STEP_FACTOR, STEP_MILESTONES, lr_factors

__all__ = ["SCHEDULES", "STEP_FACTOR", "STEP_MILESTONES", "make_lr_at"]


def make_lr_at(name: str, base_lr: float, total_steps: int, warmup: int = 0) -> Callable[[int], float]:
    """The schedule `name` over `total_steps` steps peaking at `base_lr`, after `warmup` steps
    of linear ramp ((step + 1) / warmup * base_lr).

    constant: base_lr throughout. cosine: base_lr * (1 + cos(pi * p)) / 2 with p the fraction
    of the post-warmup steps done, from base_lr down to (almost) 0 at the last step. linear:
    base_lr * (1 - p), to zero. step: base_lr, then x0.1 at 50% and again at 75% of the run.
    Raises ValueError for an unknown name or out-of-range arguments.
    """
    if not (math.isfinite(base_lr) and base_lr > 0):
        raise ValueError(f"base_lr must be finite and > 0, got {base_lr!r}.")
    # one table of T + 1 values (index T: the value held past the end), looked up per step
    table = (base_lr * lr_factors(name, total_steps, warmup, steps=range(total_steps + 1))).tolist()
    return lambda step: table[min(step, total_steps)]
