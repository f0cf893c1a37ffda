"""Read the suite's ground truth: peak validation metric per lam, seed and budget.

    from benchmarks.suite.truth import load_truth
    truth = load_truth("mlp_bn_mnist14")            # constant lr
    truth.best_lam(6400), truth.accuracy_at(3e-4, 25600), truth.lam_matters(6400)

A run's peak within a budget is the best validation metric over its evaluations at steps
<= budget (a user keeping the best checkpoint). At constant lr one run to the long budget serves
every shorter budget (its prefix); under a schedule each budget has its own runs. Metrics are
fractions in [0, 1]. Nothing here trains or prints.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GROUND_TRUTH = Path(__file__).resolve().parents[1] / "ground_truth"
MIN_GAIN = 0.003  # 0.3 accuracy points: below this, lam does not matter whatever the noise


@dataclass(frozen=True)
class Run:
    budget: int  # the steps the run was planned for
    steps: np.ndarray  # (n_evals,) int
    metric: np.ndarray  # (n_evals,) validation metric


@dataclass(frozen=True)
class Truth:
    """One task's ground truth under one lr schedule. `lams` ascending, with 0; `seeds` sorted."""

    task: str
    schedule: str
    lams: np.ndarray
    seeds: tuple[int, ...]
    header: dict = field(repr=False)
    runs: dict[tuple[float, int], tuple[Run, ...]] = field(repr=False)  # (lam, seed) -> runs by budget

    def _run(self, lam: float, seed: int, budget: int | None) -> Run | None:
        runs = self.runs.get((float(lam), seed), ())
        if budget is None:
            return max(runs, key=lambda r: r.budget, default=None)
        if self.schedule == "constant":  # the prefix of any run at least that long
            return min((r for r in runs if r.budget >= budget), key=lambda r: r.budget, default=None)
        return next((r for r in runs if r.budget == budget), None)

    def curves(self, lam: float, seed: int, budget: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(steps, metric) of one run; the longest one unless `budget` is given. KeyError if absent."""
        run = self._run(lam, seed, budget)
        if run is None:
            raise KeyError(f"{self.task} ({self.schedule}) has no run at lam={lam:g}, seed={seed}, budget={budget}")
        keep = run.steps <= (budget if budget is not None else run.budget)
        return run.steps[keep], run.metric[keep]

    def peaks(self, budget: int) -> np.ndarray:
        """(n_lams, n_seeds): the best metric within `budget` steps; NaN where no run covers it."""
        out = np.full((len(self.lams), len(self.seeds)), np.nan)
        for i, lam in enumerate(self.lams):
            for j, seed in enumerate(self.seeds):
                run = self._run(lam, seed, budget)
                if run is not None:
                    within = run.metric[run.steps <= budget]
                    out[i, j] = np.nanmax(within) if np.isfinite(within).any() else np.nan
        return out

    def mean_peaks(self, budget: int) -> np.ndarray:
        """(n_lams,) mean over the seeds that have a run (NaN where none has)."""
        peaks = self.peaks(budget)
        counts = np.isfinite(peaks).sum(1)
        sums = np.where(np.isfinite(peaks), peaks, 0.0).sum(1)
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def _best(self, budget: int) -> int:
        means = self.mean_peaks(budget)
        if not np.isfinite(means).any():
            raise ValueError(f"{self.task} ({self.schedule}): no run covers a budget of {budget} steps")
        return int(np.nanargmax(means))

    def best_lam(self, budget: int) -> float:
        """The grid lam with the best mean peak (ValueError when no run covers `budget`)."""
        return float(self.lams[self._best(budget)])

    def spread(self, budget: int) -> float:
        """Standard deviation over seeds (ddof=1) of the peak at the best lam."""
        row = self.peaks(budget)[self._best(budget)]
        row = row[np.isfinite(row)]
        return float(np.std(row, ddof=1)) if len(row) > 1 else math.nan

    def outside_grid(self, lam: float) -> bool:
        """True above the largest grid lam (accuracy_at then holds the top value)."""
        return lam > self.lams[-1]

    def accuracy_at(self, lam: float, budget: int) -> float:
        """Mean peak at `lam`, linear in log lam between grid points. lam = 0 is the lam=0 row;
        between 0 and the smallest nonzero lam, lam = 0 stands one grid step below it; above the
        grid, the top value (see `outside_grid`)."""
        if lam < 0 or not math.isfinite(lam):
            raise ValueError(f"lam must be finite and >= 0, got {lam!r}")
        means = self.mean_peaks(budget)
        if lam == 0:
            return float(means[0])
        logs = np.log(self.lams[1:])
        step = logs[1] - logs[0] if len(logs) > 1 else 1.0
        x = np.concatenate([[logs[0] - step], logs])  # lam = 0 placed one grid step below
        return float(np.interp(math.log(lam), x, means))  # clamps to the end values outside

    def pooled_sd(self, budget: int) -> float:
        """Seed standard deviation pooled over every grid lam (ddof=1 within each lam)."""
        peaks = self.peaks(budget)
        var = [np.var(row[np.isfinite(row)], ddof=1) for row in peaks if np.isfinite(row).sum() > 1]
        return float(np.sqrt(np.mean(var))) if var else math.nan

    def lam_matters(self, budget: int) -> bool:
        """The best mean beats lam = 0 by more than max(0.3 points, 2 seed spreads), the spread
        being the larger of the sd at the best lam and the sd pooled over the grid: the best of
        many noisy means tends to be one whose seeds happened to agree, so its own sd alone is
        biased low (it let the negative control pass at 25,600 steps: 0.43 points > 2 x 0.15,
        where the pooled sd, 0.24, says noise)."""
        means = self.mean_peaks(budget)
        gain = float(np.nanmax(means) - means[0])
        spread = np.nanmax([self.spread(budget), self.pooled_sd(budget), 0.0])
        return gain > max(MIN_GAIN, 2 * spread)

    def best_moves(self, short: int, long: int) -> bool:
        """The best grid lam differs between the two budgets."""
        return self.best_lam(short) != self.best_lam(long)


def load_truth(task: str, schedule: str = "constant", root: Path | None = None) -> Truth:
    """Read `<root>/<task>.jsonl` (default benchmarks/ground_truth/). FileNotFoundError without
    the file, ValueError when it has no run under `schedule`."""
    path = (root or GROUND_TRUTH) / f"{task}.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    head = lines[0] if lines and lines[0].get("kind") == "header" else {}
    found: dict[tuple[float, int, int], Run] = {}
    for rec in lines:
        if rec.get("kind") == "run" and rec["schedule"] == schedule:
            curve = np.asarray(rec["curve"], dtype=float).reshape(-1, 2)
            found[(float(rec["lam"]), int(rec["seed"]), int(rec["budget"]))] = Run(
                int(rec["budget"]), curve[:, 0].astype(int), curve[:, 1])  # a later line wins
    if not found:
        raise ValueError(f"{path} has no {schedule!r} runs")
    lams = np.array(sorted({k[0] for k in found}), dtype=float)
    if lams[0] != 0.0 or len(lams) < 2:
        raise ValueError(f"{path}: the {schedule!r} runs need lam = 0 and at least one nonzero lam")
    seeds = tuple(sorted({k[1] for k in found}))
    runs: dict[tuple[float, int], list[Run]] = {}
    for (lam, seed, _), run in sorted(found.items()):
        runs.setdefault((lam, seed), []).append(run)
    return Truth(task, schedule, lams, seeds, head, {k: tuple(v) for k, v in runs.items()})
