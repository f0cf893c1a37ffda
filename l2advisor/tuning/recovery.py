"""Recovery of dead trials: an Optuna study shared by workers never keeps a trial RUNNING forever.

A worker that crashes, is killed or loses its machine leaves its trial RUNNING, and the global
trial count would wait for it. So each worker stamps its trial with its host and pid and a
heartbeat (every HEARTBEAT_S seconds, in a thread); before each trial a worker fails the RUNNING
trials whose process is gone (same host) or whose heartbeat is older than `stale_after` seconds
(other hosts), and queues their lam again, up to MAX_RETRIES times. Optuna's own RDB heartbeat
works only inside `study.optimize`; this one works in the ask/tell loop, on any storage.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState

HEARTBEAT_S = 20.0  # seconds between heartbeats of a running trial
MAX_RETRIES = 2  # a lam whose runs keep dying (e.g. out of memory) is given up after this
RETRY_S = 1.0  # first retry of a failed heartbeat write; doubles up to HEARTBEAT_S


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
    """Records the trial's owner now, and a heartbeat every HEARTBEAT_S seconds in a thread.

    A failed write (the database hiccupped) is retried after `retry_s`, doubling up to the
    interval, and the beat goes on: one error must not let another host declare the live trial
    dead. Only a trial finished meanwhile, or `stop`, ends the thread.
    """

    def __init__(self, trial: optuna.Trial, interval: float = HEARTBEAT_S, retry_s: float = RETRY_S) -> None:
        self.trial, self.interval, self.retry_s = trial, interval, retry_s
        self.failures = 0  # consecutive failed writes
        self.errors: list[str] = []  # the last few, for diagnostics
        self.stop = threading.Event()
        trial.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getpid()})
        trial.set_user_attr("heartbeat", time.time())
        self.thread = threading.Thread(target=self._beat, daemon=True)

    def _beat(self) -> None:
        wait = self.interval
        while not self.stop.wait(wait):
            try:
                self.trial.set_user_attr("heartbeat", time.time())
            except UpdateFinishedTrialError:  # the trial was finished meanwhile: nothing to keep alive
                return
            except Exception as error:  # the storage hiccupped: try again soon
                self.failures += 1
                self.errors = [*self.errors[-4:], f"{type(error).__name__}: {error}"]
                wait = min(self.interval, self.retry_s * 2 ** min(self.failures - 1, 16))
            else:
                self.failures, wait = 0, self.interval

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()
