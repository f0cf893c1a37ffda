"""The stacked optimizer against torch.optim run one replica at a time: SGD (with and without
momentum) and AdamW, decayed and undecayed parameters, a changing learning rate, and replicas
leaving the stack mid-run."""

from __future__ import annotations

import pytest
import torch

from l2advisor.training.stacked_optim import StackedOptimizer
from l2advisor.training.train import TrainConfig

LAMS = [0.0, 0.02, 0.3, 1.5]
RATES = [0.05, 0.05, 0.02, 0.08, 0.01, 0.03, 0.03, 0.06]  # a learning rate per step, changing


def reference(kind: str, momentum: float, lam: float, weight: torch.Tensor, bias: torch.Tensor,
              decay_1d: bool) -> tuple[torch.optim.Optimizer, list[torch.Tensor]]:
    """torch.optim on one replica: the bias decayed only with decay_1d."""
    params = [weight.clone().requires_grad_(), bias.clone().requires_grad_()]
    groups = [{"params": [params[0]], "weight_decay": lam},
              {"params": [params[1]], "weight_decay": lam if decay_1d else 0.0}]
    if kind == "adamw":
        opt: torch.optim.Optimizer = torch.optim.AdamW(groups, lr=RATES[0], foreach=False)
    else:
        opt = torch.optim.SGD(groups, lr=RATES[0], momentum=momentum, foreach=False)
    return opt, params


@pytest.mark.parametrize("decay_1d", [False, True])
@pytest.mark.parametrize("kind,momentum", [("sgd", 0.0), ("sgd", 0.9), ("adamw", 0.0)])
def test_each_replica_steps_as_torch_optim_steps_it_alone(kind: str, momentum: float, decay_1d: bool) -> None:
    gen = torch.Generator().manual_seed(0)
    k = len(LAMS)
    weight, bias = torch.randn(k, 5, 7, generator=gen), torch.randn(k, 5, generator=gen)
    config = TrainConfig(lr=RATES[0], batch_size=4, max_steps=1, eval_every=1, optimizer=kind, momentum=momentum,
                         decay_1d=decay_1d)
    params = {"w": weight.clone().requires_grad_(), "b": bias.clone().requires_grad_()}
    stacked = StackedOptimizer(params, LAMS, config)
    alone = [reference(kind, momentum, lam, weight[i], bias[i], decay_1d) for i, lam in enumerate(LAMS)]
    live = list(range(k))
    for step, lr in enumerate(RATES):
        if step == 4:  # replicas 0 and 2 leave: the others keep their own state
            live = [1, 3]
            keep = torch.tensor([1, 3])
            params = {n: p.detach()[keep].clone().requires_grad_() for n, p in params.items()}
            stacked.select(keep, params)
        grads = [torch.randn(len(live), 5, 7, generator=gen), torch.randn(len(live), 5, generator=gen)]
        stacked.set_lr(lr, params)
        stacked.step(params, [g.clone() for g in grads])
        for pos, i in enumerate(live):
            opt, (w, b) = alone[i]
            for group in opt.param_groups:
                group["lr"] = lr
            w.grad, b.grad = grads[0][pos].clone(), grads[1][pos].clone()
            opt.step()
            torch.testing.assert_close(params["w"][pos].detach(), w.detach(), rtol=1e-6, atol=1e-7)
            torch.testing.assert_close(params["b"][pos].detach(), b.detach(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind,momentum", [("sgd", 0.0), ("sgd", 0.9), ("adamw", 0.0)])
def test_a_parameter_without_a_gradient_is_left_alone_decay_included(kind: str, momentum: float) -> None:
    # torch.optim skips a parameter whose grad is None: no decay, no momentum step
    config = TrainConfig(lr=0.1, batch_size=4, max_steps=1, eval_every=1, optimizer=kind, momentum=momentum)
    params = {"w": torch.randn(2, 3, 4).requires_grad_(), "v": torch.randn(2, 3, 4).requires_grad_()}
    before = params["v"].detach().clone()
    stacked = StackedOptimizer(params, [0.5, 0.1], config)
    for _ in range(3):
        stacked.step(params, [torch.randn(2, 3, 4), None])
    assert torch.equal(params["v"].detach(), before)
