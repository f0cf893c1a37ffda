"""Train K weight decays of one model in one pass: stacked replicas.

The replicas share the learning rate and everything else but lam, their length, their
evaluation interval and (optionally) their seed. Replicas of one seed have the same initial
weights and the same batches (common random numbers); replicas of several seeds each get their
seed's weights and batch stream, so a stack of seeds x lams trains exactly what one stack per
seed would, in one pass. Each step draws one batch per seed, runs all live replicas
(`replicas.py`), and updates every replica with its own lam by SGD (with momentum) or AdamW
written over the stacked tensors, the same arithmetic as `torch.optim`'s. Each replica is
evaluated on its own schedule and records what `train()` records, so the store and the fit
cannot tell the difference. A replica that ends (its max_steps, a peak, divergence) leaves
the stack.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.nn import functional as F

from l2advisor.modelfile.spec import describe_user_error
from l2advisor.modelfile.task import Task
from l2advisor.training.batches import (
    ResidentBatches,
    SeedBatches,
    eval_chunks,
    first_items,
    train_batches,
)
from l2advisor.training.eval_schedule import eval_steps
from l2advisor.training.interval import Interval, predicted_classes
from l2advisor.training.mlp_grad import MlpGrad
from l2advisor.training.replicas import CannotBatch, Stacked, stack_replicas
from l2advisor.training.stack_speed import StackDearer, check_speed
from l2advisor.training.stacked_optim import StackedOptimizer
from l2advisor.training.train import (
    Record,
    TrainConfig,
    TrainResult,
    build_seeded_model,
    resolve_device,
)
from l2advisor.training.vmapped import unbatched_ops

__all__ = ["CannotBatch", "Replica", "StackDearer", "StackedOptimizer", "train_batched"]


@dataclass(frozen=True)
class Replica:
    """One member of a batch: its weight decay, its length and evaluation interval (steps)."""

    lam: float
    max_steps: int
    eval_every: int
    eval_per_decade: int = 0  # > 0: evaluate evenly in log steps (eval_schedule.py)
    seed: int | None = None  # None: the config's seed


def per_replica_loss(task: Task, outputs: Tensor, targets: Tensor, own: bool = False) -> Tensor:
    """(K,) batch-mean losses of outputs (K, B, ...) against shared targets (B, ...) or, with
    `own`, each replica's own targets (K, B, ...)."""
    if task.spec.loss is None:  # cross-entropy over (K, classes, B) logits: no copy of the targets
        labels = targets if own else targets.expand(len(outputs), -1)
        return F.cross_entropy(outputs.transpose(1, 2), labels, reduction="none").mean(1)
    return torch.stack([task.spec.loss(out, targets[k] if own else targets) for k, out in enumerate(outputs)])


def train_batched(task: Task, config: TrainConfig, replicas: Sequence[Replica], *,
                  on_eval: Callable[[int, Record], None] | None = None,
                  should_stop: Callable[[int, list[Record]], str | None] | None = None,
                  on_end: Callable[[int, TrainResult], None] | None = None,
                  lr_at: Callable[[int], float] | None = None,
                  on_stack: Callable[[Stacked], None] | None = None,
                  notice: Callable[[str], None] | None = None,
                  speed_check: bool = False) -> list[TrainResult]:
    """Train `replicas` (lams) of the task's model together; one `TrainResult` each, in order.

    `config` gives what they share (lr, batch size, seed, optimizer, device); its max_steps
    and eval_every are ignored. `on_eval(i, record)` gets replica i's records as they come;
    `should_stop(i, records)` may end replica i after an evaluation; `on_end(i, result)` is
    called as soon as replica i ends (its result is final then); `lr_at(step)` sets every
    replica's learning rate of each step, as in `train()`; `on_stack(stacked)` learns which
    form the replicas took (packed, folded, vmap) before the first step; `notice` hears, in one
    sentence, when an MLP's hand-written step disagreed with autograd (a bug of ours: the run
    goes on through autograd). Raises `CannotBatch` before any step when the model cannot be
    stacked (the caller falls back to `train`); with `speed_check`, `StackDearer` (a CannotBatch)
    when a stacked step, timed on this machine, costs more than its replicas' steps one after
    another (stack_speed.py).
    """
    device = resolve_device(config.device)
    seeds = [config.seed if r.seed is None else r.seed for r in replicas]
    models = [build_seeded_model(task, seed, device) for seed in seeds]  # same seed: same init
    own = len(set(seeds)) > 1  # several seeds: each replica its own batches
    stacked = stack_replicas(models, _sample(task, config.batch_size, device), per_replica=own)
    unbatched: list[str] = []  # ops vmap runs one replica at a time that the stack's check did not meet
    if speed_check:
        with unbatched_ops(unbatched):
            check_speed(task, stacked, models[0], config.batch_size, own,
                        lambda outputs, targets, per_replica: per_replica_loss(task, outputs, targets, per_replica))
    if on_stack is not None:
        on_stack(stacked)
    run = _BatchedRun(task, config, stacked, replicas, on_eval, should_stop, on_end, lr_at)
    if stacked.kind == "packed" and task.spec.loss is None:  # an MLP (batch norms too) under cross-entropy: by hand
        run.use_manual(MlpGrad.of(models[0], stacked.params), notice)
    streams = _seed_streams(task, config.batch_size, list(dict.fromkeys(seeds)), device)
    try:
        with unbatched_ops(unbatched):
            run.loop(SeedBatches(streams, seeds, run) if own else streams[seeds[0]], own)
    except Exception as err:  # the user's model failed mid-run: every live replica failed
        run.fail_live(describe_user_error(err, task.spec.path))
    if (new := [op for op in dict.fromkeys(unbatched) if op not in stacked.unbatched]) and notice is not None:
        notice(f"{task.spec.path.name}: torch's vmap also ran {', '.join(new)} one replica at a time.")
    return run.results


