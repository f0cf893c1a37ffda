"""The callbacks' lr bookkeeping (integrations/_config.py): which lr an advice was made for, when
the optimizer's lr differs from it, and what a trajectory records of the run."""

from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from l2advisor.integrations._config import run_meta
from l2advisor.training.advised_settings import advice_lr, warn_if_other_lr


def _optimizer(*lrs: float) -> torch.optim.Optimizer:
    groups = [{"params": [nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs]
    return torch.optim.SGD(groups, lr=lrs[0])


def _warned(advised: float | None, optimizer: torch.optim.Optimizer) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_other_lr(advised, optimizer, "AutoL2Callback", set())  # a fresh callback: nothing said yet
    return [str(w.message) for w in caught]


def test_the_advised_lr_is_read_from_every_form_of_advice() -> None:
    autol2 = SimpleNamespace(lam0=0.01, lr=0.2)  # an AutoL2Advice: an attribute, not a key
    assert advice_lr(autol2) == 0.2
    assert advice_lr(SimpleNamespace(autol2=autol2)) == 0.2  # a Recommendation carries it in .autol2
    assert advice_lr({"autol2": {"lam0": 0.01, "lr": 0.3}}) == 0.3  # advice.json
    assert advice_lr({"lam0": 0.01, "lr": 0.4}) == 0.4  # .autol2.to_dict()
    assert advice_lr({"lam0": 0.01}) is None  # the advice does not say


@pytest.mark.parametrize("lr", [0, 0.0, -0.1, math.nan, math.inf, "0.1", None])
def test_an_lr_that_is_no_learning_rate_is_not_the_advised_one(lr: object) -> None:
    assert advice_lr({"autol2": {"lam0": 0.01, "lr": lr}}) is None
    assert _warned(advice_lr({"lam0": 0.01, "lr": lr}), _optimizer(0.1)) == []  # nothing to compare with


def test_another_lr_in_any_group_is_warned_about() -> None:
    assert _warned(0.1, _optimizer(0.1)) == []  # the control
    assert _warned(0.1, _optimizer(0.1 * (1 + 1e-9))) == []  # the same lr, up to rounding
    assert len(_warned(0.1, _optimizer(0.105))) == 1  # 5% off: another lr*lam schedule
    [message] = _warned(0.1, _optimizer(0.1, 0.2))  # one group at the advised lr is not enough
    assert "made for lr=0.1 but the optimizer trains at lr=0.1, 0.2" in message


def test_a_warmup_scheduler_compares_and_records_the_lr_before_it() -> None:
    """LambdaLR starting at 1% of the lr: the groups' lr is 0.001 at the start, their initial_lr 0.1."""
    optimizer = _optimizer(0.1)
    torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / 100))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.001)  # the control: the scheduler acted
    assert _warned(0.1, optimizer) == []
    assert len(_warned(0.001, optimizer)) == 1
    assert run_meta(optimizer, 0, 500)["lr"] == 0.1


@pytest.mark.parametrize("max_steps, recorded", [
    (500, 500), (500.0, 500), (-1, None), (0, None), (None, None), (math.inf, None), (math.nan, None),
])
def test_a_trajectory_records_the_planned_steps_only_when_known(max_steps: object, recorded: int | None) -> None:
    """Lightning's max_steps is -1 when the run is planned in epochs: not a budget of -1 steps."""
    assert run_meta(_optimizer(0.1, 0.2), 1, max_steps) == {"lr": 0.2, "budget_steps": recorded}


def test_a_warned_set_says_each_other_lr_once() -> None:
    """With the callback's own set the same note is given once; without one, every time."""
    warned: set[str] = set()
    optimizer = _optimizer(0.2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            warn_if_other_lr(0.1, optimizer, "AutoL2Callback", warned)
        warn_if_other_lr(0.1, _optimizer(0.3), "AutoL2Callback", warned)  # another lr: a new note
    assert len(caught) == 2 and "lr=0.2" in str(caught[0].message) and "lr=0.3" in str(caught[1].message)
    assert len(_warned(0.1, optimizer)) == len(_warned(0.1, optimizer)) == 1  # no set: each call warns
