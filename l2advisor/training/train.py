"""The one training loop: SGD or AdamW, a weight decay that may change every step, curves out.

Conventions (Lewkowycz & Gur-Ari, NeurIPS 2020): the L2 term is 0.5*lam*||theta||^2, which is exactly torch's
`weight_decay=lam` for SGD, and AdamW's decoupled decay shrinks by (1 - lr*lam) per step.
The clock is tau = sum over steps of lr_t * lam_t. The loop never prints, fits or writes
files: it hands one `dict` per evaluation to `on_eval`, and a caller decides what to keep.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from l2advisor.errors import InputError
from l2advisor.modelfile.spec import describe_user_error
from l2advisor.modelfile.task import Task
from l2advisor.training.batches import eval_chunks, train_batches
from l2advisor.training.eval_schedule import eval_due
from l2advisor.training.interval import Interval

Record = dict[str, Any]


class DecayScheduler(Protocol):
    """What the loop needs of a weight-decay scheduler such as `AutoL2`."""

    def step(self, loss: float, accuracy: float) -> float: ...


@dataclass(frozen=True)
class TrainConfig:
    """One run's settings. Units: `max_steps` and `eval_every` in optimizer steps."""

    lr: float
    batch_size: int
    max_steps: int
    eval_every: int
    seed: int = 0
    momentum: float = 0.0
    optimizer: str = "sgd"
    device: str = "cpu"
    decay_1d: bool = True  # decay biases and norm scales too (the paper's L2 covers all)
    eval_per_decade: int = 0  # > 0: evaluate evenly in log steps instead (eval_schedule.py)


@dataclass
class TrainResult:
    """How a run ended and what it recorded. `status`: finished|stopped|diverged|failed|interrupted."""

    status: str
    records: list[Record] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    message: str = ""


def resolve_device(name: str) -> torch.device:
    """`auto` picks the first GPU when there is one; `cpu`, `cuda`, `cuda:N` are checked."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise InputError(f"Unknown device {name!r}; use auto, cpu, cuda or cuda:N.") from None
    if device.type == "cuda":
        count = torch.cuda.device_count()
        if count == 0:
            raise InputError(f"Device {name!r} was asked for but no CUDA GPU is available here.")
        if device.index is not None and device.index >= count:
            raise InputError(f"Device {name!r} does not exist: this machine has {count} GPU(s).")
    elif device.type != "cpu":
        raise InputError(f"Unsupported device {name!r}; use auto, cpu, cuda or cuda:N.")
    return device


def param_groups(model: nn.Module, lam: float, decay_1d: bool) -> list[dict[str, Any]]:
    """One decayed group, plus an undecayed group of 1-D parameters when `decay_1d` is False."""
    params = [p for p in model.parameters() if p.requires_grad]
    if decay_1d:
        return [{"params": params, "weight_decay": lam}]
    matrices = [p for p in params if p.dim() > 1]
    vectors = [p for p in params if p.dim() <= 1]
    return [{"params": matrices, "weight_decay": lam}, {"params": vectors, "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, config: TrainConfig, lam: float) -> torch.optim.Optimizer:
    """SGD (with momentum) or AdamW, weight decay `lam` on the decayed groups."""
    groups = param_groups(model, lam, config.decay_1d)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=config.lr, weight_decay=lam)
    return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, weight_decay=lam)


def build_seeded_model(task: Task, seed: int, device: torch.device) -> nn.Module:
    """The user's model, initialised from `seed`, so every lam starts from the same weights."""
    torch.manual_seed(seed)
    try:
        model = task.spec.build_model()
    except Exception as err:
        raise InputError(f"{task.spec.path.name}: build_model() raised {describe_user_error(err)}.") from None
    return model.to(device)


def train(task: Task, config: TrainConfig, lam: float, *,
          scheduler_factory: Callable[[torch.optim.Optimizer], DecayScheduler] | None = None,
          lr_at: Callable[[int], float] | None = None,
          on_eval: Callable[[Record], None] | None = None,
          should_stop: Callable[[list[Record]], str | None] | None = None) -> TrainResult:
    """Train one model for up to `config.max_steps` steps at weight decay `lam`.

    `scheduler_factory(optimizer)` makes a decay scheduler stepped with the step's training
    loss and accuracy (AutoL2); `lr_at(step)` sets the learning rate of each step;
    `should_stop(records)` runs after each evaluation and may end the run with a status
    ("stopped" after a peak, "interrupted" on Ctrl-C). Errors in the user's model mid-run
    end this run with status "failed"; the caller decides whether others go on.
    """
    device = resolve_device(config.device)
    model = build_seeded_model(task, config.seed, device)
    optimizer = make_optimizer(model, config, lam)
    scheduler = scheduler_factory(optimizer) if scheduler_factory else None
    batches = train_batches(task.train, config.batch_size, config.seed, device)
    val = eval_chunks(task.val, device)
    loss_fn = task.spec.loss or nn.functional.cross_entropy
    run = _Run(task, config, model, optimizer, loss_fn, val, on_eval)
    try:
        status = run.loop(batches, scheduler, lr_at, should_stop)
        message = ""
    except Exception as err:  # the user's model, or the data, failed mid-run
        status, message = "failed", describe_user_error(err, task.spec.path)
    return TrainResult(status, run.records, run.step, time.perf_counter() - run.start, message)


