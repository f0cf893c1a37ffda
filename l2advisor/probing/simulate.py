"""Simulated probes through the real plan and stop rule, for negative and positive controls.

A metric function gives the expected validation accuracy at (steps, lr, lam); each evaluation
draws the observed accuracy from a binomial over `n_val` images. Every probe the plan makes
(`plan_probes`: ladder, horizons, evaluation schedule) is "trained" evaluation by evaluation,
and the real `stop_reason` decides when it stops, exactly as `run_probes` would. The curves
then go into the real fit. No torch: this is the instrument that checks the verdict cannot be
fooled by the probe design itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from l2advisor.probing.follow_up import decide_follow_up
from l2advisor.probing.plan import ProbeRun, ProbeSettings, plan_probes, stop_reason
from l2advisor.science.curves import Curve
from l2advisor.training.eval_schedule import eval_steps

MetricFn = Callable[[np.ndarray, float, float], np.ndarray]  # (steps, lr, lam) -> expected metric


def steps_only_rise(top: float = 0.96, t_rise: float = 40.0, creep: float = 0.0,
                    t_creep: float = 2000.0) -> MetricFn:
    """A null: the metric depends on steps only. A fast rise to `top - creep`, then (creep > 0)
    a slow creep of `creep` more on the scale `t_creep` steps. lam changes nothing."""
    def metric(steps: np.ndarray, lr: float, lam: float) -> np.ndarray:
        s = np.asarray(steps, dtype=float)
        return 0.1 + (top - creep - 0.1) * (1 - np.exp(-s / t_rise)) + creep * (1 - np.exp(-s / t_creep))
    return metric


def tau_clock_peak(c: float = 3.0, top: float = 0.97, t_rise: float = 40.0, width: float = 1.2) -> MetricFn:
    """A positive control: a fast lam-independent rise, then a top on the tau clock at tau = c
    (a bump of 4 points, log-normal in tau), then a decline: the paper's picture."""
    def metric(steps: np.ndarray, lr: float, lam: float) -> np.ndarray:
        s = np.asarray(steps, dtype=float)
        tau = np.maximum(lr * lam * s, 1e-12)
        bump = 0.04 * np.exp(-0.5 * (np.log(tau / c) / width) ** 2)
        return 0.1 + (top - 0.04 - 0.1) * (1 - np.exp(-s / t_rise)) + bump
    return metric


def _records(run: ProbeRun, metric: MetricFn, n_val: int, rng: np.random.Generator) -> list[dict]:
    steps = np.array([0, *eval_steps(run.max_steps, run.eval_every, run.eval_per_decade)], dtype=float)
    expected = np.clip(metric(steps, run.lr, run.lam), 0.0, 1.0)
    observed = rng.binomial(n_val, expected) / n_val
    return [{"step": int(s), "tau": run.lr * run.lam * s, "val_metric": float(v)}
            for s, v in zip(steps, observed, strict=True)]


def simulate_probe(run: ProbeRun, settings: ProbeSettings, metric: MetricFn, n_val: int,
                   rng: np.random.Generator) -> Curve:
    """One probe, stopped by the real rule; training accuracy 1 (overparameterized)."""
    records = _records(run, metric, n_val, rng)
    status = "finished"
    for k in range(1, len(records) + 1):
        why = stop_reason(records[:k], settings, lambda: False)
        if why:
            records, status = records[:k], why
            break
    n = len(records)
    return Curve(lam=run.lam, lr=run.lr, seed=run.seed,
                 steps=np.array([r["step"] for r in records], dtype=float),
                 tau=np.array([r["tau"] for r in records], dtype=float),
                 val_metric=np.array([r["val_metric"] for r in records], dtype=float),
                 train_acc=np.ones(n), train_loss=np.full(n, 0.01), status=status)


def simulate_probes(settings: ProbeSettings, metric: MetricFn, n_val: int = 1000, seed: int = 0,
                    momentum: float = 0.0, follow_up: bool = True) -> list[Curve]:
    """Every probe of the plan for `settings`, and (`follow_up`) the one more seed the plan's
    curves ask for (follow_up.py), as `l2advisor probe` runs them; one random stream per call."""
    rng = np.random.default_rng(seed)
    planned = plan_probes(settings, momentum)
    curves = [simulate_probe(run, settings, metric, n_val, rng) for run in planned]
    extra = decide_follow_up(planned, curves, settings.tolerance).runs if follow_up else ()
    return curves + [simulate_probe(run, settings, metric, n_val, rng) for run in extra]
