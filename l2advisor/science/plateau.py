"""The plateau of the peak metric against lam, and what the probes show at equal steps.

Pure numpy. `rows` are fit.py's `LamRow`s (one per lr and lam, means over seeds), `ms` the
per-probe `CurveMetrics`; the metric is in its own units (accuracy: a fraction).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from l2advisor.science.curves import (
    DEFAULT_WINDOW,
    CurveMetrics,
    finite_mean,
    finite_median,
    peak_within,
)
from l2advisor.science.verdict import B_MIN

if TYPE_CHECKING:
    from l2advisor.science.fit import LamRow

NAN = float("nan")
ABOVE_MARGIN = 1.5  # in plateau thresholds (each 2 sd of a difference of means)
# ... or 1.0 when b says the same: larger lams reach the common levels clearly later (b <= -B_MIN,
# its interval below 0), as over-regularized probes do and a null does not (simulated nulls: 0 of
# 320; every real task above the plateau in the suite: b -0.2 to -0.96; the negative-control task
# null_weightnorm: b -0.03 to 0.02)
SLOWED_MARGIN = 1.0
# scores within this of the margin are near the edge: one more seed per lam settles them
# (probing/follow_up.py); on the bundled default, 218 of 220 three-seed sets cleared 1.5
FOLLOW_UP_HALF_WIDTH = 0.5
__all__ = ["above_plateau", "above_plateau_margin", "above_plateau_score", "peaks_at_equal_steps", "plateau_of"]


def plateau_of(rows: list[LamRow], ms: list[CurveMetrics], tolerance: float) -> dict:
    """Plateau of the peak metric against lam at one lr (rows with data, any order).

    Noise: each lam's own sd of the peak over seeds, no lower than the median of them over lams
    (or, one seed per lam, the evaluation noise over sqrt(smoothing window)). A lam is in the
    plateau when its mean peak is within max(tolerance, 2 * se of the difference to the best),
    the se from the two lams' own noise. Not one sd pooled over every lam as a root mean square:
    a top rung whose seeds collapsed apart (0.31 +- 0.06 on a reviewer's MLP) made that 0.036,
    took a lam 5.2 points below the best into the plateau and its over-regularized training
    accuracy into the overparameterization check; a lam whose own seeds differ (one cut short
    before its peak) still gets its own, wider, margin.
    """
    sds = [r.peak_sd for r in rows if math.isfinite(r.peak_sd)]
    sd = float(np.median(sds)) if sds else (
        finite_median(m.noise for m in ms) / math.sqrt(DEFAULT_WINDOW))
    sd = sd if math.isfinite(sd) else 0.0
    best = max([r for r in rows if not r.n_learned_nothing] or rows, key=lambda r: r.peak_mean)

    def own(r: LamRow) -> float:
        return max(sd, r.peak_sd) if math.isfinite(r.peak_sd) else sd

    def thr(r: LamRow) -> float:  # hypot: a float's ** 2 raises OverflowError past 1e154 (hypothesis found one)
        return max(tolerance, 2.0 * math.hypot(own(best) / math.sqrt(best.n_seeds), own(r) / math.sqrt(r.n_seeds)))

    # a lam where some seed learned nothing is no plateau lam, whatever its seeds' spread, and no
    # evidence that smaller lams are worse either (a seed that failed to start is not over-decay)
    inside = {r.lam for r in rows if r.peak_mean >= best.peak_mean - thr(r) and not r.n_learned_nothing} | {best.lam}
    worse_below = [r for r in rows if r.lam < best.lam and r.lam not in inside
                   and 2 * r.n_peaked >= r.n_seeds and not r.n_learned_nothing]
    return dict(
        inside=inside, lam_c=max(inside), lam_best=best.lam, threshold=thr(best),
        level=float(np.mean([r.peak_mean for r in rows if r.lam in inside])),
        interior=bool(worse_below), lam_star=_floor(inside, worse_below),
        no_effect=len(inside) == len(rows))


def _floor(inside: set[float], worse_below: list[LamRow]) -> float:
    """lam*: the smallest plateau lam above every clearly worse smaller lam (NaN when none is
    worse). Not the best lam: lams tied with it on the plateau are as good (a user's regression
    had 0.5 and 1 tied and 0.25 worse; lam* = 1, the noisier argmax, said "must not go below 1"
    beside an advice of 0.5)."""
    if not worse_below:
        return NAN
    worst_top = max(r.lam for r in worse_below)
    return min(lam for lam in inside if lam > worst_top)


def peaks_at_equal_steps(main: list) -> tuple[float, dict[float, float]]:
    """(steps every probe ran, {lam: mean over seeds of its smoothed max within those steps})."""
    common = min(float(np.nanmax(np.asarray(cv.steps, dtype=float))) for _, cv in main)
    peaks: dict[float, list[float]] = {}
    for m, cv in main:
        peaks.setdefault(m.lam, []).append(peak_within(cv, common))
    return common, {lam: finite_mean(v) for lam, v in peaks.items()}


def above_plateau_score(rows: list[LamRow], threshold: float, tolerance: float = 0.0) -> float:
    """How far, at equal steps (`peak_common`), the largest probed lam falls below the smallest,
    in thresholds, when the smallest is within a threshold of the best; NaN otherwise (or with
    fewer than two lams). Above ABOVE_MARGIN the probes may all sit above the plateau.
    Equal steps, not each probe's own window, so windows of length 1/(lr*lam) cannot fake it;
    1.5 thresholds (3 sd of a difference of means), so that noise on a flat top rarely does.
    The threshold is `threshold` (the plateau's), except that with two or more other rows of
    seeds the noise is theirs, not the largest lam's: an over-regularized probe peaks early and
    its seeds scatter widely, which is part of the effect tested, not noise (Glass's delta)."""
    common = sorted((r for r in rows if math.isfinite(r.peak_common)), key=lambda r: r.lam)
    if len(common) < 2:
        return NAN
    others = [r.peak_sd for r in common[:-1] if math.isfinite(r.peak_sd)]
    if len(others) >= 2:
        sd = math.sqrt(np.mean(np.square(others)))
        threshold = max(tolerance, 2.0 * sd * math.sqrt(1 / common[0].n_seeds + 1 / common[-1].n_seeds))
    best = max(r.peak_common for r in common)
    smallest, largest = common[0].peak_common, common[-1].peak_common
    if smallest < best - threshold:
        return NAN
    if not threshold > 0:  # no noise at all: any drop is clear
        return math.copysign(math.inf, smallest - largest) if smallest != largest else 0.0
    return (smallest - largest) / threshold


def above_plateau_margin(b: float, b_interval: tuple[float, float]) -> float:
    """The score (thresholds) above which the probes sit above the plateau: SLOWED_MARGIN when
    b says that larger lams reach the common levels clearly later (b <= -B_MIN and its 95%
    interval below 0), else ABOVE_MARGIN. An unknown interval (one seed per lam) is not clear."""
    hi = b_interval[1]
    return SLOWED_MARGIN if (math.isfinite(b) and math.isfinite(hi) and b <= -B_MIN and hi < 0) else ABOVE_MARGIN


def above_plateau(rows: list[LamRow], threshold: float, tolerance: float = 0.0) -> bool:
    """The smallest probed lam is within a threshold of the best at equal steps and the largest
    more than ABOVE_MARGIN thresholds worse (`above_plateau_score`)."""
    return above_plateau_score(rows, threshold, tolerance) > ABOVE_MARGIN