def _seed_streams(task: Task, batch_size: int, seeds: list[int], device: torch.device) -> dict[int, object]:
    """One batch stream per seed; resident tensors are moved to the device once and shared."""
    first = train_batches(task.train, batch_size, seeds[0], device)
    streams: dict[int, object] = {seeds[0]: first}
    for seed in seeds[1:]:
        streams[seed] = ResidentBatches(first.inputs, first.targets, batch_size, seed) \
            if isinstance(first, ResidentBatches) else train_batches(task.train, batch_size, seed, device)
    return streams


def _sample(task: Task, size: int, device: torch.device) -> Tensor:
    return first_items(task.train, min(max(size, 2), 16), device)[0]


def _evaluations(replicas: Sequence[Replica]) -> dict[int, set[int]]:
    """{step: indices of the replicas due to evaluate after that step}, from `eval_due`'s schedule."""
    due_at: dict[int, set[int]] = {}
    schedules: dict[tuple[int, int, int], list[int]] = {}  # replicas of one rung share theirs
    for i, r in enumerate(replicas):
        key = (r.max_steps, r.eval_every, r.eval_per_decade)
        if key not in schedules:
            schedules[key] = eval_steps(r.max_steps, r.eval_every, r.eval_per_decade)
        for step in schedules[key]:
            due_at.setdefault(step, set()).add(i)
    return due_at


