"""`compare`: the advisor against the usual choices and an Optuna study, on one model file.

Every arm trains the same model file for the same budget (steps) with the same training seeds,
so the same initial weights and data order: the advisor (probes, then runs at the advised lam),
AutoL2 configured from the same probes, a common default weight decay, lam = 0, and an Optuna
TPE study whose chosen lam is re-run on the same seeds (a study's best value is the max of
noisy runs, biased upward; the re-run is what compares). Each run's metric is its peak
validation metric over the evaluation points; its test metric is the held-out metric of the
checkpoint at that peak. Compute of a method = its search (probes or trials) + one final run.
The pure accounting functions at the top are what the tests check by hand.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import optuna
import torch

from l2advisor.baseline import open_storage, open_study, run_study, study_objective, trial_rows
from l2advisor.store import RunState
from l2advisor.task import Task
from l2advisor.train import Record, TrainConfig, train

ARMS = ("advisor", "autol2", "default", "zero", "optuna")
RUNS_FILE = "compare_runs.jsonl"
DEFAULT_LAM = 5e-4  # the common default weight decay


# ---------------------------------------------------------------- accounting (pure)

@dataclass(frozen=True)
class Cost:
    """Compute: optimizer steps and wall-clock seconds."""

    steps: float
    seconds: float


def method_cost(search: Sequence[Cost], finals: Sequence[Cost]) -> Cost:
    """Compute to get one trained model with a method: its whole search (probes, trials) plus
    one final run, the mean over the seeds that measure its spread (none for Optuna, whose best
    trial is already a trained model)."""
    steps = sum(c.steps for c in search) + (sum(c.steps for c in finals) / len(finals) if finals else 0.0)
    seconds = sum(c.seconds for c in search) + (sum(c.seconds for c in finals) / len(finals) if finals else 0.0)
    return Cost(steps, seconds)


def best_so_far(values: Sequence[float | None]) -> list[float | None]:
    """Running max in trial order; None (a pruned trial, no value yet) carries the last best."""
    out: list[float | None] = []
    best: float | None = None
    for value in values:
        if value is not None and math.isfinite(value) and (best is None or value > best):
            best = value
        out.append(best)
    return out


def cumulative(costs: Sequence[Cost]) -> list[Cost]:
    out, steps, seconds = [], 0.0, 0.0
    for cost in costs:
        steps, seconds = steps + cost.steps, seconds + cost.seconds
        out.append(Cost(steps, seconds))
    return out


def trials_to_match(values: Sequence[float | None], costs: Sequence[Cost], target: float) -> dict[str, Any] | None:
    """First trial (1-based, in trial order) whose best-so-far reaches `target`, and the compute
    spent up to and including it; None if the study never reaches it."""
    for k, (best, spent) in enumerate(zip(best_so_far(values), cumulative(costs), strict=True), start=1):
        if best is not None and best >= target:
            return {"trials": k, "steps": spent.steps, "seconds": spent.seconds, "target": target}
    return None


def mean_sd(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None with fewer than 1 or 2 values)."""
    xs = [v for v in values if v is not None and math.isfinite(v)]
    if not xs:
        return None, None
    mean = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else None
    return mean, sd


# ---------------------------------------------------------------- one run of an arm

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
             interrupted: Callable[[], bool], scheduler_factory: Callable | None = None) -> ArmRun | None:
    """Train one seed of an arm, recording its curve; None if interrupted (it reruns later)."""
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
                   scheduler_factory=factory if scheduler_factory else None,
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
            interrupted: Callable[[], bool], scheduler_factory: Callable | None = None) -> list[ArmRun] | None:
    """Every seed of an arm, reusing runs already in the runs file; None if interrupted."""
    runs = []
    for seed in seeds:
        state = done.get(run_id(arm, lam, seed))
        run = from_state(state) if state is not None else None
        if run is None:
            if interrupted():
                return None
            run = run_seed(task, dataclasses.replace(base, seed=seed), arm, lam, test_chunks, write, progress,
                           interrupted, scheduler_factory)
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


def optuna_costs(trials: Sequence[dict[str, Any]]) -> tuple[list[float | None], list[Cost]]:
    """Counted trials (COMPLETE, PRUNED) in trial order: their values (None for pruned: Optuna's
    best ignores them) and their compute. FAILed trials (interrupted, surplus) are left out."""
    kept = [t for t in trials if t["state"] in ("COMPLETE", "PRUNED")]
    values = [t["value"] if t["state"] == "COMPLETE" else None for t in kept]
    return values, [Cost(t.get("steps") or 0, t.get("seconds") or 0.0) for t in kept]


