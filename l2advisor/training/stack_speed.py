"""Whether a stack pays on this machine: one stacked training step against K steps of one model.

Stacking trains K replicas in one pass and usually costs far less than K steps of one model
(a small model's step is mostly overhead, paid once). It can cost more: torchvision's
resnet18 on 2 CPU cores goes through vmap (its batch norms sit in custom blocks), where a
step of 6 replicas took 3.71 s against 0.32 s for one model, so its probes would take about
54 minutes stacked against 29 one by one. Which way is cheaper depends on the model and the
machine, so it is timed before the first step: a forward and backward of the stack (on
copies of its state, the global generator left as it was, so the probes train exactly as
they would untimed) against the same of one model, each after a warm-up call. A stack is
dearer when its step costs more than DEARER times K steps of one model: the margin keeps a
model where both ways cost about the same (a small ResNet in a custom module, 0.93-1.07x)
from changing its way between runs on the clock's noise.

The timed calls take about 0.1 s per side on a small model and one warm-up and one call on a
large one (a stack of 6 resnet18s: about 7 s of a probe of half an hour).
"""

from __future__ import annotations

import copy
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from l2advisor.training.batches import first_items
from l2advisor.training.stack_checks import CannotBatch, kept_generators

DEARER = 1.25  # a stacked step above this many one-model steps per replica: train one by one
TIMED_SECONDS = 0.1  # about this long per side, after the warm-up
MOST_CALLS = 5


class StackDearer(CannotBatch):
    """The stack would train slower than its replicas one after another; `speed` says by how much."""

    def __init__(self, speed: StackSpeed) -> None:
        super().__init__(speed.words())
        self.speed = speed


@dataclass(frozen=True)
class StackSpeed:
    """One stacked step of `replicas` replicas and one step of one model (seconds, forward and backward)."""

    replicas: int
    stacked_seconds: float
    single_seconds: float

    @property
    def ratio(self) -> float:
        """The stacked step against `replicas` steps of one model (> 1: the stack is dearer)."""
        return self.stacked_seconds / max(self.replicas * self.single_seconds, 1e-12)

    @property
    def dearer(self) -> bool:
        return self.ratio > DEARER

    def words(self) -> str:
        return (f"on this machine a stacked step of {self.replicas} replicas took {short_seconds(self.stacked_seconds)}, "
                f"more than {self.replicas} steps of one model ({short_seconds(self.replicas * self.single_seconds)})")


Loss = Callable[[Tensor, Tensor, bool], Tensor]  # (outputs (K, B, ...), targets, own) -> (K,) losses


def check_speed(task: Any, stacked: Any, model: nn.Module, batch_size: int, own: bool, loss: Loss) -> None:
    """Raise `StackDearer` when a stacked step of `task`'s model costs more than one by one here,
    timed on a batch of the first `batch_size` training items; the stack comes out as it went in
    (timed on copies of its state, its Python-side state reset as after the stack's checks). A
    model that fails on a full batch is left to its first step, which says so as the probes do."""
    inputs, targets = first_items(task.train, batch_size, next(iter(stacked.params.values())).device)
    try:
        speed = stack_speed(stacked, model, inputs, targets, own, loss)
    except Exception as err:
        in_file = any(Path(frame.filename).resolve() == task.spec.path.resolve()
                      for frame in traceback.extract_tb(err.__traceback__))
        if not (in_file or _fails_alone(model, inputs, targets, loss)):
            raise  # ours: the stack fails where the model alone does not; never a verdict on the model
        return  # the model's, or its data's (a label the loss refuses): the probes' first step says so
    finally:
        stacked.after_check(model)
    if speed.dearer:
        raise StackDearer(speed)


def stack_speed(stacked: object, model: nn.Module, inputs: Tensor, targets: Tensor, per_replica: bool,
                loss: Loss) -> StackSpeed:
    """Time a training step of `stacked` (K replicas, on copies of its state) against one of
    `model` (a copy: its buffers untouched) on one batch `inputs` (B, ...) with `targets` (B, ...),
    given to every replica (per_replica: as its own batch, as several seeds train). `loss(outputs,
    targets, own)` gives the (K,) losses of (K, B, ...) outputs, as the training step computes them."""
    params = {n: p.detach().clone().requires_grad_() for n, p in stacked.params.items()}  # type: ignore[attr-defined]
    buffers = {n: b.clone() for n, b in stacked.buffers.items()}  # type: ignore[attr-defined]
    k = len(next(iter(params.values())))
    x = inputs.unsqueeze(0).expand(k, *inputs.shape).contiguous() if per_replica else inputs
    y = targets.unsqueeze(0).expand(k, *targets.shape).contiguous() if per_replica else targets
    single = copy.deepcopy(model).train(True)

    def stacked_step() -> None:
        outputs = stacked(x, True, params, buffers, per_replica)  # type: ignore[operator]
        torch.autograd.grad(loss(outputs, y, per_replica).sum(), list(params.values()), allow_unused=True)

    with kept_generators(inputs):
        return StackSpeed(k, _seconds(stacked_step, inputs.device),
                          _seconds(lambda: _step_alone(single, inputs, targets, loss), inputs.device))


def _step_alone(single: nn.Module, inputs: Tensor, targets: Tensor, loss: Loss) -> None:
    """A forward and backward of one model (not stacked) on the batch."""
    losses = loss(single(inputs).unsqueeze(0), targets, False)
    torch.autograd.grad(losses.sum(), [p for p in single.parameters() if p.requires_grad], allow_unused=True)


def _fails_alone(model: nn.Module, inputs: Tensor, targets: Tensor, loss: Loss) -> bool:
    """Whether one step of the model alone fails on this batch too (a custom dataset's label out of
    the loss's range raises inside torch, on no line of the model file)."""
    try:
        with kept_generators(inputs):
            _step_alone(copy.deepcopy(model).train(True), inputs, targets, loss)
    except Exception:  # noqa: BLE001 - any failure of the plain step is the model's or its data's
        return True
    return False


def _seconds(step: Callable[[], None], device: torch.device) -> float:
    """The fastest of a few timed calls after a warm-up (kernels chosen, memory allocated): about
    TIMED_SECONDS of calls, at least one, at most MOST_CALLS."""
    started = time.perf_counter()
    step()
    _synchronize(device)
    warm_up = time.perf_counter() - started
    calls = max(1, min(MOST_CALLS, round(TIMED_SECONDS / max(warm_up, 1e-9))))
    best = float("inf")
    for _ in range(calls):
        started = time.perf_counter()
        step()
        _synchronize(device)
        best = min(best, time.perf_counter() - started)
    return best


def _synchronize(device: torch.device) -> None:
    """Wait for the device's queued kernels, so the clock sees them (a GPU runs them asynchronously)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def short_seconds(seconds: float) -> str:
    """A step's or a pass's time: milliseconds below a second."""
    return f"{seconds:.3g} s" if seconds >= 1 else f"{seconds * 1e3:.3g} ms"
