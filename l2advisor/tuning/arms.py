"""One arm of `compare` run on its seeds: train, record the curve, read back the peak.

An arm is one way of choosing lam (the advisor, AutoL2, a default, lam = 0, Optuna's pick),
trained on every seed of the comparison. A run's metric is its peak validation metric over the
evaluation points; its test metric is the held-out metric of the checkpoint at that peak. Every
run is written to the runs file as it goes, so an interrupted comparison resumes. Units: steps
are optimizer steps, seconds wall-clock seconds, lam is torch's weight_decay.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from l2advisor.modelfile.task import Task
from l2advisor.runs.store import RunState
from l2advisor.training.train import Record, TrainConfig, train
from l2advisor.tuning.accounting import Cost, mean_sd, method_cost


@dataclass(frozen=True)
class ArmRun:
    """One seed of one arm: its peak validation metric and what it cost."""

    arm: str
    lam: float
    seed: int
    peak: float | None
    peak_step: int | None
    test_metric: float | None  # at the peak-validation checkpoint; None without build_test
    steps: int
    seconds: float
    status: str
    decays: int | None = None  # AutoL2 decays (AutoL2 arm only)

    @property
    def cost(self) -> Cost:
        return Cost(self.steps, self.seconds)


class Progress(Protocol):
    """What a comparison tells its caller, for every run and probe and trial alike."""

    def begin(self, label: str, steps: int) -> None: ...

    def update(self, record: Record) -> None: ...

    def finish(self, label: str, status: str, steps: int) -> None: ...

    def note(self, message: str) -> None: ...


def run_id(arm: str, lam: float, seed: int) -> str:
    return f"{arm}/lam={lam:.6g}/seed={seed}"


def from_state(state: RunState) -> ArmRun | None:
    """A finished run read back from the runs file (resume), or None if it must run again."""
    if not state.done or state.end is None:
        return None
    end, meta = state.end, state.meta
    return ArmRun(meta["arm"], meta["lam"], meta["seed"], end.get("peak"), end.get("peak_step"),
                  end.get("test_metric"), end["steps"], end["seconds"], end["status"], end.get("decays"))


@torch.no_grad()
def evaluate_metric(model: torch.nn.Module, chunks: list[tuple[torch.Tensor, torch.Tensor]],
                    metric: str | Callable[..., float]) -> float:
    """The task's metric on a held-out set (accuracy, or the user's callable on all outputs)."""
    model.eval()
    outputs = [(model(x), y) for x, y in chunks]
    if metric == "accuracy":
        correct = sum(float((o.argmax(1) == y).sum()) for o, y in outputs)
        return correct / sum(len(y) for _, y in outputs)
    return float(metric(torch.cat([o for o, _ in outputs]), torch.cat([y for _, y in outputs])))


def run_seed(task: Task, config: TrainConfig, arm: str, lam: float, test_chunks: list | None,
             write: Callable[[dict[str, Any]], None], progress: Progress | None,
             interrupted: Callable[[], bool], scheduler_factory: Callable | None = None,
             lr_at: Callable[[int], float] | None = None) -> ArmRun | None:
    """Train one seed of an arm, recording its curve; None if interrupted (it reruns later).
    `lr_at(step)`: the lr schedule (None: the file's constant lr)."""
    rid = run_id(arm, lam, config.seed)
    held: dict[str, Any] = {"best": -math.inf, "step": None, "state": None}

    def build() -> torch.nn.Module:  # keep a handle on the model train() builds
        held["model"] = task.spec.build_model()
        return held["model"]

    def on_eval(record: Record) -> None:
        write({"type": "eval", "run": rid, **record})
        value = record["val_metric"]
        if math.isfinite(value) and value > held["best"]:
            held["best"], held["step"] = value, record["step"]
            if test_chunks is not None:
                held["state"] = copy.deepcopy(held["model"].state_dict())
        if progress is not None:
            progress.update(record)

    made: list[Any] = []

    def factory(optimizer: torch.optim.Optimizer) -> Any:
        made.append(scheduler_factory(optimizer))
        return made[-1]

    spec = dataclasses.replace(task.spec, build_model=build)
    write({"type": "start", "run": rid, "arm": arm, "lam": lam, "seed": config.seed, "max_steps": config.max_steps})
    if progress is not None:
        progress.begin(rid, config.max_steps)
    result = train(dataclasses.replace(task, spec=spec), config, lam, on_eval=on_eval,
                   scheduler_factory=factory if scheduler_factory else None, lr_at=lr_at,
                   should_stop=lambda records: "interrupted" if interrupted() else None)
    if progress is not None:
        progress.finish(rid, result.status, result.steps)
    if result.status == "interrupted":
        return None
    test = None
    if held["state"] is not None:
        held["model"].load_state_dict(held["state"])
        test = evaluate_metric(held["model"], test_chunks, task.spec.metric)
    peak = held["best"] if math.isfinite(held["best"]) else None
    run = ArmRun(arm, lam, config.seed, peak, held["step"], test, result.steps, result.seconds, result.status,
                 len(made[0].events) if made else None)
    write({"type": "end", "run": rid, "status": result.status, "steps": result.steps, "seconds": result.seconds,
           "message": result.message, "peak": peak, "peak_step": held["step"], "test_metric": test,
           "decays": run.decays})
    return run


def run_arm(task: Task, base: TrainConfig, arm: str, lam: float, seeds: Sequence[int], done: dict[str, RunState],
            test_chunks: list | None, write: Callable[[dict[str, Any]], None], progress: Progress | None,
            interrupted: Callable[[], bool], scheduler_factory: Callable | None = None,
            lr_at: Callable[[int], float] | None = None) -> list[ArmRun] | None:
    """Every seed of an arm, reusing runs already in the runs file; None if interrupted."""
    runs = []
    for seed in seeds:
        state = done.get(run_id(arm, lam, seed))
        run = from_state(state) if state is not None else None
        if run is None:
            if interrupted():
                return None
            run = run_seed(task, dataclasses.replace(base, seed=seed), arm, lam, test_chunks, write, progress,
                           interrupted, scheduler_factory, lr_at)
            if run is None:
                return None
        runs.append(run)
    return runs


def summarize_arm(arm: str, lam: float | None, runs: Sequence[ArmRun], search: Sequence[Cost],
                  note: str = "") -> dict[str, Any]:
    """One table row: the metric's mean and spread over seeds, and the method's compute."""
    peak, peak_sd = mean_sd([r.peak for r in runs])
    test, test_sd = mean_sd([r.test_metric for r in runs])
    cost = method_cost(search, [r.cost for r in runs])
    spent = Cost(sum(c.steps for c in search) + sum(r.steps for r in runs),
                 sum(c.seconds for c in search) + sum(r.seconds for r in runs))
    bad = [r.status for r in runs if r.status not in ("finished", "stopped")]
    if bad:
        note = "; ".join(filter(None, [note, f"{len(bad)} run(s) {', '.join(sorted(set(bad)))}"]))
    return {"arm": arm, "lam": lam, "peak_mean": peak, "peak_sd": peak_sd, "test_mean": test, "test_sd": test_sd,
            "compute_steps": cost.steps, "compute_seconds": cost.seconds, "spent_steps": spent.steps,
            "spent_seconds": spent.seconds, "search_steps": sum(c.steps for c in search),
            "runs": [dataclasses.asdict(r) for r in runs], "note": note}
