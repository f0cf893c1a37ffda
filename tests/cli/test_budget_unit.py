"""cli/budget.py: a --unit that is neither steps nor epochs gets one sentence, from check_unit,
whether the command checks a budget (check_budget) or --unit alone (check_unit_has_budget)."""

from __future__ import annotations

import pytest

from l2advisor.cli.budget import check_budget, check_unit, check_unit_has_budget
from l2advisor.errors import InputError


def _said(check, *args) -> str:
    with pytest.raises(InputError) as caught:
        check(*args)
    return str(caught.value)


def test_both_budget_checks_give_check_units_sentence() -> None:
    sentence = _said(check_unit, "hours")
    assert sentence == "--unit must be steps or epochs, got 'hours'."
    assert _said(check_budget, 100.0, "hours") == sentence
    assert _said(check_unit_has_budget, None, "hours", "the default ladder") == sentence
    for unit in ("steps", "epochs"):
        check_unit(unit)  # no error
