"""Probe design and running: a ladder of lams on the tau clock, each probe stopped at its peak.

A probe at weight decay lam and learning rate lr runs until tau = lr*lam*steps reaches the
horizon H, or stops once its smoothed validation metric has clearly peaked. A rung costs
about H / (lr*lam) steps, so the smallest lam dominates the cost: the ladder descends from
`lam_max` by a constant factor and stops before a rung would overrun the probe budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from l2advisor.errors import InputError
from l2advisor.modelfile.task import Task
from l2advisor.runs.store import Results, RunState
from l2advisor.science.curves import has_peaked
from l2advisor.training.train import Record, TrainConfig, TrainResult, train

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


def probe_steps(lam: float, lr: float, horizon: float) -> int:
    """Steps for tau = lr*lam*steps to reach the horizon."""
    return max(1, math.ceil(horizon / (lr * lam)))


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


def check_settings(settings: ProbeSettings, task: Task) -> None:
    """Ranges: positive finite numbers, a horizon and budget that allow one evaluation."""
    for name, values in (("--lrs", settings.lrs), ("--lambdas", settings.lambdas or ())):
        for value in values:
            if not (math.isfinite(value) and value > 0):
                raise InputError(f"{name} must be finite numbers > 0, got {value!r}.")
    lam_max = 1.0 if settings.lam_max is None else settings.lam_max  # 0 is not "the default"
    for name, value in (("--horizon", settings.horizon), ("--probe-budget", settings.probe_budget),
                        ("--factor", settings.factor - 1.0), ("--lam-max", lam_max)):
        if not (math.isfinite(value) and value > 0):
            shown = settings.factor if name == "--factor" else value
            raise InputError(f"{name} must be a finite number > {1 if name == '--factor' else 0}, got {shown!r}.")
    if not (math.isfinite(settings.tolerance) and settings.tolerance >= 0):
        raise InputError(f"--tolerance must be a finite number >= 0, got {settings.tolerance!r}.")
    if not settings.seeds:
        raise InputError("--seeds must name at least one seed.")
    runs = plan_probes(settings, task.spec.momentum)
    shortest = min(runs, key=lambda run: run.max_steps)
    reach = settings.horizon / (shortest.lr * shortest.lam)  # steps to the horizon, before rounding up
    if reach < MIN_PROBE_STEPS:
        raise InputError(f"--horizon {settings.horizon:g} is too short: the probe at lam={shortest.lam:g} "
                         f"(lr {shortest.lr:g}) reaches it after {reach:.3g} steps, fewer than the "
                         f"{MIN_PROBE_STEPS} evaluations a curve needs; raise --horizon or lower the lams.")
    if settings.lambdas is None and settings.probe_budget < shortest.max_steps:
        raise InputError(f"--probe-budget {settings.probe_budget} steps does not cover even the shortest "
                         f"probe ({shortest.max_steps} steps at lam={shortest.lam:g}); raise it.")


class Progress(Protocol):
    """What the runner tells its caller (the CLI draws bars; tests may record)."""

    def begin(self, run: ProbeRun, reused: bool) -> None: ...

    def update(self, run: ProbeRun, record: Record) -> None: ...

    def finish(self, run: ProbeRun, result: TrainResult) -> None: ...


def run_one(task: Task, run: ProbeRun, base: TrainConfig, settings: ProbeSettings,
            write: Callable[[dict[str, Any]], None], progress: Progress | None,
            interrupted: Callable[[], bool]) -> TrainResult:
    """Train one probe, writing its start, every evaluation, and its end."""
    config = TrainConfig(lr=run.lr, batch_size=base.batch_size, max_steps=run.max_steps,
                         eval_every=run.eval_every, seed=run.seed, momentum=base.momentum,
                         optimizer=base.optimizer, device=base.device, decay_1d=base.decay_1d,
                         eval_per_decade=run.eval_per_decade)
    write({"type": "start", "run": run.run_id, **asdict(run)})

    def on_eval(record: Record) -> None:
        write({"type": "eval", "run": run.run_id, **record})
        if progress is not None:
            progress.update(run, record)

    result = train(task, config, run.lam, on_eval=on_eval,
                   should_stop=lambda records: stop_reason(records, settings, interrupted))
    write_end(write, run.run_id, result)
    return result


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


def write_end(write: Callable[[dict[str, Any]], None], run_id: str, result: TrainResult) -> None:
    """The probe's end record (none when interrupted: a resume restarts it); says why it diverged."""
    if result.status == "diverged" and not result.message:
        result.message = f"the training loss or the weights became NaN or infinite by step {result.steps}"
    if result.status != "interrupted":
        write({"type": "end", "run": run_id, "status": result.status, "steps": result.steps,
               "seconds": result.seconds, "message": result.message})


def pending(runs: Sequence[ProbeRun], results: Results | None) -> tuple[list[ProbeRun], list[ProbeRun]]:
    """Split the plan into (to run, already done) using what a results file holds."""
    done_ids = {rid for rid, state in (results.runs.items() if results else []) if state.done}
    todo = [run for run in runs if run.run_id not in done_ids]
    return todo, [run for run in runs if run.run_id in done_ids]


