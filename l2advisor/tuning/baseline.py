"""The conventional tuner: an Optuna TPE study over lam, each trial one full-budget training run.

The objective is what the advisor predicts: the peak validation metric within the budget (the
max over the run's evaluation points). Every trial uses the same training seed, so the same
initial weights and data order as every other run of the same seed. The study lives in an
Optuna storage (a SQLite file by default, a journal file `journal:PATH`, or any RDB URL), so a
rerun resumes it and several processes, on several machines, can work on one study:

* a global trial count: the study ends with `trials` COMPLETE + PRUNED trials over all workers.
  After `ask`, a worker counts finished trials plus other workers' running trials with a lower
  trial number; if that reaches the count, its own trial is surplus and is dropped (FAIL).
* no trial left RUNNING: a worker records its host and pid on its trial and a heartbeat; before
  each trial it fails the RUNNING trials whose process is gone (same host) or whose heartbeat is
  older than `stale_after` seconds (other hosts), and queues their lam again. An interrupt fails
  and re-queues the trial in progress. (Optuna's own RDB heartbeat works only inside
  `study.optimize`; the ask/tell loop needed for the global count does its own, on any storage.)
* each trial draws from a TPE sampler seeded by (seed, trial number): a single worker's study is
  reproducible, and concurrent workers never draw the same lam.

Opening the storage and the study is in storage.py; finding and re-queueing dead trials in
recovery.py.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.samplers import BaseSampler, TPESampler
from optuna.trial import FrozenTrial, TrialState

from l2advisor.errors import RunFailed
from l2advisor.modelfile.task import Task
from l2advisor.training.train import Record, TrainConfig, train
from l2advisor.tuning.pruning import Checkpoints, first_report
from l2advisor.tuning.recovery import Heartbeat, requeue, sweep_stale

STALE_AFTER_S = 600.0  # a trial of another host without a heartbeat for this long is dead
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
optuna.logging.set_verbosity(optuna.logging.WARNING)  # the CLI reports trials itself


@dataclass(frozen=True)
class StudySettings:
    """The search: K counted trials over log-uniform lam in [lam_low, lam_high] (+ one lam = 0)."""

    trials: int  # K: COMPLETE + PRUNED trials the study ends with, all workers together
    lam_low: float = 1e-6
    lam_high: float = 1e-1
    include_zero: bool = False  # one extra queued trial at lam = 0 (counted among the K)
    pruner: str = "none"  # none | median | hyperband, on the running peak at 20 points of the budget (pruning.py)
    sampler_seed: int = 0
    startup_trials: int = 10  # TPE's random trials before it models the objective
    stale_after: float = STALE_AFTER_S

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class TrialOutcome:
    """One trial run by this process. `state`: COMPLETE | PRUNED | FAIL (Optuna's names)."""

    number: int
    lam: float
    state: str
    value: float | None  # peak validation metric (None if the run gave none)
    steps: int
    seconds: float
    status: str  # train()'s status, or "lost" when another worker failed the trial as stale
    message: str = ""  # why a failed trial failed (the model file's error)


class TuneProgress(Protocol):
    """What the study loop tells its caller (the CLI draws bars; tests may record)."""

    def begin(self, number: int, lam: float, counted: int, total: int) -> None: ...

    def update(self, record: Record) -> None: ...

    def finish(self, outcome: TrialOutcome, best: float | None, counted: int) -> None: ...

    def note(self, message: str) -> None: ...


class PerTrialTPE(BaseSampler):
    """TPE whose random stream is seeded by (seed, trial number); everything else is TPE's.

    With `constant_liar` (the default), the trials other workers are running count as bad
    results, so workers sharing a study do not all propose the same lam; a single worker has no
    other running trial, so it changes nothing there. `describe()` reports these options, the
    ones the sampler is built with.
    """

    def __init__(self, seed: int, startup_trials: int = 10, constant_liar: bool = True) -> None:
        self.seed, self.startup_trials = seed, startup_trials
        self.options = {"n_startup_trials": startup_trials, "constant_liar": constant_liar, "multivariate": False}
        self._cache: tuple[int, TPESampler] | None = None

    def _tpe(self, trial: FrozenTrial) -> TPESampler:
        if self._cache is None or self._cache[0] != trial.number:
            seed = (self.seed * 1_000_003 + trial.number) % 2**32
            with warnings.catch_warnings():  # constant_liar is flagged experimental; we use it knowingly
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self._cache = (trial.number, TPESampler(seed=seed, **self.options))
        return self._cache[1]

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, Any]:
        return self._tpe(trial).infer_relative_search_space(study, trial)

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, Any]) -> dict[str, Any]:
        return self._tpe(trial).sample_relative(study, trial, search_space)

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, name: str, distribution: Any) -> Any:
        return self._tpe(trial).sample_independent(study, trial, name, distribution)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self._tpe(trial).before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState, values: Any) -> None:
        self._tpe(trial).after_trial(study, trial, state, values)

    def describe(self) -> dict[str, Any]:
        return {"sampler": "TPESampler", "seed": f"({self.seed} * 1000003 + trial number) mod 2**32",
                **self.options}


