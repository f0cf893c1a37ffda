"""Log-spaced evaluation: every power of ten opens its own bin, so each decade's first step evaluates.

`_log_bin` adds 1e-9 before the floor so that per_decade * log10(10**k), which is exactly an
integer, never rounds down into the bin below on a platform whose log10 is a little low. Here
log10 is exact at powers of ten, so these tests pin the behaviour (the bins' edges), not the
tolerance itself: a log10 that came out low would fail them without it.
"""

from __future__ import annotations

import math

import pytest

from l2advisor.training.eval_schedule import FIRST_LOG_STEP, eval_due, eval_steps


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


@pytest.mark.parametrize("max_steps", [400, 800, 1_600, 3_200, 1_000, 1_259, 12_345])
def test_no_log_spaced_evaluation_crowds_the_last_step(max_steps: int) -> None:
    """A 400-step rung evaluated at 399 and 400 (1,600 at 1,585 and 1,600): the one before the last
    now lies at least half a bin (10 per decade: a factor 10**0.05) below it; `eval_due` agrees."""
    steps = eval_steps(max_steps, 1, per_decade=10)
    assert steps[-1] == max_steps and 10 * math.log10(steps[-1] / steps[-2]) >= 0.5
    assert steps == [s for s in range(1, max_steps + 1) if eval_due(s, 1, max_steps, 10)]
    assert steps[-2] < max_steps / 10**0.05 <= steps[-1]


def test_the_end_drops_only_the_crowding_step() -> None:
    assert eval_steps(400, 1, per_decade=10)[-3:] == [252, 317, 400]  # 399 left out, 317 kept
    assert eval_steps(800, 1, per_decade=10)[-4:] == [399, 502, 631, 800]  # 795 left out
    assert eval_steps(1_000, 1, per_decade=10)[-2:] == [795, 1_000]  # 1,000 is its own bin's first