class _BatchedRun:
    """The state of a batch of replicas; `live` maps stack positions to replica indices."""

    def __init__(self, task: Task, config: TrainConfig, stacked: Stacked, replicas: Sequence[Replica],
                 on_eval: Callable[[int, Record], None] | None,
                 should_stop: Callable[[int, list[Record]], str | None] | None,
                 on_end: Callable[[int, TrainResult], None] | None,
                 lr_at: Callable[[int], float] | None = None) -> None:
        self.task, self.config, self.stacked, self.replicas = task, config, stacked, list(replicas)
        self.lr_at = lr_at
        self.on_eval, self.should_stop, self.on_end = on_eval, should_stop, on_end
        self.device = next(iter(stacked.params.values())).device
        self.optimizer = StackedOptimizer(stacked.params, [r.lam for r in replicas], config)
        self.live = list(range(len(replicas)))
        self.results = [TrainResult("running") for _ in replicas]
        self.tau = [0.0] * len(replicas)
        self.step = 0
        self.start = time.perf_counter()
        self.val = eval_chunks(task.val, self.device, chunk=max(128, 1024 // len(replicas)))
        self.classify = task.n_outputs is not None and (task.spec.loss is None or task.spec.metric == "accuracy")
        self.due_at = _evaluations(replicas)  # step -> the replicas that evaluate after it
        self.manual: MlpGrad | None = None  # an MLP's step without autograd, checked on the first batch
        self.manual_checked = False
        self.notice: Callable[[str], None] | None = None

    def use_manual(self, manual: MlpGrad | None, notice: Callable[[str], None] | None) -> None:
        """Take an MLP's steps by hand (checked against autograd on the first batch); `notice`
        hears if that check fails."""
        self.manual, self.notice = manual, notice

    def loop(self, batches: object, own: bool = False) -> None:
        """Train until every replica ended; `own`: batches are per replica (K, B, ...)."""
        k = len(self.live)
        interval = Interval(k, self.classify, self.device)
        self.evaluate(list(range(k)), interval)  # step 0: every curve starts at tau = 0
        while self.live:
            inputs, targets = next(batches)  # type: ignore[call-overload]
            if self.lr_at is not None:
                self.optimizer.set_lr(self.lr_at(self.step), self.stacked.params)
            outputs, losses, grads = self._forward_backward(inputs, targets, own)
            self.optimizer.step(self.stacked.params, grads)
            self.step += 1
            interval.add(losses, outputs, targets)
            for i in self.live:
                self.tau[i] += self.optimizer.lr * self.replicas[i].lam  # this step's shrink, lr_t * lam_i
            due_now = self.due_at.get(self.step)
            due = [pos for pos, i in enumerate(self.live) if i in due_now] if due_now else []
            if due:
                ended = self.evaluate(due, interval)
                if ended:
                    self._drop([pos for pos in range(len(self.live)) if pos not in ended], interval)

    def _forward_backward(self, inputs: Tensor, targets: Tensor, own: bool) -> tuple[Tensor, Tensor, Sequence[Tensor | None]]:
        """Outputs (K, B, ...), losses (K,) and each parameter's gradient of one training step:
        by hand for an MLP whose hand-written gradients equal autograd's on the first batch
        (mlp_grad.py; integer class targets only), else through autograd."""
        params = self.stacked.params
        if self.manual is not None and not self.manual_checked:
            self.manual_checked = True
            self._check_manual(inputs, targets, own)
        if self.manual is not None:
            losses, outputs, grads = self.manual(params, self.stacked.buffers, inputs, targets, own)
            return outputs, losses, grads
        outputs = self.stacked(inputs, True, per_replica=own)  # (K, B, ...)
        losses = per_replica_loss(self.task, outputs, targets, own)  # (K,)
        return outputs, losses, torch.autograd.grad(losses.sum(), list(params.values()), allow_unused=True)

    def _check_manual(self, inputs: Tensor, targets: Tensor, own: bool) -> None:
        """On the first batch: keep the hand-written step only where it equals autograd's; a
        disagreement is a bug of ours, said through `notice`."""
        if targets.is_floating_point():  # soft labels: cross-entropy against probabilities, not written out
            self.manual = None
        elif not self.manual.check(self.stacked.params, self.stacked, inputs, targets, own):  # type: ignore[union-attr]
            self.manual = None
            if self.notice is not None:
                self.notice(f"{self.task.spec.path.name}: the hand-written gradients of its stacked MLP step "
                            "disagreed with autograd's on the first batch, a bug of l2advisor (please report it "
                            "with the model file); these probes train through autograd instead.")

    def _drop(self, keep: list[int], interval: Interval) -> None:
        self.live = [self.live[pos] for pos in keep]
        if not keep:
            return
        index = torch.tensor(keep, device=self.device)
        self.stacked.select(index)
        self.optimizer.select(index, self.stacked.params)
        interval.keep(index)

    @torch.no_grad()
    def evaluate(self, due: list[int], interval: Interval) -> set[int]:
        """Evaluate the replicas at stack positions `due`; return the positions that ended."""
        index = torch.tensor(due, device=self.device)
        params, buffers = (self.stacked.params, self.stacked.buffers) if len(due) == len(self.live) \
            else self.stacked.subset(index)
        val_loss, val_metric = self._validation(params, buffers)
        norms = sum((p.float() ** 2).flatten(1).sum(1) for p in params.values())
        train_loss, train_acc = interval.take(index)
        ended = set()
        for j, (pos, norm) in enumerate(zip(due, norms.tolist(), strict=True)):
            i = self.live[pos]
            record = {"step": self.step, "tau": self.tau[i], "lam": self.replicas[i].lam, "lr": self.optimizer.lr,
                      "train_loss": train_loss[j], "train_acc": train_acc[j],
                      "val_loss": val_loss[j], "val_metric": val_metric[j], "weight_norm_sq": norm,
                      "seconds": time.perf_counter() - self.start}
            result = self.results[i]
            result.records.append(record)
            if self.on_eval is not None:
                self.on_eval(i, record)
            status = self._status(i, record) if self.step > 0 else None
            if status:
                self._end(i, status)
                ended.add(pos)
        return ended

    def _end(self, i: int, status: str, message: str = "") -> None:
        result = self.results[i]
        result.status, result.message, result.steps = status, message, self.step
        result.seconds = time.perf_counter() - self.start
        if self.on_end is not None:
            self.on_end(i, result)

    def _status(self, i: int, record: Record) -> str | None:
        if not math.isfinite(record["train_loss"]) or not math.isfinite(record["weight_norm_sq"]):
            return "diverged"
        stop = self.should_stop(i, self.results[i].records) if self.should_stop else None
        if stop:
            return stop
        return "finished" if self.step >= self.replicas[i].max_steps else None

    def _validation(self, params: dict[str, Tensor], buffers: dict[str, Tensor]) -> tuple[list[float], list[float]]:
        """Per replica: mean validation loss and the metric, like `train()`'s."""
        metric = self.task.spec.metric
        k = len(next(iter(params.values())))
        total = 0
        loss_total = torch.zeros(k, dtype=torch.float64, device=self.device)
        correct = torch.zeros(k, dtype=torch.float64, device=self.device)
        outputs_all, targets_all = [], []
        for inputs, targets in self.val:
            outputs = self.stacked(inputs, False, params, buffers)  # (K, n, ...)
            count = len(targets)
            loss_total += per_replica_loss(self.task, outputs, targets).double() * count
            total += count
            if metric == "accuracy":
                correct += (predicted_classes(outputs) == targets).sum(1)
            else:
                outputs_all.append(outputs)
                targets_all.append(targets)
        losses = (loss_total / total).tolist()
        if metric == "accuracy":
            return losses, (correct / total).tolist()
        outputs, targets = torch.cat(outputs_all, dim=1), torch.cat(targets_all)
        return losses, [float(metric(out, targets)) for out in outputs]

    def fail_live(self, message: str) -> None:
        live, self.live = self.live, []
        for i in live:
            if self.results[i].status == "running":
                self._end(i, "failed", message)
