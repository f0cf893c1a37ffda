"""AutoL2 in a Lightning `Trainer` (`pip install "l2advisor[lightning]"`).

`AutoL2Callback` steps `l2advisor.AutoL2` once per optimizer step with the step's training
loss (and accuracy, when the module gives one), logs lam, and keeps its state in the
checkpoint. What it needs of your LightningModule:

- automatic optimization with one optimizer (`configure_optimizers` may add an lr scheduler);
  its `weight_decay` is overwritten: AutoL2 owns it on the groups it manages;
- `training_step` returns the loss without an L2 term (a tensor, or a dict with "loss");
  the training accuracy of the batch, if any, as `"accuracy"` in that dict or logged with
  `self.log("accuracy", ...)` (`accuracy_key=` to rename; without one, the loss alone
  triggers). With `accumulate_grad_batches=k`, the loss is the last micro-batch's, divided
  by k as Lightning returns it.

`WeightDecayReplay` replays a weight-decay trajectory (wd_trajectory.json from `l2advisor
train --autol2`, or `AutoL2Callback.trajectory()`) by optimizer step: a dynamic run, again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from lightning.pytorch.utilities.exceptions import MisconfigurationException

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


def _only_optimizer(trainer: pl.Trainer) -> Any:
    if len(trainer.optimizers) != 1:
        raise ValueError(f"AutoL2 manages one optimizer; this module configures {len(trainer.optimizers)}.")
    return trainer.optimizers[0]


def _planned_steps(trainer: pl.Trainer) -> Any:
    """The optimizer steps this fit will take as Lightning estimates them: max_steps, or the
    epochs' batches over gradient accumulation, whichever ends first (inf or -1: unknown)."""
    try:
        return trainer.estimated_stepping_batches
    except MisconfigurationException:  # accumulation that changes between epochs
        return None


def _scalar(value: Any) -> float | None:
    if value is None:
        return None
    return float(value.detach()) if hasattr(value, "detach") else float(value)


