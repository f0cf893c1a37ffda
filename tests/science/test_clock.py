"""clock.py: which clock sets the time to the top, against synthetic families with a known
exponent, and negative controls where lam changes nothing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import synthetic as S

from l2advisor.science.advise import lam_for_budget
from l2advisor.science.clock import (
    B_SNAP,
    clock_exponent,
    crossing_step,
    fit_time_exponent,
    on_clock,
)
from l2advisor.science.curves import Curve


def _exponent(curves: list[Curve]) -> dict:
    peaks = [float(np.max(c.val_metric)) for c in curves]
    return fit_time_exponent(curves, peaks, 0.005, 100, np.random.default_rng(0))


def test_crossing_step_interpolates_in_log_steps() -> None:
    steps = np.array([0, 10, 100, 1000, 10000])
    values = np.array([0.0, 0.2, 0.4, 0.6, 0.8])  # straight in log steps past step 10
    c = Curve(0.1, 0.1, 0, steps, 0.01 * steps, values, np.ones(5), np.ones(5))
    # smoothing keeps a straight line straight away from the edges: 0.5 is halfway 100 -> 1000
    assert crossing_step(c, 0.5) == pytest.approx(math.sqrt(100 * 1000), rel=0.05)
    assert math.isnan(crossing_step(c, 0.95))  # never reached


@pytest.mark.parametrize("alpha", [1.0, 0.5, 1.5])
def test_b_recovers_the_exponent_of_the_family(alpha: float) -> None:
    fit = _exponent(S.family(alpha=alpha, lam_c=1.0))  # every lam on the plateau
    assert fit["b"] == pytest.approx(alpha, abs=0.1)
    lo, hi = fit["b_interval"]
    assert lo <= fit["b"] <= hi and hi - lo < 0.3


def test_tau_clock_lines_crossings_up_better_than_steps() -> None:
    assert _exponent(S.family(lam_c=1.0))["steps_over_tau"] > 10


def test_no_effect_gives_b_near_zero_and_steps_better() -> None:
    """Negative control: the same curve in steps for every lam."""
    fit = _exponent(S.no_effect_family())
    assert abs(fit["b"]) < 0.1
    assert fit["steps_over_tau"] < 0.1


def test_one_seed_per_lam_leaves_the_interval_unknown_not_zero_wide() -> None:
    one = _exponent(S.family(lam_c=1.0, seeds=(0,)))
    assert one["b"] == pytest.approx(1.0, abs=0.1)
    assert all(math.isnan(v) for v in one["b_interval"])  # nothing to resample
    two = _exponent(S.family(lam_c=1.0, seeds=(0, 1)))  # negative control: two seeds give one
    lo, hi = two["b_interval"]
    assert math.isfinite(lo) and math.isfinite(hi) and lo < hi
    # an unknown interval keeps the paper's clock rather than a noisy b
    assert clock_exponent({"steps_over_tau": 5.0, "b": 0.6, "b_interval": (math.nan, math.nan)}) == 1.0


def test_one_clock_is_not_enough() -> None:
    curves = [S.curve(0.01, 0.1, seed) for seed in range(3)]
    assert _exponent(curves) == {}


def test_clock_exponent_snaps_to_the_tau_clock() -> None:
    base = {"steps_over_tau": 5.0}
    assert clock_exponent({**base, "b": 1 + B_SNAP / 2, "b_interval": (1.02, 1.1)}) == 1.0
    assert clock_exponent({**base, "b": 0.6, "b_interval": (0.4, 1.05)}) == 1.0  # holds 1
    assert clock_exponent({**base, "b": 0.6, "b_interval": (0.5, 0.7)}) == 0.6
    assert clock_exponent({**base, "b": 3.0, "b_interval": (2.5, 3.5)}) == 1.6  # clipped
    assert clock_exponent({"steps_over_tau": 0.1, "b": 0.05, "b_interval": (0.0, 0.1)}) == 1.0


def test_on_clock_rescales_time() -> None:
    c = S.curve(0.04, 0.1, 0)
    moved = on_clock(c, 0.5)
    assert np.allclose(moved.tau, c.steps * (0.1 * 0.04) ** 0.5)
    assert on_clock(c, 1.0) is c


@pytest.mark.parametrize("b", [0.5, 0.8, 1.0, 1.4])
def test_lam_for_budget_puts_the_top_at_the_budget(b: float) -> None:
    c, ref, budget = 3.0, 0.004, 50_000
    clock = lam_for_budget(c, b, ref, budget)  # lr*lam
    steps_ref = c / ref  # c is the top's tau at the reference clock: it arrives at c/ref steps there
    top_at = steps_ref * (clock / ref) ** (-b)  # where the top arrives at the advised clock
    assert top_at == pytest.approx(budget)
    if b == 1.0:
        assert clock == pytest.approx(c / budget)


def _crossings(times, noise: float = 0.03, seed: int = 0):
    """(clocks, steps): 3 lr*lam values x 2 seeds, 4 levels; times(x, level) in steps, with
    multiplicative noise."""
    rng = np.random.default_rng(seed)
    clocks = np.repeat([0.01, 0.005, 0.0025], 2)
    steps = np.array([[times(x, j) for j in range(4)] for x in clocks])
    return clocks, steps * np.exp(noise * rng.standard_normal(steps.shape))


def test_a_rise_that_holds_up_the_quick_clocks_is_read_as_a_floor_not_a_smaller_b():
    from l2advisor.science.clock import _fit_b, _fit_clock

    for seed in range(5):  # the top rung reaches the levels only after a 150-step rise; the others on tau
        clocks, steps = _crossings(lambda x, j: max(150.0 + 10 * j, (0.8 + 0.15 * j) / x), seed=seed)
        power = _fit_b(clocks, np.log(steps))[0]
        b, rss0, rss1, floor = _fit_clock(clocks, steps)
        assert power < 0.8 and 0.8 <= b <= 1.25 and floor > 0, (seed, power, b, floor)
        assert rss0 > 2 * rss1  # above the floor, tau lines the crossings up, not steps


@pytest.mark.parametrize("times", [lambda x, j: 120.0 + 10 * j,  # a null: steps only
                                   lambda x, j: (0.8 + 0.15 * j) / x,  # the tau clock, no rise in the way
                                   lambda x, j: 2e4 * x * (1 + 0.1 * j)])  # larger lams later (b < 0)
def test_no_floor_where_none_holds_anything_up(times):
    from l2advisor.science.clock import _fit_b, _fit_clock

    for seed in range(5):
        clocks, steps = _crossings(times, seed=seed)
        b, _, _, floor = _fit_clock(clocks, steps)
        assert floor == 0.0 and b == pytest.approx(_fit_b(clocks, np.log(steps))[0]), (seed, b, floor)


def _reference_slope(clocks: np.ndarray, log_t: np.ndarray) -> tuple[float, np.ndarray]:
    """The clock model solved as a plain least-squares problem: columns one intercept per level,
    then -log(clock); rows (probe, level), probe-major."""
    n, levels = log_t.shape
    design = np.column_stack([np.tile(np.eye(levels), (n, 1)), -np.repeat(np.log(clocks), levels)])
    coef = np.linalg.lstsq(design, log_t.ravel(), rcond=None)[0]
    return float(coef[-1]), (design @ coef).reshape(n, levels)


@pytest.mark.parametrize("seed", range(6))
def test_the_closed_form_clock_fit_equals_least_squares_on_the_design(seed):
    from l2advisor.science.clock import _fit_b, _slope_fit

    rng = np.random.default_rng(seed)
    clocks = np.repeat([0.01, 0.005, 0.0025, 0.00125][: 2 + seed % 3], 2)
    log_t = rng.normal(5.0, 1.0, (clocks.size, 1 + seed % 4))
    b, fitted = _slope_fit(np.log(clocks), log_t)
    ref_b, ref_fitted = _reference_slope(clocks, log_t)
    assert b == pytest.approx(ref_b, rel=1e-9, abs=1e-12)
    np.testing.assert_allclose(fitted, ref_fitted, rtol=1e-9)
    # rss with b held at 0 and at 1: only the intercepts refitted
    _, rss0, rss1 = _fit_b(clocks, log_t)
    for slope, rss in ((0.0, rss0), (1.0, rss1)):
        shifted = log_t + slope * np.log(clocks)[:, None]
        assert rss == pytest.approx(((shifted - shifted.mean(0)) ** 2).sum(), rel=1e-9)


def test_the_bootstrap_fits_its_samples_as_one_fit_each_would():
    """Every bootstrap sample fitted in one batched pass gives what `_fit_clock` gives it alone,
    with a floor (a slow rise holds up the quick clocks) and without one (a null)."""
    from l2advisor.science.clock import _fit_clock, _fit_clocks

    rng = np.random.default_rng(3)
    floors = []
    for times in (lambda x, j: max(150.0 + 10 * j, (0.8 + 0.15 * j) / x), lambda x, j: 120.0 + 10 * j):
        clocks, steps = _crossings(times, seed=3)
        samples = np.array([np.concatenate([rng.choice(g, 2) for g in (np.arange(0, 2), np.arange(2, 4),
                                                                        np.arange(4, 6))]) for _ in range(60)])
        batched = _fit_clocks(clocks[samples], steps[samples])
        alone = np.array([_fit_clock(clocks[s], steps[s]) for s in samples])  # (60, 4)
        np.testing.assert_allclose(np.column_stack(batched), alone, rtol=1e-9, atol=1e-12)
        floors.extend(alone[:, 3])
    assert min(floors) == 0.0 and max(floors) > 0  # both branches were taken


@pytest.mark.parametrize("seeds", [(0,), (0, 1)])
def test_the_clock_fit_does_not_depend_on_the_clocks_scale(seeds) -> None:
    """The same crossings at lr*lam a million times smaller (below 1e-8, as lr 1e-4 with a coupled
    weight decay of 1e-5 gives) give the same b, interval and clock count: only the log clock's
    spread matters. Clocks below 1e-8 were one group to np.isclose's absolute tolerance, so one seed
    per lam got a bootstrap interval (it has none) and two seeds resampled across lams."""
    import dataclasses

    curves = S.family(S.ladder(0.08, 4), seeds=seeds, alpha=0.8, lam_c=1.0)
    tiny = [dataclasses.replace(c, lr=c.lr * 1e-6, tau=np.asarray(c.tau) * 1e-6) for c in curves]
    assert max(c.lr * c.lam for c in tiny) < 1e-8  # below np.isclose's default atol
    at_scale, scaled_down = _exponent(curves), _exponent(tiny)
    assert scaled_down["n_clocks"] == at_scale["n_clocks"] == 4
    assert scaled_down["b"] == pytest.approx(at_scale["b"], rel=1e-9)
    np.testing.assert_allclose(scaled_down["b_interval"], at_scale["b_interval"], rtol=1e-9)  # NaN with NaN
    assert math.isnan(at_scale["b_interval"][0]) == (len(seeds) == 1)  # the interval: with seeds to resample


def _reference_clock(clocks: np.ndarray, steps: np.ndarray) -> tuple[float, float, float, float]:
    """The floor rule of `_fit_clock` written out one candidate at a time, each fit by least squares
    on the design (`_reference_slope`): (b, rss at b = 0, rss at b = 1, floor)."""
    from l2advisor.science.clock import FLOOR_FRACTIONS, _floor_critical

    def misfit(floor: float) -> tuple[float, float]:
        b, fitted = _reference_slope(clocks, np.log(steps - floor))
        return float(((np.log(steps) - np.log(floor + np.exp(fitted))) ** 2).sum()), b

    power, b_power = misfit(0.0)
    candidates = sorted((*misfit(f * steps.min()), f * steps.min()) for f in FLOOR_FRACTIONS)
    least, b_floor, floor = candidates[0]
    df = steps.size - steps.shape[1] - 2
    kept = (b_power > 0 and b_floor > b_power and df > 0 and least < power
            and (power - least) / (least / df) > _floor_critical(df))
    floor = floor if kept else 0.0
    b = b_floor if kept else b_power
    shifted = [np.log(steps - floor) + s * np.log(clocks)[:, None] for s in (0.0, 1.0)]
    rss0, rss1 = (float(((y - y.mean(0)) ** 2).sum()) for y in shifted)
    return b, rss0, rss1, floor


@pytest.mark.parametrize("seed", range(4))
def test_the_floor_rule_agrees_with_one_least_squares_fit_per_candidate(seed) -> None:
    """The batched, closed-form `_fit_clock` against the rule fitted candidate by candidate, over
    crossings with a rise in the way (a floor kept), a null and the tau clock (none kept)."""
    from l2advisor.science.clock import _fit_clock

    kept = []
    for times in (lambda x, j: max(150.0 + 10 * j, (0.8 + 0.15 * j) / x), lambda x, j: 120.0 + 10 * j,
                  lambda x, j: (0.8 + 0.15 * j) / x):
        clocks, steps = _crossings(times, seed=seed)
        got, want = _fit_clock(clocks, steps), _reference_clock(clocks, steps)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
        kept.append(want[3] > 0)
    assert kept == [True, False, False]  # both branches of the rule were compared
