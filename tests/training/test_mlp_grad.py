"""An MLP's stacked step with its gradients written by hand (mlp_grad.py) gives autograd's
losses, logits and gradients, and with batch norms their running statistics, on shared and on
per-replica batches; models it does not describe keep autograd; and the stacked trainer uses it
only where it was checked, training what one model at a time trains."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from l2advisor.training.mlp_grad import MlpGrad
from l2advisor.training.replicas import stack_replicas


def _stack(build, k: int, per_replica: bool, d: int):  # noqa: ANN001, ANN202
    models = []
    for seed in range(k):
        torch.manual_seed(seed)
        models.append(build())
    sample = torch.randn(16, d)
    return models, stack_replicas(models, sample, per_replica=per_replica)


MODELS = {
    "flatten, two layers": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 5)), 12),
    "three layers, nested": (lambda: nn.Sequential(nn.Linear(12, 8), nn.ReLU(),
                                                   nn.Sequential(nn.Linear(8, 8), nn.ReLU()), nn.Linear(8, 5)), 12),
    "no bias, two linears in a row": (lambda: nn.Sequential(nn.Linear(12, 8, bias=False), nn.Linear(8, 5)), 12),
    "tanh, sigmoid, leaky relu": (lambda: nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 8), nn.Sigmoid(),
                                                        nn.Linear(8, 8), nn.LeakyReLU(0.1), nn.Linear(8, 5)), 12),
    "batch norms": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(12, 8, bias=False), nn.BatchNorm1d(8), nn.ReLU(),
                                          nn.Linear(8, 8), nn.BatchNorm1d(8, momentum=0.3, eps=1e-3), nn.Tanh(),
                                          nn.Linear(8, 8), nn.BatchNorm1d(8), nn.Linear(8, 5)), 12),
}


@pytest.mark.parametrize("per_replica", [False, True])
@pytest.mark.parametrize("name", list(MODELS))
def test_losses_logits_and_gradients_are_autograds(name: str, per_replica: bool) -> None:
    build, d = MODELS[name]
    k = 3
    models, stacked = _stack(build, k, per_replica, d)
    mlp = MlpGrad.of(models[0], stacked.params)
    assert mlp is not None and stacked.kind == "packed"
    generator = torch.Generator().manual_seed(1)
    x = torch.randn((k, 32, d) if per_replica else (32, d), generator=generator)
    y = torch.randint(0, 5, (k, 32) if per_replica else (32,), generator=generator)
    before = {n: b.clone() for n, b in stacked.buffers.items()}
    assert mlp.check(stacked.params, stacked, x, y, per_replica)
    for n, b in stacked.buffers.items():  # the check leaves the running statistics as they were
        assert torch.equal(b, before[n]), n
    losses, logits, grads = mlp(stacked.params, stacked.buffers, x, y, per_replica)
    # the reference: each replica's own model in training mode, plain autograd
    for i, model in enumerate(models):
        xi, yi = (x[i], y[i]) if per_replica else (x, y)
        out = model.train()(xi)  # one forward: a batch norm's statistics move once, as in the step
        loss = F.cross_entropy(out, yi)
        expected = torch.autograd.grad(loss, [p for p in model.parameters()])
        assert torch.allclose(losses[i], loss, atol=1e-6)
        assert torch.allclose(logits[i], out, atol=1e-5)
        for grad, (pname, _), reference in zip(grads, stacked.params.items(), expected, strict=True):
            assert torch.allclose(grad[i], reference, atol=1e-6), pname
        for bname, buffer in model.named_buffers():
            assert torch.allclose(stacked.buffers[bname][i].double(), buffer.double(), atol=1e-6), bname


def test_a_wrong_gradient_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    build, d = MODELS["flatten, two layers"]
    models, stacked = _stack(build, 2, False, d)
    mlp = MlpGrad.of(models[0], stacked.params)
    x, y = torch.randn(32, d), torch.randint(0, 5, (32,))
    assert mlp is not None and mlp.check(stacked.params, stacked, x, y, False)
    right = MlpGrad.__call__

    def doubled_bias_grad(self, params, buffers, inputs, labels, per_replica):  # noqa: ANN001, ANN202
        losses, logits, grads = right(self, params, buffers, inputs, labels, per_replica)
        return losses, logits, [g * 2 if g.dim() == 2 else g for g in grads]

    monkeypatch.setattr(MlpGrad, "__call__", doubled_bias_grad)
    assert not mlp.check(stacked.params, stacked, x, y, False)


@pytest.mark.parametrize("build", [
    lambda: nn.Sequential(nn.Linear(12, 8), nn.GELU(), nn.Linear(8, 5)),  # its derivative needs its input
    lambda: nn.Sequential(nn.Linear(12, 8), nn.LeakyReLU(-0.5), nn.Linear(8, 5)),  # a negative slope: not from a
    lambda: nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8, affine=False), nn.Linear(8, 5)),  # no gamma, beta
    lambda: nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8, momentum=None), nn.Linear(8, 5)),  # cumulative average
    lambda: nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8, track_running_stats=False), nn.Linear(8, 5)),
    lambda: nn.Sequential(nn.BatchNorm1d(12), nn.Linear(12, 5)),  # a norm of the inputs, not of a linear's outputs
    lambda: nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.BatchNorm1d(8), nn.Linear(8, 5)),  # after an activation
    lambda: nn.Sequential(nn.Linear(12, 8), nn.ReLU()),  # ends with a ReLU
])
def test_other_models_keep_autograd(build) -> None:  # noqa: ANN001
    models, stacked = _stack(build, 2, False, 12)
    assert MlpGrad.of(models[0], stacked.params) is None


def test_a_frozen_layer_keeps_autograd() -> None:
    def build() -> nn.Module:
        model = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 5))
        model[0].weight.requires_grad_(False)
        return model
    models, stacked = _stack(build, 2, False, 12)
    assert MlpGrad.of(models[0], stacked.params) is None


def test_the_stacked_trainer_takes_an_mlps_steps_by_hand(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """tests/training/test_batched.py holds these runs equal to sequential ones; here, that an MLP's
    steps went through the hand-written gradients (all but the checked first), and that a model
    with a softmax-free custom loss did not."""
    from l2advisor.modelfile.spec import load_spec
    from l2advisor.modelfile.task import build_task
    from l2advisor.training.batched import Replica, train_batched
    from l2advisor.training.train import TrainConfig
    from tests.conftest import TINY_MODEL, write_model

    calls = []
    right = MlpGrad.__call__
    monkeypatch.setattr(MlpGrad, "__call__", lambda self, *a: calls.append(1) or right(self, *a))
    replicas = [Replica(0.05, 12, 3), Replica(0.01, 20, 5)]
    config = TrainConfig(lr=0.05, batch_size=16, max_steps=1, eval_every=1, seed=0)
    task = build_task(load_spec(write_model(tmp_path, TINY_MODEL)))
    results = train_batched(task, config, replicas)
    assert [r.status for r in results] == ["finished", "finished"]
    assert len(calls) == 20 + 1  # 20 steps, and the check of the first batch against autograd
    calls.clear()
    custom = TINY_MODEL + "\n\ndef loss(outputs, targets):\n    return torch.nn.functional.cross_entropy(outputs, targets)\n"
    other = tmp_path / "custom"
    other.mkdir()
    train_batched(build_task(load_spec(write_model(other, custom))), config, replicas)
    assert calls == []


def test_wrong_running_statistics_fail_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A step whose losses and gradients are right but whose batch norm forgets to move its running
    statistics would evaluate every probe with the initial ones: the check refuses it."""
    from l2advisor.training import mlp_grad

    build, d = MODELS["batch norms"]
    models, stacked = _stack(build, 2, True, d)
    mlp = MlpGrad.of(models[0], stacked.params)
    x, y = torch.randn(2, 32, d), torch.randint(0, 5, (2, 32))
    assert mlp is not None and mlp.check(stacked.params, stacked, x, y, True)
    right = mlp_grad._norm_forward

    def frozen_statistics(h, params, buffers, name, norm):  # noqa: ANN001, ANN202
        kept = {n: b.clone() for n, b in buffers.items()}
        out = right(h, params, buffers, name, norm)
        for n, b in buffers.items():
            b.copy_(kept[n])
        return out

    monkeypatch.setattr(mlp_grad, "_norm_forward", frozen_statistics)
    assert not mlp.check(stacked.params, stacked, x, y, True)




