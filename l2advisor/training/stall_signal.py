"""AutoL2's trigger signal: a training loss or accuracy, smoothed between checks, compared with
its best so far; "stalled" when the last `patience` checks were all no better.

Values are per optimizer step (a minibatch's loss or accuracy); a check takes one measurement:
the step's raw value ("none"), the mean since the previous check ("mean"), or an EMA.
"""

from __future__ import annotations

import math
from typing import Any

Smoothing = str | float  # "none" | "mean" | EMA coefficient in (0, 1)


class StallSignal:
    """One trigger signal (loss or accuracy): smoothing between checks, best, stall flags."""

    def __init__(self, higher_is_better: bool, smoothing: Smoothing, patience: int) -> None:
        self.higher_is_better = higher_is_better
        self.smoothing = smoothing
        self.patience = patience
        self.last: float | None = None  # raw value of the latest step
        self.total, self.count = 0.0, 0  # sum and count of values since the last check
        self.ema: float | None = None
        self.best: float | None = None  # best measurement so far; never reset by a decay
        self.flags: list[bool] = []  # True = "no better than the best", latest `patience`

    def update(self, value: float) -> None:
        """Feed one step's value. Non-finite values never improve the EMA."""
        self.last = value
        self.total, self.count = self.total + value, self.count + 1
        if isinstance(self.smoothing, float) and math.isfinite(value):
            b = self.smoothing
            self.ema = value if self.ema is None else b * self.ema + (1.0 - b) * value

    def check(self) -> None:
        """Take one measurement, compare it with the best so far, record the flag."""
        if self.smoothing == "none":
            m = self.last if self.count else None  # nothing fed since the last check: no value
        elif self.smoothing == "mean":
            m = self.total / self.count if self.count else None
        else:
            m = self.ema
        self.total, self.count = 0.0, 0
        if m is None:  # no value fed since the last check (e.g. no accuracy): no flag
            return
        better = self.best is None or (m > self.best if self.higher_is_better else m < self.best)
        better = better and math.isfinite(m)  # a NaN/inf measurement is never better
        if better:
            self.best = m
        self.flags = (self.flags + [not better])[-self.patience :]

    def stalled(self) -> bool:
        """The last `patience` measurements were all no better than the best."""
        return len(self.flags) >= self.patience and all(self.flags)

    def state_dict(self) -> dict[str, Any]:
        keys = ("last", "total", "count", "ema", "best")
        return {k: getattr(self, k) for k in keys} | {"flags": list(self.flags)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, list(value) if key == "flags" else value)
