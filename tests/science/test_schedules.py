"""Learning-rate schedule shapes and their tau-clock integrals (l2advisor.science.schedules)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l2advisor.science.schedules import (
    SCHEDULES,
    effective_steps,
    lr_factors,
    lr_integral,
    schedule_budget,
    steps_to_reach,
    tau_clock_lam,
)


def test_known_values_without_warmup() -> None:
    t = [0, 25, 50, 75, 99, 100, 150]
    assert lr_factors("constant", 100, steps=t).tolist() == [1.0] * 7
    assert lr_factors("linear", 100, steps=t) == pytest.approx([1.0, 0.75, 0.5, 0.25, 0.01, 0.0, 0.0])
    cosine = lr_factors("cosine", 100, steps=t)
    assert cosine[0] == 1.0 and cosine[2] == pytest.approx(0.5) and cosine[1] == pytest.approx(0.5 + 0.5 ** 0.5 / 2)
    assert cosine[4] == pytest.approx((1 + math.cos(math.pi * 0.99)) / 2) and cosine[5] == cosine[6] == 0.0
    assert lr_factors("step", 100, steps=[0, 49, 50, 74, 75, 99]) == pytest.approx([1, 1, 0.1, 0.1, 0.01, 0.01])


def test_warmup_ramps_then_the_schedule_runs_over_the_rest() -> None:
    f = lr_factors("linear", 110, warmup=10)
    assert f[:10] == pytest.approx(np.arange(1, 11) / 10)  # 0.1 .. 1.0: the first step is not wasted
    assert f[10] == 1.0 and f[60] == pytest.approx(0.5) and f[-1] == pytest.approx(0.01)
    assert lr_factors("linear", 110, warmup=10, steps=[110])[0] == 0.0  # ends at zero
    c = lr_factors("cosine", 110, warmup=10)
    assert c[9] == 1.0 and c[10] == 1.0 and c[60] == pytest.approx(0.5)
    assert lr_factors("constant", 20, warmup=4).tolist() == [0.25, 0.5, 0.75] + [1.0] * 17
    s = lr_factors("step", 110, warmup=10)
    assert s[59] == 1.0 and s[60] == pytest.approx(0.1) and s[85] == pytest.approx(0.01)


def test_decaying_schedules_are_monotone_and_in_range() -> None:
    for name in SCHEDULES:
        f = lr_factors(name, 257, warmup=13)
        assert np.all((f > 0) & (f <= 1)) and np.all(np.diff(f[13:]) <= 1e-15)


@pytest.mark.parametrize(("name", "steps", "expected"), [
    ("constant", 1000, 1.0),
    ("linear", 1000, 0.5005),  # sum_{k<T} (1 - k/T) / T = (T + 1) / (2T)
    ("cosine", 1000, 0.5005),  # sum of cos over a half period is 1 (the t = 0 term): (T + 1) / (2T)
    ("step", 1000, 0.5 + 0.25 * 0.1 + 0.25 * 0.01),
])
def test_lr_integral_known_answers(name: str, steps: int, expected: float) -> None:
    assert lr_integral(name, steps) == pytest.approx(expected, rel=1e-12)
    assert effective_steps(name, steps) == pytest.approx(expected * steps, rel=1e-12)


def test_warmup_integral_and_budget() -> None:
    # linear, T = 110, W = 10: ramp sums to 5.5, decay sum_{k<100} (1 - k/100) = 50.5
    b = schedule_budget("linear", 110, warmup=10)
    assert b.effective_steps == pytest.approx(56.0) and b.lr_integral == pytest.approx(56 / 110)
    assert b.lam_factor == pytest.approx(110 / 56) and b.schedule == "linear" and b.warmup == 10
    assert tau_clock_lam(1e-3, "constant", 500) == pytest.approx(1e-3)
    assert tau_clock_lam(1e-3, "cosine", 10_000) == pytest.approx(2e-3, rel=1e-3)  # 2x for decay to zero


def test_tau_clock_lam_reaches_the_constant_runs_tau() -> None:
    lam_const, steps, lr = 3e-4, 400, 0.05
    for name in SCHEDULES:
        lam = tau_clock_lam(lam_const, name, steps, warmup=20)
        tau = lam * lr * lr_factors(name, steps, warmup=20).sum()
        assert tau == pytest.approx(lam_const * lr * steps)


@pytest.mark.parametrize(("args", "message"), [
    (("exponential", 10), "unknown learning-rate schedule"),
    (("cosine", 0), "total_steps must be"),
    (("cosine", 10.5), "total_steps must be"),
    (("cosine", 10, 10), "warmup must be"),
    (("cosine", 10, -1), "warmup must be"),
])
def test_bad_arguments(args: tuple, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        lr_factors(*args)


def test_steps_to_reach_inverts_the_sum() -> None:
    assert steps_to_reach("constant", 100, 40.0) == 40 and steps_to_reach("constant", 100, 150.0) == 150
    # linear over 100 steps: sums of (1 - k/100) for k < n = n - n(n-1)/200; n = 50 gives 37.75
    assert steps_to_reach("linear", 100, 37.75) == 50 and steps_to_reach("linear", 100, 37.8) == 51
    t_eff = effective_steps("cosine", 400)
    assert steps_to_reach("cosine", 400, t_eff) == 400  # a tau-clock lam reaches its tau at the end
    assert steps_to_reach("cosine", 400, t_eff + 1) == math.inf  # never, once the lr is gone
    assert steps_to_reach("step", 100, 52.75 + 0.02) == pytest.approx(102)  # holds lr/100 past the end
    assert steps_to_reach("linear", 100, 0.0) == 0.0
