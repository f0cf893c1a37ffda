"""The chained pooled curve where probes cover different stretches of the tau clock.

Every probe here follows one curve f(tau) (linear in log tau, so smoothing leaves it alone),
moved by its own shift (the centring on the plateau level). Whatever stretch each probe covers,
the pooled curve must then be f moved by the shifts' mean over the probes present where most
are: a probe entering or leaving the average moves nothing. Where fewer than half the probes
cover a point the pool says nothing, and a stretch that no probe links to its neighbour starts
again from the probes there.
"""

from __future__ import annotations

import numpy as np
import pytest

from l2advisor.science.collapse import collapse, tau_grid
from l2advisor.science.curves import Curve, smooth

TAU = np.geomspace(1e-3, 1e2, 1001)  # 200 evaluations a decade, shared by every probe


def f(tau: np.ndarray) -> np.ndarray:
    return 0.5 + 0.1 * np.log10(tau)


def probe(seed: int, lo: float, hi: float) -> Curve:
    """A probe evaluated at the shared tau points in [lo, hi]."""
    tau = TAU[(TAU >= lo * (1 - 1e-9)) & (TAU <= hi * (1 + 1e-9))]
    steps = np.round(tau / TAU[0]).astype(float)
    return Curve(lam=0.01, lr=0.1, seed=seed, steps=steps, tau=tau, val_metric=f(tau),
                 train_acc=np.ones_like(tau), train_loss=np.full_like(tau, 0.1), status="finished")


def pooled(curves: list[Curve], shifts: list[float]) -> tuple[np.ndarray, np.ndarray]:
    out = collapse(curves, shifts, n_boot=5)
    return np.asarray(out["collapsed_tau"], float), np.asarray(out["collapsed_mean"], float)


def covered(curves: list[Curve], grid: np.ndarray) -> np.ndarray:
    """How many probes cover each grid point, shape (G,)."""
    return np.array([(grid >= c.tau[0] * (1 - 1e-9)) & (grid <= c.tau[-1] * (1 + 1e-9)) for c in curves]).sum(0)


def expected(grid: np.ndarray, level: np.ndarray, count: np.ndarray, k: int) -> np.ndarray:
    """f plus `level` where at least half the k probes cover, smoothed as the pool is."""
    return smooth(np.where(count >= -(-k // 2), f(grid) + level, np.nan))


def test_probes_entering_and_leaving_do_not_move_the_pooled_curve() -> None:
    # two probes from the grid's start, two more joining later, one leaving early
    curves = [probe(0, 1e-2, 1e1), probe(1, 1e-2, 1e2), probe(2, 1e-1, 1e2), probe(3, 1e0, 1e2)]
    shifts = [0.0, 0.1, -0.06, 0.04]
    grid, mean = pooled(curves, shifts)
    count = covered(curves, grid)
    assert count[0] == 2 and count.max() == 4 and count[-1] == 3  # the layout the test is about
    want = expected(grid, np.full(grid.shape, np.mean(shifts)), count, len(curves))
    assert np.isfinite(mean).all()
    np.testing.assert_allclose(mean, want, atol=2e-3)


@pytest.mark.parametrize("layout", [
    [(1e-3, 1e2), (1e-1, 1e2), (1e-1, 1e2)],  # a tail that only one probe of three covers
    [(1e-2, 0.3), (1e-2, 1e2), (3.0, 1e2), (3.0, 1e2)],  # most of them on the right, a gap in between
    [(1e-2, 0.3), (1e-2, 0.3), (1e-2, 1e2), (3.0, 1e2)],  # most of them on the left, a gap in between
])
def test_the_pool_is_said_only_where_half_the_probes_are(layout: list[tuple[float, float]]) -> None:
    curves = [probe(seed, lo, hi) for seed, (lo, hi) in enumerate(layout)]
    grid, mean = pooled(curves, [0.0] * len(curves))
    count = covered(curves, grid)
    assert (count < -(-len(curves) // 2)).sum() > 10  # a stretch that too few probes cover
    want = expected(grid, np.zeros(grid.shape), count, len(curves))
    np.testing.assert_allclose(mean, want, atol=2e-3)  # NaN where, and only where, it should be


def test_a_stretch_no_probe_links_restarts_from_the_probes_there() -> None:
    """Two probes that meet but never overlap: each stretch is its own probe, at its own shift."""
    curves = [probe(0, 1e-2, 1.0), probe(1, TAU[TAU > 1.0][0], 1e2)]
    shifts = [0.0, 0.1]
    grid, mean = pooled(curves, shifts)
    count = covered(curves, grid)
    assert (count == 1).all()  # every point covered, by one probe
    level = np.where(grid <= 1.0, shifts[0], shifts[1])
    np.testing.assert_allclose(mean, expected(grid, level, count, len(curves)), atol=2e-3)


def test_probes_that_share_one_grid_point_pool_at_their_mean_on_both_sides() -> None:
    """The most-covered point is a single one: the level there (the mean of both shifts) carries
    on either side, as it does where a probe joins the average anywhere else."""
    grid = np.geomspace(1e-2, 1e2, 80)  # the grid collapse lays over probes spanning 1e-2..1e2
    meet = grid[40]
    curves = []
    for seed, (lo, hi) in enumerate([(1e-2, meet), (meet, 1e2)]):
        tau = np.geomspace(lo, hi, 400)
        curves.append(Curve(lam=0.01, lr=0.1, seed=seed, steps=np.arange(1.0, 401.0), tau=tau, val_metric=f(tau),
                            train_acc=np.ones_like(tau), train_loss=np.full_like(tau, 0.1), status="finished"))
    shifts = [0.0, 0.1]
    out_grid, mean = pooled(curves, shifts)
    np.testing.assert_array_equal(out_grid, tau_grid(curves))
    np.testing.assert_allclose(out_grid, grid)
    count = covered(curves, out_grid)
    assert count.max() == 2 and (count == 2).sum() == 1  # they share one grid point only
    want = expected(out_grid, np.full(grid.shape, np.mean(shifts)), count, len(curves))
    np.testing.assert_allclose(mean, want, atol=2e-3)


def test_the_pool_stays_within_the_probes_values() -> None:
    """Two probes that top out at 0.95 and share only a short stretch, where one is on its top and
    the other still low: chained from there, the second's rise carried the pool to 1.13."""
    first = Curve(lam=0.01, lr=0.1, seed=0, steps=np.arange(1.0, 301.0), tau=np.geomspace(1e-2, 1.5, 300),
                  val_metric=np.minimum(0.95, 1.0 + 0.1 * np.log10(np.geomspace(1e-2, 1.5, 300))),
                  train_acc=np.ones(300), train_loss=np.full(300, 0.1), status="finished")
    tau = np.geomspace(0.7, 100.0, 300)
    second = Curve(lam=0.005, lr=0.1, seed=0, steps=np.arange(1.0, 301.0), tau=tau,
                   val_metric=0.5 + 0.45 * np.log10(tau / 0.7) / np.log10(100.0 / 0.7),
                   train_acc=np.ones(300), train_loss=np.full(300, 0.1), status="finished")
    out = collapse([first, second], [0.0, 0.0], n_boot=5)
    mean = np.asarray(out["collapsed_mean"], float)
    assert np.nanmax(mean) <= 0.95 + 1e-9 and np.nanmin(mean) >= 0.5 - 1e-9
    assert np.nanmax(mean) > 0.9  # the pool still reaches the top the probes reach
