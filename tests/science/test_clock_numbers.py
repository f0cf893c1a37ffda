"""b's numbers: its 95% interval reaches resamples as rare as 1 in 16 (two seeds per lam; the seeds of
the smallest and the largest clock disagree on when the top comes, the middle ones agree), and the
floor's F-test is at the 1% level."""

from __future__ import annotations

import numpy as np
import pytest
import synthetic as S

from l2advisor.science.clock import fit_time_exponent
from l2advisor.science.curves import analyze_curve


def _b(probes: list[tuple[float, int, float]], n_boot: int, seed: int = 0) -> dict:
    curves = [S.curve(lam, 0.1, s, c=c, noise=0.0) for lam, s, c in probes]
    peaks = [analyze_curve(cv).peak_metric for cv in curves]
    return fit_time_exponent(curves, peaks, 0.005, n_boot, np.random.default_rng(seed))


# lam 0.02 (the largest clock): one seed on the tau clock (c = 3), one early (c = 2.4);
# lam 0.005 (the smallest): one on it, one late (c = 3.75); lam 0.01: both on it.
PROBES = [(0.02, 0, 3.0), (0.02, 1, 2.4), (0.01, 0, 3.0), (0.01, 1, 3.0), (0.005, 0, 3.0), (0.005, 1, 3.75)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_interval_reaches_a_one_in_sixteen_resample(seed: int) -> None:
    """Drawing the on-clock seed twice at both ends (1/4 * 1/4) gives b = 1 exactly; drawing the
    early seed twice at the largest clock and the late one twice at the smallest gives b = 1.32.
    Both are inside 2.5-97.5%; a 10-90% interval would miss both."""
    on_clock = [(lam, s, 3.0) for lam, s, _ in PROBES]
    apart = [(lam, s, {0.02: 2.4, 0.01: 3.0, 0.005: 3.75}[lam]) for lam, s, _ in PROBES]
    assert _b(on_clock, 0)["b"] == pytest.approx(1.0)
    b_apart = _b(apart, 0)["b"]
    assert b_apart == pytest.approx(np.log2(3.75 / 2.4) / 2 + 1.0)  # 1.32: the top's tau grows with the clock
    out = _b(PROBES, 200, seed)
    lo, hi = out["b_interval"]
    assert lo <= out["b"] <= hi
    assert lo <= 1.0 + 1e-9 and hi >= b_apart - 1e-9


def test_the_floors_critical_value_is_f_at_0_99_within_3_percent_above() -> None:
    """A floor is kept only when it fits better at the 1% level: the approximation of F(1, df) at
    0.99 must not fall below the true quantile (a lenient test keeps floors a null does not have)
    nor sit more than 3% above it, for the df a probe plan gives (18 and more)."""
    from scipy.stats import f

    from l2advisor.science.clock import _floor_critical

    for df in (18, 20, 30, 50, 100, 200, 1000):
        exact = f.ppf(0.99, 1, df)
        assert exact <= _floor_critical(df) <= 1.03 * exact, df


def test_a_level_reached_at_the_first_evaluation_is_crossed_there() -> None:
    """The first evaluation (step 10) is already above the level: the crossing is step 10, not an
    interpolation from the last evaluation."""
    from l2advisor.science.clock import crossing_step
    from l2advisor.science.curves import Curve

    steps = np.arange(10.0, 310.0, 10.0)
    v = np.linspace(0.6, 0.9, steps.size)
    cv = Curve(lam=0.01, lr=0.1, seed=0, steps=steps, tau=1e-3 * steps, val_metric=v,
               train_acc=np.ones_like(v), train_loss=np.full_like(v, 0.1))
    assert crossing_step(cv, 0.5) == 10.0
    assert np.isnan(crossing_step(cv, 0.95))


def test_a_degenerate_ratio_of_spreads_is_not_shown_as_a_factor() -> None:
    """A seed at its top from step 0 lines the crossings up exactly on steps: a reviewer read
    "6.5e+30x better on steps than on tau"."""
    from l2advisor.science.verdict import _clock_comparison

    assert _clock_comparison(1 / 6.5e30) == "far better on steps than on tau (over 1,000x)"
    assert _clock_comparison(6.5e30) == "far better on tau than on steps (over 1,000x)"
    assert _clock_comparison(1 / 6.5) == "6.5x better on steps than on tau"  # the control: a factor stays one
    assert _clock_comparison(3.0) == "3x better on tau than on steps"
