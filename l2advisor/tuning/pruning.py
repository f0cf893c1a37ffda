"""Pruning a tuning trial early: the pruners `tune --pruner` offers, and when a trial reports to one.

A pruner reads each trial's intermediate values (here the running peak of the validation metric)
from the study's storage and compares trials at the same step. Reporting at every evaluation (100
per run) was a storage write and a read of the whole study each time: on a small model whose
evaluation interval trains in milliseconds, a trial took 1.8x its unpruned time (8 trials of
`mlp_tiny_data` at 2,000 steps: 6.4 s of training against 3.5 s). A trial now reports at
CHECKPOINTS points of its budget (the first evaluation at or after each twentieth, and its last),
where every trial of a study reports at the same steps, since they share the budget and the
evaluation schedule; a pruner decides at most a twentieth of the budget later than it could. The
same 8 trials with the median pruner: 4.5 s of training (3.6 s without a pruner). Nor does a trial
report during the median pruner's warm-up (the first quarter of the budget), where it decides
nothing: 4.08-4.18 -> 3.98-4.09 s of training for those 8 trials (two runs each), against 3.45 s
without a pruner (session 31; the rest is the reports the later trials compare against, and the checks).
"""

from __future__ import annotations

import optuna

from l2advisor.errors import InputError

PRUNERS = ("none", "median", "hyperband")
CHECKPOINTS = 20  # reports a trial makes to its pruner over the budget
MEDIAN_WARMUP = 4  # the median pruner decides nothing in the first budget / MEDIAN_WARMUP steps


def make_pruner(name: str, budget: int) -> optuna.pruners.BasePruner:
    """Pruning on the running peak, in training steps: a quarter of the budget of warm-up."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=first_report(name, budget))
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, budget // 27), max_resource=budget,
                                              reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    check_pruner(name)
    raise AssertionError(f"pruner {name!r} passed check_pruner but has no construction")  # a bug of ours


def check_pruner(name: str) -> None:
    """A `--pruner` value `make_pruner` knows, checked before anything trains (compare trained its
    probes and three arms, then refused a misspelt one and kept it as the directory's setting)."""
    if name not in PRUNERS:
        raise InputError(f"--pruner must be none, median or hyperband, got {name!r}.")


def first_report(name: str, budget: int) -> int:
    """The first step at which the pruner `name` can decide (its warm-up): reports before it are
    a storage write and a read of the whole study for nothing (the median pruner's first quarter)."""
    return budget // MEDIAN_WARMUP if name == "median" else 0


class Checkpoints:
    """Which evaluations of one run report to the pruner: told each evaluation's step in order,
    `due(step)` is True for the first at or after each of CHECKPOINTS equal parts of `budget`
    (steps) from step `first` on (the pruner's warm-up, `first_report`), and for the budget's last step."""

    def __init__(self, budget: int, checkpoints: int = CHECKPOINTS, first: int = 0) -> None:
        self.budget, self.every, self.first = budget, budget / max(1, checkpoints), first
        self.next = self.every

    def due(self, step: int) -> bool:
        if step >= self.budget:
            return True
        if step < self.next - 1e-9 or step < self.first:
            return False
        while self.next <= step + 1e-9:  # an evaluation past several parts reports once
            self.next += self.every
        return True
