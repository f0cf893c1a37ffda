"""The folded form: custom modules of linear and layer-norm layers as one module on K*B examples."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from l2advisor.training.batched import Replica, train_batched
from l2advisor.training.replicas import CannotBatch, FoldedStacked, stack_replicas
from l2advisor.training.stack_checks import check_independent, check_outputs
from l2advisor.training.train import TrainConfig, build_seeded_model
from tests.conftest import TINY_MODEL
from tests.training.test_batched import assert_same_runs, task_of

# A mixer block: layer norms, a token MLP across a transpose, a residual sum, a mean over tokens.
MIXER = TINY_MODEL.replace("def build_model():\n    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))", '''
class Mixer(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed, self.norm = nn.Linear(2, 6), nn.LayerNorm(6)
        self.tokens = nn.Sequential(nn.Linear(4, 8), nn.GELU(), nn.Linear(8, 4))
        self.head = nn.Linear(6, 4, bias=False)
    def forward(self, x):  # (B, 8) -> (B, 4 tokens, 2) -> (B, 4 tokens, 6)
        h = self.embed(x.view(len(x), 4, 2))
        h = h + self.tokens(self.norm(h).transpose(1, 2)).transpose(1, 2)
        return self.head(h.mean(1))

def build_model():
    return Mixer()''')


class Attention(nn.Module):
    """A hand-written self-attention block over 4 tokens: products and a softmax within each example."""

    def __init__(self) -> None:
        super().__init__()
        self.qkv, self.out, self.norm = nn.Linear(2, 12), nn.Linear(4, 4), nn.LayerNorm(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 8) -> (B, 4 tokens, 2) -> (B, 4)
        q, k, v = self.qkv(self.norm(x.view(len(x), 4, 2))).chunk(3, dim=-1)  # (B, 4, 4) each
        weights = torch.softmax(q @ k.transpose(1, 2) / 2.0, dim=-1)
        return self.out((weights @ v).mean(1))


class BatchCentred(nn.Module):
    """Subtracts the batch mean: each example's output depends on the others in its batch."""

    def __init__(self) -> None:
        super().__init__()
        self.inp, self.out = nn.Linear(8, 16), nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        return self.out(torch.relu(h - h.mean(0)))


class Positional(nn.Module):
    """A learned parameter used outside any linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.lin, self.offset = nn.Linear(8, 4), nn.Parameter(torch.zeros(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x) + self.offset


class Tied(nn.Module):
    """A linear layer whose weight is used again outside its forward (tied input/output)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.lin(x)) @ self.lin.weight


@pytest.mark.parametrize("optimizer,momentum", [("sgd", 0.9), ("adamw", 0.0)])
def test_mixer_replicas_are_folded_and_match_sequential_runs(tmp_path: Path, optimizer: str, momentum: float) -> None:
    task = task_of(tmp_path, MIXER, optimizer=optimizer, momentum=momentum)
    models = [build_seeded_model(task, seed, torch.device("cpu")) for seed in (0, 1)]
    assert stack_replicas(models, torch.randn(6, 8), per_replica=True).kind == "folded"
    config = TrainConfig(lr=0.05 if optimizer == "sgd" else 0.003, batch_size=16, max_steps=1, eval_every=1,
                         seed=0, momentum=momentum, optimizer=optimizer)
    replicas = [Replica(0.05, 12, 3, seed=4), Replica(0.01, 20, 5, seed=4), Replica(0.002, 16, 4, seed=9)]
    assert_same_runs(train_batched(task, config, replicas), task, config, replicas)


def test_folded_gradients_equal_vmaps(tmp_path: Path) -> None:
    from l2advisor.training.replicas import VmapStacked

    task = task_of(tmp_path, MIXER)
    models = [build_seeded_model(task, seed, torch.device("cpu")) for seed in (0, 1, 2)]
    x = torch.randn(3, 10, 8)
    grads = []
    for kind in (FoldedStacked, VmapStacked):
        stacked = kind(models)
        out = stacked(x, True, per_replica=True)  # (3, 10, 4)
        grads.append(torch.autograd.grad(out.square().sum(), list(stacked.params.values())))
    for folded, vmapped in zip(*grads, strict=True):
        torch.testing.assert_close(folded, vmapped, rtol=1e-5, atol=1e-6)


