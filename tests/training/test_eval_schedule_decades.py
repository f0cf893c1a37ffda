"""Log-spaced evaluation: every power of ten opens its own bin, so each decade's first step evaluates.

`_log_bin` adds 1e-9 before the floor so that per_decade * log10(10**k), which is exactly an
integer, never rounds down into the bin below on a platform whose log10 is a little low. Here
log10 is exact at powers of ten, so these tests pin the behaviour (the bins' edges), not the
tolerance itself: a log10 that came out low would fail them without it.
"""

from __future__ import annotations

import pytest

from l2advisor.training.eval_schedule import FIRST_LOG_STEP, count_evals, eval_due, eval_steps


@pytest.mark.parametrize("per_decade", [1, 2, 3, 5, 7, 10, 20, 40])
def test_every_power_of_ten_evaluates(per_decade: int) -> None:
    max_steps = 10**7
    steps = set(eval_steps(max_steps, 1, per_decade))
    for k in range(1, 7):
        assert 10**k in steps, (per_decade, k)
        assert eval_due(10**k, 1, max_steps, per_decade)
        assert not eval_due(10**k - 1, 1, max_steps, per_decade)  # the bin below's last step, not a first


def test_one_per_decade_is_exactly_the_powers_of_ten() -> None:
    assert eval_steps(10**6, 1, per_decade=1) == [10, 100, 1_000, 10_000, 100_000, 1_000_000]
    assert eval_steps(5_000, 1, per_decade=1) == [10, 100, 1_000, 5_000]  # and the last step
    assert FIRST_LOG_STEP == 10


@pytest.mark.parametrize(("max_steps", "every"), [(1000, 300), (10_000, 100), (7, 3), (5, 10)])
def test_count_evals_counts_the_schedule_with_step_0(max_steps: int, every: int) -> None:
    """count_evals prices evaluations for the budget planner: step 0 plus every evaluation the
    schedule makes, the final one too where the interval does not divide the run (audit 40b: only
    10,000 / 100 was checked, and dropping that last one went unnoticed)."""
    assert count_evals(max_steps, every) == 1 + len(eval_steps(max_steps, every, 0))
    assert eval_steps(max_steps, every, 0)[-1] == max_steps
