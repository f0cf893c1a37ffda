"""The heartbeat outlives a storage error; the sampler settings recorded are the ones in force."""

from __future__ import annotations

import math
import time
from typing import Any

import optuna
import pytest

from l2advisor.tuning.baseline import PerTrialTPE
from l2advisor.tuning.recovery import Heartbeat


class FlakyStorage(optuna.storages.InMemoryStorage):
    """In-memory storage whose next `failures` heartbeat writes raise, as a database hiccup would."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0
        self.beats: list[float] = []  # times of the heartbeat writes that went through

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        if key == "heartbeat" and self.failures > 0:
            self.failures -= 1
            raise optuna.exceptions.StorageInternalError("database is locked")
        super().set_trial_user_attr(trial_id, key, value)
        if key == "heartbeat":
            self.beats.append(time.monotonic())


def wait_for(condition, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def flaky() -> tuple[FlakyStorage, optuna.Trial]:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = FlakyStorage()
    study = optuna.create_study(storage=storage)
    return storage, study.ask()


@pytest.mark.fault
def test_heartbeat_keeps_beating_after_a_storage_error(flaky) -> None:
    storage, trial = flaky
    beat = Heartbeat(trial, interval=0.05, retry_s=0.01)  # writes the first heartbeat
    storage.failures = 1  # the thread's first beat fails, the next ones work
    with beat:
        start = len(storage.beats)  # the one written on entry
        assert wait_for(lambda: len(storage.beats) >= start + 3)
    assert storage.failures == 0 and beat.failures == 0  # the error happened and was got over
    assert beat.errors and "database is locked" in beat.errors[0]
    assert trial.study.trials[0].user_attrs["heartbeat"] > 0


@pytest.mark.fault
def test_heartbeat_keeps_retrying_through_a_long_outage(flaky) -> None:
    storage, trial = flaky
    beat = Heartbeat(trial, interval=0.05, retry_s=0.005)
    storage.failures = 5
    with beat:
        start = len(storage.beats)
        assert wait_for(lambda: len(storage.beats) >= start + 2)
    assert len(beat.errors) == 5  # every failed write was retried; none ended the thread


def test_heartbeat_stops_once_the_trial_is_finished(flaky) -> None:
    """Control: a finished trial ends the thread by itself (no endless retries)."""
    storage, trial = flaky
    beat = Heartbeat(trial, interval=0.02, retry_s=0.01)
    with beat:
        trial.study.tell(trial, 1.0)
        assert wait_for(lambda: not beat.thread.is_alive())
    assert beat.failures == 0


def test_recorded_sampler_settings_are_the_ones_in_force() -> None:
    """compare.json and tune --json record `describe()`: each setting must be the live TPE's."""
    sampler = PerTrialTPE(seed=3, startup_trials=7)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    trial = study.ask()
    trial.suggest_float("lam", 1e-6, 1e-1, log=True)
    tpe = sampler._tpe(study._storage.get_trial(trial._trial_id))
    described = sampler.describe()
    assert described["sampler"] == type(tpe).__name__
    assert described["n_startup_trials"] == tpe._n_startup_trials == 7
    assert described["constant_liar"] is tpe._constant_liar is True  # in force: workers share one study
    assert described["multivariate"] is tpe._multivariate is False


def liar_proposal(constant_liar: bool, seed: int, running: float = 1e-3) -> float:
    """TPE's next lam after 10 finished trials peaking at lam = 1e-3, while another worker's
    trial is RUNNING at `running`."""
    sampler = PerTrialTPE(seed=seed, startup_trials=2, constant_liar=constant_liar)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    lam_range = {"lam": optuna.distributions.FloatDistribution(1e-6, 1e-1, log=True)}
    for i in range(10):
        lam = 10 ** (-6 + 5 * i / 9)
        study.add_trial(optuna.trial.create_trial(params={"lam": lam}, distributions=lam_range,
                                                  value=0.95 - 0.01 * abs(math.log10(lam) + 3)))
    study.add_trial(optuna.trial.create_trial(params={"lam": running}, distributions=lam_range,
                                              state=optuna.trial.TrialState.RUNNING))
    return study.ask().suggest_float("lam", 1e-6, 1e-1, log=True)


def test_constant_liar_is_in_force_with_a_running_trial() -> None:
    """In force, not only recorded: the liar counts the running trial as a bad result, so the
    proposal (same seed, trial number and finished trials) moves away from the running lam."""
    def distance(lam: float) -> float:
        return abs(math.log10(lam) - math.log10(1e-3))

    pairs = [(liar_proposal(True, seed), liar_proposal(False, seed)) for seed in range(4)]
    away = [liar for liar, plain in pairs if distance(liar) > distance(plain)]
    assert len(away) >= 2, pairs
    assert liar_proposal(True, 0) == pairs[0][0]  # control: the same settings propose the same lam
