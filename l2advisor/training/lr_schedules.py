"""Learning-rate schedules as plain functions of the step: `lr_at(step) -> lr`.

`step` is the 0-based index of the optimizer step about to be taken (the training loop
calls `lr_at(self.step)` before each step), so a run of `total_steps` steps asks for
steps 0 .. total_steps - 1. The tau clock integrates whatever these return.
"""

from __future__ import annotations

import math
from collections.abc import Callable

SCHEDULES = ("constant", "cosine", "step")
STEP_MILESTONES = (0.5, 0.75)  # "step": lr / 10 from half the run, / 100 from three quarters
STEP_FACTOR = 0.1


def make_lr_at(name: str, base_lr: float, total_steps: int) -> Callable[[int], float]:
    """The schedule `name` over `total_steps` steps starting at `base_lr`.

    constant: base_lr throughout. cosine: base_lr * (1 + cos(pi * step / total)) / 2, from
    base_lr down to (almost) 0 at the last step. step: base_lr, then x0.1 at 50% and again
    at 75% of the run. Raises ValueError for an unknown name or non-positive arguments.
    """
    if name not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {name!r}; use one of {', '.join(SCHEDULES)}.")
    if not (math.isfinite(base_lr) and base_lr > 0):
        raise ValueError(f"base_lr must be finite and > 0, got {base_lr!r}.")
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1, got {total_steps!r}.")
    if name == "constant":
        return lambda step: base_lr
    if name == "cosine":
        return lambda step: base_lr * 0.5 * (1.0 + math.cos(math.pi * min(step, total_steps) / total_steps))
    bounds = [int(f * total_steps) for f in STEP_MILESTONES]
    return lambda step: base_lr * STEP_FACTOR ** sum(step >= b for b in bounds)
