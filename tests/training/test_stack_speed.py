"""Probes time a stacked step before the first and train one by one where the stack is dearer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.probing.plan import ProbeSettings, plan_probes
from l2advisor.probing.probe import run_probes
from l2advisor.training.batched import Replica, per_replica_loss, train_batched
from l2advisor.training.replicas import stack_replicas
from l2advisor.training.stack_speed import DEARER, StackSpeed, stack_speed
from l2advisor.training.train import TrainConfig, build_seeded_model, train
from tests.conftest import TINY_MODEL, write_model

# a custom parameter outside any layer: the stack goes through vmap, where the parameter is a
# batched tensor; the model sleeps in the forward of one way of running it only
GATED = TINY_MODEL.replace("def build_model():\n    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))", '''
import time
from torch._C._functorch import is_batchedtensor

SLOW_WHEN_STACKED = {slow_when_stacked}

class Gated(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(8, 32)
        self.out = nn.Parameter(torch.randn(4, 32) * 0.2)
    def forward(self, x):
        if is_batchedtensor(self.out) == SLOW_WHEN_STACKED:
            time.sleep(0.02)
        return torch.relu(self.hidden(x)) @ self.out.T

def build_model():
    return Gated()''')
# batch norm (running statistics) and dropout (the global generator) in a module that stacks through vmap
NORMED_DROPOUT = TINY_MODEL.replace("def build_model():\n    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))", '''
class Normed(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(8, 32)
        self.norm = nn.BatchNorm1d(32)
        self.drop = nn.Dropout(0.3)
        self.out = nn.Linear(32, 4)
        self.shift = nn.Parameter(torch.zeros(32))
    def forward(self, x):
        return self.out(self.drop(torch.relu(self.norm(self.hidden(x)) + self.shift)))

def build_model():
    return Normed()''')
SETTINGS = ProbeSettings(lrs=(0.1,), seeds=(0, 1), horizon=1.0, probe_budget=100, lambdas=(0.4, 0.2),
                         early_stop=False)


def task_of(tmp_path: Path, body: str) -> Any:
    return build_task(load_spec(write_model(tmp_path, body)))


def timed(task: Any, seeds: tuple[int, ...]) -> StackSpeed:
    models = [build_seeded_model(task, seed, torch.device("cpu")) for seed in seeds]
    inputs = torch.stack([task.train[i][0] for i in range(32)])
    targets = torch.stack([task.train[i][1] for i in range(32)])
    stacked = stack_replicas(models, inputs[:16], per_replica=len(set(seeds)) > 1)
    return stack_speed(stacked, models[0], inputs, targets, len(set(seeds)) > 1,
                       lambda outputs, y, own: per_replica_loss(task, outputs, y, own))


def test_the_margin_reads_the_stacked_step_against_the_replicas_steps_one_by_one() -> None:
    assert StackSpeed(6, 3.0, 0.25).ratio == pytest.approx(2.0) and StackSpeed(6, 3.0, 0.25).dearer
    assert not StackSpeed(6, 0.25 * 6 * DEARER * 0.99, 0.25).dearer  # within the margin: the stack stays
    assert "a stacked step of 6 replicas took 3 s, more than 6 steps of one model (1.5 s)" in \
        StackSpeed(6, 3.0, 0.25).words()


def test_a_stack_dearer_than_one_by_one_is_timed_so_and_its_probes_train_one_by_one(tmp_path: Path) -> None:
    task = task_of(tmp_path, GATED.replace("{slow_when_stacked}", "True"))
    speed = timed(task, (0, 0, 1, 1))
    assert speed.dearer and speed.stacked_seconds >= 0.02 > speed.single_seconds * 4
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1, seed=0)
    notices: list[str] = []
    records: list[dict] = []
    runs = plan_probes(SETTINGS)
    results = run_probes(task, runs, config, SETTINGS, records.append, replicas=8, notice=notices.append)
    assert len(notices) == 1 and notices[0].startswith("Probing one lam at a time: on this machine a stacked "
                                                       "step of 4 replicas took")
    assert sorted(r["run"] for r in records if r["type"] == "start") == sorted(run.run_id for run in runs)
    for run, result in zip(runs, results, strict=True):  # each exactly its own run: nothing stacked
        reference = train(task, TrainConfig(**{**config.__dict__, "max_steps": run.max_steps,
                                               "eval_every": run.eval_every, "seed": run.seed}), run.lam)
        assert [r["val_loss"] for r in result.records] == [r["val_loss"] for r in reference.records]


def test_a_stack_cheaper_than_one_by_one_still_trains_stacked(tmp_path: Path) -> None:
    task = task_of(tmp_path, GATED.replace("{slow_when_stacked}", "False"))  # one model sleeps, the stack not
    assert not timed(task, (0, 0, 1, 1)).dearer
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1, seed=0)
    notices: list[str] = []
    results = run_probes(task, plan_probes(SETTINGS), config, SETTINGS, lambda record: None, replicas=8,
                         notice=notices.append)
    assert [r.status for r in results] == ["finished"] * 4
    assert len(notices) == 1 and notices[0].startswith("Stacking model.py through vmap")


def test_timing_the_stack_leaves_its_training_exactly_as_untimed(tmp_path: Path) -> None:
    task = task_of(tmp_path, NORMED_DROPOUT)
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1, seed=0)
    replicas = [Replica(0.05, 12, 3, seed=0), Replica(0.01, 20, 5, seed=1), Replica(0.002, 16, 4, seed=1)]
    forms: list[str] = []
    runs = []
    for check in (False, True):
        torch.manual_seed(5)  # dropout's masks come from the global generator
        runs.append(train_batched(task, config, replicas, speed_check=check,
                                  on_stack=lambda stacked: forms.append(stacked.kind)))
    assert forms == ["vmap", "vmap"]
    for untimed, timed_run in zip(*runs, strict=True):
        assert len(untimed.records) > 2
        assert _numbers(timed_run.records) == _numbers(untimed.records)


def _numbers(records: list[dict]) -> list[str]:
    """Each record but its clock, as text (NaN, a step-0 record's training loss, equals itself)."""
    return [repr({k: v for k, v in r.items() if k != "seconds"}) for r in records]


def test_a_model_that_fails_on_a_full_batch_is_reported_by_its_first_step_not_by_the_timing(tmp_path: Path) -> None:
    # the stack's checks run 16 examples, the timing and the steps a batch of 32
    body = GATED.replace("{slow_when_stacked}", "None").replace(
        "    def forward(self, x):\n", "    def forward(self, x):\n        assert x.shape[-2] <= 16, 'at most 16 rows'\n")
    task = task_of(tmp_path, body)
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1, seed=0)
    notices: list[str] = []
    records: list[dict] = []
    results = run_probes(task, plan_probes(SETTINGS), config, SETTINGS, records.append, replicas=8,
                         notice=notices.append)
    assert [r.status for r in results] == ["failed"] * 4
    assert all("AssertionError: at most 16 rows" in r.message and "of model.py" in r.message for r in results)
    assert not any("one lam at a time" in n for n in notices)