class _Run:
    """The state of one training run between evaluations (kept small: the loop is hot)."""

    def __init__(self, task: Task, config: TrainConfig, model: nn.Module, optimizer: torch.optim.Optimizer,
                 loss_fn: Callable[..., torch.Tensor], val: list[tuple[torch.Tensor, torch.Tensor]],
                 on_eval: Callable[[Record], None] | None) -> None:
        self.task, self.config, self.model, self.optimizer = task, config, model, optimizer
        self.loss_fn, self.val, self.on_eval = loss_fn, val, on_eval
        self.records: list[Record] = []
        self.step, self.tau = 0, 0.0
        self.start = time.perf_counter()
        self.classify = task.n_outputs is not None and (task.spec.loss is None or task.spec.metric == "accuracy")

    def loop(self, batches: Any, scheduler: DecayScheduler | None, lr_at: Callable[[int], float] | None,
             should_stop: Callable[[list[Record]], str | None] | None) -> str:
        config, model, optimizer = self.config, self.model, self.optimizer
        group = optimizer.param_groups[0]
        interval = Interval(1, self.classify, next(model.parameters()).device)  # one run: K = 1
        self.evaluate(interval, 0)  # step 0: the curve starts at tau = 0
        model.train()
        while self.step < config.max_steps:
            inputs, targets = next(batches)
            if lr_at is not None:
                for g in optimizer.param_groups:
                    g["lr"] = lr_at(self.step)
            outputs = model(inputs)
            loss = self.loss_fn(outputs, targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            self.tau += group["lr"] * group["weight_decay"]  # this step's shrink, lr_t * lam_t
            self.step += 1
            interval.add(loss.view(1), outputs.unsqueeze(0), targets.unsqueeze(0))
            if scheduler is not None and self.step < config.max_steps:  # it sets the next step's lam: none after the last
                accuracy = float((outputs.detach().argmax(1) == targets).float().mean()) if self.classify else math.nan
                scheduler.step(float(loss.detach()), accuracy)
            if eval_due(self.step, config.eval_every, config.max_steps, config.eval_per_decade):
                record = self.evaluate(interval, self.step)
                if not math.isfinite(record["train_loss"]) or not math.isfinite(record["weight_norm_sq"]):
                    return "diverged"
                status = should_stop(self.records) if should_stop else None
                if status:
                    return status
        return "finished"

    @torch.no_grad()
    def evaluate(self, interval: Interval, step: int) -> Record:
        """Validation loss and metric now, and the training averages since the last evaluation."""
        model = self.model
        model.eval()
        val_loss, val_metric = self._validation()
        model.train()
        (train_loss,), (train_acc,) = interval.take()
        group = self.optimizer.param_groups[0]
        record = {
            "step": step, "tau": self.tau, "lam": group["weight_decay"], "lr": group["lr"],
            "train_loss": train_loss, "train_acc": train_acc,
            "val_loss": val_loss, "val_metric": val_metric,
            # the trained weights' (a frozen backbone's are neither trained nor decayed), as stacked probes count
            "weight_norm_sq": _norm_sq([p for p in model.parameters() if p.requires_grad]),  # no_grad: no detach
            "seconds": time.perf_counter() - self.start,
        }
        self.records.append(record)
        if self.on_eval is not None:
            self.on_eval(record)
        return record

    def _validation(self) -> tuple[float, float]:
        metric = self.task.spec.metric
        total, loss_total, correct = 0, 0.0, 0.0
        outputs_all, targets_all = [], []
        for inputs, targets in self.val:
            outputs = self.model(inputs)
            count = len(targets)
            loss_total += float(self.loss_fn(outputs, targets)) * count  # loss is a batch mean
            total += count
            if metric == "accuracy":
                correct += float((outputs.argmax(1) == targets).sum())
            else:
                outputs_all.append(outputs)
                targets_all.append(targets)
        if metric == "accuracy":
            value = correct / total
        else:
            value = float(metric(torch.cat(outputs_all), torch.cat(targets_all)))
        return loss_total / total, value


def _norm_sq(tensors: list[torch.Tensor]) -> float:
    """Sum of squares of all entries in float32 or wider, with one fused norm kernel for all
    tensors (a model with hundreds of parameters would otherwise launch three kernels each)."""
    if not tensors:
        return 0.0
    norms = torch._foreach_norm([t.float() for t in tensors])  # private, but in every torch >= 1.13
    return float(torch.stack(norms).square().sum())
