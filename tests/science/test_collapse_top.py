"""Where the pooled curve's top is (c) and how wide its interval is, on hand-made curves whose
tops are known: a flat top from tau 1 to 4 (c = 2, its geometric centre) and bumps at known tau."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l2advisor.science.collapse import collapse, pool_members
from l2advisor.science.curves import Curve


def _on_tau(values, seed: int = 0) -> Curve:
    """A probe evaluated 100 times, log-spaced in tau from 0.1 to 40 (lr*lam = 1e-3)."""
    tau = np.geomspace(0.1, 40.0, 100)
    v = values(tau)
    return Curve(lam=0.01, lr=0.1, seed=seed, steps=tau / 1e-3, tau=tau, val_metric=v,
                 train_acc=np.ones_like(v), train_loss=np.full_like(v, 0.1))


def _flat_top(tau: np.ndarray) -> np.ndarray:
    """0.899 at tau 1 rising to 0.900 at tau 4 (its max at the right end), shoulders at 0.893 out
    to 0.5 and 8, 0.7 beyond."""
    top = 0.899 + 0.001 * np.log(tau) / math.log(4.0)
    return np.where((tau >= 1) & (tau <= 4), top, np.where((tau >= 0.5) & (tau <= 8), 0.893, 0.7))


def test_c_is_the_centre_of_the_top_within_noise_not_its_argmax() -> None:
    """One probe, evaluation noise 0.01: delta = 0.01 / sqrt(5) = 0.0045, so the top is tau 1..4
    (the shoulders, 0.007 below, are out): c = 2 although the max sits near 4; the interval is
    the top's extent (one probe: no bootstrap)."""
    out = collapse([_on_tau(_flat_top)], [0.0], noise=0.01, n_boot=50)
    assert out["c"] == pytest.approx(2.0, rel=0.15)
    lo, hi = out["c_interval"]
    assert lo == pytest.approx(1.0, rel=0.2) and hi == pytest.approx(4.0, rel=0.2)
    assert out["edge"] == ""


def _bump(top: float):
    return lambda tau: 0.9 - 0.05 * np.log(tau / top) ** 2


@pytest.mark.parametrize("tops", [(1.0, 4.0), (1.0, 1.0, 4.0, 4.0), (1.0, 2.0, 4.0)])
def test_the_interval_holds_each_probes_own_top(tops: tuple[float, ...]) -> None:
    """Probes whose tops disagree (tau 1 and 4), the same height: the pool's top is between
    (c = 2), and the 95% bootstrap interval reaches each probe's own top, not just the middle."""
    curves = [_on_tau(_bump(t), seed) for seed, t in enumerate(tops)]
    out = collapse(curves, [0.0] * len(curves), n_boot=200, rng=np.random.default_rng(0))
    assert out["c"] == pytest.approx(2.0, rel=0.05)
    lo, hi = out["c_interval"]
    assert lo < 1.1 and hi > 3.6


def test_only_the_probes_that_peaked_are_pooled_unless_none_did() -> None:
    assert pool_members([True, False, True]) == [True, False, True]
    assert pool_members([False, False]) == [True, True]
    assert pool_members([True, True]) == [True, True]


def _falling(seed: int) -> Curve:
    """A probe already at its best at the first point (tau 0.1), falling after it."""
    tau = np.geomspace(0.1, 40.0, 100)
    v = 0.9 - 0.02 * np.log(tau / 0.1) + 0.001 * seed
    return Curve(lam=0.01, lr=0.1, seed=seed, steps=tau / 1e-3, tau=tau, val_metric=v,
                 train_acc=np.ones_like(v), train_loss=np.full_like(v, 0.1))


def test_a_pool_best_at_its_first_point_says_so() -> None:
    """The other edge (audit 40b: never setting "first" went unnoticed): c is then an upper bound."""
    out = collapse([_falling(0), _falling(1)], [0.0, 0.0], noise=0.01, n_boot=50)
    assert out["edge"] == "first" and out["c"] == pytest.approx(0.1)
    assert collapse([_on_tau(_flat_top)], [0.0], noise=0.01, n_boot=50)["edge"] == ""  # the control


