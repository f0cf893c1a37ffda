"""What advice for a budget far from the probes' says about it: an extrapolation, or a measured lam."""

from __future__ import annotations

from types import SimpleNamespace

from l2advisor.runs.rundir import sized_for_warning

SIZED_FOR_2000 = SimpleNamespace(header={"settings": {"probe": {"budget_steps": 2000}}})


def test_near_the_sized_budget_nothing_is_said() -> None:
    assert sized_for_warning(SIZED_FOR_2000, 3999) is None and sized_for_warning(SIZED_FOR_2000, 1000) is None
    assert sized_for_warning(SimpleNamespace(header={}), 10 ** 6) is None  # probes sized for no budget


def test_the_formulas_advice_extrapolates_further_or_less_far() -> None:
    assert "10x that, so the advice extrapolates further below the probed lams" in sized_for_warning(SIZED_FOR_2000, 20000)
    assert "0.25x that, so the advice extrapolates less far below" in sized_for_warning(SIZED_FOR_2000, 500)


def test_a_measured_lam_does_not_extrapolate_and_is_not_said_to() -> None:
    far = sized_for_warning(SIZED_FOR_2000, 20000, measured=True)
    assert "extrapolates" not in far and "a probed lam compared over the probes' lengths, which a run that long" in far
    assert "a run that short" in sized_for_warning(SIZED_FOR_2000, 500, measured=True)
    assert "`probe --budget 20000` sizes them for it" in far
