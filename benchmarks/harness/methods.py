"""The head-to-head's methods, each as the picks it would make and the compute it spends, scored
from the ground truth: Optuna TPE (optionally with the Hyperband pruner), the eighth-budget grid
practice, and the advisor (probes + one run, from advice_suite's results).

Optuna's configuration is the real `l2advisor tune`'s (its per-trial-seeded TPE sampler and its
pruner settings), so only the training is simulated: a trial's value comes from a TrialScorer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import optuna

from benchmarks.harness.accounting import Reach, compute_to_reach, cumulative
from benchmarks.harness.scoring import TrialScorer

Accuracy = Callable[[float], float]  # lam -> ground-truth mean peak at the budget


@dataclass(frozen=True)
class SimTrial:
    lam: float
    value: float | None  # None when pruned
    steps: int  # steps it trained (the budget, or where it was pruned)


def simulate_tpe(scorer: TrialScorer, budget: int, lam_low: float, lam_high: float, trials: int,
                 sampler_seed: int, pruner: str = "none") -> list[SimTrial]:
    """An Optuna study as `l2advisor tune` runs it, each trial scored instead of trained. The
    noise draws come from a generator seeded by the sampler seed (one draw per trial)."""
    from l2advisor.tuning.baseline import PerTrialTPE
    from l2advisor.tuning.pruning import Checkpoints, first_report, make_pruner

    rng = np.random.default_rng(10_000 + sampler_seed)
    out: list[SimTrial] = []

    def objective(trial: optuna.Trial) -> float:
        lam = trial.suggest_float("lam", lam_low, lam_high, log=True)
        z = float(rng.standard_normal())
        if pruner != "none":
            checkpoints = Checkpoints(budget, first=first_report(pruner, budget))  # as `tune` reports to its pruner
            for step, running in zip(scorer.steps, scorer.path(lam, z), strict=True):
                if not checkpoints.due(int(step)):
                    continue
                trial.report(float(running), int(step))
                if trial.should_prune():
                    out.append(SimTrial(lam, None, int(step)))
                    raise optuna.TrialPruned()
        value = scorer.value(lam, z)
        out.append(SimTrial(lam, value, budget))
        return value

    study = optuna.create_study(direction="maximize", sampler=PerTrialTPE(sampler_seed),
                                pruner=make_pruner(pruner, budget))
    study.optimize(objective, n_trials=trials)
    return out


def study_reach(trials: Sequence[SimTrial], budget: int, accuracy: Accuracy, best: float,
                tolerance: float) -> Reach:
    """A study's pick after each trial is its best-valued completed trial so far."""
    spent = cumulative([t.steps / budget for t in trials])
    picks: list[float | None] = []
    top: SimTrial | None = None
    for t in trials:
        if t.value is not None and (top is None or t.value > top.value):
            top = t
        picks.append(accuracy(top.lam) if top is not None else None)
    return compute_to_reach(spent, picks, best, tolerance)


def eighth_practice(lams: Sequence[float], eighth_peaks: np.ndarray, accuracy: Accuracy,
                    best: float, tolerance: float) -> list[Reach]:
    """Train every grid lam for an eighth of the budget, then the best one fully; one replicate
    per seed column of eighth_peaks (n_lams, n_seeds), the real peaks within budget/8."""
    spend = len(lams) / 8 + 1
    reaches = []
    for column in np.asarray(eighth_peaks, dtype=float).T:
        pick = float(lams[int(np.nanargmax(column))])
        reaches.append(compute_to_reach([spend], [accuracy(pick)], best, tolerance))
    return reaches


def advisor_reach(probe_steps: int, advised: float | None, budget: int, accuracy: Accuracy,
                  best: float, tolerance: float) -> Reach:
    """Probes, then one run at the advised lam (no advice: the probes were spent for nothing)."""
    spend = probe_steps / budget + 1
    return compute_to_reach([spend], [accuracy(advised) if advised is not None else None], best, tolerance)


@dataclass(frozen=True)
class MethodSummary:
    runs: int
    reached: int
    mean_compute: float  # budget runs; a replicate that never reached counts its whole spend
    mean_spend: float
    final_mean: float
    final_sd: float


def summarize(reaches: Sequence[Reach]) -> MethodSummary:
    finals = np.array([r.final_accuracy for r in reaches], dtype=float)
    sd = float(np.nanstd(finals, ddof=1)) if np.isfinite(finals).sum() > 1 else 0.0
    return MethodSummary(len(reaches), sum(r.reached for r in reaches),
                         float(np.mean([r.compute for r in reaches])),
                         float(np.mean([r.spend for r in reaches])),
                         float(np.nanmean(finals)) if np.isfinite(finals).any() else math.nan, sd)


def faithfulness(real: Sequence[tuple[float, float]], scorer: TrialScorer) -> dict[str, float]:
    """Real trial values against the scored ones at the same lams: the mean difference (points),
    mean |z| and the share within 2 sd (z = (real - scored mean) / scored sd, sd floored at
    0.1 points), over the trials that have a value."""
    diffs, zs = [], []
    for lam, value in real:
        mean, sd = scorer.expected(lam)
        diffs.append(value - mean)
        zs.append((value - mean) / max(sd, 0.001))
    if not diffs:
        return {"n": 0}
    z = np.abs(np.array(zs))
    return {"n": len(diffs), "mean_diff_points": 100 * float(np.mean(diffs)),
            "mean_abs_diff_points": 100 * float(np.mean(np.abs(diffs))),
            "mean_abs_z": float(z.mean()), "within_2sd": float((z <= 2).mean())}
