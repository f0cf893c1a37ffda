"""AutoL2's refusals are the API's InputError (caught by `except L2AdvisorError`, as probe's and
recommend's are) and still ValueError (what they were: `except ValueError` keeps working), with
their messages unchanged."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from torch import nn

import l2advisor
from l2advisor.errors import AutoL2ArgumentError, InputError, L2AdvisorError


def _opt() -> torch.optim.Optimizer:
    return torch.optim.SGD(nn.Linear(3, 2).parameters(), lr=0.1)


REFUSALS: list[tuple[str, Callable[[], object]]] = [
    (r"^lam0 must be finite and > 0, got -1\.0\.$", lambda: l2advisor.AutoL2(_opt(), lam0=-1.0)),
    (r"^patience must be an integer >= 1, got 0\.$", lambda: l2advisor.AutoL2(_opt(), 0.1, patience=0)),
    (r"^smoothing must be 'none', 'mean'", lambda: l2advisor.AutoL2(_opt(), 0.1, smoothing="ema")),
    (r"^lam_min \(0\.2\) must not exceed lam0", lambda: l2advisor.AutoL2(_opt(), 0.1, lam_min=0.2)),
    (r"^param_groups \[3\] must be distinct", lambda: l2advisor.AutoL2(_opt(), 0.1, param_groups=[3])),
    (r"^AutoL2\.step: loss must be a number", lambda: l2advisor.AutoL2(_opt(), 0.1).step("1.0")),
    (r"^AutoL2\.step: lr must be a finite", lambda: l2advisor.AutoL2(_opt(), 0.1).step(1.0, lr=-1.0)),
    # a batch's per-example losses, not their mean: torch's own ValueError said nothing of AutoL2
    (r"^AutoL2\.step: loss must be a number or a one-element tensor \(the step's mean\), got a tensor of 3 "
     r"values\.$", lambda: l2advisor.AutoL2(_opt(), 0.1).step(torch.ones(3))),
    (r"^AutoL2\.step: accuracy must be a fraction between 0 and 1, got 85 \(a percentage\? divide it by 100\)\.$",
     lambda: l2advisor.AutoL2(_opt(), 0.1).step(0.5, 85.0)),
    (r"^AutoL2\.step: accuracy must be a fraction between 0 and 1, got -0\.1\.$",
     lambda: l2advisor.AutoL2(_opt(), 0.1).step(0.5, -0.1)),
    (r"^not an AutoL2 state_dict", lambda: l2advisor.AutoL2(_opt(), 0.1).load_state_dict({"foo": 1})),
    (r"^split_decay_groups expected parameters", lambda: l2advisor.AutoL2.split_decay_groups([1.0])),
]


@pytest.mark.bad_input
@pytest.mark.parametrize(("message", "call"), REFUSALS)
def test_autol2_refusals_are_input_errors_and_value_errors(message: str, call: Callable[[], object]) -> None:
    with pytest.raises(InputError, match=message) as refused:
        call()
    assert isinstance(refused.value, ValueError) and isinstance(refused.value, L2AdvisorError)
    assert type(refused.value) is AutoL2ArgumentError and refused.value.exit_code == 2
    with pytest.raises(ValueError, match=message):  # as before: `except ValueError` still catches it
        call()
