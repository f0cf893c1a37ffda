"""The budget plan's fixed limits, written out: the probes' share of one budget run (0.45 up to
8,000 steps, then 0.225 * sqrt(32000 / T)) and at most 8 rungs however long the budget."""

from __future__ import annotations

import pytest

from l2advisor.probing.budget import plan_for_budget, probe_fraction


@pytest.mark.parametrize(("budget", "fraction"), [
    (1_000, 0.45), (8_000, 0.45), (32_000, 0.225), (128_000, 0.1125), (512_000, 0.05625)])
def test_the_probes_share_of_a_budget_run(budget: int, fraction: float) -> None:
    assert probe_fraction(budget) == pytest.approx(fraction)


def test_a_plan_has_at_most_eight_rungs() -> None:
    plan = plan_for_budget(10**9, 0.1, 0.0, 8.0, 2, n_val=256, batch_size=64)
    assert len(plan.lams) == 8 and not plan.over_cap
    assert plan.lams[-1] == pytest.approx(plan.lams[0] / 2**7, rel=1e-3)


def test_the_evaluations_count_in_the_cost_that_sizes_the_ladder() -> None:
    """10,000 validation examples at batch 32: an evaluation costs 156 steps, about a third of the
    cost of each rung. At 400,000 steps, 3 rungs at half the window (26,225) fit the cap (26,450);
    4 full rungs, or even 3 (34,638), would not. At 100,000 nothing fits: the cheapest plan, 3 half rungs."""
    rich = dict(n_val=10_000, batch_size=32)
    fits = plan_for_budget(400_000, 0.1, 0.0, 8.0, 2, **rich)
    assert len(fits.lams) == 3 and fits.halved and not fits.over_cap and fits.cost <= fits.cap
    assert fits.cost == pytest.approx(26_225, abs=1)
    over = plan_for_budget(100_000, 0.1, 0.0, 8.0, 2, **rich)
    assert over.over_cap and over.halved and over.cost == pytest.approx(fits.cost)
