"""Which clock sets the time to the top: steps * (lr*lam)^b, with b fitted (pure numpy).

b = 1 is the paper's tau clock (the time to the top scales as 1/(lr*lam)); b = 0 means lam
does not set the time at all. The evidence is when each probe's smoothed curve first reaches
a few common levels just below the lowest peak of the probes compared: every probe reaches
those levels inside its own window, so unlike t* (first point within a tolerance of the
probe's *own* peak, which a longer window raises), the crossing times cannot be faked by
windows whose length is proportional to 1/(lr*lam).

Model: log t_cross(probe i, level j) = a_j - b * log(lr_i * lam_i) + noise, one intercept
per level, one b; or, when it fits clearly better, t_cross = floor + exp(a_j) * (lr_i*lam_i)^-b
with one floor in steps (the lam-independent first rise, `_fit_clock`). Interval: bootstrap over the seeds of each lam (every lam stays in); with one
seed per lam there is nothing to resample, so the interval is unknown (NaN), not zero-wide.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from l2advisor.science.curves import Curve, smooth

LEVELS_BELOW_PEAK = (1.0, 2.0, 3.0, 4.0)  # in tolerances below the lowest compared peak
NAN = float("nan")
B_SNAP = 0.1  # |b - 1| within this: read c on the tau clock itself


def crossing_step(curve: Curve, level: float) -> float:
    """First step where the smoothed metric reaches `level`, interpolated linearly in log steps
    between evaluations; NaN when it never does (steps of 0 are skipped: no log)."""
    steps = np.asarray(curve.steps, dtype=float)
    s = smooth(np.asarray(curve.val_metric, dtype=float))
    n = min(steps.size, s.size)
    steps, s = steps[:n], s[:n]
    hit = np.flatnonzero(np.isfinite(s) & (s >= level))
    if hit.size == 0:
        return NAN
    k = int(hit[0])
    if k == 0 or steps[k] <= 0:
        return float(steps[k]) if steps[k] > 0 else NAN
    lo, hi = np.log(max(steps[k - 1], 1.0)), np.log(steps[k])
    frac = (level - s[k - 1]) / (s[k] - s[k - 1]) if s[k] > s[k - 1] and np.isfinite(s[k - 1]) else 1.0
    return float(np.exp(lo + np.clip(frac, 0.0, 1.0) * (hi - lo)))


def _slope_fit(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of y[..., i, j] = a_j - b * x[..., i] (one intercept per level j, one b),
    over leading batch axes: returns (b (...,), fitted y (..., n, L)). x: (..., n) with at least
    two distinct values, y: (..., n, L), no NaN. The levels share b, so b is the slope of the
    level-centred y on the centred x, pooled over levels: the normal equations of the design
    [one-hot levels | -x], solved in closed form (a bootstrap of 200 samples x 8 floors in one
    pass: np.linalg.lstsq per sample cost the probe command 0.1 s)."""
    xc = x - x.mean(axis=-1, keepdims=True)  # (..., n)
    y_mean = y.mean(axis=-2, keepdims=True)  # (..., 1, L): each level's intercept at mean x
    yc = y - y_mean
    b = -np.einsum("...i,...ij->...", xc, yc) / (y.shape[-1] * (xc ** 2).sum(axis=-1))
    return b, y_mean - b[..., None, None] * xc[..., :, None]