@pytest.mark.parametrize("optimizer,momentum", [("sgd", 0.0), ("sgd", 0.9), ("adamw", 0.0)])
def test_an_mlp_with_batch_norms_trains_by_hand_what_it_trains_alone(tmp_path, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
                                                                    optimizer: str, momentum: float) -> None:
    """Stacked (two seeds and three lams, by hand) against each run alone (`train`, autograd): the same
    losses and validation curves, which read the running statistics the steps moved."""
    from l2advisor.modelfile.spec import load_spec
    from l2advisor.modelfile.task import build_task
    from l2advisor.training.batched import Replica, train_batched
    from l2advisor.training.train import TrainConfig
    from tests.conftest import write_model
    from tests.training.test_batched import assert_same_runs
    from tests.training.test_step_layout import MLP_BN2  # two linears each followed by a batch norm

    calls = []
    right = MlpGrad.__call__
    monkeypatch.setattr(MlpGrad, "__call__", lambda self, *a: calls.append(1) or right(self, *a))
    task = build_task(load_spec(write_model(tmp_path, MLP_BN2), {"optimizer": optimizer, "momentum": momentum}))
    config = TrainConfig(lr=0.05 if optimizer == "sgd" else 0.003, batch_size=16, max_steps=1, eval_every=1, seed=0,
                         momentum=momentum, optimizer=optimizer, decay_1d=optimizer != "adamw")
    replicas = [Replica(0.05, 12, 3, seed=0), Replica(0.01, 20, 5, seed=0), Replica(0.05, 12, 3, seed=1),
                Replica(0.002, 16, 4, seed=1)]
    batched = train_batched(task, config, replicas)
    assert len(calls) == 20 + 1  # every step by hand, and the check of the first batch
    # Adam moves every coordinate by about lr whatever its gradient (test_batched.py says why)
    rel, flips = (2e-3, 0.02) if optimizer == "adamw" else (2e-5, 0.0)
    assert_same_runs(batched, task, config, replicas, rel=rel, flips=flips)


