"""Budget-sized probe plans and the log-spaced evaluation schedule."""

from __future__ import annotations

import math

import pytest

from l2advisor.probing.budget import (
    TOP_SHRINK,
    budget_for_cost,
    eval_cost_steps,
    plan_for_budget,
    probe_fraction,
)
from l2advisor.probing.settings import probe_settings
from l2advisor.training.eval_schedule import count_evals, eval_due, eval_steps

CHEAP_EVAL = dict(n_val=256, batch_size=64)  # an evaluation costs 2 steps
BUDGETS = [100_000, 200_000, 400_000, 1_000_000]  # below ~80,000 steps: see the over-cap test


@pytest.mark.parametrize("budget", BUDGETS)
def test_plan_costs_at_most_its_cap(budget: int) -> None:
    plan = plan_for_budget(budget, 0.1, 0.0, 8.0, 2, **CHEAP_EVAL)
    assert not plan.over_cap and plan.cost <= plan.cap
    assert plan.cap == pytest.approx(probe_fraction(budget) * (budget + 100 * 2.0))
    assert len(plan.lams) >= 3 and list(plan.lams) == sorted(plan.lams, reverse=True)
    taus = [0.1 * lam * steps for lam, steps in zip(plan.lams, plan.rung_steps, strict=True)]
    assert max(taus) / min(taus) < 1.01  # every rung the same window in tau


def test_longer_budgets_reach_smaller_lams_at_a_smaller_share() -> None:
    plans = [plan_for_budget(b, 0.1, 0.0, 8.0, 2, **CHEAP_EVAL) for b in BUDGETS]
    assert [p.lams[-1] for p in plans] == sorted((p.lams[-1] for p in plans), reverse=True)
    assert plans[-1].lams[-1] < plans[0].lams[-1]
    fractions = [p.cost_fraction for p in plans]  # not monotone: a rung is added in whole steps
    assert all(p.cost_fraction <= p.fraction for p in plans) and fractions[-1] < fractions[0] < 0.15


def test_probe_fraction_targets() -> None:
    assert probe_fraction(6_400) <= 0.5 and probe_fraction(32_000) <= 0.25
    assert probe_fraction(128_000) == pytest.approx(probe_fraction(32_000) / 2)


@pytest.mark.parametrize("budget", [2_000, 6_400])
def test_small_budget_keeps_the_top_and_says_it_is_over(budget: int) -> None:
    plan = plan_for_budget(budget, 0.1, 0.0, 8.0, 2, **CHEAP_EVAL)
    assert plan.over_cap and plan.cost > plan.cap and len(plan.lams) == 3
    assert 0.1 * plan.lams[0] == pytest.approx(TOP_SHRINK)  # never above the default top
    assert plan.horizon == 4.0 and plan.seeds == 2  # the half window, every seed: still over, by less


def test_half_the_window_when_three_full_rungs_do_not_fit() -> None:
    mid = plan_for_budget(25_600, 0.1, 0.0, 8.0, 2, **CHEAP_EVAL)  # 3 full rungs: 11,200 steps > cap
    assert mid.horizon == 4.0 and mid.halved and not mid.over_cap and mid.cost <= mid.cap
    assert mid.rung_steps == (400, 800, 1600)
    long = plan_for_budget(100_000, 0.1, 0.0, 8.0, 2, **CHEAP_EVAL)
    assert long.horizon == 8.0 and not long.halved and long.rung_steps[0] == 800


def test_momentum_moves_the_ladder_down() -> None:
    plain = plan_for_budget(100_000, 0.1, 0.0, 8.0, 2, **CHEAP_EVAL)
    heavy = plan_for_budget(100_000, 0.1, 0.9, 0.8, 2, **CHEAP_EVAL)
    assert heavy.lams[0] == pytest.approx(plain.lams[0] * 0.1, rel=0.01)


def test_budget_for_cost_inverts_the_cap() -> None:
    e = eval_cost_steps(1000, 64)
    for budget in (8_000, 50_000):
        cap = probe_fraction(budget) * (budget + 100 * e)
        # within 0.5%: a budget off the hundreds evaluates 101-102 times (every budget//100 steps)
        assert budget_for_cost(cap, e) == pytest.approx(budget, rel=0.005)


def test_settings_for_a_budget_plan_the_same_ladder_without_early_stop() -> None:
    settings, plan = probe_settings(0.1, 0.0, budget_steps=50_000, **CHEAP_EVAL)
    assert settings.lambdas == plan.lams and not settings.early_stop
    assert settings.budget_steps == 50_000 and settings.eval_per_decade > 0
    default, none = probe_settings(0.1, 0.0, **CHEAP_EVAL)
    assert none is None and default.early_stop and default.lambdas is None