class AutoL2Callback(pl.Callback):
    """Divide weight decay by `decay` when training stalls (see `l2advisor.AutoL2` for every
    keyword). Logs lam as `log_name` each step; `state_dict` keeps AutoL2's full state.
    `param_groups` defaults to "not_only_1d": a group of only biases and norm scales (one your
    `configure_optimizers` left at weight_decay 0, say) stays as you built it."""

    def __init__(self, lam0: float, *, accuracy_key: str = "accuracy", log_name: str = "weight_decay",
                 param_groups: Any = "not_only_1d", **autol2: Any) -> None:
        super().__init__()
        self.settings = json_safe_settings({"lam0": lam0, "param_groups": param_groups, **autol2})
        self.advised_lr: float | None = None  # from_advice: the lr the advice was made for
        self._warned: set[str] = set()  # the notes already warned: another fit is not told again
        check_settings(self.settings)  # a bad setting fails here, not at the first step
        self.accuracy_key, self.log_name = accuracy_key, log_name
        self.autol2: AutoL2 | None = None
        self._restored: dict[str, Any] | None = None
        self._lr: float | None = None  # lr of the optimizer step just taken
        self._ended: str | None = None  # "interrupted" or "failed" when the fit raised (on_exception)

    @classmethod
    def from_advice(cls, advice: Any, **kwargs: Any) -> AutoL2Callback:
        """From `l2advisor.recommend(...)`: lam0, decay, refractory_tau and lam_min of its `.autol2`
        (or from the advice.json `l2advisor recommend DIR --autol2` wrote: its path, or DIR)."""
        callback = cls(**{**settings_from_advice(advice), **kwargs})
        callback.advised_lr = advice_lr(advice)  # warned about at the start when the optimizer's differs
        return callback

    @staticmethod
    def replay(trajectory: WeightDecayTrajectory | str | Path, **kwargs: Any) -> WeightDecayReplay:
        return WeightDecayReplay(trajectory, **kwargs)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not pl_module.automatic_optimization:  # its optimizer steps never reach the callback's clock
            raise ValueError("AutoL2Callback needs automatic optimization; this module sets "
                             "automatic_optimization = False: call l2advisor.AutoL2's step() in "
                             "training_step after your optimizer.step() instead.")
        optimizer = _only_optimizer(trainer)
        warn_if_other_lr(self.advised_lr, optimizer, "AutoL2Callback", self._warned)
        self._ended = None  # this fit's ending, not a previous one's
        self._max_steps = _planned_steps(trainer)  # for trajectory(): max_steps, or from max_epochs
        if self._restored is not None:  # resumed: the checkpoint's state, not a fresh start
            self.autol2, self.settings, note = resumed_autol2(optimizer, self.settings, self._restored)
            warn_new([note] if note else [], self._warned)
            self._restored = None
        else:
            self.autol2 = AutoL2(optimizer, **self.settings)

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any) -> None:
        # Lightning steps lr schedulers before on_train_batch_end: keep this step's lr for the tau clock
        self._lr = float(optimizer.param_groups[self.autol2.groups[0]]["lr"]) if self.autol2 else None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.autol2 is None or self._lr is None:  # no optimizer step this batch (accumulating)
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is None:
            raise ValueError("AutoL2Callback needs the training loss: return it from training_step.")
        accuracy = outputs.get(self.accuracy_key) if isinstance(outputs, dict) else None
        if accuracy is None:
            accuracy = trainer.callback_metrics.get(self.accuracy_key)
        lam = self.autol2.step(_scalar(loss), _scalar(accuracy), lr=self._lr)
        self._lr = None
        pl_module.log(self.log_name, lam, on_step=True, on_epoch=False)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        # the one way a callback learns its fit was interrupted (Ctrl+C) rather than stopped on purpose
        self._ended = "interrupted" if isinstance(exception, KeyboardInterrupt) else "failed"

    def trajectory(self) -> WeightDecayTrajectory:
        """lam against step so far, to replay (`WeightDecayReplay`, `l2advisor train --weight-decay-schedule`);
        `extra["steps_run"]` says how far (fewer than `budget_steps` when the run stopped early), and
        `extra["status"]` "interrupted" or "failed" when the fit raised (absent otherwise)."""
        if self.autol2 is None:
            raise RuntimeError("AutoL2Callback has not started training yet.")
        extra = {"autol2": self.settings, "steps_run": self.autol2.step_count,
                 **({"status": self._ended} if self._ended else {})}
        return WeightDecayTrajectory.from_events(self.autol2.lam0, self.autol2.events,
                                                 source="AutoL2Callback", extra=extra,
                                                 **run_meta(self.autol2.optimizer, self.autol2.groups[0], self._max_steps))

    def state_dict(self) -> dict[str, Any]:
        state = self.autol2.state_dict() if self.autol2 is not None else self._restored
        return {"autol2": state}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._restored = state_dict.get("autol2")  # the optimizer exists only at on_train_start


class WeightDecayReplay(pl.Callback):
    """Sets each optimizer step's weight_decay from a trajectory (by Lightning's global step,
    so a resumed run needs no state of its own). `param_groups`: as AutoL2's, or None (default)
    for the groups the recording managed (its AutoL2 settings' param_groups), else "not_only_1d".
    Warns at the start where the recording does not fit the run: cut short, another lr, another
    number of steps (`replay_notes`), each once per callback."""

    def __init__(self, trajectory: WeightDecayTrajectory | str | Path, *, param_groups: Any = None,
                 log_name: str = "weight_decay") -> None:
        super().__init__()
        self.trajectory = as_trajectory(trajectory)
        self.name = replay_name(trajectory, self.trajectory, type(self).__name__)
        self.param_groups, self.log_name = param_groups, log_name
        self.schedule: ReplaySchedule | None = None
        self._warned: set[str] = set()  # the notes already warned: a resumed fit is not told again

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        optimizer = _only_optimizer(trainer)
        self.schedule = ReplaySchedule(optimizer, self.trajectory, replay_groups(self.param_groups, self.trajectory),
                                       start_step=trainer.global_step)
        notes = replay_mismatches(self.trajectory, self.name, _planned_steps(trainer), optimizer, self.schedule.groups)
        warn_new(notes, self._warned)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        if self.schedule is not None and trainer.global_step != self.schedule.step_count:
            lam = self.schedule.set_step(trainer.global_step)
            pl_module.log(self.log_name, lam, on_step=True, on_epoch=False)

