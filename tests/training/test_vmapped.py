"""The stacked forward of the generic path (vmapped.py) against torch.func's vmap(functional_call)."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from l2advisor.training.vmapped import _torch_func_forward, vmapped_forward


class RowNormed(nn.Module):
    """A custom layer with a buffer, a frozen parameter and an in-place change of its weight in
    forward (the suite's negative control does the same)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(5, 8))
        self.scale = nn.Parameter(torch.tensor(1.5), requires_grad=False)
        self.register_buffer("row_norm", self.weight.detach().norm(dim=1, keepdim=True).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            self.weight.mul_(self.row_norm / self.weight.norm(dim=1, keepdim=True))
        return self.scale * torch.relu(x @ (self.weight / self.weight.norm(dim=1, keepdim=True)).T)


def _model() -> nn.Module:
    return nn.Sequential(RowNormed(), nn.Linear(5, 3))


def _stacks(models: list[nn.Module]) -> tuple[dict, dict]:
    names = [n for n, p in models[0].named_parameters() if p.requires_grad]
    params = {n: torch.stack([dict(m.named_parameters())[n].detach() for m in models]).requires_grad_()
              for n in names}
    buffers = {"0.scale": torch.stack([m[0].scale.detach() for m in models]),
               "0.row_norm": torch.stack([m[0].row_norm for m in models])}
    return params, buffers


@pytest.mark.parametrize("per_replica", [False, True])
def test_outputs_gradients_and_in_place_changes_equal_torch_funcs(per_replica: bool) -> None:
    torch.manual_seed(0)
    models = [_model() for _ in range(3)]
    for m in models:  # weights off their stored row norms: the forward's in-place rescaling has work to do
        with torch.no_grad():
            m[0].weight.mul_(1.3)
    x = torch.randn(3, 4, 8) if per_replica else torch.randn(4, 8)
    results = []
    for make in (vmapped_forward, _torch_func_forward):
        base = copy.deepcopy(models[0])
        params, buffers = _stacks(models)
        out = make(base, per_replica, False)(params, buffers, x)
        grads = torch.autograd.grad(out.square().sum(), list(params.values()))
        results.append((out.detach(), grads, params["0.weight"].detach().clone()))
    (out, grads, weight), (ref_out, ref_grads, ref_weight) = results
    assert out.shape == (3, 4, 3)
    torch.testing.assert_close(out, ref_out)
    for g, ref in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(g, ref)
    torch.testing.assert_close(weight, ref_weight)  # the in-place rescaling reached the stacked weights
    assert not torch.allclose(weight, _stacks(models)[0]["0.weight"])


def test_each_replica_gets_what_the_model_gives_with_its_own_weights() -> None:
    torch.manual_seed(1)
    models = [_model() for _ in range(2)]
    x = torch.randn(4, 8)
    params, buffers = _stacks(models)
    out = vmapped_forward(copy.deepcopy(models[0]), False, False)(params, buffers, x)
    for k, m in enumerate(models):
        torch.testing.assert_close(out[k], copy.deepcopy(m)(x).detach())


def test_the_models_own_tensors_are_back_after_a_call_and_after_a_failing_one() -> None:
    torch.manual_seed(2)
    models = [_model() for _ in range(2)]
    base = copy.deepcopy(models[0])
    own = {n: t for n, t in [*base.named_parameters(), *base.named_buffers()]}
    forward = vmapped_forward(base, False, False)
    params, buffers = _stacks(models)
    forward(params, buffers, torch.randn(4, 8))
    with pytest.raises(RuntimeError):
        forward(params, buffers, torch.randn(4, 7))  # a shape mistake inside the forward
    assert all(t is own[n] for n, t in [*base.named_parameters(), *base.named_buffers()])
    assert isinstance(base[0].weight, nn.Parameter)
    out = forward(params, buffers, torch.randn(4, 8))  # the failed call left no vmap level behind
    assert out.shape == (2, 4, 3)
    assert base(torch.randn(4, 8)).shape == (4, 3)  # and the model runs alone again


def test_names_left_out_keep_the_models_own_buffers() -> None:
    torch.manual_seed(3)
    models = [_model() for _ in range(2)]
    base = copy.deepcopy(models[0])
    params, buffers = _stacks(models)
    x = torch.randn(4, 8)
    without = vmapped_forward(base, False, False)(params, {}, x)
    reference = _torch_func_forward(copy.deepcopy(models[0]), False, False)(*_stacks(models)[:1], {}, x)
    torch.testing.assert_close(without, reference)


def test_a_random_op_in_forward_is_refused_as_torch_func_refuses_it() -> None:
    class Noisy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x) + torch.randn(2)

    models = [Noisy(), Noisy()]
    params = {n: torch.stack([dict(m.named_parameters())[n].detach() for m in models]) for n in ("linear.weight",
                                                                                               "linear.bias")}
    for make in (vmapped_forward, _torch_func_forward):
        with pytest.raises(RuntimeError, match="randomness"):
            make(Noisy(), False, False)(params, {}, torch.randn(3, 4))


def test_dropout_draws_each_replicas_own_masks_when_asked() -> None:
    """randomness="different" (a model with dropout, replicas.py): two identical replicas drop
    different units; both ways of vmapping."""
    model = nn.Sequential(nn.Linear(4, 256), nn.Dropout(0.5))
    params = {n: torch.stack([p.detach()] * 2) for n, p in model.named_parameters()}
    for make in (vmapped_forward, _torch_func_forward):
        with torch.no_grad():
            out = make(model, False, False, "different")(params, {}, torch.randn(3, 4))  # (2, 3, 256)
        dropped = out == 0
        assert 0.4 < float(dropped.float().mean()) < 0.6 and not torch.equal(dropped[0], dropped[1])


def test_a_forward_that_returns_no_tensor_is_told_so() -> None:
    class Pair(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.linear = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            return self.linear(x), x

    params = {n: torch.stack([p.detach()] * 2) for n, p in Pair().named_parameters()}
    with pytest.raises(TypeError, match="must return a Tensor"):
        vmapped_forward(Pair(), False, False)(params, {}, torch.randn(3, 4))


@pytest.mark.parametrize("mismatch", ["inputs", "parameter", "buffer"])
def test_stacks_of_another_replica_count_are_refused_as_torch_func_refuses_them(mismatch: str) -> None:
    """One replica's stack (size 1) against three broadcast silently: replica 0's batch or weight
    for all three, where torch.func's vmap refuses the mismatch."""
    torch.manual_seed(4)
    models = [_model() for _ in range(3)]
    params, buffers = _stacks(models)
    x = torch.randn(3, 4, 8)
    if mismatch == "inputs":
        x = x[:1]
    elif mismatch == "parameter":
        params["1.bias"] = params["1.bias"][:1].detach().requires_grad_()
    else:
        buffers["0.row_norm"] = buffers["0.row_norm"][:1]
    base = copy.deepcopy(models[0])
    own = {n: t for n, t in [*base.named_parameters(), *base.named_buffers()]}
    for make in (vmapped_forward, _torch_func_forward):
        with pytest.raises(ValueError, match="vmap: "):
            make(base, True, False)(params, buffers, x)
    assert all(t is own[n] for n, t in [*base.named_parameters(), *base.named_buffers()])