def test_a_failed_check_is_said_once_and_the_probes_train_through_autograd(tmp_path,  # noqa: ANN001
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A hand-written step that disagrees with autograd is a bug of ours: the user hears it in one
    sentence, and the stack trains through autograd what one model at a time trains."""
    from l2advisor.modelfile.spec import load_spec
    from l2advisor.modelfile.task import build_task
    from l2advisor.training.batched import Replica, train_batched
    from l2advisor.training.train import TrainConfig
    from tests.conftest import TINY_MODEL, write_model
    from tests.training.test_batched import assert_same_runs

    task = build_task(load_spec(write_model(tmp_path, TINY_MODEL)))
    config = TrainConfig(lr=0.05, batch_size=16, max_steps=1, eval_every=1, seed=0)
    replicas = [Replica(0.05, 12, 3), Replica(0.01, 20, 5)]
    notices: list[str] = []
    train_batched(task, config, replicas, notice=notices.append)
    assert notices == []  # a step that passes its check says nothing
    calls = []
    monkeypatch.setattr(MlpGrad, "check", lambda self, *a: False)
    monkeypatch.setattr(MlpGrad, "__call__", lambda self, *a: calls.append(1))
    batched = train_batched(task, config, replicas, notice=notices.append)
    assert len(notices) == 1 and "disagreed with autograd" in notices[0] and "bug of l2advisor" in notices[0]
    assert task.spec.path.name in notices[0] and calls == []
    assert_same_runs(batched, task, config, replicas)


def test_the_probe_command_says_when_the_check_failed(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from typer.testing import CliRunner

    from l2advisor.cli.app import app
    from tests.conftest import TINY_MODEL, write_model

    model = write_model(tmp_path, TINY_MODEL)
    monkeypatch.setattr(MlpGrad, "check", lambda self, *a: False)
    result = CliRunner().invoke(app, ["probe", str(model), "--budget", "200", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert said.count("disagreed with autograd's on the first batch, a bug of l2advisor") == 1, said
