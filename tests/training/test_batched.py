"""Batched probes: K lams in one stacked pass give the numbers of K sequential `train()` runs."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.probing.plan import ProbeRun, ProbeSettings, plan_probes
from l2advisor.probing.probe import group_runs, run_probes
from l2advisor.runs.rundir import results_path
from l2advisor.runs.store import read_results
from l2advisor.training.batched import CannotBatch, Replica, train_batched
from l2advisor.training.lr_schedules import make_lr_at
from l2advisor.training.packed import _nhwc
from l2advisor.training.replicas import PackedStacked, stack_replicas
from l2advisor.training.stack_checks import same_outputs
from l2advisor.training.train import TrainConfig, build_seeded_model, train
from tests.conftest import TINY_MODEL, write_model

# Noise images: no exact ties in max-pooling (MNIST's blank borders have them, and a tie is
# broken by the last bit of rounding, so two correct kernels may route a gradient differently).
NOISE_CNN = '''
import torch
from torch import nn
from torch.utils.data import TensorDataset

lr = 0.1
batch_size = 16

def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 8, 8, generator=g)
    y = (x[:, 0, :4].sum((1, 2)) > 0).long() + 2 * (x[:, 0, :, :4].sum((1, 2)) > 0).long()
    return TensorDataset(x, y)

def build_model():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1, bias=False), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 3, padding=1, bias=False), nn.BatchNorm2d(6), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(24, 16, bias=False), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 4))

def build_data():
    return _data(96, 0), _data(64, 1)
'''
# (No bias before a batch norm: its true gradient is 0, and Adam would amplify the rounding noise.)
# Not an nn.Sequential: trained through vmap (vmapped.py), batch norm included.
CUSTOM_BN = TINY_MODEL.replace("def build_model():\n    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))", '''
class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.inp, self.norm, self.out = nn.Linear(8, 16), nn.BatchNorm1d(16), nn.Linear(16, 4)
    def forward(self, x):
        h = self.inp(x)
        return self.out(torch.relu(self.norm(h)) + h)

def build_model():
    return Residual()''')
# a batch norm with a cumulative average of its statistics (vmap cannot stack it: `.item()`) folds
CUSTOM_BN_CUMULATIVE = CUSTOM_BN.replace("nn.BatchNorm1d(16)", "nn.BatchNorm1d(16, momentum=None)")
# a free (D,) shift does not fold: vmap
CUSTOM_BN_SHIFT = CUSTOM_BN.replace("nn.Linear(16, 4)\n", "nn.Linear(16, 4)\n        self.shift = nn.Parameter(torch.zeros(16))\n").replace(
    "torch.relu(self.norm(h)) + h", "torch.relu(self.norm(h)) + h + self.shift")
# dropout stacks (test_dropout.py); noise drawn in forward besides it cannot be checked, so it does not
NOISY_DROPOUT = TINY_MODEL.replace("def build_model():\n    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))", '''
class Noisy(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 4))
    def forward(self, x):
        return self.body(x + 0.1 * torch.randn_like(x))

def build_model():
    return Noisy()''')
REPLICAS = [Replica(0.05, 12, 3), Replica(0.01, 20, 5), Replica(0.002, 16, 4)]  # own length and interval each


def task_of(tmp_path: Path, body: str, **overrides: Any) -> Any:
    return build_task(load_spec(write_model(tmp_path, body), overrides))


def sequential(task: Any, config: TrainConfig, replica: Replica, **kwargs: Any) -> Any:
    seed = config.seed if replica.seed is None else replica.seed
    one = TrainConfig(**{**config.__dict__, "max_steps": replica.max_steps, "eval_every": replica.eval_every,
                         "seed": seed})
    return train(task, one, replica.lam, **kwargs)


def assert_same_runs(batched: list, task: Any, config: TrainConfig, replicas: list[Replica], rel: float = 2e-5,
                     flips: float = 0.0, **kwargs: Any) -> None:
    """Every record equal within `rel`; accuracies within `flips` (a fraction of examples)."""
    for result, replica in zip(batched, replicas, strict=True):
        reference = sequential(task, config, replica, **kwargs)
        assert (result.status, result.steps) == (reference.status, reference.steps), result.message
        assert len(result.records) == len(reference.records)
        for mine, theirs in zip(result.records, reference.records, strict=True):
            assert mine.keys() == theirs.keys()
            for key in mine.keys() - {"seconds"}:
                if isinstance(theirs[key], float) and math.isnan(theirs[key]):
                    assert math.isnan(mine[key]), key
                else:
                    slack = flips if key in ("train_acc", "val_metric") else 0.0
                    assert mine[key] == pytest.approx(theirs[key], rel=rel, abs=1e-6 + slack), (key, mine["step"])


@pytest.mark.parametrize("optimizer,momentum", [("sgd", 0.0), ("sgd", 0.9), ("adamw", 0.0)])
def test_mlp_replicas_match_sequential_runs(tmp_path: Path, optimizer: str, momentum: float) -> None:
    task = task_of(tmp_path, TINY_MODEL, optimizer=optimizer, momentum=momentum)
    config = TrainConfig(lr=0.05 if optimizer == "sgd" else 0.003, batch_size=32, max_steps=1, eval_every=1,
                         seed=3, momentum=momentum, optimizer=optimizer)
    assert_same_runs(train_batched(task, config, REPLICAS), task, config, REPLICAS)


@pytest.mark.parametrize("optimizer,momentum", [("sgd", 0.9), ("adamw", 0.0)])
def test_replicas_under_an_lr_schedule_match_sequential_runs(tmp_path: Path, optimizer: str, momentum: float) -> None:
    task = task_of(tmp_path, TINY_MODEL, optimizer=optimizer, momentum=momentum)
    lr = 0.05 if optimizer == "sgd" else 0.003
    config = TrainConfig(lr=lr, batch_size=32, max_steps=1, eval_every=1, seed=3, momentum=momentum,
                         optimizer=optimizer)
    lr_at = make_lr_at("cosine", lr, 20)  # the lr falls 1x..0x over the longest replica
    batched = train_batched(task, config, REPLICAS, lr_at=lr_at)
    assert_same_runs(batched, task, config, REPLICAS, lr_at=lr_at)
    last = batched[1].records[-1]  # tau is the sum of lr_t * lam, about half of lr * lam * steps
    assert last["tau"] == pytest.approx(REPLICAS[1].lam * sum(lr_at(t) for t in range(20)))
    assert last["tau"] < 0.6 * lr * REPLICAS[1].lam * 20
    assert last["lr"] == pytest.approx(lr_at(REPLICAS[1].max_steps - 1))


@pytest.mark.parametrize("optimizer,momentum", [("sgd", 0.0), ("sgd", 0.9), ("adamw", 0.0)])
def test_batch_norm_cnn_replicas_match_sequential_runs(tmp_path: Path, optimizer: str, momentum: float) -> None:
    task = task_of(tmp_path, NOISE_CNN, optimizer=optimizer, momentum=momentum)
    config = TrainConfig(lr=0.05 if optimizer == "sgd" else 0.003, batch_size=16, max_steps=1, eval_every=1,
                         seed=1, momentum=momentum, optimizer=optimizer, decay_1d=optimizer != "adamw")
    # Adam moves every coordinate by about lr whatever its gradient: a batch-norm bias whose
    # gradient is rounding noise (~1e-8) moves by a different fraction of lr in each path.
    rel, flips = (2e-3, 0.02) if optimizer == "adamw" else (2e-5, 0.0)
    assert_same_runs(train_batched(task, config, REPLICAS), task, config, REPLICAS, rel=rel, flips=flips)


@pytest.mark.parametrize("body,form", [(CUSTOM_BN, "folded"), (CUSTOM_BN_CUMULATIVE, "folded"),
                                       (CUSTOM_BN_SHIFT, "vmap")], ids=["folded", "cumulative", "vmap"])
def test_custom_module_with_batch_norm_stacks_and_matches(tmp_path: Path, body: str, form: str) -> None:
    task = task_of(tmp_path, body)
    models = [build_seeded_model(task, 0, torch.device("cpu")) for _ in range(2)]
    assert stack_replicas(models, torch.randn(8, 8)).kind == form
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1, seed=0, momentum=0.5)
    assert_same_runs(train_batched(task, config, REPLICAS), task, config, REPLICAS)


class _TiedTwice(torch.nn.Module):  # two linears sharing one weight (their biases their own)
    def __init__(self) -> None:
        super().__init__()
        self.first = torch.nn.Linear(6, 6)
        self.again = torch.nn.Linear(6, 6)
        self.again.weight = self.first.weight
        self.head = torch.nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.again(torch.tanh(self.first(x)))))


@pytest.mark.parametrize("tied", [True, False])
def test_vmap_replicas_give_each_models_outputs_with_and_without_tied_weights(tied: bool) -> None:
    # without ties functional_call skips looking for them; with ties, skipping would run the
    # second name on the template's weights instead of each replica's
    from l2advisor.training.replicas import VmapStacked, _has_tied_tensors

    torch.manual_seed(0)
    models = [_TiedTwice() for _ in range(3)]
    if not tied:
        for model in models:
            model.again = torch.nn.Linear(6, 6)
    assert _has_tied_tensors(models[0]) is tied
    stacked = VmapStacked(models)
    x = torch.randn(3, 5, 6)
    out = stacked(x, True, per_replica=True)
    grads = torch.autograd.grad(out.square().sum(), list(stacked.params.values()))
    for k, model in enumerate(models):
        reference = model(x[k])
        torch.testing.assert_close(out[k], reference, rtol=1e-5, atol=1e-6)
        theirs = torch.autograd.grad(reference.square().sum(), list(model.parameters()))
        for g, t in zip(grads, theirs, strict=True):
            torch.testing.assert_close(g[k], t, rtol=1e-5, atol=1e-6)


def test_shared_parameters_fold_each_layer_reading_the_one_stack() -> None:
    """Tied weights (a sequential's two linears, a custom module's) fold: every layer that holds
    the tensor reads its one stack, so its gradient is the sum over its uses, as in the model.
    The packed form still refuses them, by name."""
    torch.manual_seed(0)
    sequential = []
    for _ in range(2):
        model = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.Tanh(), torch.nn.Linear(6, 6))
        model[2].weight = model[0].weight
        sequential.append(model)
    x = torch.randn(2, 4, 6)
    for models in (sequential, [_TiedTwice() for _ in range(2)]):
        stacked = stack_replicas(models, x[0], per_replica=True)
        assert stacked.kind == "folded" and len(stacked.params) == len(dict(models[0].named_parameters()))
        out = stacked(x, True, per_replica=True)
        grads = torch.autograd.grad(out.square().sum(), list(stacked.params.values()))
        for k, model in enumerate(models):
            reference = model(x[k])
            torch.testing.assert_close(out[k], reference, rtol=1e-5, atol=1e-6)
            theirs = torch.autograd.grad(reference.square().sum(), list(model.parameters()))
            for mine, own in zip(grads, theirs, strict=True):
                torch.testing.assert_close(mine[k], own, rtol=1e-5, atol=1e-6)
    assert "packed: parameters shared between layers" in stack_replicas(sequential, x[0]).passed_over


# Two seeds x lams in one stack: each replica its own seed's initial weights and batches.
SEEDED = [Replica(0.05, 12, 3, seed=4), Replica(0.01, 20, 5, seed=7), Replica(0.002, 16, 4, seed=4),
          Replica(0.01, 9, 3, seed=7)]


@pytest.mark.parametrize("body,optimizer,momentum", [(TINY_MODEL, "sgd", 0.9), (TINY_MODEL, "adamw", 0.0),
                                                     (NOISE_CNN, "sgd", 0.0), (CUSTOM_BN, "sgd", 0.5),
                                                     (CUSTOM_BN_CUMULATIVE, "sgd", 0.5), (CUSTOM_BN_SHIFT, "sgd", 0.5)],
                         ids=["mlp-sgd", "mlp-adamw", "bn-cnn", "folded-bn", "cumulative-bn", "vmap-bn"])
def test_replicas_of_several_seeds_in_one_stack_match_sequential_runs(tmp_path: Path, body: str, optimizer: str,
                                                                      momentum: float) -> None:
    task = task_of(tmp_path, body, optimizer=optimizer, momentum=momentum)
    config = TrainConfig(lr=0.05 if optimizer == "sgd" else 0.003, batch_size=16, max_steps=1, eval_every=1,
                         seed=0, momentum=momentum, optimizer=optimizer)
    batched = train_batched(task, config, SEEDED)
    assert_same_runs(batched, task, config, SEEDED)
    # negative control: seed 4's replica is not what seed 7 would have given
    wrong_seed = sequential(task, config, Replica(0.05, 12, 3, seed=7))
    assert batched[0].records[-1]["val_loss"] != pytest.approx(wrong_seed.records[-1]["val_loss"], rel=1e-3)


# A plain tensor attribute drawn at build time: one copy runs every vmap replica, so replicas of
# different seeds cannot share a stack (same seed: the same permutation, so they can).
PERMUTED = TINY_MODEL.replace("def build_model():\n    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))", '''
class Permuted(nn.Module):
    def __init__(self):
        super().__init__()
        self.perm = torch.randperm(8)
        self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
    def forward(self, x):
        return self.body(x[:, self.perm])

def build_model():
    return Permuted()''')


def test_seed_streams_share_the_resident_tensors_and_draw_their_own_orders(tmp_path: Path) -> None:
    from l2advisor.training.batched import _seed_streams

    task = task_of(tmp_path, TINY_MODEL)
    streams = _seed_streams(task, 16, [4, 7], torch.device("cpu"))
    assert streams[4].inputs is streams[7].inputs  # one copy of the data, however many seeds
    first4, first7 = next(streams[4])[1], next(streams[7])[1]
    assert not torch.equal(first4, first7)  # each seed its own order
    again = _seed_streams(task, 16, [7], torch.device("cpu"))[7]
    assert torch.equal(next(again)[1], first7)  # the same order as a stream of that seed alone


def test_seed_dependent_python_state_keeps_seeds_in_stacks_of_their_own(tmp_path: Path) -> None:
    task = task_of(tmp_path, PERMUTED)
    config = TrainConfig(lr=0.05, batch_size=16, max_steps=1, eval_every=1, seed=0)
    with pytest.raises(CannotBatch, match="state outside parameters"):
        train_batched(task, config, SEEDED)
    one_seed = [Replica(0.05, 12, 3, seed=4), Replica(0.002, 16, 4, seed=4)]
    assert_same_runs(train_batched(task, config, one_seed), task, config, one_seed)
    settings = ProbeSettings(lrs=(0.05,), seeds=(4, 7), horizon=0.5, probe_budget=400, lambdas=(0.4, 0.2),
                             early_stop=False)
    runs = plan_probes(settings)
    records: list[dict] = []
    run_probes(task, runs, config, settings, records.append, replicas=8)
    for run in runs:  # per-seed stacks: each seed its own permutation
        last = [r for r in records if r["type"] == "eval" and r["run"] == run.run_id][-1]
        reference = train(task, TrainConfig(**{**config.__dict__, "max_steps": run.max_steps,
                                               "eval_every": run.eval_every, "seed": run.seed}), run.lam)
        assert last["val_loss"] == pytest.approx(reference.records[-1]["val_loss"], rel=2e-5)


def test_probes_of_every_seed_share_one_stack_when_the_data_are_tensors(tmp_path: Path) -> None:
    task = task_of(tmp_path, TINY_MODEL)
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1, seed=0)
    settings = ProbeSettings(lrs=(0.1,), seeds=(0, 1), horizon=1.0, probe_budget=200, lambdas=(0.4, 0.2),
                             early_stop=False)
    runs = plan_probes(settings)
    assert [len(g) for g in group_runs(runs, 8, mix_seeds=True)] == [4]
    assert [len(g) for g in group_runs(runs, 8)] == [2, 2]
    records: list[dict] = []
    results = run_probes(task, runs, config, settings, records.append, replicas=8)
    starts = [r["run"] for r in records if r["type"] == "start"]
    assert sorted(starts) == sorted(run.run_id for run in runs)
    for run, result in zip(runs, results, strict=True):  # each as its own sequential run
        reference = train(task, TrainConfig(**{**config.__dict__, "max_steps": run.max_steps,
                                               "eval_every": run.eval_every, "seed": run.seed}), run.lam)
        assert result.records[-1]["val_loss"] == pytest.approx(reference.records[-1]["val_loss"], rel=2e-5)


def test_sequential_models_are_packed(tmp_path: Path) -> None:
    task = task_of(tmp_path, NOISE_CNN)
    models = [build_seeded_model(task, 0, torch.device("cpu")) for _ in range(3)]
    stacked = stack_replicas(models, torch.randn(4, 1, 8, 8))
    assert stacked.kind == "packed" and stacked.params["0.weight"].shape == (3, 4, 1, 3, 3)
    assert stacked.buffers["1.running_mean"].shape == (3, 4)  # per-replica running statistics


@pytest.mark.parametrize("per_replica", [False, True])
def test_channels_last_packing_gives_the_models_outputs_and_gradients(tmp_path: Path, per_replica: bool) -> None:
    task = task_of(tmp_path, NOISE_CNN)
    models = [build_seeded_model(task, seed, torch.device("cpu")) for seed in range(3)]
    x = torch.randn(3, 16, 1, 8, 8) if per_replica else torch.randn(16, 1, 8, 8)  # one input channel
    results = {}
    for layout in (True, False):
        stacked = PackedStacked(models, channels_last=layout)
        out = stacked(x, True, per_replica=per_replica)  # (K, B, 4)
        results[layout] = (out, torch.autograd.grad(out.square().sum(), list(stacked.params.values())))
    for k, model in enumerate(models):
        reference = copy.deepcopy(model).train()(x[k] if per_replica else x)
        torch.testing.assert_close(results[True][0][k], reference, rtol=1e-5, atol=1e-5)
    for mine, theirs in zip(results[True][1], results[False][1], strict=True):
        torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)


def test_the_bundled_default_packs_for_every_seed_pair() -> None:
    # channels-last rounding put its logits up to 6e-5 off the model's own: an element-wise
    # rtol of 1e-4 sent 10 of 24 seed pairs to vmap (3x slower)
    task = build_task(load_spec(Path(__file__).resolve().parents[2] / "examples" / "mnist_cnn.py", {}))
    sample = torch.stack([task.train[i][0] for i in range(16)])  # what train_batched checks with
    for seed in range(0, 12, 2):
        models = [build_seeded_model(task, s, torch.device("cpu")) for s in (seed, seed, seed + 1)]
        assert stack_replicas(models, sample, per_replica=True).kind == "packed", seed


def test_same_outputs_allows_rounding_and_not_a_wrong_layer() -> None:
    torch.manual_seed(0)
    reference = torch.randn(16, 10) * 3
    assert same_outputs(reference + 1e-4 * torch.randn(16, 10), reference)  # rounding-sized noise
    assert not same_outputs(reference + 0.05 * reference.abs().max(), reference)  # a missing bias
    assert not same_outputs(torch.relu(reference), reference)  # an extra activation
    assert not same_outputs(reference[:, :5], reference[:, :6])


def test_one_channel_inputs_get_channels_last_strides() -> None:
    # with C = 1 both layouts are the same bytes; contiguous(memory_format=...) keeps NCHW strides,
    # and a convolution then returns NCHW (the slow pooling path)
    x = torch.randn(4, 1, 6, 6)
    assert x.contiguous(memory_format=torch.channels_last).stride() == x.stride()
    y = _nhwc(x)
    assert torch.equal(y, x) and y.stride() == (36, 1, 6, 1)
    out = torch.nn.functional.conv2d(y, torch.randn(5, 1, 3, 3))
    assert out.is_contiguous(memory_format=torch.channels_last) and not out.is_contiguous()
    wide = torch.randn(4, 3, 6, 6).contiguous(memory_format=torch.channels_last)
    assert _nhwc(wide) is wide  # already channels-last: no copy


def test_batch_norm_folded_into_the_linear_before_it_gives_the_models_eval_outputs() -> None:
    torch.manual_seed(0)
    models = [torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                  torch.nn.Linear(16, 4)) for _ in range(3)]
    for model in models:  # trained-looking running statistics and affine parameters
        norm = model[1]
        norm.running_mean.uniform_(-1, 1), norm.running_var.uniform_(0.5, 2)
        torch.nn.init.uniform_(norm.weight, 0.5, 1.5), torch.nn.init.uniform_(norm.bias, -0.5, 0.5)
    x = torch.randn(32, 8)
    stacked = stack_replicas(models, x)
    assert stacked.kind == "packed"
    with torch.no_grad():
        outputs = stacked(x, False)
        for model, out in zip(models, outputs, strict=True):
            torch.testing.assert_close(out, model.eval()(x), rtol=1e-5, atol=1e-6)


def test_each_replica_stops_on_its_own(tmp_path: Path) -> None:
    task = task_of(tmp_path, TINY_MODEL)
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1, seed=0)
    replicas = [Replica(0.01, 30, 3), Replica(30.0, 400, 5), Replica(0.005, 30, 3)]  # lr*lam = 3 blows up

    def stop_at_12(records: list) -> str | None:
        return "stopped" if records[-1]["step"] >= 12 else None

    ended: list[tuple[int, str, int]] = []
    results = train_batched(task, config, replicas, should_stop=lambda i, rec: stop_at_12(rec) if i == 2 else None,
                            on_end=lambda i, result: ended.append((i, result.status, result.steps)))
    assert [r.status for r in results] == ["finished", "diverged", "stopped"]
    assert sorted(ended) == [(0, "finished", 30), (1, "diverged", results[1].steps), (2, "stopped", 12)]
    assert results[1].steps < 400
    assert_same_runs(results[:1], task, config, replicas[:1])  # the others' fate does not touch it
    assert_same_runs(results[2:], task, config, replicas[2:], should_stop=stop_at_12)


def test_probes_group_by_lr_and_seed_in_plan_order() -> None:
    runs = [ProbeRun(lam, lr, seed, int(10 / lam), 1) for lr in (0.1, 0.05) for lam in (0.4, 0.2, 0.1)
            for seed in (0, 1)]
    groups = group_runs(runs, 2)
    assert all(len({(r.lr, r.seed) for r in group}) == 1 for group in groups)
    assert [len(group) for group in groups] == [2, 2, 1, 1] * 2  # at most 2 per group, in order
    assert [r for group in groups for r in group] != runs and sorted(map(id, sum(groups, []))) == sorted(map(id, runs))
    assert groups[0] == [runs[0], runs[2]]  # lr 0.1, seed 0: lams 0.4 then 0.2


def test_noise_besides_dropout_cannot_be_batched_and_the_runner_falls_back_with_a_notice(tmp_path: Path) -> None:
    task = task_of(tmp_path, NOISY_DROPOUT)
    assert "class Noisy" in NOISY_DROPOUT
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1, seed=0)
    with pytest.raises(CannotBatch, match="random numbers outside its dropout layers"):
        train_batched(task, config, REPLICAS)
    settings = ProbeSettings(lrs=(0.1,), seeds=(0,), horizon=1.0, probe_budget=100, lambdas=(0.4, 0.2),
                             early_stop=False)
    notices: list[str] = []
    records: list[dict] = []
    results = run_probes(task, plan_probes(settings), config, settings, records.append, replicas=8,
                         notice=notices.append)
    assert [r.status for r in results] == ["finished", "finished"]
    assert len(notices) == 1 and "one lam at a time" in notices[0] and "outside its dropout" in notices[0]
    assert [r["type"] for r in records].count("end") == 2


@pytest.mark.parametrize("body,form", [(CUSTOM_BN_SHIFT, "vmap"), (TINY_MODEL, "packed")], ids=["custom-bn", "mlp"])
def test_probes_say_when_their_stack_fell_to_vmap_and_why(tmp_path: Path, body: str, form: str) -> None:
    task = task_of(tmp_path, body)
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1, seed=0)
    forms: list[str] = []
    train_batched(task, config, REPLICAS[:2], on_stack=lambda stacked: forms.append(stacked.kind))
    assert forms == [form]
    settings = ProbeSettings(lrs=(0.1,), seeds=(0, 1), horizon=1.0, probe_budget=100, lambdas=(0.4, 0.2),
                             early_stop=False)
    notices: list[str] = []
    results = run_probes(task, plan_probes(settings), config, settings, lambda record: None, replicas=2,
                         notice=notices.append)  # 4 probes in stacks of 2: the same sentence twice, said once
    assert [r.status for r in results] == ["finished"] * 4
    if form == "vmap":  # naming why the packed and folded forms did not fit
        assert len(notices) == 1 and "vmap" in notices[0]
        assert "packed: Residual is not an nn.Sequential" in notices[0]
        assert "folded: parameters outside" in notices[0] and "(shift: only a free tensor" in notices[0]
    else:
        assert notices == []


def test_cli_batched_probes_write_the_same_curves(tmp_path: Path) -> None:
    model = write_model(tmp_path, TINY_MODEL)
    args = ["--lambdas", "0.4,0.2,0.1", "--horizon", "1", "--seeds", "0,1", "--device", "cpu"]
    runner = CliRunner()
    for name, flag in (("one", "--no-batched"), ("stack", "--batched")):
        result = runner.invoke(app, ["probe", str(model), "--out", str(tmp_path / name), flag, *args])
        assert result.exit_code == 0, result.output
    one, stack = (read_results(results_path(tmp_path / name)).runs for name in ("one", "stack"))
    assert set(one) == set(stack) and all(state.done for state in stack.values())
    for run_id, state in one.items():
        mine = stack[run_id]
        assert (mine.status, mine.end["steps"]) == (state.status, state.end["steps"])
        assert [e["step"] for e in mine.evals] == [e["step"] for e in state.evals]
        assert [e["val_loss"] for e in mine.evals] == pytest.approx([e["val_loss"] for e in state.evals], rel=1e-5)


# One linear layer and a loss that is always 0: only the weight decay moves the weights, and with
# lr*lam = 100 they grow 99-fold a step. Their squared norm overflows (|w| > ~1e19) ten steps
# before the outputs do, so the training loss stays finite while the weights have diverged.
LINEAR_ZERO_LOSS = TINY_MODEL.replace("nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))",
                                      "nn.Sequential(nn.Linear(8, 4))") + '''
def loss(outputs, targets):
    return outputs.sum() * 0.0
'''


def test_a_replica_whose_weight_norm_overflows_ends_diverged_at_that_evaluation(tmp_path: Path) -> None:
    task = task_of(tmp_path, LINEAR_ZERO_LOSS)
    config = TrainConfig(lr=1.0, batch_size=32, max_steps=1, eval_every=1, seed=0)
    replicas = [Replica(100.0, 40, 1), Replica(0.01, 40, 1)]
    results = train_batched(task, config, replicas)
    assert [r.status for r in results] == ["diverged", "finished"]
    records = results[0].records
    first_inf = next(r["step"] for r in records if math.isinf(r["weight_norm_sq"]))
    assert results[0].steps == first_inf == records[-1]["step"] < 20  # ended at the first infinite norm
    assert all(math.isfinite(r["train_loss"]) for r in records[1:])  # the loss alone never told (step 0: none)
    assert_same_runs(results, task, config, replicas)
