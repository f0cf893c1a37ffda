"""The pooled curve on the tau clock where probes enter and leave the average.

Probes of different lams start at different tau (the first evaluation after step 0 is at step
10, tau = 10*lr*lam), so at small tau a plain mean over the probes present changes membership
from grid point to grid point. A metric that rises with steps at every lam then showed a dip in
the pooled curve that no probe has. The pool is chained (the mean change of the probes covering
both neighbouring grid points), which keeps every probe's shape and agrees with the plain mean
wherever every probe is present.
"""

from __future__ import annotations

import numpy as np

from l2advisor.science.collapse import collapse, on_grid, tau_grid
from l2advisor.science.curves import Curve, smooth
from l2advisor.training.eval_schedule import eval_steps

LR = 0.1
TAU_WINDOW = 4.0


def _probe(lam: float, seed: int, metric) -> Curve:
    """A probe of the real plan's shape: to tau = 4, evaluated 10 times a decade from step 10."""
    rung = int(round(TAU_WINDOW / (LR * lam)))
    steps = np.array([0, *eval_steps(rung, 1, per_decade=10)], dtype=float)
    values = metric(steps, lam)
    return Curve(lam=lam, lr=LR, seed=seed, steps=steps, tau=LR * lam * steps, val_metric=values,
                 train_acc=np.ones_like(values), train_loss=np.full_like(values, 0.1), status="finished")


def _steps_only(steps: np.ndarray, lam: float) -> np.ndarray:
    return 1.0 - 0.5 * np.exp(-steps / 8.0)  # rises with steps alone, fast; lam does nothing


def _plain_mean(curves: list[Curve], shifts: list[float]) -> tuple[np.ndarray, np.ndarray]:
    grid = tau_grid(curves)
    mat = np.array([on_grid(c, grid) + s for c, s in zip(curves, shifts, strict=True)])
    fin = np.isfinite(mat)
    ok = fin.sum(0) >= -(-len(curves) // 2)
    mean = np.where(ok, np.where(fin, mat, 0).sum(0) / np.maximum(fin.sum(0), 1), np.nan)
    return grid, smooth(mean)


def test_rising_probes_pool_without_a_dip_the_plain_mean_has() -> None:
    curves = [_probe(lam, s, _steps_only) for lam in (0.04, 0.02, 0.01) for s in (0, 1)]
    shifts = [0.0] * len(curves)
    out = collapse(curves, shifts, n_boot=10)
    pooled = np.asarray(out["collapsed_mean"], float)
    _, plain = _plain_mean(curves, shifts)
    fin = np.isfinite(pooled)
    assert fin.sum() > 20
    # the reference: the plain mean falls somewhere (a probe entering at its own low start)
    assert np.min(np.diff(plain[np.isfinite(plain)])) < -0.002
    # the chained pool never falls by more than float noise: every probe rises
    assert np.min(np.diff(pooled[fin])) > -1e-9


def test_pool_equals_the_plain_mean_where_every_probe_covers() -> None:
    curves = [_probe(lam, s, _steps_only) for lam in (0.04, 0.02, 0.01) for s in (0, 1)]
    shifts = [0.0, 0.01, -0.02, 0.0, 0.03, -0.01]
    out = collapse(curves, shifts, n_boot=10)
    grid, plain = _plain_mean(curves, shifts)
    mat = np.array([on_grid(c, grid) for c in curves])
    full = np.isfinite(mat).all(0)
    inner = full.copy()
    for shift in (1, 2, 3):  # the smoothing (a median of 3, then a mean of 5) reaches 3 points across
        inner[shift:] &= full[:-shift]
        inner[:-shift] &= full[shift:]
    assert inner.sum() > 10
    pooled = np.asarray(out["collapsed_mean"], float)
    np.testing.assert_allclose(pooled[inner], plain[inner], atol=1e-9)


def test_a_dip_every_probe_has_stays_in_the_pool() -> None:
    """Negative control: chaining must not smooth away a real fall on the tau clock."""
    def dip(steps: np.ndarray, lam: float) -> np.ndarray:
        tau = LR * lam * steps
        return 0.9 - 0.2 * np.exp(-((np.log(np.maximum(tau, 1e-9)) - np.log(1.0)) ** 2) / 0.1)

    curves = [_probe(lam, s, dip) for lam in (0.04, 0.02, 0.01) for s in (0, 1)]
    out = collapse(curves, [0.0] * len(curves), n_boot=10)
    tau = np.asarray(out["collapsed_tau"], float)
    pooled = np.asarray(out["collapsed_mean"], float)
    near = np.argmin(np.abs(np.log(tau)))
    assert pooled[near] < 0.85  # the dip at tau = 1: 0.2 deep, about 0.08 after smoothing
    assert np.nanmax(pooled) > 0.88