def test_budget_with_a_hand_made_ladder_is_refused() -> None:
    from l2advisor.errors import InputError

    with pytest.raises(InputError, match="--budget plans the ladder and its cost itself"):
        probe_settings(0.1, 0.0, budget_steps=50_000, lambdas=(0.1, 0.05), **CHEAP_EVAL)
    with pytest.raises(InputError, match="--probe-budget"):  # it did nothing with --budget, silently
        probe_settings(0.1, 0.0, budget_steps=50_000, probe_budget=40_000, **CHEAP_EVAL)
    settings, _ = probe_settings(0.1, 0.0, budget_steps=50_000, **CHEAP_EVAL)  # the default is no request
    assert settings.budget_steps == 50_000


@pytest.mark.parametrize("given, named", [
    (dict(lambdas=(0.1,)), "--lambdas"),
    (dict(lam_max=0.2), "--lam-max"),
    (dict(lam_max=0.0), "--lam-max"),  # given, whatever its value
    (dict(probe_budget=0), "--probe-budget"),
    (dict(factor=1.5), "--factor"),  # a factor below the default is a hand-made ladder too
    (dict(factor=3.0), "--factor"),
    (dict(lrs=(0.1, 0.05)), "extra --lrs"),
    (dict(lambdas=(0.1,), lam_max=0.2, probe_budget=100, factor=4.0, lrs=(0.1, 0.2)),
     "--lambdas, --lam-max, --probe-budget, --factor, extra --lrs"),
])
def test_budget_refuses_each_hand_made_ladder_flag_by_name(given: dict, named: str) -> None:
    from l2advisor.errors import InputError
    from l2advisor.probing.settings import refuse_hand_ladder

    with pytest.raises(InputError) as refused:
        refuse_hand_ladder(**given)
    assert f"drop {named} (or drop --budget" in str(refused.value)


def test_budget_takes_the_defaults_and_a_single_lr() -> None:
    """One --lrs value is the probe lr, not an extra one; factor 2 is the default."""
    from l2advisor.probing.settings import probe_settings, refuse_hand_ladder

    refuse_hand_ladder()
    refuse_hand_ladder(lrs=(0.1,), factor=2.0, lambdas=(), lam_max=None, probe_budget=None)
    settings, plan = probe_settings(0.1, 0.0, lrs=(0.1,), budget_steps=20_000)  # and plans it as the probe lr
    assert settings.lrs == (0.1,) and plan is not None and settings.budget_steps == 20_000