def study_objective(task: Task, config: TrainConfig, settings: StudySettings,
                    schedule: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a study's trial values depend on: a resumed study must have been run for the same.
    `schedule`: the lr schedule's settings when it is not the file's constant lr."""
    model = {k: v for k, v in task.spec.settings().items() if k != "model_file"}  # paths differ across machines
    return {**model, "train_size": task.train_size, "budget": config.max_steps,
            "eval_every": config.eval_every, "seed": config.seed, "decay_1d": config.decay_1d,
            "lam_low": settings.lam_low, "lam_high": settings.lam_high, **(schedule or {})}


def trial_lam(trial: FrozenTrial | optuna.Trial) -> float | None:
    if trial.user_attrs.get("zero"):
        return 0.0
    return trial.params.get("lam")


PRUNER_ATTR = "pruner"  # a trial's user attribute: the --pruner it ran under
SAMPLER_ATTR = "sampler_seed"  # a trial's user attribute: the --sampler-seed that drew its lam


def counted(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def _surplus(study: optuna.Study, trial: optuna.Trial, total: int) -> bool:
    """Finished trials + other workers' running trials numbered before this one reach the count."""
    trials = study.get_trials(deepcopy=False)
    ahead = sum(1 for t in trials if t.state in COUNTED
                or (t.state == TrialState.RUNNING and t.number < trial.number))
    return ahead >= total


def _drop(study: optuna.Study, trial: optuna.Trial) -> None:
    trial.set_user_attr("surplus", True)
    frozen = study.tell(trial, state=TrialState.FAIL)
    if frozen.system_attrs.get("fixed_params") is not None or frozen.user_attrs.get("zero"):
        requeue(study, frozen, retry=False)  # a queued lam popped by a surplus trial stays queued


def run_study(task: Task, config: TrainConfig, study: optuna.Study, settings: StudySettings,
              progress: TuneProgress | None = None,
              interrupted: Callable[[], bool] = lambda: False,
              lr_at: Callable[[int], float] | None = None) -> list[TrialOutcome]:
    """Run trials in this process until the study holds `settings.trials` counted trials
    (`lr_at(step)`: the lr schedule of every trial; None: the file's constant lr)."""
    outcomes: list[TrialOutcome] = []
    failures = 0
    while not interrupted():
        for note in sweep_stale(study, settings.stale_after):
            if progress is not None:
                progress.note(note)
        running = len(study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)))
        if counted(study) + running >= settings.trials:
            break
        trial = study.ask()
        if _surplus(study, trial, settings.trials):
            _drop(study, trial)
            break
        outcome = run_trial(task, config, study, trial, settings, progress, interrupted, lr_at)
        outcomes.append(outcome)
        if outcome.status == "interrupted":
            break
        failures += outcome.status == "failed"
        if outcome.status == "failed" and failures < settings.trials and progress is not None:
            progress.note(f"Trial {outcome.number} (lam={outcome.lam:g}) failed: {outcome.message}; it does not "
                          "count toward --trials, the search goes on")  # Optuna's way: FAIL, and on
        if failures >= settings.trials:  # as many failures as trials asked for: not one lam's trouble
            raise RunFailed(f"{failures} trials failed in this run, the last (trial {outcome.number}, lam="
                            f"{outcome.lam:g}): {outcome.message}; fix what fails in the model file, its data or "
                            "loss, and run again (the study keeps the trials that finished)")
    return outcomes


