"""Batch norms in the folded form: each replica normalized over its own rows, with its own scale,
shift and running statistics, as each replica's own model; and what the stack's checks catch."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from l2advisor.training import folded_layers
from l2advisor.training.batched import Replica, train_batched
from l2advisor.training.replicas import FoldedStacked, stack_replicas
from l2advisor.training.train import TrainConfig
from tests.training.test_batched import assert_same_runs, task_of

ROOT = Path(__file__).resolve().parents[2]


class Block(nn.Module):
    """A residual block around a batch norm (of `norm`'s kind) on (B, C) or (B, C, L) or (B, C, H, W)."""

    def __init__(self, norm: nn.Module, channels: int = 6) -> None:
        super().__init__()
        self.inp, self.norm, self.out = nn.Linear(5, channels), norm, nn.Linear(channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x (B, *S, 5): channels last for the linears
        h = self.inp(x).movedim(-1, 1)  # (B, C, *S)
        h = torch.relu(self.norm(h)) + h
        return self.out(h.movedim(1, -1)).flatten(1)


NORMS = {
    "1d": (lambda: nn.BatchNorm1d(6), (5,)),
    "1d-sequence": (lambda: nn.BatchNorm1d(6, momentum=0.3, eps=1e-3), (4, 5)),
    "2d": (lambda: nn.BatchNorm2d(6), (3, 2, 5)),
    "no-affine": (lambda: nn.BatchNorm1d(6, affine=False), (5,)),
    "no-running-stats": (lambda: nn.BatchNorm1d(6, track_running_stats=False), (5,)),
    "cumulative": (lambda: nn.BatchNorm1d(6, momentum=None), (5,)),
}


def replicas(kind: str, k: int = 3) -> tuple[list[nn.Module], tuple[int, ...]]:
    make, shape = NORMS[kind]
    torch.manual_seed(0)
    models = [Block(make()) for _ in range(k)]
    with torch.no_grad():  # scales and shifts that differ between replicas, as after some training
        for model in models:
            if model.norm.affine:
                model.norm.weight.uniform_(0.5, 1.5)
                model.norm.bias.uniform_(-0.3, 0.3)
    return models, shape


@pytest.mark.parametrize("kind", list(NORMS))
def test_each_replica_trains_and_evaluates_as_its_own_model(kind: str) -> None:
    models, shape = replicas(kind)
    x = torch.randn(len(models), 8, *shape)  # each replica its own batch
    stacked = stack_replicas([copy.deepcopy(m) for m in models], x[0], per_replica=True)
    assert stacked.kind == "folded"
    for _ in range(3):  # three training calls move the statistics (a cumulative average: 1, 1/2, 1/3)
        outputs = stacked(x, True, per_replica=True)
        for model, inputs, out in zip(models, x, outputs, strict=True):
            torch.testing.assert_close(out, model.train()(inputs), rtol=1e-5, atol=1e-6)
    for k, model in enumerate(models):
        for name, buffer in model.named_buffers():
            torch.testing.assert_close(stacked.buffers[name][k], buffer, rtol=1e-5, atol=1e-7)
    assert set(stacked.buffers) == {n for n, _ in models[0].named_buffers()}  # no other buffers, none left out
    with torch.no_grad():  # evaluation: each replica's own statistics
        outputs = stacked(x, False, per_replica=True)
    for model, inputs, out in zip(models, x, outputs, strict=True):
        torch.testing.assert_close(out, model.eval()(inputs), rtol=1e-5, atol=1e-6)


def test_gradients_are_each_replicas_own() -> None:
    models, shape = replicas("2d")
    x = torch.randn(len(models), 8, *shape)
    stacked = stack_replicas([copy.deepcopy(m) for m in models], x[0], per_replica=True)
    targets = torch.randint(0, 3, (len(models), 8 * 3 * 2))
    outputs = stacked(x, True, per_replica=True)
    loss = sum(F.cross_entropy(out.reshape(-1, 3), t)
               for out, t in zip(outputs, targets, strict=True))
    grads = dict(zip(stacked.params, torch.autograd.grad(loss, list(stacked.params.values())), strict=True))
    for k, model in enumerate(models):
        out = model.train()(x[k])
        mine = F.cross_entropy(out.reshape(-1, 3), targets[k])
        theirs = torch.autograd.grad(mine, list(model.parameters()))
        for (name, _), grad in zip(model.named_parameters(), theirs, strict=True):
            torch.testing.assert_close(grads[name][k], grad, rtol=1e-4, atol=1e-6)


def test_evaluating_some_replicas_reads_their_statistics() -> None:
    models, shape = replicas("1d", k=4)
    x = torch.randn(4, 8, *shape)
    stacked = stack_replicas([copy.deepcopy(m) for m in models], x[0], per_replica=True)
    stacked(x, True, per_replica=True)
    for model, inputs in zip(models, x, strict=True):
        model.train()(inputs)
    keep = torch.tensor([3, 1])
    params, buffers = stacked.subset(keep)
    with torch.no_grad():
        outputs = stacked(x[keep], False, params, buffers, per_replica=True)
    for out, k in zip(outputs, keep.tolist(), strict=True):
        torch.testing.assert_close(out, models[k].eval()(x[k]), rtol=1e-5, atol=1e-6)


def _reads_replica_zeros_statistics(self: folded_layers.FoldedBatchNorm, h: torch.Tensor) -> torch.Tensor:
    """A broken fold: every replica normalized with replica 0's running statistics in evaluation."""
    k, buffers = self.weights.k, self.weights.buffers
    mean = buffers[self.name + ".running_mean"][:1].expand(k, -1).reshape(-1)
    var = buffers[self.name + ".running_var"][:1].expand(k, -1).reshape(-1)
    weight, bias = (self.weights.params[self.name + suffix].flatten() for suffix in (".weight", ".bias"))
    out = F.batch_norm(folded_layers.side_by_side(h, k), mean.clone(), var.clone(), weight, bias, self.training,
                       self.momentum, self.eps)
    return folded_layers.back_to_rows(out, k)


def _normalizes_over_every_replica(self: folded_layers.FoldedBatchNorm, h: torch.Tensor) -> torch.Tensor:
    """A broken fold: statistics over all K*B rows, which mixes the replicas' examples."""
    k = self.weights.k
    normed = F.batch_norm(h, None, None, None, None, True, 0.0, self.eps)
    weight, bias = (self.weights.params[self.name + suffix] for suffix in (".weight", ".bias"))
    rows = normed.reshape(k, -1, normed.shape[1])
    return (rows * weight.unsqueeze(1) + bias.unsqueeze(1)).reshape(normed.shape)


@pytest.mark.parametrize("broken", [_reads_replica_zeros_statistics, _normalizes_over_every_replica])
def test_the_stacks_checks_catch_a_fold_that_mixes_replicas(monkeypatch: pytest.MonkeyPatch, broken) -> None:
    models, shape = replicas("1d")
    sample = torch.randn(8, *shape)
    monkeypatch.setattr(folded_layers.FoldedBatchNorm, "forward", broken)
    stacked = stack_replicas([copy.deepcopy(m) for m in models], sample, per_replica=True)
    assert stacked.kind == "vmap" and any(f.startswith("folded: ") for f in stacked.passed_over)
    monkeypatch.undo()
    assert stack_replicas([copy.deepcopy(m) for m in models], sample, per_replica=True).kind == "folded"


def test_buffers_other_than_the_statistics_must_still_be_constants() -> None:
    models, _ = replicas("1d", k=2)
    for k, model in enumerate(models):
        model.register_buffer("offset", torch.full((6,), float(k)))  # differs between replicas, read by nothing
    with pytest.raises(folded_layers.Unsupported, match="buffers that differ between replicas"):
        FoldedStacked(models)


class ConvNormed(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.norm, self.head = nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.norm(self.conv(x))).mean((2, 3)))


def test_batch_norms_beside_convolutions_stay_with_vmap() -> None:
    torch.manual_seed(0)
    stacked = stack_replicas([ConvNormed(), ConvNormed()], torch.randn(4, 1, 6, 6))
    assert stacked.kind == "vmap"
    assert "folded: batch norms beside convolutions (vmap runs them faster)" in stacked.passed_over


@pytest.mark.parametrize(("example", "form"), [("resmlp_digits.py", "folded"), ("resnet_digits.py", "vmap")])
def test_the_batch_norm_examples_train_stacked_as_one_by_one(tmp_path: Path, example: str, form: str) -> None:
    task = task_of(tmp_path, (ROOT / "examples" / example).read_text())
    config = TrainConfig(lr=0.05, batch_size=32, max_steps=1, eval_every=1, seed=0, momentum=0.9)
    replicas = [Replica(0.02, 12, 4, seed=0), Replica(0.01, 12, 4, seed=0), Replica(0.02, 8, 4, seed=1)]
    forms: list[str] = []
    results = train_batched(task, config, replicas, on_stack=lambda stacked: forms.append(stacked.kind))
    assert forms == [form]
    assert_same_runs(results, task, config, replicas, rel=1e-4)
