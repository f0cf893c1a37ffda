"""The stacked step's fast paths give what the plain ones give: weight gradients in the weights'
memory layout, updates that do not depend on a gradient's layout, one gather for every seed's
batch, an evaluation table equal to `eval_due`, and predictions equal to argmax."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.training import batches as batches_module
from l2advisor.training.batched import Replica, _evaluations, train_batched
from l2advisor.training.batches import ResidentBatches, SeedBatches
from l2advisor.training.eval_schedule import eval_due
from l2advisor.training.interval import predicted_classes
from l2advisor.training.replicas import PackedStacked
from l2advisor.training.stacked_optim import StackedOptimizer
from l2advisor.training.train import TrainConfig, build_seeded_model
from tests.conftest import TINY_MODEL, write_model

MLP_BN = TINY_MODEL.replace("nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))",
                            "nn.Sequential(nn.Linear(8, 32, bias=False), nn.BatchNorm1d(32), nn.ReLU(), "
                            "nn.Linear(32, 16), nn.ReLU(), nn.Linear(16, 4))")


def models_of(tmp_path: Path, body: str, seeds: tuple[int, ...]) -> list[torch.nn.Module]:
    task = build_task(load_spec(write_model(tmp_path, body), {}))
    return [build_seeded_model(task, seed, torch.device("cpu")) for seed in seeds]


@pytest.mark.parametrize("body", [TINY_MODEL, MLP_BN], ids=["mlp", "mlp-bn"])
@pytest.mark.parametrize("per_replica", [False, True])
def test_packed_linears_give_each_models_outputs_and_gradients(tmp_path: Path, body: str, per_replica: bool) -> None:
    models = models_of(tmp_path, body, (0, 1, 2))
    x = torch.randn(3, 16, 8) if per_replica else torch.randn(16, 8)
    stacked = PackedStacked(models)
    out = stacked(x, True, per_replica=per_replica)  # (K, B, 4)
    grads = torch.autograd.grad(out.square().sum(), list(stacked.params.values()))
    for k, model in enumerate(models):
        mine = copy.deepcopy(model).train()
        reference = mine(x[k] if per_replica else x)
        torch.testing.assert_close(out[k], reference, rtol=1e-5, atol=1e-5)
        theirs = torch.autograd.grad(reference.square().sum(), list(mine.parameters()))
        for g, t in zip(grads, theirs, strict=True):
            torch.testing.assert_close(g[k], t, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("transposed", [True, False])
def test_linears_between_replicas_give_weight_gradients_in_the_weights_layout(tmp_path: Path,
                                                                             transposed: bool) -> None:
    # the point of replica_linear: an update of a row-major weight with a transposed gradient
    # ran 10x slower; features first, the layer before a batch norm gets it too
    stacked = PackedStacked(models_of(tmp_path, MLP_BN, (0, 1, 2)), features_first=transposed)
    out = stacked(torch.randn(3, 16, 8), True, per_replica=True)
    names = list(stacked.params)
    grads = dict(zip(names, torch.autograd.grad(out.sum(), list(stacked.params.values())), strict=True))
    for name in ("0.weight", "3.weight", "5.weight"):
        assert (grads[name].stride() == stacked.params[name].stride()) is transposed, name


MLP_BN2 = TINY_MODEL.replace("nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))",
                             "nn.Sequential(nn.Linear(8, 32, bias=False), nn.BatchNorm1d(32), nn.ReLU(), "
                             "nn.Linear(32, 16, bias=False), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 4))")


@pytest.mark.parametrize("per_replica", [False, True])
def test_batch_norms_between_linears_keep_each_replicas_statistics(tmp_path: Path, per_replica: bool) -> None:
    # shared inputs: the first norm sees (B, K*32) channels, the second (1, K*16, B) features first
    models = models_of(tmp_path, MLP_BN2, (0, 1, 2))
    stacked = PackedStacked(models)
    x = torch.randn(3, 16, 8) if per_replica else torch.randn(16, 8)
    for _ in range(2):  # two training batches move the running statistics
        out = stacked(x, True, per_replica=per_replica)
        references = [model.train()(x[k] if per_replica else x) for k, model in enumerate(models)]
    for k, (model, reference) in enumerate(zip(models, references, strict=True)):
        torch.testing.assert_close(out[k], reference, rtol=1e-5, atol=1e-5)
        for name, buffer in model.named_buffers():
            torch.testing.assert_close(stacked.buffers[name][k], buffer, rtol=1e-5, atol=1e-6, msg=name)
    with torch.no_grad():  # evaluation: each norm folded into the linear before it
        evaluated = stacked(x, False, per_replica=per_replica)
        for k, model in enumerate(models):
            torch.testing.assert_close(evaluated[k], model.eval()(x[k] if per_replica else x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("optimizer,momentum", [("sgd", 0.0), ("sgd", 0.9), ("adamw", 0.0)])
def test_an_update_does_not_depend_on_the_gradients_memory_layout(optimizer: str, momentum: float) -> None:
    config = TrainConfig(lr=0.05, batch_size=4, max_steps=1, eval_every=1, seed=0, optimizer=optimizer,
                         momentum=momentum)
    start = torch.randn(3, 5, 7)
    gradients = [torch.randn(3, 5, 7) for _ in range(3)]
    finals = []
    for transposed in (False, True):
        params = {"w": start.clone().requires_grad_()}
        opt = StackedOptimizer(params, [0.0, 0.01, 0.1], config)
        for g in gradients:
            given = g.transpose(1, 2).contiguous().transpose(1, 2) if transposed else g.clone()
            assert given.is_contiguous() is not transposed
            opt.step(params, [given])
        finals.append(params["w"].detach())
    assert torch.equal(finals[0], finals[1])
    assert not torch.equal(finals[0], start)


class _Run:  # what SeedBatches reads of a stacked run: its live replicas
    def __init__(self, live: list[int]) -> None:
        self.live = live


@pytest.mark.parametrize("chunk_steps", [32, 3, 1])
def test_one_gather_gives_every_live_replica_its_seeds_batch(monkeypatch: pytest.MonkeyPatch,
                                                             chunk_steps: int) -> None:
    inputs, targets = torch.randn(50, 3, 2), torch.arange(50)
    seeds = [4, 7, 4, 9]
    monkeypatch.setattr(batches_module, "MOST_CHUNK_STEPS", chunk_steps)  # replicas leave mid-chunk and at its ends
    streams = {s: ResidentBatches(inputs, targets, 8, s) for s in dict.fromkeys(seeds)}
    alone = {s: ResidentBatches(inputs, targets, 8, s) for s in dict.fromkeys(seeds)}  # the reference
    run = _Run([0, 1, 2, 3])
    batches = SeedBatches(streams, seeds, run)
    assert batches.rows is not None  # the gather path, not the per-seed stacking
    for step in range(14):  # past an epoch's end (6 batches of 8 from 50), replicas leaving
        if step == 5:
            run.live = [1, 2, 3]
        if step == 9:
            run.live = [2]  # seeds 7 and 9 leave: they are no longer drawn
        x, y = next(batches)
        expected = {s: next(alone[s]) for s in dict.fromkeys(seeds[i] for i in run.live)}
        assert x.shape == (len(run.live), 8, 3, 2)
        for pos, i in enumerate(run.live):
            assert torch.equal(x[pos], expected[seeds[i]][0]) and torch.equal(y[pos], expected[seeds[i]][1])


@pytest.mark.parametrize("rows,batch", [(50, 8), (48, 8), (5, 8)], ids=["remainder", "exact", "tiny"])
def test_the_next_batches_at_once_are_the_next_batches_one_by_one(rows: int, batch: int) -> None:
    inputs, targets = torch.randn(rows, 2), torch.arange(rows)
    together, alone = ResidentBatches(inputs, targets, batch, 3), ResidentBatches(inputs, targets, batch, 3)
    for count in (1, 4, 9, 2, 13):  # across several epochs' ends
        index = together.next_indices(count)
        assert index.shape == (count, min(batch, rows))
        for row in index:
            assert torch.equal(row, alone.next_index())


def test_the_evaluation_table_is_eval_due_for_every_replica() -> None:
    replicas = [Replica(0.1, 400, 7), Replica(0.05, 800, 0, eval_per_decade=8), Replica(0.05, 800, 0, 8),
                Replica(0.01, 1000, 50, eval_per_decade=12)]
    table = _evaluations(replicas)
    for step in range(1, 1001):
        expected = {i for i, r in enumerate(replicas) if step <= r.max_steps
                    and eval_due(step, r.eval_every, r.max_steps, r.eval_per_decade)}
        assert table.get(step, set()) == expected, step


def test_predictions_are_the_first_maximal_class_whatever_the_layout() -> None:
    logits = torch.randn(3, 4, 16).transpose(1, 2)  # (K, B, classes), classes not contiguous
    logits[0, 0, :] = 1.0  # a tie: the first index wins, as with argmax
    assert torch.equal(predicted_classes(logits), logits.contiguous().argmax(-1))
    assert predicted_classes(logits)[0, 0] == 0


def test_the_lazy_interval_gives_the_eager_means_per_replica_through_takes_and_drops() -> None:
    from l2advisor.training.interval import Interval

    gen = torch.Generator().manual_seed(0)
    interval = Interval(4, classify=True, device=torch.device("cpu"))
    live = [0, 1, 2, 3]  # replica at each stack position
    loss, steps, right, seen = [0.0] * 4, [0] * 4, [0] * 4, [0] * 4  # eager reference, per replica
    for step in range(150):  # past COMPACT_EVERY twice
        k = len(live)
        losses, outputs = torch.rand(k, generator=gen), torch.randn(k, 8, 5, generator=gen)
        targets = torch.randint(0, 5, (k, 8), generator=gen) if step % 2 else torch.randint(0, 5, (8,), generator=gen)
        interval.add(losses, outputs, targets)
        for pos, i in enumerate(live):
            truth = targets[pos] if targets.dim() == 2 else targets
            loss[i] += float(losses[pos])
            steps[i] += 1
            right[i] += int((outputs[pos].argmax(-1) == truth).sum())
            seen[i] += 8
        if step in (40, 100, 149):  # replica at position 1 evaluates; at 100 it also leaves
            got_loss, got_acc = interval.take(torch.tensor([1]))
            i = live[1]
            assert got_loss[0] == pytest.approx(loss[i] / steps[i], rel=1e-5)
            assert got_acc[0] == pytest.approx(right[i] / seen[i])
            loss[i], steps[i], right[i], seen[i] = 0.0, 0, 0, 0
            if step == 100:
                interval.keep(torch.tensor([0, 2, 3]))
                live = [0, 2, 3]
    got_loss, got_acc = interval.take(torch.arange(len(live)))
    for pos, i in enumerate(live):
        if seen[i]:
            assert got_loss[pos] == pytest.approx(loss[i] / steps[i], rel=1e-5)
            assert got_acc[pos] == pytest.approx(right[i] / seen[i])
        else:  # just taken at step 149: nothing since
            assert got_loss[pos] != got_loss[pos] and got_acc[pos] != got_acc[pos]  # NaN
    assert all(x != x for x in interval.take(torch.tensor([0]))[0])  # taken: reset, no step since


def test_the_lazy_interval_has_no_accuracy_without_classes() -> None:
    from l2advisor.training.interval import Interval

    interval = Interval(2, classify=False, device=torch.device("cpu"))
    interval.add(torch.tensor([0.5, 0.25]), torch.randn(2, 4, 1), torch.randn(2, 4))
    losses, accuracy = interval.take(torch.arange(2))
    assert losses == [0.5, 0.25] and all(a != a for a in accuracy)  # NaN


REGRESSION = '''
import torch
from torch import nn
from torch.utils.data import TensorDataset

lr = 0.05
batch_size = 16

def _data(n, seed):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return TensorDataset(x, (x[:, :2].sum(1, keepdim=True) + 0.1 * torch.randn(n, 1, generator=g)))

def loss(outputs, targets):
    return torch.nn.functional.mse_loss(outputs, targets)

def metric(outputs, targets):
    return -float(torch.nn.functional.mse_loss(outputs, targets))

def build_model():
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 1))

def build_data():
    return _data(128, 0), _data(64, 1)
'''


def test_a_regression_model_of_several_seeds_in_one_stack_matches_sequential_runs(tmp_path: Path) -> None:
    # custom loss and metric, float targets (K, B, 1) through the gather: no accuracy, every record as train()'s
    from tests.training.test_batched import assert_same_runs

    task = build_task(load_spec(write_model(tmp_path, REGRESSION), {}))
    config = TrainConfig(lr=0.05, batch_size=16, max_steps=1, eval_every=1, seed=0)
    replicas = [Replica(0.05, 24, 4, seed=3), Replica(0.01, 40, 8, seed=5), Replica(0.01, 30, 5, seed=3)]
    batched = train_batched(task, config, replicas)
    assert all(r.records[-1]["train_acc"] != r.records[-1]["train_acc"] for r in batched)  # NaN
    assert_same_runs(batched, task, config, replicas)
