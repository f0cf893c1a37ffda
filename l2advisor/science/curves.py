"""One probe's learning curve -> the metrics the relations need (pure numpy; no torch).

A `Curve` is what the training loop recorded at each evaluation of one probe run.
Here: `smooth`, `analyze_curve` (peak, t*, tau*, flags), `has_peaked` (the probe
runner's early-stop rule). Pooling curves on the tau clock to find c: collapse.py.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class Curve:
    """The evaluation record of one probe: arrays of shape (n_evals,), aligned by index.

    `steps` are optimizer steps since the start (int); `tau` is the cumulative
    sum of lr_t * lam_t over those steps (dimensionless, the paper's clock).
    `val_metric` is higher-is-better (accuracy in [0, 1] by default). `train_acc` and
    `train_loss` are averaged over the steps since the previous evaluation (no L2 term);
    `train_acc` is NaN where the task has no accuracy. `status` is one of
    "finished", "stopped" (early stop after the peak), "diverged", "failed", "running".
    """

    lam: float  # weight decay (torch's weight_decay), constant during a probe
    lr: float  # learning rate, constant during a probe
    seed: int
    steps: np.ndarray
    tau: np.ndarray
    val_metric: np.ndarray
    train_acc: np.ndarray
    train_loss: np.ndarray
    status: str = "finished"


# ----------------------------------------------------------------------------------------
# Smoothing
# ----------------------------------------------------------------------------------------

DEFAULT_WINDOW = 5  # evaluations; odd, centred
MIN_TRAIN_ACC_OVERPARAM = 0.99  # "training accuracy reached ~1"


def _odd(window: int, n: int) -> int:
    """An odd window no longer than about a third of the series (1 for very short ones)."""
    w = max(1, int(window))
    w = min(w, max(1, n // 3))
    return w if w % 2 == 1 else w - 1


def _median3(v: np.ndarray) -> np.ndarray:
    """NaN-ignoring running median of 3 (edges use 2 points): removes single-point spikes."""
    pad = np.concatenate(([np.nan], v, [np.nan]))
    win = np.sort(np.lib.stride_tricks.sliding_window_view(pad, 3), axis=1)  # (n, 3), NaN last
    k = np.isfinite(win).sum(axis=1)  # finite values per window, 0..3
    rows = np.arange(len(v))
    lo = win[rows, np.maximum((k - 1) // 2, 0)]
    hi = win[rows, np.maximum(k // 2, 0)]
    out = np.where(k % 2 == 1, lo, 0.5 * (lo + hi))
    return np.where(k > 0, out, np.nan)


@np.errstate(all="ignore")  # odd input (inf, 1e308) gives NaN, not warnings
def smooth(values: np.ndarray, window: int = DEFAULT_WINDOW) -> np.ndarray:
    """Robust smoothing of a noisy evaluation series: running median of 3, then a centred
    moving mean of `window` points that ignores NaN and shrinks at the edges.

    Why: t* and the peak are read off the smoothed curve; a raw argmax over noisy
    evaluations wanders. The median step removes single glitches, the mean the rest.
    Same shape as the input; NaN only where a whole window is NaN. Short series get a
    shorter window (a third of the length), so 1-3 points come back unchanged.
    """
    v = np.asarray(values, dtype=float).ravel()
    n = v.size
    if n < 3:
        return v.copy()
    v = _median3(v)
    w = _odd(window, n)
    if w <= 1:
        return v
    ok = np.isfinite(v)
    kernel = np.ones(w)
    sums = np.convolve(np.where(ok, v, 0.0), kernel, mode="same")
    counts = np.convolve(ok.astype(float), kernel, mode="same")
    return np.where(counts > 0, sums / np.maximum(counts, 1.0), np.nan)


def noise_sd(values: np.ndarray) -> float:
    """Robust sd of the evaluation noise of one series (MAD of successive differences / sqrt 2:
    differences cancel the slow trend). NaN when fewer than 3 finite points."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 3:
        return float("nan")
    d = np.diff(v)
    return float(1.4826 * np.median(np.abs(d - np.median(d))) / np.sqrt(2.0))


# ----------------------------------------------------------------------------------------
# Per-probe metrics
# ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CurveMetrics:
    """What one probe says about the relations. Steps are optimizer steps; tau = lr*lam*steps.

    Numbers are NaN where unknown (e.g. no finite evaluation); `overparameterized` is None
    when the task has no training accuracy.
    """

    lam: float
    lr: float
    seed: int
    status: str
    n_points: int  # evaluations recorded (finite or not)
    peak_metric: float  # max of the smoothed validation metric
    peak_step: float  # step of that max
    peak_tau: float  # tau of that max
    t_star: float  # first step where smoothed metric >= peak_metric - tolerance
    tau_star: float  # lr * lam * t_star
    final_metric: float  # smoothed metric at the last finite evaluation
    tau_end: float  # tau of the last evaluation
    final_train_acc: float  # mean of the last few training accuracies
    max_train_acc: float  # max of the smoothed training accuracy
    overparameterized: bool | None  # max_train_acc >= 0.99; None when unknown
    diverged: bool  # status "diverged", the training loss became non-finite, or the metric infinite
    peaked: bool  # clearly past its top: dropped, tau_end >= 2 tau_peak, or >= 3 tau at t*
    noise: float  # robust sd of one evaluation of the validation metric
    # step of the evaluation before t*: the smoothed metric crossed peak - tolerance somewhere in
    # (t_star_previous, t_star], the resolution of t* (NaN when t* is the first evaluation)
    t_star_previous: float = float("nan")
    first_metric: float = float("nan")  # the raw validation metric at the first evaluation (step 0: before
    # training); where the metric could not score it, the smoothed curve's lowest point, a stand-in (review 47:
    # with none, flat probes whose metric was NaN at first were "assumed learned" and advised from noise)
    start_scored: bool = True  # first_metric is the first evaluation's own
    nan_evals: int = 0  # evaluations whose validation metric was NaN (left out, as if not made)


def _nan_stat(values: np.ndarray, fn) -> float:
    """fn over the finite values, NaN when there are none (no warnings)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    return float(fn(v)) if v.size else float("nan")


def finite_mean(values) -> float:
    """Mean of the finite numbers among `values`, NaN if none."""
    return _nan_stat(np.fromiter(values, dtype=float), np.mean)


def peak_within(curve: Curve, steps: float) -> float:
    """Max of the smoothed validation metric over evaluations at or before `steps` (NaN if none)."""
    at = np.asarray(curve.steps, dtype=float)
    s = smooth(np.asarray(curve.val_metric, dtype=float))
    n = min(at.size, s.size)
    return _nan_stat(s[:n][at[:n] <= steps], np.max)


def finite_median(values) -> float:
    """Median of the finite numbers among `values` (any iterable of floats), NaN if none."""
    return _nan_stat(np.fromiter(values, dtype=float), np.median)


def tau_clock(curve: Curve, n: int) -> np.ndarray:
    """tau per evaluation, shape (n,): the recorded tau, or lr*lam*steps where it is missing."""
    steps = np.asarray(curve.steps, dtype=float)[:n]
    tau = np.asarray(curve.tau, dtype=float)[:n]
    return np.where(np.isfinite(tau), tau, float(curve.lr) * float(curve.lam) * steps)


def scored(curve: Curve) -> Curve:
    """`curve` without the evaluations whose metric is NaN (the user's metric could not score them),
    so that nothing downstream (the pooled curve, the crossings b is read from) fills them in."""
    arrays = [np.asarray(a) for a in (curve.steps, curve.tau, curve.val_metric, curve.train_acc, curve.train_loss)]
    n = min(a.size for a in arrays)
    keep = ~np.isnan(arrays[2][:n].astype(float))
    if keep.all():
        return curve
    steps, tau, val, acc, loss = (a[:n][keep] for a in arrays)
    return replace(curve, steps=steps, tau=tau, val_metric=val, train_acc=acc, train_loss=loss)


def _went_nonfinite(values: np.ndarray) -> bool:
    """True when a series has an inf, or a NaN after its first finite value (a run that blew
    up). Leading NaNs are not divergence: the step-0 record has no training loss yet."""
    v = np.asarray(values, dtype=float)
    fin = np.flatnonzero(np.isfinite(v))
    if fin.size == 0:
        return False
    return bool(np.isinf(v).any() or np.isnan(v[fin[0]:]).any())


@np.errstate(all="ignore")  # odd input (inf, 1e308) gives NaN, not warnings
def analyze_curve(
    curve: Curve, tolerance: float = 0.005, smoothing: int = DEFAULT_WINDOW
) -> CurveMetrics:
    """Metrics of one probe (DESIGN.md, "Metrics per probe"). Never raises on NaN or short data.

    `tolerance` is in metric units (0.005 = 0.5 accuracy points, the paper's "within 0.5%").
    """
    arrays = [curve.steps, curve.tau, curve.val_metric, curve.train_acc, curve.train_loss]
    n = min(np.asarray(a).size for a in arrays)
    steps = np.asarray(curve.steps, dtype=float)[:n]
    tau = tau_clock(curve, n)
    val = np.asarray(curve.val_metric, dtype=float)[:n]
    acc = np.asarray(curve.train_acc, dtype=float)[:n]
    loss = np.asarray(curve.train_loss, dtype=float)[:n]
    # A NaN metric is an evaluation the user's metric could not score (a macro precision while a
    # class is never predicted): left out, as smoothing leaves it. A run whose training loss goes
    # non-finite diverged; so did one whose metric went infinite (-MSE of a run that blew up).
    diverged = curve.status == "diverged" or _went_nonfinite(loss) or bool(np.isinf(val).any())
    nan_evals = int(np.isnan(val).sum())
    # the untrained model's metric: the first evaluation's, where it was scored; a later one is no start
    # (a macro metric NaN over the first evaluations made a probe that rose to 0.89 "learn nothing", review 45)
    start_scored = bool(val.size and np.isfinite(val[0]))
    first = float(val[0]) if start_scored else float("nan")
    scored = ~np.isnan(val)  # smoothing would fill a NaN in from its neighbours: t* on a step never scored
    tau_all, val = tau, val[scored]
    steps, tau = steps[scored], tau[scored]
    s = smooth(val, smoothing)
    ok = np.flatnonzero(np.isfinite(s))
    nan = float("nan")
    peak = peak_step = peak_tau = t_star = tau_star = final = previous = nan
    peaked = False
    if ok.size:
        i = int(ok[np.argmax(s[ok])])  # first index of the smoothed max
        peak, peak_step, peak_tau = float(s[i]), float(steps[i]), float(tau[i])
        j = int(ok[np.argmax(s[ok] >= peak - tolerance)])  # first within tolerance
        t_star = float(steps[j])
        previous = float(steps[j - 1]) if j > 0 else nan
        tau_star = float(curve.lr) * float(curve.lam) * t_star
        last = int(ok[-1])
        final = float(s[last])
        # clearly past the top: dropped, or run to twice the peak's tau, or to three times
        # tau at t* without rising by more than the tolerance since (a flat top)
        peaked = i < last and (final < peak - tolerance or tau[last] >= 2.0 * peak_tau
                               or tau[last] >= 3.0 * tau[j])
    max_acc = _nan_stat(smooth(acc, 3), np.max)
    over = None if np.isnan(max_acc) else bool(max_acc >= MIN_TRAIN_ACC_OVERPARAM)
    return CurveMetrics(
        lam=float(curve.lam), lr=float(curve.lr), seed=int(curve.seed), status=str(curve.status),
        n_points=int(n), peak_metric=peak, peak_step=peak_step, peak_tau=peak_tau,
        t_star=t_star, tau_star=tau_star, final_metric=final,
        tau_end=_nan_stat(tau_all, lambda v: v[-1]),
        final_train_acc=_nan_stat(acc[-5:], np.mean), max_train_acc=max_acc,
        overparameterized=over, diverged=bool(diverged), peaked=bool(peaked),
        noise=noise_sd(val), t_star_previous=previous,
        first_metric=first if start_scored else _nan_stat(s, np.min),
        start_scored=start_scored,
        nan_evals=nan_evals,
    )


@np.errstate(all="ignore")  # odd input (inf, 1e308) gives NaN, not warnings
def has_peaked(
    steps: np.ndarray,
    tau: np.ndarray,
    val_metric: np.ndarray,
    tolerance: float = 0.005,
    window: int = DEFAULT_WINDOW,
    min_evals: int = 15,
    min_after_peak: int = 5,
    min_tau: float = 0.0,
) -> bool:
    """Early-stop rule for a probe in progress: True when the smoothed metric has clearly peaked.

    All of: at least `min_evals` finite evaluations; at least `min_after_peak` evaluations
    after the smoothed max; tau now >= `min_tau` (the probe runner passes half the horizon:
    a noisy early top must not cut a probe before it reaches the tau where the paper's peak
    lives); and either the metric dropped by more than `tolerance` below the max with tau now
    >= 2 * tau at the max, or it stalled (least-squares slope of the raw metric since the max
    is <= 0) with tau now >= 3 * tau at the max. Steps replace tau when tau is all zero (lam = 0).
    A curve whose smoothed max is its latest point is still rising and never stops.
    """
    v = np.asarray(val_metric, dtype=float)
    n = min(v.size, np.asarray(steps).size, np.asarray(tau).size)
    v = v[:n]
    s = smooth(v, window)
    ok = np.flatnonzero(np.isfinite(s))
    if ok.size < min_evals:
        return False
    i = int(ok[np.argmax(s[ok])])
    after = ok[ok > i]
    if after.size < min_after_peak:
        return False
    clock = np.asarray(tau, dtype=float)[:n]
    if not (np.isfinite(clock[ok]).all() and clock[ok[-1]] > 0):
        clock = np.asarray(steps, dtype=float)[:n]
    elif clock[ok[-1]] < min_tau:
        return False
    if not clock[ok[-1]] >= 2.0 * clock[i]:
        return False
    if s[ok[-1]] < s[i] - tolerance:
        return True  # dropped
    if not clock[ok[-1]] >= 3.0 * clock[i]:
        return False
    x, y = clock[after], v[after]
    keep = np.isfinite(x) & np.isfinite(y)
    if keep.sum() < 2 or np.ptp(x[keep]) == 0:
        return False
    slope = np.polyfit(x[keep], y[keep], 1)[0]
    return bool(slope * np.ptp(x[keep]) <= 1e-9)  # stalled (1e-9: float round-off of a flat line)