# ---------------------------------------------------------------- the comparison

@dataclass(frozen=True)
class CompareSettings:
    """One comparison: budget (steps), Optuna's K trials, the S training seeds of every arm."""

    budget: int
    trials: int
    seeds: tuple[int, ...]
    eval_every: int
    probe: Any  # probe.ProbeSettings
    study: Any  # baseline.StudySettings
    default_lam: float = DEFAULT_LAM

    def to_dict(self) -> dict[str, Any]:
        return {"budget": self.budget, "trials": self.trials, "seeds": list(self.seeds),
                "eval_every": self.eval_every, "default_lam": self.default_lam,
                "probe": self.probe.to_dict(), "study": self.study.to_dict()}


class _ProbeAdapter:
    """probe.Progress -> Progress."""

    def __init__(self, progress: Progress) -> None:
        self.p = progress

    def begin(self, run: Any, reused: bool) -> None:
        self.p.begin(f"probe {run.run_id}", run.max_steps)

    def update(self, run: Any, record: Record) -> None:
        self.p.update(record)

    def finish(self, run: Any, result: Any) -> None:
        self.p.finish(f"probe {run.run_id}", result.status, result.steps)


class _TuneAdapter:
    """baseline.TuneProgress -> Progress."""

    def __init__(self, progress: Progress, budget: int) -> None:
        self.p, self.budget = progress, budget

    def begin(self, number: int, lam: float, counted: int, total: int) -> None:
        self.p.begin(f"optuna trial {number} ({counted + 1} of {total}), lam={lam:.3g}", self.budget)

    def update(self, record: Record) -> None:
        self.p.update(record)

    def finish(self, outcome: Any, best: float | None, counted: int) -> None:
        self.p.finish(f"optuna trial {outcome.number}", outcome.state.lower(), outcome.steps)

    def note(self, message: str) -> None:
        self.p.note(message)


