"""AutoL2 on an optimizer that has no weight decay (LBFGS, Rprop) is refused in one sentence:
it wrote lam into a weight_decay key the optimizer never reads, so the schedule changed nothing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from l2advisor import AutoL2


def _params() -> list[torch.nn.Parameter]:
    return list(nn.Linear(4, 2).parameters())


@pytest.mark.bad_input
@pytest.mark.parametrize("make", [lambda p: torch.optim.LBFGS(p), lambda p: torch.optim.Rprop(p)])
def test_an_optimizer_without_weight_decay_is_refused(make) -> None:
    optimizer = make(_params())
    with pytest.raises(ValueError, match=r"^(LBFGS|Rprop) has no weight_decay setting, so AutoL2's lam "
                                         r"would change nothing"):
        AutoL2(optimizer, lam0=0.01)
    assert all("weight_decay" not in g for g in optimizer.param_groups)  # nothing written


@pytest.mark.parametrize("make", [lambda p: torch.optim.SGD(p, lr=0.1), lambda p: torch.optim.AdamW(p)])
def test_sgd_and_adamw_are_managed(make) -> None:
    """The control: optimizers with weight decay get lam0 in every group."""
    optimizer = make(_params())
    AutoL2(optimizer, lam0=0.01)
    assert [g["weight_decay"] for g in optimizer.param_groups] == [0.01]