def _fit_b(clocks: np.ndarray, log_t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares b, and the residual sum of squares with b fixed at 0 and at 1 (intercepts
    refitted): returns (b, rss_b0, rss_b1), each (...,). clocks (..., n), log_t: (..., n_probes,
    n_levels), no NaN."""
    x = np.log(clocks)
    b, _ = _slope_fit(x, log_t)

    def rss_at(slope: float) -> np.ndarray:
        shifted = log_t + slope * x[..., :, None]  # what the intercepts must explain
        return ((shifted - shifted.mean(axis=-2, keepdims=True)) ** 2).sum(axis=(-2, -1))

    return b, rss_at(0.0), rss_at(1.0)


# Candidate floors, as fractions of the earliest crossing. Up to 0.7: an additive floor over-corrects
# a crossing that is really the later of the rise and the tau clock, and with floors up to 0.95 the
# simulated positives' b came out 1.2-1.3 (tails to 1.8); up to 0.7, 0.8-1.2 (up to 0.5: 0.5-1.0).
FLOOR_FRACTIONS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


def _floor_critical(df: int) -> float:
    """F(1, df) at 0.99, approximated as 6.63 + 34/df: within 3% and on the conservative side for
    df >= 10 (a probe plan gives 18 or more), too lenient below (F(1, 6) is 13.7, this 12.3); no
    scipy.stats import, which costs a command 0.7 s."""
    return 6.63 + 34.0 / max(df, 1)


def _log_rss(clocks: np.ndarray, steps: np.ndarray, floor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Crossing times modelled as floor + exp(a_level) * clock^-b: b fitted on log(t - floor),
    the misfit measured on log t. clocks (..., n), steps (..., n, L), floor (...,) in steps.
    Returns (misfit, b), each (...,)."""
    floor = np.asarray(floor, dtype=float)[..., None, None]
    b, fitted = _slope_fit(np.log(clocks), np.log(steps - floor))
    predicted = np.log(floor + np.exp(fitted))
    return ((np.log(steps) - predicted) ** 2).sum(axis=(-2, -1)), b


def _fit_clocks(clocks: np.ndarray, steps: np.ndarray) -> tuple[np.ndarray, ...]:
    """`_fit_clock` over a leading batch axis: clocks (S, n), steps (S, n, L); returns b, rss_b0,
    rss_b1 and the floor, each (S,)."""
    power, b_power = _log_rss(clocks, steps, np.zeros(len(clocks)))
    floors = np.asarray(FLOOR_FRACTIONS)[None, :] * steps.min(axis=(1, 2))[:, None]  # (S, F)
    misfits, b_floors = _log_rss(clocks[:, None], steps[:, None], floors)  # (S, F)
    best = np.lexsort((floors, b_floors, misfits), axis=-1)[:, 0]  # the least misfit (ties: as min() of tuples)
    rows = np.arange(len(clocks))
    misfit, b_floor, floor = misfits[rows, best], b_floors[rows, best], floors[rows, best]
    df = steps.shape[1] * steps.shape[2] - steps.shape[2] - 2  # the intercepts, b and the floor
    # only the signature of a rise that holds up the quick clocks: a floor that steepens a
    # positive b (with b < 0, larger lams arriving later, a floor would only exaggerate it)
    steeper = (b_power > 0.0) & (b_floor > b_power)
    with np.errstate(divide="ignore", invalid="ignore"):
        f_ratio = (power - misfit) / np.maximum(misfit / max(df, 1), 1e-300)
    floored = steeper & (df > 0) & (misfit < power) & (f_ratio > _floor_critical(df))
    floor = np.where(floored, floor, 0.0)
    b, rss0, rss1 = _fit_b(clocks, np.log(steps - floor[:, None, None]))
    return np.where(floored, b_floor, b), rss0, rss1, floor


def _fit_clock(clocks: np.ndarray, steps: np.ndarray) -> tuple[float, float, float, float]:
    """(b, rss_b0, rss_b1, floor in steps). The crossings of the largest lams can sit on a
    floor: the fast, lam-independent rise every probe needs first, which a top rung whose clock
    is quick reaches the common levels only after (benchmarks/slow_rise.py: b 0.35-0.8 for tops
    exactly on the tau clock). A floor is kept only when it fits clearly better than none (an
    F-test at 0.01: simulated nulls take one 0-1 times in 40, slow-rise positives 25-40); b is
    then read on the time above it."""
    b, rss0, rss1, floor = _fit_clocks(clocks[None], steps[None])
    return float(b[0]), float(rss0[0]), float(rss1[0]), float(floor[0])


def fit_time_exponent(curves: list[Curve], peaks: list[float], tolerance: float,
                      n_boot: int, rng: np.random.Generator) -> dict:
    """b, its bootstrap interval, and how well tau and steps each line up the crossings.

    `curves` are the probes compared (one lr preferred), `peaks` their smoothed peak metrics.
    Levels: LEVELS_BELOW_PEAK tolerances below the lowest peak. Returns {} with fewer than 2
    distinct lr*lam values; keys b, b_interval, steps_over_tau (rss at b=0 / rss at b=1: > 1
    means the tau clock lines the probes up better than steps), n_clocks, levels. Probes already
    at the highest level at step 0 are left out (levels then from the others' peaks), counted in
    n_at_start.
    """
    at_start = [i for i, c in enumerate(curves) if _starts_at(c, min(peaks) - max(tolerance, 1e-6))]
    if at_start:  # no time to reach the levels: no evidence on the clock, and their NaN crossings drop every level
        kept = [i for i in range(len(curves)) if i not in at_start]
        found = fit_time_exponent([curves[i] for i in kept], [peaks[i] for i in kept], tolerance, n_boot, rng)
        return {**found, "n_at_start": len(at_start)} if found else {}
    clocks = np.array([c.lr * c.lam for c in curves], dtype=float)
    groups = _clock_groups(clocks)
    if len(groups) < 2:
        return {}
    top = min(peaks)
    levels = [top - k * max(tolerance, 1e-6) for k in LEVELS_BELOW_PEAK]
    steps = np.array([[crossing_step(c, lv) for lv in levels] for c in curves])  # (n, L)
    keep_levels = np.isfinite(steps).all(axis=0)
    if not keep_levels.any():
        return {}
    steps = steps[:, keep_levels]
    b, rss0, rss1, floor = _fit_clock(clocks, steps)
    samples = [np.concatenate([rng.choice(g, g.size) for g in groups])
               for _ in range(n_boot if any(g.size > 1 for g in groups) else 0)]
    boot = _fit_clocks(clocks[samples], steps[samples])[0] if samples else []  # (n_boot,) b's, one pass
    lo, hi = (np.percentile(boot, [2.5, 97.5]) if samples else (NAN, NAN))
    ratio = rss0 / rss1 if rss1 > 0 else (math.inf if rss0 > 0 else 1.0)
    return dict(b=b, b_interval=(float(lo), float(hi)), steps_over_tau=float(ratio), floor_steps=floor,
                n_clocks=len(groups), levels=tuple(float(v) for v, k in zip(levels, keep_levels, strict=True) if k))


def _starts_at(curve: Curve, level: float) -> bool:
    """Whether the smoothed metric is at `level` (the highest common level) already at step 0: a
    probe of a model that starts near its top (fine-tuning), whose time to the levels is none."""
    steps = np.asarray(curve.steps, dtype=float)
    s = smooth(np.asarray(curve.val_metric, dtype=float))
    return bool(steps.size and s.size and steps[0] <= 0 and np.isfinite(s[0]) and s[0] >= level)


def _clock_groups(clocks: np.ndarray) -> list[np.ndarray]:
    """Indices of the probes at each clock, smallest clock first. Clocks equal to 1e-9 relative
    (the float noise of lr*lam) are one; relative, not absolute: lr*lam of 1e-9 and 2e-9 (lr 1e-4,
    lam 1e-5) are two clocks, which np.isclose's absolute 1e-8 took for one."""
    keys: list[float] = []
    for value in np.unique(clocks):
        if not keys or not math.isclose(value, keys[-1], rel_tol=1e-9):
            keys.append(float(value))
    return [np.flatnonzero(np.isclose(clocks, key, rtol=1e-9, atol=0.0)) for key in keys]


def clock_exponent(f: dict) -> float:
    """The b of the clock c is read on: the paper's 1 when b is within B_SNAP of it or its 95%
    interval contains it or is unknown (or b says lam does not set the time: the verdict handles that), else
    the fitted b, clipped to [0.4, 1.6]. Snapping keeps the advice from moving with b's noise."""
    b, (lo, hi), ratio = f["b"], f["b_interval"], f["steps_over_tau"]
    unknown = not (math.isfinite(lo) and math.isfinite(hi))  # one seed per lam: b's noise unmeasured
    if not (math.isfinite(b) and ratio > 1.0 and b > 0.25) or unknown or (lo <= 1.0 <= hi) or abs(b - 1) <= B_SNAP:
        return 1.0
    return float(min(max(b, 0.4), 1.6))


def on_clock(curve: Curve, b: float) -> Curve:
    """The curve with its tau replaced by the clock steps * (lr*lam)^b (b = 1: tau itself)."""
    if b == 1.0:
        return curve
    steps = np.asarray(curve.steps, dtype=float)
    return replace(curve, tau=steps * (curve.lr * curve.lam) ** b)
