"""The stacked forms tell the model its mode only when it changes (packed.set_mode)."""

import torch
from torch import nn

from l2advisor.training.packed import set_mode
from l2advisor.training.replicas import FoldedStacked, VmapStacked


class Counting(nn.Module):
    """A custom model (vmap form) whose own train() override counts its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(3, 4))
        self.norm = nn.BatchNorm1d(3)
        self.calls = 0

    def train(self, mode: bool = True) -> "Counting":
        self.calls += 1
        return super().train(mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x @ self.weight.T)


def _models(cls: type[nn.Module], k: int = 2) -> list[nn.Module]:
    torch.manual_seed(0)
    return [cls() for _ in range(k)]


def test_vmap_form_switches_mode_only_when_it_changes() -> None:
    stacked = VmapStacked(_models(Counting))
    base = stacked.base
    base.calls = 0
    x = torch.randn(5, 4)
    calls = []
    for training in (True, True, False, False, False, True, True):
        stacked(x, training)
        assert base.training is training and base.norm.training is training  # submodules follow the root
        calls.append(base.calls)
    assert calls == [0, 0, 1, 1, 1, 2, 2]  # built in training mode; the override runs once per change


def test_set_mode_follows_a_submodule_left_in_the_other_mode() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    model.train(True)
    model[1].eval()  # only a submodule differs: the whole tree is set again
    set_mode(tuple(model.modules()), True)
    assert all(m.training for m in model.modules())


class Folded(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(4, 3)
        self.norm = nn.LayerNorm(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.first(x))


def test_folded_form_sets_the_mode_it_is_given() -> None:
    stacked = FoldedStacked(_models(Folded))
    x = torch.randn(5, 4)
    stacked(x, False)
    assert not any(m.training for m in stacked.modules)
    stacked(x, True)
    assert all(m.training for m in stacked.modules)
