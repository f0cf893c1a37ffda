"""curves.py: smoothing, per-probe metrics, the early-stop rule, pooling on tau."""

from __future__ import annotations

import numpy as np
import pytest
import synthetic as S

from l2advisor.science.collapse import collapse, on_grid, tau_grid
from l2advisor.science.curves import (
    Curve,
    analyze_curve,
    has_peaked,
    noise_sd,
    smooth,
)


def _series(values, lr=0.1, lam=0.01, status="finished", train_acc=None, loss=None):
    v = np.asarray(values, dtype=float)
    steps = np.arange(1, v.size + 1) * 10
    acc = np.ones_like(v) if train_acc is None else np.asarray(train_acc, float)
    loss = np.full_like(v, 0.1) if loss is None else np.asarray(loss, float)
    return Curve(lam=lam, lr=lr, seed=0, steps=steps, tau=lr * lam * steps, val_metric=v,
                 train_acc=acc, train_loss=loss, status=status)


# ---- smooth -----------------------------------------------------------------------------


@pytest.mark.parametrize("n", [0, 1, 2])
def test_smooth_short_series_unchanged(n):
    v = np.arange(n, dtype=float)
    assert np.array_equal(smooth(v), v)


def test_smooth_keeps_constants_and_shape():
    assert np.allclose(smooth(np.full(40, 0.7)), 0.7)
    assert smooth(np.zeros(17), 9).shape == (17,)


def test_smooth_removes_spike_and_noise():
    rng = np.random.default_rng(0)
    v = 0.9 + rng.normal(0, 0.01, 200)
    v[50] = 0.0  # a glitch evaluation
    s = smooth(v)
    assert abs(s[50] - 0.9) < 0.02
    assert np.std(s - 0.9) < 0.6 * np.std(np.delete(v, 50) - 0.9)


def test_smooth_nan_safe():
    v = np.linspace(0, 1, 30)
    v[[3, 4, 20]] = np.nan
    s = smooth(v)
    assert np.isfinite(s).all()
    assert np.isnan(smooth(np.full(10, np.nan))).all()


def test_noise_sd_recovers_sigma():
    rng = np.random.default_rng(1)
    v = np.linspace(0.2, 0.9, 400) + rng.normal(0, 0.01, 400)
    assert noise_sd(v) == pytest.approx(0.01, rel=0.2)
    assert np.isnan(noise_sd([1.0, np.nan]))


# ---- analyze_curve ----------------------------------------------------------------------


def test_analyze_synthetic_peak_and_tstar():
    cv = S.curve(0.01, 0.1, 0, c=3.0, noise=0.002)
    m = analyze_curve(cv)
    assert m.peak_metric == pytest.approx(0.95, abs=0.004)
    assert m.peak_tau == pytest.approx(3.0, rel=0.35)  # single-run argmax: flat top, wanders
    assert m.tau_star == pytest.approx(0.1 * 0.01 * m.t_star)
    assert m.tau_star < m.peak_tau  # within-tolerance t* comes before the top of the curve
    assert m.peaked and not m.diverged and m.overparameterized
    assert m.n_points == len(cv.steps)
    assert m.noise == pytest.approx(0.002, rel=0.3)


def test_analyze_still_rising_is_not_peaked():
    assert not analyze_curve(S.curve(0.01, 0.1, 0, horizon=0.8)).peaked


def test_analyze_overparameterized_flags():
    assert analyze_curve(S.curve(0.01, 0.1, 0, train_top=0.85)).overparameterized is False
    cv = S.curve(0.01, 0.1, 0)
    no_acc = Curve(**{**cv.__dict__, "train_acc": np.full(len(cv.steps), np.nan)})
    m = analyze_curve(no_acc)
    assert m.overparameterized is None and np.isnan(m.final_train_acc)


def test_analyze_divergence():
    assert analyze_curve(_series(np.linspace(0.1, 0.9, 30), status="diverged")).diverged
    loss = np.full(30, 0.5)
    loss[20:] = np.nan
    assert analyze_curve(_series(np.linspace(0.1, 0.9, 30), loss=loss)).diverged
    assert not analyze_curve(_series(np.linspace(0.1, 0.9, 30))).diverged


def test_step_zero_without_training_loss_is_not_divergence():
    loss, acc = np.full(30, 0.5), np.ones(30)
    loss[0] = acc[0] = np.nan  # the step-0 record of a real probe: no step taken yet
    m = analyze_curve(_series(np.linspace(0.1, 0.9, 30), loss=loss, train_acc=acc))
    assert not m.diverged


@pytest.mark.parametrize("values", [[], [np.nan] * 5, [0.5], [0.5, 0.5]])
def test_analyze_degenerate_never_raises(values):
    m = analyze_curve(_series(values))
    assert m.n_points == len(values)


def test_analyze_mismatched_lengths_truncates():
    cv = _series(np.linspace(0, 1, 20))
    short = Curve(**{**cv.__dict__, "train_loss": np.ones(5)})
    assert analyze_curve(short).n_points == 5


# ---- has_peaked -------------------------------------------------------------------------


def _first_stop(cv: Curve) -> int | None:
    for n in range(1, len(cv.steps) + 1):
        if has_peaked(cv.steps[:n], cv.tau[:n], cv.val_metric[:n]):
            return n
    return None


