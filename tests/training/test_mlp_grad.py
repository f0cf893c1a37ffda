"""An MLP's stacked step with its gradients written by hand (mlp_grad.py) gives autograd's
losses, logits and gradients, on shared and on per-replica batches; models it does not describe
keep autograd; and the stacked trainer uses it only where it was checked."""

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
    losses, logits, grads = mlp(stacked.params, x, y, per_replica)
    # the reference: each replica's own model, plain autograd
    for i, model in enumerate(models):
        xi, yi = (x[i], y[i]) if per_replica else (x, y)
        loss = F.cross_entropy(model(xi), yi)
        expected = torch.autograd.grad(loss, [p for p in model.parameters()])
        assert torch.allclose(losses[i], loss, atol=1e-6)
        assert torch.allclose(logits[i], model(xi), atol=1e-5)
        for grad, (pname, _), reference in zip(grads, stacked.params.items(), expected, strict=True):
            assert torch.allclose(grad[i], reference, atol=1e-6), pname
    assert mlp.check(stacked.params, stacked, x, y, per_replica)


def test_a_wrong_gradient_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    build, d = MODELS["flatten, two layers"]
    models, stacked = _stack(build, 2, False, d)
    mlp = MlpGrad.of(models[0], stacked.params)
    x, y = torch.randn(32, d), torch.randint(0, 5, (32,))
    assert mlp is not None and mlp.check(stacked.params, stacked, x, y, False)
    right = MlpGrad.__call__

    def doubled_bias_grad(self, params, inputs, labels, per_replica):  # noqa: ANN001, ANN202
        losses, logits, grads = right(self, params, inputs, labels, per_replica)
        return losses, logits, [g * 2 if g.dim() == 2 else g for g in grads]

    monkeypatch.setattr(MlpGrad, "__call__", doubled_bias_grad)
    assert not mlp.check(stacked.params, stacked, x, y, False)


@pytest.mark.parametrize("build", [
    lambda: nn.Sequential(nn.Linear(12, 8), nn.GELU(), nn.Linear(8, 5)),  # its derivative needs its input
    lambda: nn.Sequential(nn.Linear(12, 8), nn.LeakyReLU(-0.5), nn.Linear(8, 5)),  # a negative slope: not from a
    lambda: nn.Sequential(nn.Linear(12, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 5)),  # batch norm
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
