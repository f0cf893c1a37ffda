"""How t* scales with the clock: log t* = log c0 - alpha log(lr*lam), and, with several lrs,
the separate exponents of lr and lam (is the clock really lr*lam?). Pure numpy.

One point per probe (lam, lr, seed); intervals from a bootstrap over the probes. And the two
directions of the clock a budget is solved on: the lr*lam whose top arrives at a budget
(`lam_for_budget`), and the steps to the top at an lr*lam (`steps_to_top`).
"""

from __future__ import annotations

import math

import numpy as np

from l2advisor.science.curves import CurveMetrics, finite_median

NAN = float("nan")
CLOCK_TOL = 0.3  # |beta_lr - beta_lam| above this: the clock is not lr*lam


def _slopes(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """OLS slope of each row of y on the same row of x (both (B, G)), shape (B,); NaN if flat."""
    xc = x - x.mean(axis=1, keepdims=True)
    var = (xc**2).sum(axis=1)
    cov = (xc * (y - y.mean(axis=1, keepdims=True))).sum(axis=1)
    return np.where(var > 1e-12, cov / np.where(var > 1e-12, var, 1.0), np.nan)


def _ci(samples: np.ndarray) -> tuple[float, float]:
    s = samples[np.isfinite(samples)]
    return (float(np.percentile(s, 2.5)), float(np.percentile(s, 97.5))) if s.size else (NAN, NAN)


def fit_alpha(ms: list[CurveMetrics], n_boot: int, rng) -> dict:
    """log t* = log c0 - alpha log(lr*lam), one point per probe; bootstrap over probes (seeds
    and lams together), each resampled t* drawn anywhere in its evaluation interval.

    Why per probe, not per seed-mean curve: with 3-4 lams, a bootstrap over lams gives
    two-point resamples and intervals wider than the question; the seeds are the replicates.
    Why the draw: t* is only known to an evaluation gap, (t_star_previous, t_star]. Rungs whose
    log-spaced evaluation grids line up in tau put every t* on the same tau grid point, and a
    bootstrap of those points alone gave an interval of zero width around exactly 1.
    """
    x = np.log([m.lr * m.lam for m in ms])
    y = np.log([m.t_star for m in ms])
    previous = np.log([m.t_star_previous for m in ms])
    gap = np.where(np.isfinite(previous), y - previous, 0.0)  # log width of each t*'s interval
    slope = _slopes(x[None, :], y[None, :])[0]
    idx = rng.integers(0, len(x), (n_boot, len(x)))
    within = np.random.default_rng(n_boot).random(idx.shape)  # its own stream: the draws after
    boot = _slopes(x[idx], y[idx] - within * gap[idx])  # this fit (c's interval) stay as they were
    return dict(alpha=float(-slope), alpha_interval=tuple(-v for v in _ci(boot)[::-1]),
                c0=float(np.exp(y.mean() - slope * x.mean())),
                tau_star_median=finite_median(m.tau_star for m in ms))


def fit_clock(ms: list[CurveMetrics], n_boot: int, rng) -> dict:
    """Separate exponents log t* = a - beta_lr log lr - beta_lam log lam (needs 2+ lrs)."""
    if len({m.lr for m in ms}) < 2:
        return {}
    a = np.column_stack([np.ones(len(ms)), -np.log([m.lr for m in ms]),
                         -np.log([m.lam for m in ms])])
    y = np.log([m.t_star for m in ms])
    if np.linalg.matrix_rank(a) < 3:
        return {}
    fit = np.linalg.lstsq(a, y, rcond=None)[0]
    boot = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if np.linalg.matrix_rank(a[i]) == 3:
            boot.append(np.linalg.lstsq(a[i], y[i], rcond=None)[0])
    b = np.array(boot).reshape(-1, 3)
    return dict(beta_lr=float(fit[1]), beta_lam=float(fit[2]),
                beta_lr_interval=_ci(b[:, 1]), beta_lam_interval=_ci(b[:, 2]),
                clock_is_lr_lam=bool(abs(fit[1] - fit[2]) <= CLOCK_TOL))


def lam_for_budget(c: float, b: float, clock_ref: float, budget: float) -> float:
    """lr*lam whose top arrives at `budget` steps, when c is the tau of the top at the probes'
    reference clock `clock_ref` (an lr*lam they measured) and the time to the top scales as
    (lr*lam)^-b from there: steps = (c/clock_ref) * (clock_ref/(lr*lam))^b.

    With b = 1 this is the paper's c/T. The anchor steps_ref = c/clock_ref does not move with b,
    so an interval over b's values keeps c's meaning.
    """
    if b == 1.0 or not math.isfinite(clock_ref):
        return c / budget if b == 1.0 else NAN
    steps_ref = c / clock_ref
    return clock_ref * (steps_ref / budget) ** (1.0 / b)


def steps_to_top(c: float, b: float, clock_ref: float, shrink: float) -> float:
    """Steps for the top to arrive at lr*lam = `shrink` (the inverse of `lam_for_budget`)."""
    if b == 1.0 or not math.isfinite(clock_ref):
        return c / shrink if b == 1.0 else NAN
    return (c / clock_ref) * (clock_ref / shrink) ** b