@dataclass
class Comparison:
    """Everything one `compare` needs; `run()` fills `rows` and `notes` arm by arm."""

    task: Task
    settings: CompareSettings
    run_dir: Any  # Path
    base: TrainConfig
    storage_url: str
    study_name: str
    test_chunks: list | None = None
    progress: Progress | None = None
    interrupted: Callable[[], bool] = lambda: False
    force: bool = False  # start the probes and the study over
    rows: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    def arm(self, write: Callable, done: dict, arm: str, lam: float, factory: Callable | None = None) -> list[ArmRun] | None:
        return run_arm(self.task, self.base, arm, lam, self.settings.seeds, done, self.test_chunks, write,
                       self.progress, self.interrupted, factory)

    def run(self, write: Callable[[dict[str, Any]], None], done: dict[str, RunState]) -> bool:
        """Run (or reuse) every arm in turn; False if interrupted (a rerun resumes)."""
        steps = (self._advisor, self._fixed, self._optuna)
        return all(step(write, done) for step in steps)

    def _advisor(self, write: Callable, done: dict) -> bool:
        try:
            from l2advisor.advise import advice_to_dict, advise, autol2_config
            from l2advisor.fit import fit_relations
        except ImportError as err:
            self.notes.append(f"advisor and AutoL2 arms left out: {err}")
            return True
        probed = self._probe(fit_relations)
        if probed is None:
            return False
        states, fit = probed
        search = [Cost(s.end["steps"], s.end["seconds"]) for s in states if s.end]
        advice = advise(fit, self.settings.budget, self.task.spec.lr)
        self.extra.update(advice=advice_to_dict(advice), fit={"verdict": fit.verdict, "c": fit.c, "alpha": fit.alpha,
                                                              "lam_c": fit.lam_c, "reasons": list(fit.reasons)})
        runs = self.arm(write, done, "advisor", advice.weight_decay)
        if runs is None:
            return False
        self.rows.append(summarize_arm("advisor", advice.weight_decay, runs, search, f"verdict: {fit.verdict}"))
        return self._autol2(write, done, autol2_config(fit, self.settings.budget, self.task.spec.lr), search)

    def _probe(self, fit_relations: Callable) -> tuple[list[RunState], Any] | None:
        from l2advisor.probe import pending, plan_probes, run_probes
        from l2advisor.runs import PROBES_FILE, load_probe_curves, results_path
        from l2advisor.store import make_header, open_results, read_results

        probe = self.settings.probe
        plan = plan_probes(probe, self.task.spec.momentum)
        header = make_header("probe", {**self.task.spec.settings(), "probe": probe.to_dict(),
                                       "train_size": self.task.train_size}, self.base.device)
        path = results_path(self.run_dir, PROBES_FILE)
        with open_results(path, header, force=self.force) as writer:
            todo, _ = pending(plan, read_results(path))
            adapter = _ProbeAdapter(self.progress) if self.progress is not None else None
            run_probes(self.task, todo, self.base, probe, writer.write, adapter, self.interrupted)
        if self.interrupted():
            return None
        results, curves = load_probe_curves(self.run_dir)
        states = [results.runs[r.run_id] for r in plan if r.run_id in results.runs]
        return states, fit_relations(curves, tolerance=probe.tolerance)

    def _autol2(self, write: Callable, done: dict, config: Any, search: list[Cost]) -> bool:
        try:
            from l2advisor.schedule import AutoL2
        except ImportError as err:
            self.notes.append(f"AutoL2 arm left out: {err}")
            return True

        def factory(optimizer: torch.optim.Optimizer) -> AutoL2:
            return AutoL2(optimizer, lam0=config.lam0, decay=config.decay, refractory_tau=config.refractory_tau,
                          lam_min=config.lam_min, param_groups="nonzero")

        runs = self.arm(write, done, "autol2", config.lam0, factory)
        if runs is None:
            return False
        decays = [r.decays for r in runs]
        self.extra["autol2"] = config.to_dict()
        self.rows.append(summarize_arm("autol2", config.lam0, runs, search,
                                       f"lam0 = {config.lam0:.3g}, decays per run {decays}"))
        return True

    def _fixed(self, write: Callable, done: dict) -> bool:
        for arm, lam in (("default", self.settings.default_lam), ("zero", 0.0)):
            runs = self.arm(write, done, arm, lam)
            if runs is None:
                return False
            self.rows.append(summarize_arm(arm, lam, runs, []))
        return True

    def _optuna(self, write: Callable, done: dict) -> bool:
        study_settings = self.settings.study
        config = dataclasses.replace(self.base, seed=self.settings.seeds[0])
        storage = open_storage(self.storage_url)
        if self.force and self.study_name in {s.study_name for s in optuna.get_all_study_summaries(storage)}:
            optuna.delete_study(study_name=self.study_name, storage=storage)
        study = open_study(storage, self.study_name, study_settings,
                           study_objective(self.task, config, study_settings), self.settings.budget)
        adapter = _TuneAdapter(self.progress, self.settings.budget) if self.progress is not None else None
        run_study(self.task, config, study, study_settings, adapter, self.interrupted)
        if self.interrupted():
            return False
        trials = [{k: v for k, v in t.items() if k != "curve"} for t in trial_rows(study)]
        values, costs = optuna_costs(trials)
        complete = [t for t in trials if t["state"] == "COMPLETE" and t["value"] is not None]
        self.extra.update(optuna_trials=trials, optuna_study={
            "study_name": self.study_name, "storage": self.storage_url, "sampler": study.sampler.describe(),
            "pruner": study_settings.pruner, "lam_range": [study_settings.lam_low, study_settings.lam_high]})
        if not complete:
            self.notes.append("Optuna arm: no trial completed.")
            return True
        best = max(complete, key=lambda t: t["value"])
        runs = self.arm(write, done, "optuna", best["lam"])
        if runs is None:
            return False
        row = summarize_arm("optuna", best["lam"], runs, costs, f"best of {len(values)} trials: trial "
                            f"{best['number']}, raw value {best['value']:.4f}")
        row.update(compute_steps=sum(c.steps for c in costs), compute_seconds=sum(c.seconds for c in costs),
                   raw_best=best["value"], raw_best_trial=best["number"])
        self.rows.append(row)
        advisor = next((r for r in self.rows if r["arm"] == "advisor"), None)
        if advisor is not None and advisor["peak_mean"] is not None:
            self.extra["trials_to_match"] = trials_to_match(values, costs, advisor["peak_mean"])
        return True

    def report(self) -> dict[str, Any]:
        """The JSON-safe results: settings, every arm's row and runs, Optuna's trials, notes."""
        from l2advisor.store import versions

        return {"settings": self.settings.to_dict(), "model": self.task.spec.settings(), "versions": versions(),
                "device": self.base.device, "metric": self.task.spec.metric_name,
                "test_metric": ("held-out test metric of each run's checkpoint at its peak validation evaluation"
                                if self.test_chunks is not None else "none: the model file has no build_test"),
                "compute": "steps and seconds to get one trained model: search (probes or trials) + one final "
                           "run (mean over seeds; Optuna: its trials only)",
                "rows": self.rows, "notes": self.notes, **self.extra}