def test_hand_written_attention_is_folded_with_vmaps_outputs_and_gradients() -> None:
    from l2advisor.training.replicas import VmapStacked

    torch.manual_seed(0)
    models = [Attention() for _ in range(3)]
    x = torch.randn(3, 5, 8)
    assert stack_replicas(models, x[0], per_replica=True).kind == "folded"
    results = []
    for kind in (FoldedStacked, VmapStacked):
        stacked = kind(models)
        out = stacked(x, True, per_replica=True)
        results.append((out, torch.autograd.grad(out.square().sum(), list(stacked.params.values()))))
    torch.testing.assert_close(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    for folded, vmapped in zip(results[0][1], results[1][1], strict=True):
        torch.testing.assert_close(folded, vmapped, rtol=1e-5, atol=1e-6)


def test_a_forward_that_mixes_the_batch_is_not_folded() -> None:
    torch.manual_seed(0)
    models = [BatchCentred() for _ in range(3)]
    sample = torch.randn(6, 8)
    folded = FoldedStacked(models)
    check_outputs(folded, models[0], sample)  # one replica alone: nothing to mix, the usual check passes
    with pytest.raises(CannotBatch, match="mixes the examples of a batch"):
        check_independent(folded, models[0], sample)
    stacked = stack_replicas(models, sample)
    assert stacked.kind == "vmap"  # vmap keeps each replica's batch to itself
    with torch.no_grad():
        for model, out in zip(models, stacked(sample, True), strict=True):
            torch.testing.assert_close(out, model(sample))


@pytest.mark.parametrize("module", [Positional, Tied])
def test_parameters_outside_linear_layers_go_to_vmap(module: type[nn.Module]) -> None:
    torch.manual_seed(0)
    models = [module() for _ in range(2)]
    assert stack_replicas(models, torch.randn(4, 8)).kind == "vmap"


def test_batch_norm_in_a_custom_module_is_folded() -> None:  # each replica its statistics: test_folded_batch_norm.py
    torch.manual_seed(0)

    class Normed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin, self.norm = nn.Linear(8, 4), nn.BatchNorm1d(4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.norm(self.lin(x))

    assert stack_replicas([Normed(), Normed()], torch.randn(4, 8)).kind == "folded"


# A pre-norm block in Llama's style: RMS norms, a gated SiLU MLP, residual sums (torch >= 2.4).
GATED = TINY_MODEL.replace("def build_model():\n    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))", '''
class Gated(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp, self.norm, self.head_norm = nn.Linear(8, 16), nn.RMSNorm(16), nn.RMSNorm(16, eps=1e-3)
        self.gate, self.up, self.down, self.head = nn.Linear(16, 32), nn.Linear(16, 32), nn.Linear(32, 16), nn.Linear(16, 4)
    def forward(self, x):
        h = self.inp(x)
        n = self.norm(h)
        h = h + self.down(nn.functional.silu(self.gate(n)) * self.up(n))
        return self.head(self.head_norm(h))

def build_model():
    return Gated()''')


@pytest.mark.skipif(not hasattr(nn, "RMSNorm"), reason="nn.RMSNorm is torch >= 2.4")
@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_rms_norms_fold_and_train_as_one_by_one(tmp_path: Path, optimizer: str) -> None:
    task = task_of(tmp_path, GATED, optimizer=optimizer)
    config = TrainConfig(lr=0.05 if optimizer == "sgd" else 0.003, batch_size=32, max_steps=1, eval_every=1, seed=0,
                         optimizer=optimizer, decay_1d=optimizer != "adamw")
    replicas = [Replica(0.05, 12, 4, seed=0), Replica(0.01, 12, 4, seed=0), Replica(0.05, 8, 4, seed=1)]
    forms: list[str] = []
    results = train_batched(task, config, replicas, on_stack=lambda stacked: forms.append(stacked.kind))
    assert forms == ["folded"]
    assert_same_runs(results, task, config, replicas, rel=1e-4, flips=0.02 if optimizer == "adamw" else 0.0)


@pytest.mark.skipif(not hasattr(nn, "RMSNorm"), reason="nn.RMSNorm is torch >= 2.4")
def test_a_fold_that_gives_every_replica_replica_zeros_rms_scale_fails_the_check(monkeypatch) -> None:
    from l2advisor.training import folded

    def replica_zeros(self, h):
        scale = self.weights.params[self.name + ".weight"][0]
        return torch.nn.functional.rms_norm(h, self.shape, scale, self.eps)  # replica 0 for every row

    torch.manual_seed(0)
    models = [nn.Sequential(nn.Linear(8, 16), nn.RMSNorm(16), nn.Linear(16, 4)) for _ in range(2)]

    class Wrapped(nn.Module):  # a custom module, so the packed form passes it on
        def __init__(self, body):
            super().__init__()
            self.body = body
        def forward(self, x):
            return self.body(x)

    wrapped = [Wrapped(m) for m in models]
    with torch.no_grad():
        wrapped[1].body[1].weight.mul_(1.7)
    assert stack_replicas(wrapped, torch.randn(6, 8)).kind == "folded"
    monkeypatch.setattr(folded._FoldedLayerNorm, "forward", replica_zeros)  # the RMS norm's fold too
    assert stack_replicas(wrapped, torch.randn(6, 8)).kind == "vmap"
