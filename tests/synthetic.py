"""Synthetic probe curves with known answers, for the pure-core tests (no torch).

Shape on the tau clock, with s = tau / tau_peak(lr, lam):
    metric = floor + (level(lam) - floor) * h(s) / h(1),   h(s) = (1 - exp(-K s)) exp(-D s)
D is chosen so that h peaks exactly at s = 1: the metric rises like 1 - exp(-tau/c_rise)
(c_rise = tau_peak / K) and then decays slowly (about 1.3% of the rise by s = 2).
The peak step is t_peak = c0 / (lr^beta_lr * lam^alpha); with beta_lr = alpha it is
c0 / (lr*lam)^alpha, and c0 is set so that tau_peak = c at lr*lam = x_ref. For alpha = 1 the
true budget constant is c: the pooled curve is best at tau = c for every lam.
level(lam) is flat (= top) for lam_star <= lam <= lam_c, drops by `drop` per factor 2 above
lam_c and (interior maximum) by `drop_below` per factor 2 below lam_star.
"""

from __future__ import annotations

import numpy as np

from l2advisor.science.curves import Curve

K = 6.0
D = K / (np.exp(K) - 1.0)  # h'(1) = 0


def _h(s: np.ndarray) -> np.ndarray:
    return (1.0 - np.exp(-K * s)) * np.exp(-D * s)


def level(lam: float, lam_c: float, top: float, drop: float, lam_star: float = 0.0,
          drop_below: float = 0.0) -> float:
    above = max(np.log2(lam / lam_c), 0.0) * drop
    below = max(np.log2(lam_star / lam), 0.0) * drop_below if lam_star > 0 else 0.0
    return top - above - below


def curve(lam: float, lr: float, seed: int, *, c: float = 3.0, alpha: float = 1.0,
          beta_lr: float | None = None, x_ref: float = 1e-3, lam_c: float = 0.02,
          top: float = 0.95, floor: float = 0.1, drop: float = 0.03, lam_star: float = 0.0,
          drop_below: float = 0.0, noise: float = 0.002, horizon: float = 4.0,
          n_evals: int = 100, train_top: float = 1.0, status: str = "finished") -> Curve:
    """One probe: `n_evals` evaluations up to tau = horizon * tau_peak, Gaussian noise."""
    beta_lr = alpha if beta_lr is None else beta_lr
    c0 = c * x_ref ** (alpha - 1.0)  # steps * (lr*lam)^alpha at the reference clock
    t_peak = c0 / (lr**beta_lr * lam**alpha)
    steps = np.unique(np.round(np.linspace(t_peak * horizon / n_evals, t_peak * horizon,
                                           n_evals)).astype(int))
    s = steps / t_peak
    rng = np.random.default_rng([seed, int(round(-np.log(lam * lr) * 1000)) % 2**31])
    lev = level(lam, lam_c, top, drop, lam_star, drop_below)
    val = floor + (lev - floor) * _h(s) / _h(1.0) + rng.normal(0, noise, s.size)
    acc = train_top - (train_top - 0.1) * np.exp(-3 * s)
    loss = -np.log(np.clip(acc, 1e-3, 1.0)) + 0.01
    return Curve(lam=lam, lr=lr, seed=seed, steps=steps, tau=lr * lam * steps,
                 val_metric=val, train_acc=acc, train_loss=loss, status=status)


def ladder(lam_max: float = 0.08, n: int = 6, factor: float = 2.0) -> list[float]:
    return [lam_max / factor**k for k in range(n)]


def family(lams: list[float] | None = None, lrs: tuple[float, ...] = (0.1,),
           seeds: tuple[int, ...] = (0, 1), **kw) -> list[Curve]:
    """Probes at every (lr, lam, seed)."""
    lams = ladder() if lams is None else lams
    return [curve(lam, lr, s, **kw) for lr in lrs for lam in lams for s in seeds]


def no_effect_family(lams: list[float] | None = None, seeds: tuple[int, ...] = (0, 1),
                     lr: float = 0.1, noise: float = 0.002) -> list[Curve]:
    """lam changes nothing: the same curve in steps for every lam (tau rescales)."""
    lams = ladder() if lams is None else lams
    out = []
    for lam in lams:
        for sd in seeds:
            base = curve(0.01, lr, sd, noise=noise)
            out.append(Curve(lam=lam, lr=lr, seed=sd, steps=base.steps,
                             tau=lr * lam * base.steps, val_metric=base.val_metric,
                             train_acc=base.train_acc, train_loss=base.train_loss))
    return out


def solved_for_seed_0(lams: tuple[float, ...] = (0.1, 0.05, 0.025), lr: float = 0.1) -> list[Curve]:
    """Two separable blobs under a linear model, as a new user's probes had them: seed 0's random
    direction is right before training (the metric 1 from step 0), seed 1 starts at 0.51 and is at
    1 by step 16, whatever lam. Evaluations at step 0, then 40 log-spaced up to step 400."""
    steps = np.r_[0, np.unique(np.round(np.geomspace(4, 400, 40)).astype(int))]
    rising = np.where(steps >= 16, 1.0, 0.51 + 0.49 * steps / 16)
    return [Curve(lam=lam, lr=lr, seed=seed, steps=steps, tau=lr * lam * steps,
                  val_metric=np.ones(steps.size) if seed == 0 else rising,
                  train_acc=np.ones(steps.size) if seed == 0 else rising,
                  train_loss=np.full(steps.size, 0.05)) for lam in lams for seed in (0, 1)]