def run_trial(task: Task, config: TrainConfig, study: optuna.Study, trial: optuna.Trial, settings: StudySettings,
              progress: TuneProgress | None, interrupted: Callable[[], bool],
              lr_at: Callable[[int], float] | None = None) -> TrialOutcome:
    """One full-budget run at the trial's lam; the trial is always finished, never left RUNNING."""
    try:
        with Heartbeat(trial):
            trial.set_user_attr(PRUNER_ATTR, settings.pruner)  # the rule this trial runs under (pruner_note)
            trial.set_user_attr(SAMPLER_ATTR, settings.sampler_seed)  # and the seed that drew it (sampler_note)
            lam = 0.0 if trial.user_attrs.get("zero") else trial.suggest_float(
                "lam", settings.lam_low, settings.lam_high, log=True)
            if progress is not None:
                progress.begin(trial.number, lam, counted(study), settings.trials)
            result, value = _train_trial(task, config, trial, lam, settings.pruner, progress, interrupted, lr_at)
    except BaseException:  # a second Ctrl-C, a storage error, a bug: fail it, keep its lam queued
        try:
            requeue(study, study.tell(trial, state=TrialState.FAIL))
        except Exception:
            pass
        raise
    state = _finish(study, trial, result.status, value)
    outcome = TrialOutcome(trial.number, lam, state, value, result.steps, result.seconds,
                           result.status if state != "lost" else "lost", result.message or "")
    if progress is not None:
        progress.finish(outcome, best_value(study), counted(study))
    return outcome


def _train_trial(task: Task, config: TrainConfig, trial: optuna.Trial, lam: float, pruner: str,
                 progress: TuneProgress | None, interrupted: Callable[[], bool],
                 lr_at: Callable[[int], float] | None = None) -> tuple[Any, float | None]:
    """Train, reporting the running peak to the pruner at its checkpoints (pruning.py); store the
    curve and the cost."""
    peak, reported, prune = -math.inf, False, pruner != "none"
    checkpoints = Checkpoints(config.max_steps, first=first_report(pruner, config.max_steps))

    def on_eval(record: Record) -> None:
        nonlocal peak, reported
        if math.isfinite(record["val_metric"]):
            peak = max(peak, record["val_metric"])
        # a storage write and a read of the study: only when a pruner reads it, at its checkpoints
        reported = prune and checkpoints.due(record["step"]) and math.isfinite(peak)
        if reported:
            _quietly(trial.report, peak, record["step"])
        if progress is not None:
            progress.update(record)

    def should_stop(records: list[Record]) -> str | None:
        if interrupted():
            return "interrupted"
        return "pruned" if reported and trial.should_prune() else None

    result = train(task, config, lam, on_eval=on_eval, should_stop=should_stop, lr_at=lr_at)
    _quietly(trial.set_user_attr, "curve", {"step": [r["step"] for r in result.records],
                                            "val_metric": [_finite(r["val_metric"]) for r in result.records]})
    for key, item in (("steps", result.steps), ("seconds", result.seconds), ("status", result.status)):
        _quietly(trial.set_user_attr, key, item)
    return result, (peak if math.isfinite(peak) else None)


def _quietly(write: Callable[..., None], *args: Any) -> None:
    """A write to a trial that another worker has meanwhile failed as stale is dropped."""
    try:
        write(*args)
    except UpdateFinishedTrialError:
        pass


def _finish(study: optuna.Study, trial: optuna.Trial, status: str, value: float | None) -> str:
    """Tell Optuna how the trial ended; an interrupted trial's lam is queued again."""
    try:
        if status == "pruned":
            frozen = study.tell(trial, state=TrialState.PRUNED)
        elif status in ("interrupted", "failed") or value is None:
            frozen = study.tell(trial, state=TrialState.FAIL)
            if status == "interrupted":
                requeue(study, frozen)
        else:
            frozen = study.tell(trial, value)
    except (UpdateFinishedTrialError, ValueError, RuntimeError):
        return "lost"  # another worker judged it stale and failed it (a clock or network hiccup)
    return frozen.state.name


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def best_value(study: optuna.Study) -> float | None:
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.value is not None]
    return max(t.value for t in done) if done else None


def trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    """Every trial in number order: lam, state, value, and its compute (steps, seconds)."""
    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        rows.append({"number": t.number, "lam": trial_lam(t), "state": t.state.name, "value": t.value,
                     "steps": t.user_attrs.get("steps"), "seconds": t.user_attrs.get("seconds"),
                     "status": t.user_attrs.get("status"), "retry_of": t.user_attrs.get("retry_of"),
                     "surplus": bool(t.user_attrs.get("surplus")), "worker": t.user_attrs.get("worker"),
                     "sampler_seed": t.user_attrs.get(SAMPLER_ATTR),
                     "curve": t.user_attrs.get("curve")})
    return rows
