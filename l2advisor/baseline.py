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
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.samplers import BaseSampler, TPESampler
from optuna.trial import FrozenTrial, TrialState

from l2advisor.errors import InputError, RunFailed
from l2advisor.task import Task
from l2advisor.train import Record, TrainConfig, train

STUDY_FILE = "optuna.db"
HEARTBEAT_S = 20.0  # seconds between heartbeats of a running trial
STALE_AFTER_S = 600.0  # a trial of another host without a heartbeat for this long is dead
MAX_RETRIES = 2  # a lam whose runs keep dying (e.g. out of memory) is given up after this
COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)
optuna.logging.set_verbosity(optuna.logging.WARNING)  # the CLI reports trials itself


@dataclass(frozen=True)
class StudySettings:
    """The search: K counted trials over log-uniform lam in [lam_low, lam_high] (+ one lam = 0)."""

    trials: int  # K: COMPLETE + PRUNED trials the study ends with, all workers together
    lam_low: float = 1e-6
    lam_high: float = 1e-1
    include_zero: bool = False  # one extra queued trial at lam = 0 (counted among the K)
    pruner: str = "none"  # none | median | hyperband, on the running peak at each evaluation
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


class TuneProgress(Protocol):
    """What the study loop tells its caller (the CLI draws bars; tests may record)."""

    def begin(self, number: int, lam: float, counted: int, total: int) -> None: ...

    def update(self, record: Record) -> None: ...

    def finish(self, outcome: TrialOutcome, best: float | None, counted: int) -> None: ...

    def note(self, message: str) -> None: ...


class PerTrialTPE(BaseSampler):
    """TPE whose random stream is seeded by (seed, trial number); everything else is TPE's."""

    def __init__(self, seed: int, startup_trials: int = 10) -> None:
        self.seed, self.startup_trials = seed, startup_trials
        self._cache: tuple[int, TPESampler] | None = None

    def _tpe(self, trial: FrozenTrial) -> TPESampler:
        if self._cache is None or self._cache[0] != trial.number:
            seed = (self.seed * 1_000_003 + trial.number) % 2**32
            self._cache = (trial.number, TPESampler(seed=seed, n_startup_trials=self.startup_trials))
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
                "n_startup_trials": self.startup_trials, "constant_liar": True, "multivariate": False}


def make_pruner(name: str, budget: int) -> optuna.pruners.BasePruner:
    """Pruning on the running peak, in training steps: a quarter of the budget of warm-up."""
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=budget // 4)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, budget // 27), max_resource=budget,
                                              reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise InputError(f"--pruner must be none, median or hyperband, got {name!r}.")


def default_storage(run_dir: Path) -> str:
    return f"sqlite:///{(Path(run_dir) / STUDY_FILE).resolve()}"


def open_storage(url: str) -> optuna.storages.BaseStorage:
    """`journal:PATH` -> a journal file (works on shared filesystems); anything else an RDB URL."""
    try:
        if url.startswith("journal:"):
            path = Path(url[len("journal:"):]).expanduser()
            backend = optuna.storages.journal.JournalFileBackend(str(path))
            return optuna.storages.JournalStorage(backend)
        kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
        if url.startswith("sqlite:///"):
            Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
    except Exception as err:
        raise InputError(f"Cannot open the Optuna storage {_masked(url)} ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else 'no detail'}); give an RDB URL such as "
                         "sqlite:///study.db or postgresql://..., or journal:PATH.") from None


def _masked(url: str) -> str:
    """The URL without its password."""
    if "://" in url and "@" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}:***@{host}"
    return url


def open_study(storage: optuna.storages.BaseStorage, name: str, settings: StudySettings,
               objective: dict[str, Any], budget: int) -> optuna.Study:
    """Create or resume a study; refuse one made for another objective (model, budget, seed...)."""
    try:
        study = optuna.create_study(study_name=name, storage=storage, direction="maximize", load_if_exists=True,
                                    sampler=PerTrialTPE(settings.sampler_seed, settings.startup_trials),
                                    pruner=make_pruner(settings.pruner, budget))
    except Exception as err:
        raise InputError(f"Cannot open study {name!r} in the Optuna storage ({type(err).__name__}: {err}).") from None
    if study.direction != optuna.study.StudyDirection.MAXIMIZE:
        raise InputError(f"Study {name!r} minimizes; it was not made by l2advisor. Use another --study-name.")
    old = study.user_attrs.get("l2advisor")
    if old is None:
        study.set_user_attr("l2advisor", objective)
    elif old != objective:
        diff = "; ".join(f"{k}: {old.get(k)!r} -> {objective.get(k)!r}"
                         for k in sorted(set(old) | set(objective)) if old.get(k) != objective.get(k))
        raise InputError(f"Study {name!r} was run for another objective ({diff}); use another --study-name.")
    if settings.include_zero and not any(t.user_attrs.get("zero") for t in study.get_trials(deepcopy=False)):
        study.enqueue_trial({}, user_attrs={"zero": True})
    return study


def study_objective(task: Task, config: TrainConfig, settings: StudySettings) -> dict[str, Any]:
    """What a study's trial values depend on: a resumed study must have been run for the same."""
    model = {k: v for k, v in task.spec.settings().items() if k != "model_file"}  # paths differ across machines
    return {**model, "train_size": task.train_size, "budget": config.max_steps,
            "eval_every": config.eval_every, "seed": config.seed, "decay_1d": config.decay_1d,
            "lam_low": settings.lam_low, "lam_high": settings.lam_high}


