"""AutoL2 in a Hugging Face `Trainer` (`pip install "l2advisor[hf]"`).

The Trainer exposes the training loss only as it logs it: the mean over the last
`logging_steps` optimizer steps. `AutoL2TrainerCallback` therefore counts every optimizer step
on AutoL2's tau clock (in `on_optimizer_step`, before the Trainer's lr scheduler moves the
lr) and feeds each logged loss once, at the next optimizer step; by default AutoL2 checks
every `logging_steps` steps, so each check measures one logged loss (a loss-only trigger; a
training accuracy joins in if your `compute_loss` logs one under `accuracy_key`).

lam is the Trainer optimizer's `weight_decay` on the groups AutoL2 manages: by default
(`param_groups="not_only_1d"`) the groups holding a parameter with 2 or more dimensions (the
Trainer's decay group, as the Trainer built it, a 1-D layer scale in it included; its no-decay
group of biases and norm weights stays at 0). `TrainingArguments.weight_decay` is overwritten. The
state (AutoL2's, and a logged loss not yet fed) goes into the checkpoint's trainer_state.json,
so `trainer.train(resume_from_checkpoint=...)` continues exactly.

`WeightDecayReplayCallback` replays a trajectory (wd_trajectory.json) by global step.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from l2advisor.integrations._config import (
    as_trajectory,
    check_settings,
    json_safe_settings,
    replay_groups,
    replay_mismatches,
    replay_name,
    resumed_autol2,
    run_meta,
)
from l2advisor.training.advised_settings import (
    advice_lr,
    settings_from_advice,
    warn_if_other_lr,
    warn_new,
)
from l2advisor.training.autol2 import AutoL2
from l2advisor.training.trajectory import ReplaySchedule, WeightDecayTrajectory

MIN_LOGS = 3  # fewer logged losses in a run and AutoL2 cannot see a plateau (patience, refractory)


class AutoL2TrainerCallback(TrainerCallback, ExportableState):
    """Divide weight decay by `decay` when the logged training loss stalls (see
    `l2advisor.AutoL2` for every keyword; `check_every` defaults to the Trainer's
    `logging_steps`, or one epoch's steps when it logs by epoch). Adds lam to each log as `log_name`;
    `history` keeps (step, lam)."""

    def __init__(self, lam0: float, *, accuracy_key: str = "train_accuracy", log_name: str = "weight_decay",
                 param_groups: Any = "not_only_1d", **autol2: Any) -> None:
        self.settings = json_safe_settings({"lam0": lam0, "param_groups": param_groups, **autol2})
        check_settings(self.settings)  # a bad setting fails here, not once the Trainer starts
        self.advised_lr: float | None = None  # from_advice: the lr the advice was made for
        self._warned: set[str] = set()  # the notes already warned: another fit is not told again
        self.accuracy_key, self.log_name = accuracy_key, log_name
        self.autol2: AutoL2 | None = None
        self.restored_state: dict[str, Any] | None = None  # set by the Trainer on resume
        self.pending: list[float | None] = [None, None]  # logged (loss, accuracy) not yet fed
        self.history: list[tuple[int, float]] = []

    @classmethod
    def from_advice(cls, advice: Any, **kwargs: Any) -> AutoL2TrainerCallback:
        """From `l2advisor.recommend(...)`: lam0, decay, refractory_tau and lam_min of its `.autol2`
        (or from the advice.json `l2advisor recommend DIR --autol2` wrote: its path, or DIR)."""
        callback = cls(**{**settings_from_advice(advice), **kwargs})
        callback.advised_lr = advice_lr(advice)  # warned about at the start when the optimizer's differs
        return callback

    @staticmethod
    def replay(trajectory: WeightDecayTrajectory | str | Path, **kwargs: Any) -> WeightDecayReplayCallback:
        return WeightDecayReplayCallback(trajectory, **kwargs)

    def on_train_begin(self, args: Any, state: Any, control: Any, optimizer: Any = None, **kwargs: Any) -> None:
        if optimizer is None:
            raise ValueError("AutoL2TrainerCallback needs the Trainer's optimizer at on_train_begin.")
        self.settings.setdefault("check_every", _logging_interval(args, state))
        _warn_if_rarely_logged(args, state)
        warn_if_other_lr(self.advised_lr, optimizer, "AutoL2TrainerCallback", self._warned)
        self._max_steps = state.max_steps  # for trajectory()
        if self.restored_state is None and state.global_step > 0:
            self._take_saved_state(state)
        if self.restored_state is not None:  # resumed: continue the checkpoint's state
            self.autol2, self.settings, note = resumed_autol2(optimizer, self.settings, self.restored_state)
            warn_new([note] if note else [], self._warned)
            self.restored_state = None
        else:
            self.autol2 = AutoL2(optimizer, **self.settings)

    def _take_saved_state(self, state: Any) -> None:
        """A resumed Trainer restores callbacks itself only with
        `restore_callback_states_from_checkpoint=True`; otherwise the saved state is still in
        the TrainerState it read back from the checkpoint."""
        saved = (state.stateful_callbacks or {}).get(type(self).__name__) if isinstance(
            state.stateful_callbacks, dict) else None
        saved = saved[0] if isinstance(saved, list) and saved else saved
        attributes = (saved or {}).get("attributes") or {}
        if attributes.get("restored_state") is not None:
            self.restored_state = attributes["restored_state"]
            self.pending = list(attributes.get("pending") or [None, None])

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.autol2 is not None:
            loss, accuracy = self.pending
            self.autol2.step(loss, accuracy)  # None: nothing logged since the last step
            self.pending = [None, None]

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if self.autol2 is None or logs is None:
            return
        if "loss" in logs:
            self.pending = [float(logs["loss"]), _maybe_float(logs.get(self.accuracy_key))]
        logs[self.log_name] = self.autol2.lam
        if self.history and self.history[-1][0] == state.global_step:  # a second log at one step (the
            self.history[-1] = (state.global_step, self.autol2.lam)  # Trainer's end-of-run summary): one entry
        else:
            self.history.append((state.global_step, self.autol2.lam))

    def trajectory(self) -> WeightDecayTrajectory:
        """lam against step so far, to replay; `extra["steps_run"]` says how far (fewer than
        `budget_steps` when the run stopped early). It never says how the run ended: the Trainer
        tells its callbacks of no interrupt, so a replay says only that the recording stopped there."""
        if self.autol2 is None:
            raise RuntimeError("AutoL2TrainerCallback has not started training yet. (A Trainer resumed with "
                               "restore_callback_states_from_checkpoint=True trains a copy of it, made from the "
                               "checkpoint: the one among trainer.callback_handler.callbacks; without that "
                               "flag the callback given resumes itself.)")
        extra = {"autol2": self.settings, "steps_run": self.autol2.step_count}
        return WeightDecayTrajectory.from_events(self.autol2.lam0, self.autol2.events,
                                                 source="AutoL2TrainerCallback", extra=extra,
                                                 **run_meta(self.autol2.optimizer, self.autol2.groups[0], self._max_steps))

    def state(self) -> dict[str, Any]:
        """What the Trainer saves in trainer_state.json: constructor arguments and attributes."""
        args = {**self.settings, "accuracy_key": self.accuracy_key, "log_name": self.log_name}
        restored = self.autol2.state_dict() if self.autol2 is not None else self.restored_state
        return {"args": args, "attributes": {"restored_state": restored, "pending": list(self.pending)}}


class WeightDecayReplayCallback(TrainerCallback):
    """Sets each optimizer step's weight_decay from a trajectory, by the Trainer's global step
    (a resumed run needs no state of its own). Warns at the start where the recording does not fit
    the run: cut short, another lr, another number of steps (`replay_notes`), each once per callback."""

    def __init__(self, trajectory: WeightDecayTrajectory | str | Path, *, param_groups: Any = None,
                 log_name: str = "weight_decay") -> None:
        """`param_groups`: as AutoL2's, or None for the groups the recording managed (its AutoL2
        settings' param_groups), else "not_only_1d" (the Trainer's decay group; its no-decay
        group stays at 0)."""
        self.trajectory = as_trajectory(trajectory)
        self.name = replay_name(trajectory, self.trajectory, type(self).__name__)
        self.param_groups, self.log_name = param_groups, log_name
        self.schedule: ReplaySchedule | None = None
        self._warned: set[str] = set()  # the notes already warned: a resumed fit is not told again

    def on_train_begin(self, args: Any, state: Any, control: Any, optimizer: Any = None, **kwargs: Any) -> None:
        groups = replay_groups(self.param_groups, self.trajectory)
        self.schedule = ReplaySchedule(optimizer, self.trajectory, groups, start_step=state.global_step)
        warn_new(replay_mismatches(self.trajectory, self.name, state.max_steps, optimizer, self.schedule.groups),
                 self._warned)

    def on_optimizer_step(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self.schedule is not None:  # global_step is incremented after this event
            self.schedule.set_step(state.global_step + 1)

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if self.schedule is not None and logs is not None:
            logs[self.log_name] = self.schedule.lam


def _strategy(args: Any) -> str:
    chosen = getattr(args, "logging_strategy", "steps")
    return str(getattr(chosen, "value", chosen))  # an IntervalStrategy enum or its string


def _logging_interval(args: Any, state: Any) -> int:
    """Optimizer steps between the Trainer's logged losses: `logging_steps`, or one epoch's steps
    when it logs by epoch (logging_steps, 500 by default, then has nothing to do with it: AutoL2
    could not decay before step 1,000 of a run logging every 38 steps)."""
    epochs = float(getattr(state, "num_train_epochs", 0) or 0)
    if _strategy(args) == "epoch" and epochs > 0 and int(state.max_steps or 0) > 0:
        return max(1, round(int(state.max_steps) / epochs))
    return max(1, int(state.logging_steps))


def _warn_if_rarely_logged(args: Any, state: Any) -> None:
    """AutoL2 sees the training loss only when the Trainer logs it: say so when a run logs it
    fewer than MIN_LOGS times (by steps), or never (logging_strategy "no"). Epoch logging is
    left alone: its count depends on the data loader, not on logging_steps."""
    strategy = _strategy(args)
    if strategy == "no":
        warnings.warn("logging_strategy is 'no': the Trainer never logs the training loss, so AutoL2 never "
                      "sees one and never decays lam; log by steps.", UserWarning, stacklevel=3)
        return
    max_steps, every = int(state.max_steps or 0), max(1, int(state.logging_steps or 1))
    if strategy == "steps" and max_steps > 0 and max_steps // every < MIN_LOGS:
        warnings.warn(f"AutoL2 sees the training loss only when the Trainer logs it, every logging_steps = "
                      f"{every} steps: this run of {max_steps} steps logs it {max_steps // every} time(s), too "
                      f"few to see a plateau; lower logging_steps.", UserWarning, stacklevel=3)


def _maybe_float(value: Any) -> float | None:
    return None if value is None else float(value)