def summarize(states: Sequence[RunState], tolerance: float) -> list[dict[str, Any]]:
    """One row per finished probe for the summary table: lam, lr*lam, t*, tau*, peak, cost."""
    from l2advisor.runs.rundir import curve_from_state
    from l2advisor.science.curves import analyze_curve

    rows = []
    for state in states:
        curve = curve_from_state(state)
        if len(curve.steps) == 0:
            continue
        metrics = analyze_curve(curve, tolerance=tolerance)
        end = state.end or {}
        rows.append({"run": state.run_id, "lam": curve.lam, "lr": curve.lr, "seed": curve.seed,
                     "shrink": curve.lr * curve.lam, "t_star": metrics.t_star, "tau_star": metrics.tau_star,
                     "peak": metrics.peak_metric, "final_train_acc": metrics.final_train_acc,
                     "steps": end.get("steps", int(curve.steps[-1])), "seconds": end.get("seconds"),
                     "status": state.status})
    return sorted(rows, key=lambda row: (row["lr"], -row["lam"], row["seed"]))


def run_probes(task: Task, runs: Sequence[ProbeRun], base: TrainConfig, settings: ProbeSettings,
               write: Callable[[dict[str, Any]], None], progress: Progress | None = None,
               interrupted: Callable[[], bool] = lambda: False, replicas: int = 1,
               notice: Callable[[str], None] | None = None) -> list[TrainResult]:
    """Run probes in this process; stops early when `interrupted()`.

    With `replicas` > 1, probes sharing lr train together, that many at a time, as stacked
    replicas (`batched.py`): every seed in one stack when the training set is tensors (each
    seed its own batch stream), else one stack per seed. A model that cannot take a batch per
    replica is stacked per seed; one that cannot be stacked at all runs one probe at a time,
    and `notice` gets one sentence saying why.
    """
    from l2advisor.modelfile.tensors import as_tensors
    from l2advisor.training.batched import CannotBatch

    results: list[TrainResult] = []
    mix = as_tensors(task.train) is not None
    queue = group_runs(runs, replicas, mix_seeds=mix)
    while queue and not interrupted():
        group = queue.pop(0)
        if len(group) > 1:
            try:
                results += run_group(task, group, base, settings, write, progress, interrupted)
                continue
            except CannotBatch as why:
                if len({run.seed for run in group}) > 1:  # try one stack per seed first
                    queue = group_runs(group, replicas) + queue
                    continue
                replicas = 1
                if notice is not None:
                    notice(f"Probing one lam at a time: {task.spec.path.name} cannot be batched ({why}).")
        for run in group:
            if interrupted():
                break
            if progress is not None:
                progress.begin(run, reused=False)
            result = run_one(task, run, base, settings, write, progress, interrupted)
            if progress is not None:
                progress.finish(run, result)
            results.append(result)
    return results


def group_runs(runs: Sequence[ProbeRun], size: int, mix_seeds: bool = False) -> list[list[ProbeRun]]:
    """Probes that can train as one stack: same lr and seed (same init, same batches), or with
    `mix_seeds` same lr (each seed its own init and batches), at most `size` per group, in plan
    order (cheap probes first)."""
    groups: list[list[ProbeRun]] = []
    open_groups: dict[tuple[float, int], list[ProbeRun]] = {}
    for run in runs:
        key = (run.lr, 0 if mix_seeds else run.seed)
        group = open_groups.get(key)
        if group is None or len(group) >= max(1, size):
            group = open_groups[key] = []
            groups.append(group)
        group.append(run)
    return groups


def run_group(task: Task, group: Sequence[ProbeRun], base: TrainConfig, settings: ProbeSettings,
              write: Callable[[dict[str, Any]], None], progress: Progress | None,
              interrupted: Callable[[], bool]) -> list[TrainResult]:
    """Train probes of one lr (one seed, or several) together as stacked replicas, writing each
    probe's records as `run_one` does. Raises `CannotBatch` before writing anything."""
    from l2advisor.training.batched import Replica, train_batched

    first = group[0]
    config = TrainConfig(lr=first.lr, batch_size=base.batch_size, max_steps=max(r.max_steps for r in group),
                         eval_every=first.eval_every, seed=first.seed, momentum=base.momentum,
                         optimizer=base.optimizer, device=base.device, decay_1d=base.decay_1d)
    started: set[int] = set()

    def start(i: int) -> None:
        if i not in started:
            started.add(i)
            write({"type": "start", "run": group[i].run_id, **asdict(group[i])})
            if progress is not None:
                progress.begin(group[i], reused=False)

    def on_eval(i: int, record: Record) -> None:
        start(i)
        write({"type": "eval", "run": group[i].run_id, **record})
        if progress is not None:
            progress.update(group[i], record)

    def should_stop(i: int, records: list[Record]) -> str | None:
        return stop_reason(records, settings, interrupted)

    def on_end(i: int, result: TrainResult) -> None:
        start(i)
        write_end(write, group[i].run_id, result)
        if progress is not None:
            progress.finish(group[i], result)

    replicas = [Replica(run.lam, run.max_steps, run.eval_every, run.eval_per_decade, run.seed) for run in group]
    return train_batched(task, config, replicas, on_eval=on_eval, should_stop=should_stop, on_end=on_end)
