"""Scoring against the ground truth (pure numpy): interpolation in log lam, the within-spread
rule, the verdict judge, and trials scored from the grid with its seed noise.

Metrics are fractions in [0, 1]; "points" are percentage points (0.3 points = 0.003). A truth is
anything with `lams` (ascending, includes 0) and `peaks(budget) -> (n_lams, n_seeds)`, plus
`curves(lam, seed) -> (steps, metric)` for running-peak trajectories (benchmarks/suite/truth.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

FLOOR_POINTS = 0.3  # the accuracy gap that counts as "within" whatever the seed spread
SPREAD_FACTOR = 1.5  # ... or this many seed standard deviations at the grid's best lam
TARGET = 0.003  # "within 0.3 points of the grid's best", in metric units


@dataclass(frozen=True)
class LogLamGrid:
    """Linear interpolation in log lam over a grid that includes lam = 0: lam = 0 sits one grid
    step below the smallest nonzero lam; outside the grid the end values hold (np.interp clamps).
    The same convention as Truth.accuracy_at."""

    lams: tuple[float, ...]

    def __post_init__(self) -> None:
        nonzero = [lam for lam in self.lams if lam > 0]
        if len(nonzero) < 2 or list(self.lams) != sorted(self.lams):
            raise ValueError(f"a grid needs ascending lams with at least two nonzero, got {self.lams}")

    def positions(self) -> np.ndarray:
        """x = log lam per grid point, lam = 0 one step (the bottom ratio) below the smallest."""
        lams = np.asarray(self.lams, dtype=float)
        x = np.log(np.where(lams > 0, lams, np.nan))
        nonzero = x[np.isfinite(x)]
        return np.where(np.isfinite(x), x, nonzero[0] - (nonzero[1] - nonzero[0]))

    def interp(self, values: np.ndarray, lam: float) -> np.ndarray:
        """values: (n_lams, ...) -> (...) at lam; lam = 0 exactly gives the lam = 0 row."""
        values = np.asarray(values, dtype=float)
        lams = np.asarray(self.lams, dtype=float)
        if lam <= 0:
            zero = np.flatnonzero(lams == 0)
            return values[zero[0]] if zero.size else values[0]
        x = self.positions()
        flat = values.reshape(len(lams), -1)
        out = np.array([np.interp(math.log(lam), x, flat[:, j]) for j in range(flat.shape[1])])
        return out.reshape(values.shape[1:])


def mean_sd(peaks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n_lams, n_seeds) -> per-lam mean and sample sd over seeds (sd 0 with one seed)."""
    peaks = np.asarray(peaks, dtype=float)
    mean = np.nanmean(peaks, axis=1)  # a diverged seed (NaN peak) is left out of its lam's row
    sd = np.nanstd(peaks, axis=1, ddof=1) if peaks.shape[1] > 1 else np.zeros(peaks.shape[0])
    return np.nan_to_num(mean, nan=0.0), np.nan_to_num(sd, nan=0.0)  # all seeds diverged: 0


def within_spread(gap_points: float, spread_points: float, floor: float = FLOOR_POINTS,
                  factor: float = SPREAD_FACTOR) -> bool:
    """The advice is right when its accuracy gap to the grid's best (points, >= 0 is worse) is at
    most max(floor, factor x the seed sd at the grid's best lam)."""
    return gap_points <= max(floor, factor * spread_points) + 1e-12


def verdict_right(verdict: str, lam_matters: bool, relations_shown: bool | None) -> bool | None:
    """Judge a verdict from the ground truth. Where lam changes nothing, "holds" or "holds
    approximately" is wrong; where the truth shows the relations (lam matters and the best lam
    moves down with the budget), "does not hold" is wrong. None: the truth does not decide
    (lam matters but its best does not move, or the move is unknown)."""
    says_holds = verdict in ("holds", "holds approximately")
    if not lam_matters:
        return not says_holds
    if relations_shown:
        return verdict != "does not hold"
    return None


@dataclass(frozen=True)
class TrialScorer:
    """A trial at lam scored from the grid: the seed-mean peak interpolated in log lam, plus
    Gaussian noise with the seed sd interpolated the same way. Running-peak trajectories (for a
    pruner) use the same draw z at every step, so the last step's value is the trial's value."""

    grid: LogLamGrid
    mean: np.ndarray  # (n_lams,) seed-mean peak within the budget
    sd: np.ndarray  # (n_lams,) seed sd of that peak
    steps: np.ndarray | None = None  # (n_steps,) steps a pruner is told about
    path_mean: np.ndarray | None = None  # (n_lams, n_steps) seed-mean running peak
    path_sd: np.ndarray | None = None  # (n_lams, n_steps)

    def expected(self, lam: float) -> tuple[float, float]:
        return float(self.grid.interp(self.mean, lam)), float(self.grid.interp(self.sd, lam))

    def value(self, lam: float, z: float) -> float:
        mean, sd = self.expected(lam)
        return mean + z * sd

    def path(self, lam: float, z: float) -> np.ndarray:
        """(n_steps,) running peak of a trial at lam with noise draw z."""
        if self.path_mean is None or self.path_sd is None:
            raise ValueError("this scorer was built without running-peak paths")
        return self.grid.interp(self.path_mean, lam) + z * self.grid.interp(self.path_sd, lam)


def running_peak(steps: np.ndarray, metric: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Best metric over evaluations at or before each step of `at` (NaN before the first)."""
    steps, metric = np.asarray(steps, float), np.asarray(metric, float)
    best = np.fmax.accumulate(np.where(np.isfinite(metric), metric, -np.inf))
    idx = np.searchsorted(steps, np.asarray(at, float), side="right") - 1
    out = np.where(idx >= 0, best[np.clip(idx, 0, None)], np.nan)
    return np.where(np.isfinite(out), out, np.nan)


def scorer_from_truth(truth: Any, budget: int, with_paths: bool = False) -> TrialScorer:
    """The scorer of one truth at one budget; paths at the evaluation steps of the first curve
    (<= budget), the running peak of every (lam, seed) curve at those steps."""
    grid = LogLamGrid(tuple(float(lam) for lam in truth.lams))
    mean, sd = mean_sd(truth.peaks(budget))
    if not with_paths:
        return TrialScorer(grid, mean, sd)
    seeds = list(truth.seeds)
    first_steps, _ = truth.curves(float(truth.lams[0]), seeds[0])
    at = np.asarray([s for s in first_steps if 0 < s <= budget], dtype=float)
    paths = np.array([[running_peak(*truth.curves(float(lam), seed), at) for seed in seeds]
                      for lam in truth.lams])  # (n_lams, n_seeds, n_steps)
    paths = np.where(np.isfinite(paths), paths, 0.0)
    path_sd = paths.std(axis=1, ddof=1) if len(seeds) > 1 else np.zeros_like(paths[:, 0])
    return TrialScorer(grid, mean, sd, at, paths.mean(axis=1), path_sd)