def trial_lam(trial: FrozenTrial | optuna.Trial) -> float | None:
    if trial.user_attrs.get("zero"):
        return 0.0
    return trial.params.get("lam")


def counted(study: optuna.Study) -> int:
    return len(study.get_trials(deepcopy=False, states=COUNTED))


def stale_reason(trial: FrozenTrial, stale_after: float, now: float | None = None) -> str | None:
    """Why a RUNNING trial is dead, or None: its process gone (same host), or no heartbeat."""
    worker = trial.user_attrs.get("worker") or {}
    if worker.get("host") == socket.gethostname() and worker.get("pid") != os.getpid():
        if not _alive(int(worker["pid"])):
            return f"its process {worker['pid']} on this machine is gone"
    beat = trial.user_attrs.get("heartbeat")
    if beat is None and trial.datetime_start is not None:
        beat = trial.datetime_start.timestamp()
    age = (now or time.time()) - beat if beat is not None else 0.0
    return f"no heartbeat for {age:.0f} s" if age > stale_after else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def requeue(study: optuna.Study, trial: FrozenTrial, retry: bool = True) -> bool:
    """Queue a failed trial's lam again (a retry: up to MAX_RETRIES times); True if queued.
    `retry=False` puts back a queued lam that a surplus trial popped, as it was."""
    attrs = {k: trial.user_attrs[k] for k in ("zero", "retries", "retry_of") if k in trial.user_attrs}
    params = trial.params or trial.system_attrs.get("fixed_params", {})
    if not (params or attrs.get("zero")):
        return False
    if retry:
        if attrs.get("retries", 0) >= MAX_RETRIES:
            return False
        attrs.update(retries=attrs.get("retries", 0) + 1, retry_of=trial.number)
    study.enqueue_trial(dict(params), user_attrs=attrs)
    return True


def sweep_stale(study: optuna.Study, stale_after: float) -> list[str]:
    """Fail every dead RUNNING trial and queue its lam again; returns what it did, in words."""
    notes = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        why = stale_reason(trial, stale_after)
        if why is None:
            continue
        try:
            study.tell(trial.number, state=TrialState.FAIL)
        except (UpdateFinishedTrialError, ValueError, RuntimeError):
            continue  # another worker failed it first
        again = requeue(study, trial)
        notes.append(f"trial {trial.number} was left running ({why}): marked failed"
                     + (", its lam queued again" if again else ""))
    return notes


class Heartbeat:
    """Records the trial's owner now, and a heartbeat every HEARTBEAT_S seconds in a thread."""

    def __init__(self, trial: optuna.Trial, interval: float = HEARTBEAT_S) -> None:
        self.trial, self.interval = trial, interval
        self.stop = threading.Event()
        trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
        trial.set_user_attr("heartbeat", time.time())
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.trial.set_user_attr("heartbeat", time.time())
            except Exception:  # the trial was finished meanwhile (or the storage hiccupped)
                return

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()


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
              interrupted: Callable[[], bool] = lambda: False) -> list[TrialOutcome]:
    """Run trials in this process until the study holds `settings.trials` counted trials."""
    outcomes: list[TrialOutcome] = []
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
        outcome = run_trial(task, config, study, trial, settings, progress, interrupted)
        outcomes.append(outcome)
        if outcome.status == "interrupted":
            break
    return outcomes


def run_trial(task: Task, config: TrainConfig, study: optuna.Study, trial: optuna.Trial, settings: StudySettings,
              progress: TuneProgress | None, interrupted: Callable[[], bool]) -> TrialOutcome:
    """One full-budget run at the trial's lam; the trial is always finished, never left RUNNING."""
    try:
        with Heartbeat(trial):
            lam = 0.0 if trial.user_attrs.get("zero") else trial.suggest_float(
                "lam", settings.lam_low, settings.lam_high, log=True)
            if progress is not None:
                progress.begin(trial.number, lam, counted(study), settings.trials)
            result, value = _train_trial(task, config, trial, lam, settings.pruner != "none", progress, interrupted)
    except BaseException:  # a second Ctrl-C, a storage error, a bug: fail it, keep its lam queued
        try:
            requeue(study, study.tell(trial, state=TrialState.FAIL))
        except Exception:
            pass
        raise
    state = _finish(study, trial, result.status, value)
    outcome = TrialOutcome(trial.number, lam, state, value, result.steps, result.seconds,
                           result.status if state != "lost" else "lost")
    if progress is not None:
        progress.finish(outcome, best_value(study), counted(study))
    if result.status == "failed":
        raise RunFailed(f"Trial {trial.number} (lam={lam:g}) failed: {result.message}")
    return outcome


def _train_trial(task: Task, config: TrainConfig, trial: optuna.Trial, lam: float, prune: bool,
                 progress: TuneProgress | None, interrupted: Callable[[], bool]) -> tuple[Any, float | None]:
    """Train, reporting the running peak at each evaluation; store the curve and the cost."""
    peak = -math.inf

    def on_eval(record: Record) -> None:
        nonlocal peak
        if math.isfinite(record["val_metric"]):
            peak = max(peak, record["val_metric"])
            if prune:  # a storage write per evaluation: only when a pruner reads it
                _quietly(trial.report, peak, record["step"])
        if progress is not None:
            progress.update(record)

    def should_stop(records: list[Record]) -> str | None:
        if interrupted():
            return "interrupted"
        return "pruned" if prune and trial.should_prune() else None

    result = train(task, config, lam, on_eval=on_eval, should_stop=should_stop)
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
                     "curve": t.user_attrs.get("curve")})
    return rows