def test_the_fit_reads_a_first_point_top_as_an_upper_bound_and_caps_the_verdict(monkeypatch) -> None:
    """fit.py maps the collapse's "first" edge to c_bound "upper", says so, and a clean tau-clock
    family that would hold is capped at "holds approximately"."""
    import synthetic as S

    import l2advisor.science.fit as fit_module

    curves = S.family()
    assert fit_module.fit_relations(curves).verdict == fit_module.HOLDS  # the control: no edge
    real = fit_module.collapse
    monkeypatch.setattr(fit_module, "collapse", lambda *a, **k: {**real(*a, **k), "edge": "first"})
    f = fit_module.fit_relations(curves)
    assert f.c_bound == "upper" and f.verdict == fit_module.APPROX
    assert "the pooled curve is best at its first point: c is an upper bound" in f.reasons


def _sampled(top: float, noise_seed: int, per_decade: int = 10) -> Curve:
    """A probe evaluated `per_decade` times per decade of tau (0.05 .. 4), a broad bump at `top`
    with evaluation noise 0.02 (a reviewer's wide model on noisy labels: the two seeds' curves,
    centred on one peak level, agreed to 2e-5 at the pooled max)."""
    tau = 10 ** np.arange(math.log10(0.05), math.log10(4.0) + 1e-9, 1.0 / per_decade)
    v = 0.83 - 0.02 * np.log(tau / top) ** 2 + np.random.default_rng(noise_seed).normal(0, 0.02, tau.size)
    return Curve(lam=0.01, lr=0.1, seed=noise_seed, steps=tau / 1e-3, tau=tau, val_metric=v,
                 train_acc=np.ones_like(v), train_loss=np.full_like(v, 0.1))


def test_two_agreeing_seeds_do_not_shrink_the_interval_to_a_point() -> None:
    """Two copies of one noisy probe (the standard error over probes is 0 everywhere): the interval
    still spans the top within the evaluation noise (0.02 / sqrt(5 * 2)) and at least half an
    evaluation step (10 per decade: a factor 10^0.05) on each side of c; c itself is read as before
    (from the standard error, here the argmax)."""
    curve = _sampled(0.5, 3)
    out = collapse([curve, curve], [0.0, 0.0], noise=0.02, n_boot=50)
    lo, hi = out["c_interval"]
    assert lo < hi
    half = 10 ** 0.05
    assert lo <= out["c"] / half * 1.001 and hi >= out["c"] * half / 1.001
    assert hi / lo > 2.0  # the bump is flat within the noise over more than a factor 2
    # c is the argmax of the pooled curve, untouched by the interval's noise floor
    grid = np.array(out["collapsed_tau"])
    assert out["c"] == pytest.approx(grid[int(np.nanargmax(out["collapsed_mean"]))])


def test_a_sharp_noiseless_top_keeps_a_narrow_interval() -> None:
    """The control: a noiseless, sharp bump (one evaluation step wide at its top) gets an interval of
    about one evaluation step around its top, not the noise floor's breadth."""
    tau = 10 ** np.arange(math.log10(0.05), math.log10(4.0) + 1e-9, 0.1)
    v = 0.9 - 0.5 * np.log(tau / 0.5) ** 2
    curve = Curve(lam=0.01, lr=0.1, seed=0, steps=tau / 1e-3, tau=tau, val_metric=v, train_acc=np.ones_like(v),
                  train_loss=np.full_like(v, 0.1))
    out = collapse([curve, curve], [0.0, 0.0], noise=0.0, n_boot=50)
    lo, hi = out["c_interval"]
    assert lo <= out["c"] <= hi and 10 ** 0.1 / 1.01 <= hi / lo < 10 ** 0.25  # one step (10^0.1), a little more
    assert out["c"] == pytest.approx(0.5, rel=0.15)
