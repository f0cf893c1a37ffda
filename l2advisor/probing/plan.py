"""The probe plan: a ladder of lams on the tau clock, how long each probe runs, when it stops.

A probe at weight decay lam and learning rate lr runs until tau = lr*lam*steps reaches the
horizon H, or stops once its smoothed validation metric has clearly peaked. A rung costs
about H / (lr*lam) steps, so the smallest lam dominates the cost: the ladder descends from
`lam_max` by a constant factor and stops before a rung would overrun the probe budget.
No torch: the simulator (simulate.py) and `recommend` (follow_up.py) use the plan without it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from l2advisor.runs.store import Results
from l2advisor.science.curves import has_peaked

if TYPE_CHECKING:
    from l2advisor.training.train import (
        Record,  # a dict of one evaluation; torch only when type checking
    )

EVALS_PER_PROBE = 100  # evaluation points per probe, evenly spaced in steps (and so in tau)
MIN_PROBE_STEPS = 10  # a shorter probe has too few evaluations to show a peak
LAM_MAX_SHRINK = 0.01  # default largest per-step shrink lr*lam*(1/(1-momentum)) of the ladder


@dataclass(frozen=True)
class ProbeRun:
    """One probe to run: its lam, lr and seed, and its length in steps."""

    lam: float
    lr: float
    seed: int
    max_steps: int
    eval_every: int
    eval_per_decade: int = 0  # > 0: evaluations evenly in log steps (budget-sized plans)

    @property
    def run_id(self) -> str:
        return f"lr={self.lr:g}/lam={self.lam:g}/seed={self.seed}"


@dataclass(frozen=True)
class ProbeSettings:
    """What the user chose (or the defaults): the whole design follows from these."""

    lrs: tuple[float, ...]
    seeds: tuple[int, ...]
    horizon: float  # tau units: a probe runs at most until lr*lam*steps = horizon
    probe_budget: int  # total steps over all probes and seeds
    lambdas: tuple[float, ...] | None = None  # explicit ladder; None -> automatic
    lam_max: float | None = None  # top of the automatic ladder; None -> from LAM_MAX_SHRINK
    factor: float = 2.0  # ratio between rungs
    min_rungs: int = 3
    tolerance: float = 0.005  # metric units: "within 0.5 accuracy points of the peak"
    early_stop: bool = True
    budget_steps: int | None = None  # the budget the ladder was sized for (probing/budget.py)
    eval_per_decade: int = 0  # > 0: evaluations evenly in log steps

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


def default_lam_max(lr: float, momentum: float) -> float:
    """lam whose per-step shrink, momentum included (about lr*lam/(1-mu)), is LAM_MAX_SHRINK."""
    return LAM_MAX_SHRINK * (1.0 - momentum) / lr


LAM_ROUNDING = 1e-3  # lams are written with 4 significant digits: up to 5e-4 off the ladder's value


def probe_steps(lam: float, lr: float, horizon: float) -> int:
    """Steps for tau = lr*lam*steps to reach the horizon, within the lam's rounding (lr 0.003
    and lam 3.333 for 3.3333...: 400 steps, not 401)."""
    steps = horizon / (lr * lam)
    nearest = round(steps)
    return max(1, nearest if nearest >= steps * (1.0 - LAM_ROUNDING) else math.ceil(steps))


def design_ladder(lr: float, settings: ProbeSettings, momentum: float = 0.0) -> list[float]:
    """Descending lams from lam_max by `factor`, as many as the probe budget allows.

    The budget is shared by every learning rate and seed; at least `min_rungs` rungs are kept
    (a fit needs them) even if that overruns the budget, which the caller reports.
    """
    if settings.lambdas:
        return sorted(settings.lambdas, reverse=True)
    top = settings.lam_max or default_lam_max(lr, momentum)
    share = settings.probe_budget / (len(settings.lrs) * len(settings.seeds))  # steps for this lr, one seed
    lams: list[float] = []
    spent = 0
    while True:
        lam = float(f"{top / settings.factor ** len(lams):.4g}")  # 4 significant digits: readable ids
        cost = probe_steps(lam, lr, settings.horizon)
        if spent + cost > share and len(lams) >= settings.min_rungs:
            return lams
        lams.append(lam)
        spent += cost
        if len(lams) >= 12:  # beyond 12 rungs the budget is effectively unbounded
            return lams


def plan_probes(settings: ProbeSettings, momentum: float = 0.0) -> list[ProbeRun]:
    """Every probe run, cheap rungs first (so early results arrive fast)."""
    runs = []
    for lr in settings.lrs:
        for lam in design_ladder(lr, settings, momentum):
            steps = probe_steps(lam, lr, settings.horizon)
            every = max(1, steps // EVALS_PER_PROBE)
            runs.extend(ProbeRun(lam, lr, seed, steps, every, settings.eval_per_decade)
                        for seed in settings.seeds)
    return sorted(runs, key=lambda run: (run.max_steps, run.lr, -run.lam, run.seed))


def pending(runs: Sequence[ProbeRun], results: Results | None) -> tuple[list[ProbeRun], list[ProbeRun]]:
    """Split the plan into (to run, already done) using what a results file holds. A probe that
    failed (an exception: an out-of-memory, a lost device) runs again: resuming kept it failed, and
    only `--force`, which discards every finished probe, retried it. A diverged one is an outcome."""
    done_ids = {rid for rid, state in (results.runs.items() if results else [])
                if state.done and state.status != "failed"}
    todo = [run for run in runs if run.run_id not in done_ids]
    return todo, [run for run in runs if run.run_id in done_ids]


def stop_reason(records: list[Record], settings: ProbeSettings, interrupted: Callable[[], bool]) -> str | None:
    """Why a probe should end after its latest evaluation: "interrupted", "stopped" (its
    smoothed metric clearly peaked, and tau reached half the horizon: a noisy early top must
    not cut a probe before the tau where the paper's peak lives), or None to go on."""
    if interrupted():
        return "interrupted"
    if not settings.early_stop:
        return None
    import numpy as np

    steps = np.array([r["step"] for r in records], dtype=float)
    tau = np.array([r["tau"] for r in records], dtype=float)
    metric = np.array([r["val_metric"] for r in records], dtype=float)
    peaked = has_peaked(steps, tau, metric, settings.tolerance, min_tau=settings.horizon / 2)
    return "stopped" if peaked else None


def failed_before(runs: Sequence[ProbeRun], results: Results | None) -> list[str]:
    """The run ids of `runs` that a results file holds as failed: `pending` runs them again."""
    states = results.runs if results else {}
    return [run.run_id for run in runs if run.run_id in states and states[run.run_id].done
            and states[run.run_id].status == "failed"]


def retry_words(runs: Sequence[ProbeRun], results: Results | None) -> str | None:
    """One sentence naming the probes `pending` runs again because they failed, with the error the
    last of them ended on (a failure that is no accident fails the same way on every rerun)."""
    retried = failed_before(runs, results)
    if not retried or results is None:
        return None
    named = ", ".join(retried[:4]) + (", ..." if len(retried) > 4 else "")
    message = str((results.runs[retried[-1]].end or {}).get("message") or "").strip()
    said = f"; it ended on {message.rstrip('.')}" if message else ""
    return (f"Retrying {len(retried)} probe(s) that failed before: {named}{said}. If they fail the same way "
            "again, fix what fails (the model file, its data or its loss).")