def test_has_peaked_stops_after_twice_the_peak_tau():
    cv = S.curve(0.01, 0.1, 0, c=3.0, horizon=4.0, noise=0.002)
    n = _first_stop(cv)
    assert n is not None
    assert 2.0 * 3.0 * 0.8 <= cv.tau[n - 1] <= 3.5 * 3.0


def test_has_peaked_never_in_first_evaluations():
    v = np.r_[np.linspace(0.2, 0.9, 5), np.linspace(0.9, 0.5, 9)]  # 14 points, clear drop
    assert not has_peaked(np.arange(14), np.arange(14) * 0.1, v)


def test_has_peaked_not_on_rising_curve():
    cv = S.curve(0.01, 0.1, 0, horizon=0.9, noise=0.002)
    assert _first_stop(cv) is None
    v = np.log1p(np.arange(100.0))
    assert not has_peaked(np.arange(100), np.arange(100) * 0.01, v)


def test_has_peaked_on_stall_only_after_three_times_the_peak_tau():
    v = np.r_[np.linspace(0.2, 0.9, 20), np.full(50, 0.9)]  # top reached at index 19
    assert not has_peaked(np.arange(56), np.arange(56) * 0.1, v[:56])  # tau 5.5 < 3 * 1.9
    assert has_peaked(np.arange(70), np.arange(70) * 0.1, v)  # tau 6.9 >= 5.7


def test_has_peaked_waits_for_min_tau():
    v = np.r_[np.linspace(0.2, 0.9, 10), np.linspace(0.9, 0.5, 30)]  # clear drop after tau 0.9
    steps = np.arange(40)
    assert has_peaked(steps, steps * 0.1, v)
    assert not has_peaked(steps, steps * 0.1, v, min_tau=4.0)  # tau ends at 3.9
    assert has_peaked(steps[:38], steps[:38] * 0.2, v[:38], min_tau=4.0)  # tau reaches 7.4


# ---- pooling ----------------------------------------------------------------------------


def test_on_grid_interpolates_inside_only():
    cv = _series(np.linspace(0.1, 0.9, 30))
    grid = np.geomspace(cv.tau[0] / 2, cv.tau[-1] * 2, 50)
    g = on_grid(cv, grid)
    assert np.isnan(g[0]) and np.isnan(g[-1]) and np.isfinite(g[25])
    assert tau_grid([cv]).size == 80


def test_collapse_finds_c_across_lams():
    curves = [S.curve(lam, 0.1, s, c=3.0) for lam in (0.02, 0.01, 0.005) for s in (0, 1)]
    out = collapse(curves, [0.0] * len(curves), n_boot=50)
    assert out["c"] == pytest.approx(3.0, rel=0.2)
    assert out["c_interval"][0] <= out["c"] <= out["c_interval"][1]
    assert out["edge"] == ""
    assert collapse([], []) == {}


def test_analyze_flat_top_counts_as_peaked():
    v = np.r_[np.linspace(0.2, 0.9, 20), np.full(80, 0.9)]
    v[90:95] += 0.002  # the max sits late on a flat top, within the tolerance
    m = analyze_curve(_series(v))
    assert m.peak_step > m.t_star * 4 and m.peaked


def test_alpha_interval_knows_the_evaluation_gaps() -> None:
    """Rungs 400, 800 and 1,600 steps long, evaluated 10 times a decade at steps in proportion
    (2x and 4x the shortest rung's): their tau grids line up, every t* sits on the same tau point, and a bootstrap of the points alone said alpha = 1 with
    an interval of zero width. t* is known only to its evaluation gap: the interval must be wide
    enough to hold that, and a real departure from 1 must still show."""
    from l2advisor.science.scaling import fit_alpha
    from l2advisor.training.eval_schedule import eval_steps

    def probes(shift: float) -> list:
        out = []
        for rung, lam in ((400, 0.1), (800, 0.05), (1600, 0.025)):
            steps = np.array([0, *eval_steps(400, 1, per_decade=10)], dtype=float) * (rung / 400)
            top = 2.0 / (0.1 * lam) * (lam / 0.1) ** shift  # crosses at tau = 2 (shift 0: alpha 1)
            metric = np.minimum(steps / top, 1.0)
            for seed in (0, 1):
                curve = Curve(lam=lam, lr=0.1, seed=seed, steps=steps, tau=0.1 * lam * steps,
                              val_metric=metric, train_acc=metric, train_loss=1 - metric, status="finished")
                out.append(analyze_curve(curve, tolerance=0.005, smoothing=1))
        return out

    aligned = probes(0.0)
    assert len({round(m.tau_star, 9) for m in aligned}) == 1  # the same tau grid point for all
    assert all(m.t_star_previous < m.t_star for m in aligned)
    fit = fit_alpha(aligned, 400, np.random.default_rng(0))
    lo, hi = fit["alpha_interval"]
    assert lo < 1.0 < hi and hi - lo > 0.05  # wide enough for a t* known to ~26% steps
    assert hi - lo < 0.6  # and no wider than the gaps allow over a 4x span of lams
    steeper = fit_alpha(probes(-0.6), 400, np.random.default_rng(0))  # t* ~ lam^-1.6 in truth
    assert steeper["alpha_interval"][0] > 1.2  # the control: a real exponent still excludes 1
