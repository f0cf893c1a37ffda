"""Running the probe plan (plan.py): one probe at a time, or probes of one lr as stacked
replicas, each writing its evaluations as they arrive and stopped by the plan's rule."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import TYPE_CHECKING, Any, Protocol

from l2advisor.errors import InputError
from l2advisor.modelfile.task import Task
from l2advisor.probing.notices import once
from l2advisor.probing.plan import (
    MIN_PROBE_STEPS,
    ProbeRun,
    ProbeSettings,
    plan_probes,
    stop_reason,
)
from l2advisor.runs.store import RunState
from l2advisor.training.train import Record, TrainConfig, TrainResult, train

if TYPE_CHECKING:
    from l2advisor.training.replicas import Stacked  # imported where the stack is built


def check_seeds(seeds: Sequence[int], option: str = "--seeds") -> None:
    """At least one seed, each once (`probe` says it before the model file runs, check_settings
    again); `option`: the flag that gave them (`compare` and `train --advise`: --probe-seeds)."""
    if not seeds:
        raise InputError(f"{option} must name at least one seed.")
    if twice := sorted({seed for seed in seeds if list(seeds).count(seed) > 1}):
        raise InputError(f"The probe seeds ({option}) list {', '.join(map(str, twice))} more than once (as run ids "
                         "write them); give each value once.")


def check_ladder_flags(*, lrs: Sequence[float] = (), lambdas: Sequence[float] = (), horizon: float | None = None,
                       factor: float = 2.0, probe_budget: int | None = None, lam_max: float | None = None,
                       tolerance: float = 0.005) -> None:
    """The ranges that need no model file: the command line says them before the model file
    runs, and `check_settings` asks them again for the API."""
    for name, values in (("--lrs", lrs), ("--lambdas", lambdas)):
        if bad := [value for value in values if not (math.isfinite(value) and value > 0)]:
            raise InputError(f"{name} must be finite numbers > 0, got {bad[0]!r}.")
    for name, value in (("--horizon", horizon), ("--probe-budget", probe_budget), ("--lam-max", lam_max)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise InputError(f"{name} must be a finite number > 0, got {value!r}.")
    if not (math.isfinite(factor) and factor > 1):
        raise InputError(f"--factor must be a finite number > 1, got {factor!r}.")
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise InputError(f"--tolerance must be a finite number >= 0, got {tolerance!r}.")


def check_settings(settings: ProbeSettings, task: Task) -> None:
    """Ranges: positive finite numbers, a horizon and budget that allow one evaluation."""
    check_ladder_flags(lrs=settings.lrs, lambdas=settings.lambdas or (), horizon=settings.horizon,
                       factor=settings.factor, probe_budget=settings.probe_budget, lam_max=settings.lam_max,
                       tolerance=settings.tolerance)  # lam_max None: the default (0 is refused)
    check_seeds(settings.seeds)
    for what, values in (("The lams (--lambdas)", settings.lambdas or ()), ("The learning rates (--lrs)", settings.lrs)):
        shown = [str(v) if isinstance(v, int) else f"{v:g}" for v in values]  # as run ids write them: 0.001 and
        # 0.0010000001 are one run; seeds are whole numbers, written in full
        twice = sorted({v for v in shown if shown.count(v) > 1})
        if twice:
            raise InputError(f"{what} list {', '.join(twice)} more than once (as run ids write them); give each "
                             "value once.")
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


def write_end(write: Callable[[dict[str, Any]], None], run_id: str, result: TrainResult) -> None:
    """The probe's end record (none when interrupted: a resume restarts it); says why it diverged."""
    if result.status == "diverged" and not result.message:
        result.message = f"the training loss or the weights became NaN or infinite by step {result.steps}"
    if result.status != "interrupted":
        write({"type": "end", "run": run_id, "status": result.status, "steps": result.steps,
               "seconds": result.seconds, "message": result.message})


def summarize(states: Sequence[RunState], tolerance: float) -> list[dict[str, Any]]:
    """One row per finished probe for the summary table: lam, lr*lam, t*, tau*, peak, cost."""
    from l2advisor.runs.rundir import curve_from_state
    from l2advisor.science.curves import analyze_curve

    rows = []
    for state in states:
        curve = curve_from_state(state)
        if len(curve.steps) == 0 and state.status not in ("failed", "diverged"):
            continue  # not started yet: nothing to show
        metrics = analyze_curve(curve, tolerance=tolerance)  # NaNs for a probe that failed before evaluating
        if state.status == "failed":  # cut by an error, not a measurement: no t*, peak or "peaked" to read
            nan = float("nan")
            metrics = replace(metrics, t_star=nan, tau_star=nan, peak_metric=nan, peaked=False)
        end = state.end or {}
        rows.append({"run": state.run_id, "lam": curve.lam, "lr": curve.lr, "seed": curve.seed,
                     "shrink": _digits12(curve.lr * curve.lam),  # 0.01, not 0.010000000000000002
                     "t_star": metrics.t_star, "tau_star": _digits12(metrics.tau_star),  # a sum of lr*lam
                     "peak": metrics.peak_metric, "peaked": metrics.peaked, "final_train_acc": metrics.final_train_acc,
                     "evals": metrics.n_points, "nan_evals": metrics.nan_evals,  # the metric's NaNs: left out
                     "steps": end.get("steps", int(curve.steps[-1]) if len(curve.steps) else 0),
                     "seconds": end.get("seconds"), "status": state.status, "message": end.get("message") or ""})
    return sorted(rows, key=lambda row: (row["lr"], -row["lam"], row["seed"]))


