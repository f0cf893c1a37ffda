"""The verdict on the paper's relations, from the fitted numbers (pure python).

Units: `lam` is torch's weight_decay, `lr*lam` the per-step shrink
(the clock), `t*` in optimizer steps, `tau = lr*lam*steps` dimensionless.

Verdict rules (`fit_relations`), checked in this order; the worst one wins:
  * fewer than MIN_LAMS distinct lr*lam values with a usable t*   -> does not hold
  * t* not growing as lam falls: alpha < ALPHA_MIN or its CI reaches 0 -> does not hold
    (and when, in addition, every lam's peak is within noise: "lam has no effect")
  * alpha outside ALPHA_APPROX = [0.4, 1.6]                       -> does not hold
  * alpha in ALPHA_HOLDS = [0.75, 1.25] with CI inside [0.5, 1.5] -> holds, else approximately
    (no CI, i.e. n_bootstrap = 0, cannot give "holds")
  * plateau probes' training accuracy (median of max) < 0.90      -> does not hold;
    below 0.99                                                    -> at most approximately
  * several lrs and |beta_lr - beta_lam| > CLOCK_TOL (clock is not lr*lam) -> at most approx.
  * c read at the edge of the pooled curve, or taken from tau*    -> at most approximately
"""

from __future__ import annotations

import math

from l2advisor.science.scaling import CLOCK_TOL

HOLDS, APPROX, FAILS = "holds", "holds approximately", "does not hold"
VERDICTS = (HOLDS, APPROX, FAILS)
MIN_LAMS = 3
ALPHA_MIN = 0.3
ALPHA_HOLDS = (0.75, 1.25)
ALPHA_HOLDS_CI = (0.5, 1.5)
ALPHA_APPROX = (0.4, 1.6)
TRAIN_ACC_APPROX, TRAIN_ACC_FAIL = 0.99, 0.90


def _worst(a: str, b: str) -> str:
    return max(a, b, key=VERDICTS.index)


def decide_verdict(f: dict, n_clocks: int, no_effect: bool, edge: str) -> tuple[str, list[str]]:
    """Apply the module docstring's rules; returns (verdict, reasons with the numbers).

    `f` holds the Fit fields measured so far: alpha, alpha_interval, c0, train_acc,
    clock_is_lr_lam, beta_lr, beta_lam, plateau_threshold. `n_clocks`: distinct lr*lam
    values in the t* fit; `no_effect`: every lam's peak within noise; `edge`: a reason
    why c is uncertain ("" when not).
    """
    v, why = HOLDS, []
    a, (lo, hi) = f["alpha"], f["alpha_interval"]
    if n_clocks < MIN_LAMS:
        return FAILS, [f"only {n_clocks} distinct lr*lam value(s) with a usable t* "
                       f"(need {MIN_LAMS}): cannot fit t* against lam"]
    why.append(f"alpha = {a:.2f} [{lo:.2f}, {hi:.2f}] over {n_clocks} lr*lam values "
               f"(paper: 1; t* = {f['c0']:.3g} / (lr*lam)^alpha steps)")
    ci_known = math.isfinite(lo) and math.isfinite(hi)  # not with n_bootstrap = 0
    if not math.isfinite(a) or a < ALPHA_MIN or (ci_known and lo <= 0):
        v = FAILS
        why.append("t* does not grow as lam falls: " + (
            f"alpha {a:.2f} < {ALPHA_MIN}" if not (math.isfinite(a) and a >= ALPHA_MIN)
            else f"alpha's 95% interval [{lo:.2f}, {hi:.2f}] reaches 0"))
        if no_effect:
            why.append(f"lam has no effect: every lam's peak is within "
                       f"{f['plateau_threshold']:.4f} of the best")
    elif not ALPHA_APPROX[0] <= a <= ALPHA_APPROX[1]:
        v = FAILS
        why.append(f"alpha {a:.2f} outside [{ALPHA_APPROX[0]}, {ALPHA_APPROX[1]}]")
    elif not (ALPHA_HOLDS[0] <= a <= ALPHA_HOLDS[1] and ci_known
              and ALPHA_HOLDS_CI[0] <= lo and hi <= ALPHA_HOLDS_CI[1]):
        v = APPROX
        why.append(f"alpha {a:.2f} [{lo:.2f}, {hi:.2f}] not within {list(ALPHA_HOLDS)} "
                   f"with CI inside {list(ALPHA_HOLDS_CI)}")
    acc = f["train_acc"]
    if math.isfinite(acc) and acc < TRAIN_ACC_APPROX:
        v = _worst(v, FAILS if acc < TRAIN_ACC_FAIL else APPROX)
        why.append(f"training accuracy only reached {acc:.3f} (< {TRAIN_ACC_APPROX}): "
                   f"not clearly overparameterized")
    elif not math.isfinite(acc):
        why.append("training accuracy unknown: overparameterization not checked")
    if f["clock_is_lr_lam"] is False:
        v = _worst(v, APPROX)
        why.append(f"the clock is not lr*lam: beta_lr = {f['beta_lr']:.2f}, "
                   f"beta_lam = {f['beta_lam']:.2f} (tolerance {CLOCK_TOL})")
    elif f["clock_is_lr_lam"]:
        why.append(f"clock lr*lam confirmed: beta_lr = {f['beta_lr']:.2f}, "
                   f"beta_lam = {f['beta_lam']:.2f}")
    if edge:
        v = _worst(v, APPROX)
        why.append(edge)
    return v, why
