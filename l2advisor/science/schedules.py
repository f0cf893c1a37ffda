"""Learning-rate schedules as shapes, and what they do to the tau clock (pure numpy).

A schedule is a factor f_t = lr_t / lr in [0, 1] for the 0-based optimizer steps
t = 0 .. T-1 of a run of T steps, with an optional linear warmup over the first W steps:

    warmup      t <  W : f_t = (t + 1) / W             (reaches 1 at t = W - 1; no wasted step)
    then        p = (t - W) / (T - W) in [0, 1)
    constant           : f_t = 1
    cosine             : f_t = (1 + cos(pi * p)) / 2   (to almost 0 at the last step)
    linear             : f_t = 1 - p                   (1/(T-W) at the last step, 0 at t = T)
    step               : 0.1 from p = 1/2, 0.01 from p = 3/4

Past the end (t >= T) every schedule holds its value at t = T (0 for cosine and linear).

The weight decay acts on the tau clock, tau = lam * sum_t lr_t (Lewkowycz & Gur-Ari, NeurIPS 2020), so a run of T
steps with schedule f and peak lr reaches the tau of a constant-lr run of
T_eff = sum_t f_t steps: `effective_steps`. `lr_integral` = T_eff / T (1 for constant,
about 1/2 for cosine and linear to zero), and the lam that reaches a given tau is
1 / lr_integral times the constant-lr one (`tau_clock_lam`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SCHEDULES = ("constant", "cosine", "linear", "step")
STEP_MILESTONES = (0.5, 0.75)  # "step": lr / 10 from half the decay phase, / 100 from three quarters
STEP_FACTOR = 0.1


def check_schedule(name: str, total_steps: int, warmup: int = 0) -> None:
    """ValueError (one sentence) for an unknown name, T < 1, or a warmup outside [0, T)."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {name!r}; use one of {', '.join(SCHEDULES)}.")
    if int(total_steps) != total_steps or total_steps < 1:
        raise ValueError(f"total_steps must be a whole number >= 1, got {total_steps!r}.")
    if int(warmup) != warmup or not 0 <= warmup < total_steps:
        raise ValueError(f"warmup must be a whole number of steps in [0, {total_steps}), got {warmup!r}.")


def lr_factors(name: str, total_steps: int, warmup: int = 0, steps: np.ndarray | None = None) -> np.ndarray:
    """f_t = lr_t / lr at `steps` (default 0 .. T-1; later steps hold f_T); float64, shape of `steps`."""
    check_schedule(name, total_steps, warmup)
    t = np.arange(total_steps, dtype=np.float64) if steps is None else np.asarray(steps, dtype=np.float64)
    t = np.minimum(t, float(total_steps))
    decay_steps = total_steps - warmup
    p = np.clip((t - warmup) / decay_steps, 0.0, 1.0)
    if name == "constant":
        f = np.ones_like(p)
    elif name == "cosine":
        f = 0.5 * (1.0 + np.cos(math.pi * p))
    elif name == "linear":
        f = 1.0 - p
    else:  # step: the same bounds as int(fraction * decay_steps) after the warmup
        bounds = [warmup + int(m * decay_steps) for m in STEP_MILESTONES]
        f = STEP_FACTOR ** sum((t >= b).astype(np.float64) for b in bounds)
    if warmup:
        f = np.where(t < warmup, (t + 1.0) / warmup, f)
    return f


def effective_steps(name: str, total_steps: int, warmup: int = 0) -> float:
    """T_eff = sum_{t<T} lr_t / lr: the constant-lr steps that reach the same tau (same lam)."""
    return float(np.sum(lr_factors(name, total_steps, warmup)))


def lr_integral(name: str, total_steps: int, warmup: int = 0) -> float:
    """sum_t lr_t / (lr * T): 1 for constant, ~0.5 for cosine and linear to zero, ~0.66 for step."""
    return effective_steps(name, total_steps, warmup) / total_steps


@dataclass(frozen=True)
class ScheduleBudget:
    """A scheduled run of `steps` steps seen on the tau clock.

    effective_steps: the constant-lr budget with the same sum of lr (what the advice is sized
    for); lr_integral = effective_steps / steps; lam_factor = 1 / lr_integral multiplies a
    weight decay meant for `steps` constant-lr steps so that it reaches the same tau.
    """

    schedule: str
    warmup: int
    steps: int
    effective_steps: float
    lr_integral: float
    lam_factor: float


def schedule_budget(name: str, steps: int, warmup: int = 0) -> ScheduleBudget:
    """The tau-clock view of a `name` schedule over `steps` steps with `warmup` warmup steps."""
    t_eff = effective_steps(name, steps, warmup)
    return ScheduleBudget(schedule=name, warmup=int(warmup), steps=int(steps), effective_steps=t_eff,
                          lr_integral=t_eff / steps, lam_factor=steps / t_eff)


def tau_clock_lam(constant_lam: float, name: str, steps: int, warmup: int = 0) -> float:
    """The lam that gives a `name` run of `steps` steps the tau that `constant_lam` gives a
    constant-lr run of as many steps: constant_lam / lr_integral."""
    return constant_lam * schedule_budget(name, steps, warmup).lam_factor


def steps_to_reach(name: str, total_steps: int, effective: float, warmup: int = 0) -> float:
    """Steps of the `name` schedule (a run of `total_steps`) whose sum of lr_t / lr first reaches
    `effective` constant-lr steps; inf when the schedule never gets there (it decays to 0
    first). Past the end the schedule holds its last value, so constant extrapolates linearly."""
    if not effective > 0:
        return 0.0
    sums = np.cumsum(lr_factors(name, total_steps, warmup))  # sums[t]: steps 0..t
    if effective <= sums[-1] * (1 + 1e-12):
        return float(np.searchsorted(sums, effective * (1 - 1e-12)) + 1)
    held = float(lr_factors(name, total_steps, warmup, steps=[total_steps])[0])
    return total_steps + (effective - sums[-1]) / held if held > 0 else math.inf
