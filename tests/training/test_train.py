"""The training loop against references: exact decay factors, the tau clock, curve records."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.training.train import TrainConfig, make_optimizer, train
from tests.conftest import TINY_MODEL, write_model

ZERO_LOSS_MODEL = TINY_MODEL + '''
def loss(outputs, targets):
    return outputs.sum() * 0.0   # gradients are exactly zero: only weight decay moves weights
'''


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_one_step_with_zero_gradient_shrinks_by_exactly_one_minus_lr_lam(tmp_path: Path, optimizer: str) -> None:
    task = build_task(load_spec(write_model(tmp_path, ZERO_LOSS_MODEL), {"optimizer": optimizer}))
    lr, lam = 0.1, 0.3
    config = TrainConfig(lr=lr, batch_size=32, max_steps=1, eval_every=1, optimizer=optimizer)
    torch.manual_seed(0)
    model = task.spec.build_model()
    before = [p.detach().clone() for p in model.parameters()]
    opt = make_optimizer(model, config, lam)
    out = model(torch.randn(4, 8))
    loss = task.spec.loss(out, torch.zeros(4, dtype=torch.long))
    opt.zero_grad()
    loss.backward()
    opt.step()
    for old, new in zip(before, model.parameters(), strict=True):
        torch.testing.assert_close(new.detach(), old * (1 - lr * lam), rtol=0, atol=1e-7)


def test_training_loop_shrinks_weights_geometrically_and_tau_sums_lr_lam(tmp_path: Path) -> None:
    task = build_task(load_spec(write_model(tmp_path, ZERO_LOSS_MODEL)))
    lr, lam, steps = 0.1, 0.05, 20
    config = TrainConfig(lr=lr, batch_size=32, max_steps=steps, eval_every=5, seed=3)
    result = train(task, config, lam)
    assert result.status == "finished" and result.steps == steps
    first, last = result.records[0], result.records[-1]
    assert [r["step"] for r in result.records] == [0, 5, 10, 15, 20]
    assert last["tau"] == pytest.approx(lr * lam * steps, rel=1e-12)
    # ||w||^2 shrinks by (1 - lr*lam)^2 per step
    expected = first["weight_norm_sq"] * (1 - lr * lam) ** (2 * steps)
    assert last["weight_norm_sq"] == pytest.approx(expected, rel=1e-5)


def test_tau_follows_a_learning_rate_schedule(tiny_model: Path) -> None:
    task = build_task(load_spec(tiny_model))
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=10, eval_every=10)
    rates = [0.1 / (1 + s) for s in range(10)]
    result = train(task, config, 0.01, lr_at=lambda step: rates[step])
    assert result.records[-1]["tau"] == pytest.approx(sum(r * 0.01 for r in rates), rel=1e-12)


def test_records_have_every_field_and_learn(tiny_model: Path) -> None:
    task = build_task(load_spec(tiny_model))
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=60, eval_every=20, seed=0)
    result = train(task, config, 0.001)
    keys = {"step", "tau", "lam", "lr", "train_loss", "train_acc", "val_loss", "val_metric",
            "weight_norm_sq", "seconds"}
    assert all(keys <= set(r) for r in result.records)
    assert math.isnan(result.records[0]["train_loss"])  # no training steps before step 0
    assert result.records[-1]["val_metric"] > result.records[0]["val_metric"]
    assert 0.0 <= result.records[-1]["train_acc"] <= 1.0


def test_same_seed_same_curve_and_data_order(tiny_model: Path) -> None:
    task = build_task(load_spec(tiny_model))
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=30, eval_every=10, seed=7)
    a, b = train(task, config, 0.01), train(task, config, 0.01)
    assert [r["val_loss"] for r in a.records] == [r["val_loss"] for r in b.records]


def test_decay_1d_false_leaves_biases_undecayed() -> None:
    model = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3))
    config = TrainConfig(lr=0.1, batch_size=4, max_steps=1, eval_every=1, decay_1d=False)
    opt = make_optimizer(model, config, 0.5)
    decayed = {id(p) for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    assert decayed == {id(model[0].weight)}


def test_nan_loss_is_diverged_with_step(tmp_path: Path) -> None:
    body = TINY_MODEL + '''
_calls = [0]
def loss(outputs, targets):
    _calls[0] += 1
    base = torch.nn.functional.cross_entropy(outputs, targets)
    return base * float("nan") if _calls[0] > 12 else base
'''
    task = build_task(load_spec(write_model(tmp_path, body)))
    result = train(task, TrainConfig(lr=0.1, batch_size=32, max_steps=100, eval_every=5), 0.01)
    assert result.status == "diverged" and result.steps < 100
    assert result.records[-1]["step"] == result.steps and math.isnan(result.records[-1]["train_loss"])


def test_model_raising_mid_run_is_failed_with_message(tmp_path: Path) -> None:
    body = TINY_MODEL.replace("def build_model():\n    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))", '''
class Flaky(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
        self.calls = 0
    def forward(self, x):
        self.calls += 1
        if self.calls > 30:
            raise RuntimeError("GPU fell over")
        return self.net(x)

def build_model():
    return Flaky()''')
    task = build_task(load_spec(write_model(tmp_path, body)))
    result = train(task, TrainConfig(lr=0.1, batch_size=32, max_steps=100, eval_every=5), 0.01)
    assert result.status == "failed" and "GPU fell over" in result.message and result.steps < 100


def test_interval_accuracy_counts_across_compactions() -> None:
    from l2advisor.training.interval import COMPACT_EVERY, Interval

    gen = torch.Generator().manual_seed(0)
    batches = [(torch.randn(8, 5, generator=gen), torch.randint(0, 5, (8,), generator=gen))
               for _ in range(2 * COMPACT_EVERY + 3)]  # two compactions and a remainder
    interval = Interval(1, classify=True, device=torch.device("cpu"))  # one run, as train() keeps it
    for outputs, targets in batches:
        interval.add(torch.tensor([1.5]), outputs.unsqueeze(0), targets.unsqueeze(0))
    correct = sum(int((o.argmax(1) == t).sum()) for o, t in batches)
    (loss,), (accuracy,) = interval.take()
    assert accuracy == pytest.approx(correct / (8 * len(batches)))
    assert loss == pytest.approx(1.5)
    cpu = torch.device("cpu")
    assert math.isnan(Interval(1, True, cpu).take()[1][0]) and math.isnan(Interval(1, False, cpu).take()[0][0])