def test_log_spaced_evaluations() -> None:
    steps = eval_steps(10_000, 100, per_decade=10)
    assert steps[:4] == [10, 13, 16, 20] and steps[-1] == 10_000  # steps 1..9 skipped (step 0 always runs)
    assert eval_steps(5, 1, per_decade=10) == [5]  # a run shorter than that still ends with one
    ratios = [b / a for a, b in zip(steps, steps[1:], strict=False) if a >= 100]
    assert all(1.1 < r < 1.4 for r in ratios[:-1])  # about 10**(1/10) = 1.26 apart
    assert 30 <= count_evals(10_000, 100, per_decade=10) <= 35  # about 10 per decade from step 10, not 100
    assert count_evals(10_000, 100) == 101  # fixed interval: step 0 and every 100
    assert eval_due(10_000, 100, 10_000, per_decade=10) and not eval_due(9_999, 100, 10_000)
    assert math.isclose(len(eval_steps(1000, 7)), 1000 // 7 + 1)  # the last step always evaluates


@pytest.mark.parametrize("per_decade", [0, 1, 3, 10, 40])
def test_the_schedule_built_from_bins_is_eval_due_asked_at_every_step(per_decade: int) -> None:
    # the reference: the definition (eval_due), step by step; lengths around the bins' edges
    for every in (1, 7, 100):
        for length in [*range(0, 260), 999, 1000, 1001, 1585, 1600, 12_589, 12_590]:
            expected = [s for s in range(1, length + 1) if eval_due(s, every, length, per_decade)]
            assert eval_steps(length, every, per_decade) == expected, (per_decade, every, length)


def test_rung_lengths_absorb_the_lams_rounding_and_nothing_more() -> None:
    from l2advisor.probing.plan import probe_steps

    assert probe_steps(3.333, 0.003, 4.0) == 400  # lam written as 3.333 for 3.3333...: not 401
    assert probe_steps(0.025, 0.1, 4.0) == 1600  # 1600.0000000000002 in floats
    assert probe_steps(0.3, 0.1, 4.0) == 134  # 133.3: tau must still reach the window
    plan = plan_for_budget(6400, 0.003, 0.0, 8.0, 2, 1000, 32)  # halved to a window of 4
    assert plan.rung_steps == (400, 800, 1600), plan


def test_a_run_shorter_than_100_steps_is_priced_with_its_own_evaluations() -> None:
    e = eval_cost_steps(1000, 64)
    assert plan_for_budget(3, 0.1, 0.0, 8.0, 2, 1000, 64).budget_run_cost == pytest.approx(3 + 3 * e)
    assert plan_for_budget(150, 0.1, 0.0, 8.0, 2, 1000, 64).budget_run_cost == pytest.approx(150 + 150 * e)
    assert plan_for_budget(6400, 0.1, 0.0, 8.0, 2, 1000, 64).budget_run_cost == pytest.approx(6400 + 100 * e)


def test_the_sizing_note_names_the_top_rungs_own_clock_under_momentum() -> None:
    from l2advisor.probing.budget import sizing_note
    from l2advisor.probing.plan import plan_probes

    for momentum, expected in ((0.0, "3 rungs from lr*lam = 0.01 through tau"),
                               (0.9, "3 rungs from lr*lam = 0.001 (lr*lam/(1-momentum) = 0.01) through tau")):
        settings, plan = probe_settings(0.1, momentum, budget_steps=6400, n_val=1000, batch_size=64)
        line, warns = sizing_note(plan, plan_probes(settings, momentum), settings, 1000, 64)
        assert warns and expected in line, line
        assert plan.lams[0] * 0.1 == pytest.approx(TOP_SHRINK * (1 - momentum))  # what the table shows


def test_one_seed_is_warned_two_are_not() -> None:
    from l2advisor.probing.settings import hand_ladder_notes

    one, _ = probe_settings(0.1, 0.0, seeds=(0,), budget_steps=6400, **CHEAP_EVAL)
    assert any(note.startswith("One seed: b gets no interval") for note in hand_ladder_notes(one, False))
    two, _ = probe_settings(0.1, 0.0, seeds=(0, 1), budget_steps=6400, **CHEAP_EVAL)
    assert hand_ladder_notes(two, False) == []


def test_one_lrs_value_with_a_budget_is_the_probe_lr() -> None:
    """`probe --budget 2000 --lrs 0.05` on a file at lr 0.1 probed at 0.1 without a word."""
    settings, plan = probe_settings(0.1, 0.0, budget_steps=20_000, lrs=(0.05,), **CHEAP_EVAL)
    assert settings.lrs == (0.05,) and plan is not None
    same, _ = probe_settings(0.05, 0.0, budget_steps=20_000, **CHEAP_EVAL)  # the control: the file's lr 0.05
    assert settings.lambdas == same.lambdas and settings.lambdas != probe_settings(0.1, 0.0, budget_steps=20_000,
                                                                                   **CHEAP_EVAL)[0].lambdas


def test_the_sizing_note_says_what_window_was_halved_and_claims_no_cheaper_plan_only_at_the_floor() -> None:
    """A reviewer's `probe --budget 100 --unit epochs --horizon 8` ran tau = 4 without a word of
    the halving (and --horizon 8 was the default already); at 35,000 steps `--horizon 16` was said
    to be the cheapest plan that shows lam's clock, where the default window's plan fits the cap."""
    from l2advisor.probing.budget import sizing_note
    from l2advisor.probing.plan import plan_probes

    def note(budget: int, horizon: float | None) -> tuple[str, bool]:
        settings, plan = probe_settings(0.1, 0.0, budget_steps=budget, horizon=horizon, n_val=300, batch_size=64)
        return sizing_note(plan, plan_probes(settings, 0.0), settings, 300, 64)

    short, warns = note(700, None)  # over the cap at the floor window: the old claim stands, and the halving is said
    assert warns and "no cheaper plan shows lam's clock" in short
    assert "tau = 4, half of the default window of 8 (--horizon 8 runs the whole window" in short, short
    fits, warns = note(35_000, None)
    assert not warns and "Every rung runs through tau = 4, half of the default window of 8" in fits, fits
    wide, warns = note(35_000, 16.0)  # over the cap, but only because of the window asked for
    assert warns and "no cheaper plan" not in wide and "through tau = 16 (--horizon 16)" in wide  # run as given
    assert "without --horizon the window is narrower and the plan cheaper" in wide, wide
    narrow, warns = note(700, 2.0)  # a narrower window than the floor, still over the cap: no "cheapest" claim
    assert warns and "no cheaper plan" not in narrow and "More than the cap even through tau = 2 (--horizon 2)" in narrow
    assert "narrower than the tau = 4 the planner goes down to by itself" in narrow, narrow
    full, warns = note(200_000, None)  # the control: the whole window fits, nothing is said of halving
    assert not warns and "half of" not in full and "--horizon" not in full, full


def test_an_older_header_with_a_given_horizon_halved_names_that_horizon() -> None:
    """A results header from before a given --horizon was run as given (no halve_to_fit: halved like
    the default) was described as "half of the default window of 16"; the default is 8."""
    from l2advisor.probing.budget import plan_for_budget

    old = plan_for_budget(2000, 0.1, 0.0, 16.0, 2, 300, 64, halve_to_fit=True)
    assert old.halved and old.window_words() == "tau = 8, half of --horizon 16"
    default = plan_for_budget(2000, 0.1, 0.0, 8.0, 2, 300, 64, halve_to_fit=True)  # the control
    assert default.window_words().startswith("tau = 4, half of the default window of 8")