def test_a_failure_of_the_timing_itself_is_an_internal_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import l2advisor.training.stack_speed as speed_module

    def broken(*args: Any) -> float:
        raise ZeroDivisionError("a bug in the timing")

    monkeypatch.setattr(speed_module, "_seconds", broken)
    task = task_of(tmp_path, TINY_MODEL)
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=1, eval_every=1, seed=0)
    with pytest.raises(ZeroDivisionError, match="a bug in the timing"):
        run_probes(task, plan_probes(SETTINGS), config, SETTINGS, lambda record: None, replicas=8)


def test_the_weight_norm_counts_the_trained_weights_alone_one_by_one_as_stacked(tmp_path: Path) -> None:
    # a frozen first layer: neither trained nor decayed, so not in the norm that tracks the decay
    body = TINY_MODEL.replace("return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))",
                              "m = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))\n"
                              "    m[0].requires_grad_(False)\n    return m")
    task = task_of(tmp_path, body)
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=6, eval_every=3, seed=0)
    alone = train(task, config, 0.05)
    model = build_seeded_model(task, 0, torch.device("cpu"))
    trained_only = sum(float((p ** 2).sum()) for p in model[2].parameters())
    assert alone.records[0]["weight_norm_sq"] == pytest.approx(trained_only, rel=1e-6)
    assert trained_only < 0.5 * sum(float((p ** 2).sum()) for p in model.parameters())  # the frozen layer's is larger
    stacked = train_batched(task, config, [Replica(0.05, 6, 3), Replica(0.01, 6, 3)])[0]
    assert [r["weight_norm_sq"] for r in stacked.records] == \
        pytest.approx([r["weight_norm_sq"] for r in alone.records], rel=1e-5)