def _digits12(value: float) -> float:
    """`value` to 12 significant digits: products and sums of lr and lam print as 3.99, not
    3.9900000000000007 (NaN stays NaN)."""
    return float(f"{value:.12g}")


def failure_lines(states: Sequence[RunState]) -> list[str]:
    """One line per failed or diverged probe, with its recorded message (CLI stderr, API notices)."""
    return [f"{state.run_id} {state.status}: {(state.end or {}).get('message') or ''}"
            for state in states if state.status in ("failed", "diverged")]


def run_probes(task: Task, runs: Sequence[ProbeRun], base: TrainConfig, settings: ProbeSettings,
               write: Callable[[dict[str, Any]], None], progress: Progress | None = None,
               interrupted: Callable[[], bool] = lambda: False, replicas: int = 1,
               notice: Callable[[str], None] | None = None) -> list[TrainResult]:
    """Run probes in this process; stops early when `interrupted()`.

    With `replicas` > 1, probes sharing lr train together, that many at a time, as stacked
    replicas (`batched.py`): every seed in one stack when the training set is tensors (each
    seed its own batch stream), else one stack per seed. A model that cannot take a batch per
    replica is stacked per seed; one that cannot be stacked at all, or whose stacked step, timed
    before the first, costs more than its probes' steps one after another (stack_speed.py), runs
    one probe at a time, and `notice` gets one sentence saying why.
    """
    from l2advisor.training.batched import CannotBatch, StackDearer

    results: list[TrainResult] = []
    notice = once(notice) if notice is not None else None  # every stack of a vmap model would say it
    queue = stacks_of(task, runs, replicas)
    while queue and not interrupted():
        group = queue.pop(0)
        if len(group) > 1:
            try:
                results += run_group(task, group, base, settings, write, progress, interrupted, notice)
                continue
            except StackDearer as why:  # timed: the stack would be slower than its probes one by one
                queue = [[run] for later in queue for run in later]
                if notice is not None:
                    notice(f"Probing one lam at a time: {why}; --no-batched skips this timing.")
            except CannotBatch as why:
                if len({run.seed for run in group}) > 1:  # try one stack per seed first
                    queue = group_runs(group, replicas) + queue
                    continue
                queue = [[run] for later in queue for run in later]  # the model's: no later stack either
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


def stacks_of(task: Task, runs: Sequence[ProbeRun], replicas: int) -> list[list[ProbeRun]]:
    """The stacks `run_probes` trains `runs` in: every seed in one stack when the training set is
    tensors (each seed draws its batches from them), else one stack per seed."""
    from l2advisor.modelfile.tensors import as_tensors

    return group_runs(runs, replicas, mix_seeds=as_tensors(task.train) is not None)


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
              interrupted: Callable[[], bool], notice: Callable[[str], None] | None = None) -> list[TrainResult]:
    """Train probes of one lr (one seed, or several) together as stacked replicas, writing each
    probe's records as `run_one` does; `notice` hears when the stack had to use vmap, the slowest
    form, and why the others did not fit, or when an MLP's hand-written step failed its check.
    Raises `CannotBatch` before writing anything."""
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

    def on_stack(stacked: Stacked) -> None:
        if stacked.kind == "vmap" and notice is not None:
            slow = (f" torch's vmap has no batching rule for {', '.join(stacked.unbatched)}: it runs "
                    f"{'that op' if len(stacked.unbatched) == 1 else 'those ops'} one replica at a time."
                    if stacked.unbatched else "")
            notice(f"Stacking {task.spec.path.name} through vmap, the slowest stacked form "
                   f"({'; '.join(stacked.passed_over)}).{slow}")

    replicas = [Replica(run.lam, run.max_steps, run.eval_every, run.eval_per_decade, run.seed) for run in group]
    return train_batched(task, config, replicas, on_eval=on_eval, should_stop=should_stop, on_end=on_end,
                         on_stack=on_stack, notice=notice, speed_check=True)
