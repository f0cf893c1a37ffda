"""AutoL2: a weight-decay scheduler for any torch optimizer, on the tau clock.

Conventions (Lewkowycz & Gur-Ari, NeurIPS 2020): the L2 term is ``0.5 * lam * ||theta||^2``, i.e. torch
``SGD(weight_decay=lam)``; AdamW's decoupled decay shrinks by ``(1 - lr*weight_decay)``.
Both shrink the weights by ``lr*lam`` per step, so the clock is
``tau = sum over steps of lr_t * lam_t`` (dimensionless). ``lam`` below is always the
``weight_decay`` value written into the optimizer, never ``lr*lam``.

Like timm's schedulers, `AutoL2` counts its calls (one per optimizer step) and writes one
optimizer field, ``param_group["weight_decay"]``, on the groups it manages. Call order::

    optimizer.step(); lam = sched.step(loss.item(), acc); lr_scheduler.step()

`AutoL2.step` reads the learning rate of the step just taken, so it must run before any
learning-rate scheduler changes it.
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import asdict, dataclass
from typing import Any

import torch

from l2advisor.errors import AutoL2ArgumentError
from l2advisor.science.autol2_setup import AUTOL2_DECAY, AUTOL2_LAM_MIN_RATIO, AUTOL2_REFRACTORY_TAU
from l2advisor.training.advised_settings import advice_lr, settings_from_advice, warn_if_other_lr
from l2advisor.training.autol2_args import (
    finite_number,
    measurement,
    one_minus_momentum,
    positive_count,
    smoothing_setting,
    warn_if_coupled,
)
from l2advisor.training.param_groups import GroupSpec, resolve_groups, split_decay_groups
from l2advisor.training.stall_signal import Smoothing, StallSignal

__all__ = ["AutoL2", "DecayEvent", "split_decay_groups"]

logger = logging.getLogger(__name__)

STATE_VERSION = 1
PAPER_RULE: dict[str, Any] = {  # the authors' AutoL2, see AutoL2.paper
    "decay": 10.0,
    "check_every": 10,  # steps
    "patience": 2,  # checks
    "smoothing": "none",  # the raw minibatch values of the check step
    "lam_min": 0.0,  # no floor
    "refractory_lam_steps": 0.1,  # refractory 0.1 / lam optimizer steps, not tau
}
DEFAULT_REFRACTORY_TAU = AUTOL2_REFRACTORY_TAU  # one weight-decay time 1/(lr*lam) between decays (see AutoL2)
# lam <- lam / DEFAULT_DECAY at each trigger. The authors divide by 10; halving was better on all 7
# suite cases measured side by side (3 seeds each, benchmarks/autol2_vs_constant.py, README).
DEFAULT_DECAY = AUTOL2_DECAY
_REL_TOL = 1e-9  # forgives float round-off: sums of lr*lam, lam0 divided down to lam_min


@dataclass(frozen=True)
class DecayEvent:
    """One decay: when (optimizer steps and tau), from which lam to which, and why."""

    step: int  # optimizer steps taken when the decay was decided (1-based count)
    tau: float  # clock at that step: sum of lr_t * lam_t up to and including it
    old_lam: float  # weight_decay before the decay
    new_lam: float  # weight_decay from the next optimizer step on
    signal: str  # "loss", "accuracy" or "both": which stalled signal fired


class AutoL2:
    """Divide weight decay by `decay` when training stalls (Lewkowycz & Gur-Ari 2020).

    `decay` defaults to 2 (the authors divide by 10, `AutoL2.paper`): halving lost less to the
    best constant lam on every suite case measured (README, "AutoL2 against the best constant").

    Every `check_every` steps, takes a measurement of the training data loss (no L2
    term) and training accuracy, smoothed per `smoothing`: "mean" over the steps since
    the previous check, "none" for the check step's raw minibatch value, or a float
    ``b`` for an EMA ``m <- b*m + (1-b)*x`` updated every step. When the last `patience`
    measurements are all no better than the best so far, for the loss or for the
    accuracy, and the refractory period since the previous decay (or the start) has
    passed, ``lam <- max(lam / decay, lam_min)``. Bests are never reset (as the authors).
    `lam_min` defaults to ``1e-4 * lam0``; no decay is logged once lam sits on it.

    Refractory period: by default ``refractory_tau`` in tau units, so it stays right
    under any learning-rate schedule (half the lr, twice the steps); fill it from the
    probes (a fraction of c). The default is one weight-decay time at the current lam,
    (1 - momentum)/(lr*lam) steps for SGD with momentum (its L2 step is amplified by
    1/(1 - momentum)), 1/(lr*lam) otherwise: refractory_tau = 1 - momentum. That is the
    time the weight norm needs to settle into its equilibrium at a new lam (Kosson et al.
    2024, "Rotational equilibrium"; Wang & Aitchison 2025 on the timescale 1/(lr*lam)), so
    each lam is used until it has had its effect; with decay d the lam in force at step t
    stays above refractory_tau / ((d-1)*lr*t). (The previous default, 0.1, allowed ten
    times less and ran the lam down towards its floor well before the end of a run.)
    If ``refractory_lam_steps`` is given, it is instead
    ``refractory_lam_steps / lam`` optimizer steps on the current lam, ignoring lr and
    tau: the authors' rule (0.1, see `AutoL2.paper`).

    `param_groups`: "all" (default) manages every group; "nonzero" leaves alone groups
    whose weight_decay is 0 at creation; "exclude_1d" leaves alone groups holding only
    parameters with ndim <= 1 (the undecayed group that `split_decay_groups` builds for
    biases and norm scales), and refuses groups mixing them with larger ones; "not_only_1d"
    leaves alone the same groups and manages a mixed group as it was built (a Trainer's decay
    group holding a 1-D layer scale); or a list of group indices. Managed groups get
    ``weight_decay = lam0``
    at construction; the tau clock reads the lr of the first managed group.

    A bad argument (here, to `step` or to `load_state_dict`) raises
    `l2advisor.errors.AutoL2ArgumentError`: an InputError, as the rest of the API, and a ValueError.
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        lam0: float,
        decay: float = DEFAULT_DECAY,
        refractory_tau: float | None = None,
        check_every: int = 10,
        patience: int = 2,
        smoothing: Smoothing = "mean",
        lam_min: float | None = None,
        param_groups: GroupSpec = "all",
        refractory_lam_steps: float | None = None,
    ) -> None:
        self.optimizer = optimizer
        warn_if_coupled(optimizer)
        self.lam0 = lam0 = finite_number("lam0", lam0, low=0.0, low_ok=False)
        self.decay = finite_number("decay", decay, low=1.0, low_ok=False)
        self.groups = resolve_groups(optimizer, param_groups)
        if refractory_tau is None:  # one weight-decay time at the current lam, momentum included
            refractory_tau = DEFAULT_REFRACTORY_TAU * one_minus_momentum(optimizer.param_groups[self.groups[0]])
        self.refractory_tau = finite_number("refractory_tau", refractory_tau, low=0.0)
        self.refractory_lam_steps = refractory_lam_steps
        if refractory_lam_steps is not None:
            self.refractory_lam_steps = finite_number("refractory_lam_steps", refractory_lam_steps, 0.0)
        self.check_every = positive_count("check_every", check_every)
        self.patience = positive_count("patience", patience)
        self.smoothing = smoothing_setting(smoothing)
        self.lam_min = lam0 * AUTOL2_LAM_MIN_RATIO if lam_min is None else finite_number("lam_min", lam_min, low=0.0)
        if self.lam_min > lam0:
            raise AutoL2ArgumentError(f"lam_min ({self.lam_min}) must not exceed lam0 ({lam0}).")
        self._lam = lam0  # weight_decay in force for the next optimizer step
        self._tau = 0.0  # sum of lr_t * lam_t over the steps taken
        self._step = 0  # optimizer steps taken (calls to step)
        self._last_decay_step = 0  # step count at the previous decay (0: the start)
        self._last_decay_tau = 0.0  # tau at the previous decay
        self._loss = StallSignal(False, self.smoothing, self.patience)
        self._acc = StallSignal(True, self.smoothing, self.patience)
        self.events: list[DecayEvent] = []
        self._write()

    @classmethod
    def paper(
        cls, optimizer: torch.optim.Optimizer, lam0: float = 0.1, param_groups: GroupSpec = "all"
    ) -> AutoL2:
        """The authors' rule: raw minibatch values checked every 10 steps, decay by 10
        when the last 2 checks are no better than the best, refractory 0.1/lam STEPS
        (not tau: it ignores lr), no floor. This is the rule as the paper states it; the
        authors' script also measures once before the first step and uses a strict '>'
        on the refractory period."""
        return cls(optimizer, lam0, param_groups=param_groups, **PAPER_RULE)

    @classmethod
    def from_advice(cls, optimizer: torch.optim.Optimizer, advice: Any, **kwargs: Any) -> AutoL2:
        """AutoL2 as the probes configured it: lam0, decay, refractory_tau and lam_min from
        `l2advisor.recommend(...)` (its `.autol2`), that `.autol2`, its dict, or the advice.json
        `l2advisor recommend DIR --autol2` wrote (its path, or DIR); `kwargs` override them. Warns
        when the optimizer's lr is not the one the advice was made for (lam0 and lam_min set lr*lam)."""
        sched = cls(optimizer, **{**settings_from_advice(advice), **kwargs})
        warn_if_other_lr(advice_lr(advice), optimizer, "AutoL2.from_advice", set(), stacklevel=4)
        return sched

    split_decay_groups = staticmethod(split_decay_groups)

    @property
    def lam(self) -> float:
        """Current weight decay (torch's weight_decay), in force for the next step."""
        return self._lam

    @property
    def tau(self) -> float:
        """Sum of lr_t * lam_t over the steps taken so far."""
        return self._tau

    @property
    def step_count(self) -> int:
        """Optimizer steps taken so far (calls to `step`)."""
        return self._step

    def step(self, loss: float | None, accuracy: float | None = None, lr: float | None = None) -> float:
        """Account for the optimizer step just taken; return lam for the next one.

        `loss` is that step's minibatch training loss without the L2 term, `accuracy`
        its training accuracy (None or NaN when the task has none: the loss signal alone; a
        NaN loss is no measurement either). Numbers or one-element tensors; text is refused.
        `loss` None: no measurement at this step (a trainer that only logs the loss every
        few steps feeds it when it has one; a check with nothing fed since the previous
        one takes no measurement). `lr`: the learning rate of the step just taken, when
        a scheduler has already changed the optimizer's (default: read from the optimizer).
        """
        if lr is None:
            lr = float(self.optimizer.param_groups[self.groups[0]]["lr"])
        elif isinstance(lr, (bool, str, bytes)) or not isinstance(lr, numbers.Real) or \
                not (math.isfinite(float(lr)) and float(lr) >= 0):  # 0: a warmup's first step
            raise AutoL2ArgumentError(f"AutoL2.step: lr must be a finite number >= 0, got {lr!r}.")
        loss, accuracy = measurement("loss", loss), measurement("accuracy", accuracy)
        self._tau += float(lr) * self._lam  # the step just taken shrank weights by lr*lam
        self._step += 1
        if loss is not None:
            self._loss.update(loss)
        if accuracy is not None:
            self._acc.update(accuracy)
        if self._step % self.check_every == 0:
            self._check()
        return self._lam

    def _check(self) -> None:
        self._loss.check()
        self._acc.check()
        fired = [n for n, s in (("loss", self._loss), ("accuracy", self._acc)) if s.stalled()]
        if fired and self._refractory_over() and self._lam > self.lam_min * (1.0 + _REL_TOL):
            self._decay("both" if len(fired) == 2 else fired[0])

    def _refractory_over(self) -> bool:
        if self.refractory_lam_steps is not None:  # in steps, on the current lam
            elapsed: float = self._step - self._last_decay_step
            needed = self.refractory_lam_steps / self._lam
        else:  # in tau
            elapsed, needed = self._tau - self._last_decay_tau, self.refractory_tau
        return elapsed >= needed * (1.0 - _REL_TOL)

    def _decay(self, signal: str) -> None:
        old, new = self._lam, max(self._lam / self.decay, self.lam_min)
        event = DecayEvent(self._step, self._tau, old, new, signal)
        self.events.append(event)
        self._lam, self._last_decay_step, self._last_decay_tau = new, self._step, self._tau
        self._write()
        msg = "AutoL2 decay at step %d (tau %.4g, %s): lam %.3g -> %.3g"
        logger.info(msg, event.step, event.tau, signal, old, new)

    def _write(self) -> None:
        for i in self.groups:
            self.optimizer.param_groups[i]["weight_decay"] = self._lam

    def state_dict(self) -> dict[str, Any]:
        """Everything that decides later decays, as plain Python data (JSON-safe)."""
        config = {k: getattr(self, k) for k in _CONFIG.split()} | {
            "param_groups": list(self.groups)
        }
        return {
            "version": STATE_VERSION,
            "config": config,
            **{k.lstrip("_"): getattr(self, k) for k in _COUNTERS.split()},
            "loss": self._loss.state_dict(),
            "accuracy": self._acc.state_dict(),
            "events": [asdict(e) for e in self.events],
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a `state_dict` (configuration included) and rewrite weight_decay."""
        if not isinstance(state, dict) or "version" not in state or "config" not in state:
            keys = sorted(state)[:6] if isinstance(state, dict) else type(state).__name__
            raise AutoL2ArgumentError(f"not an AutoL2 state_dict (it has no 'version' and 'config'; got {keys}).")
        if state.get("version") != STATE_VERSION:
            raise AutoL2ArgumentError(
                f"AutoL2 state version {state.get('version')!r} is not {STATE_VERSION}: "
                "it was saved by another l2advisor version."
            )
        fresh = AutoL2(self.optimizer, **state["config"])  # validates it on this optimizer
        self.__dict__.update(fresh.__dict__)
        for key in _COUNTERS.split():
            setattr(self, key, state[key.lstrip("_")])
        self._loss.load_state_dict(state["loss"])
        self._acc.load_state_dict(state["accuracy"])
        self.events = [DecayEvent(**e) for e in state["events"]]
        self._write()


_CONFIG = "lam0 decay refractory_tau check_every patience smoothing lam_min refractory_lam_steps"
_COUNTERS = "_lam _tau _step _last_decay_step _last_decay_tau"  # saved without the "_"
