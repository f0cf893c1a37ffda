"""The verdict on the paper's relations, from the fitted numbers (pure python).

Units: `lam` is torch's weight_decay, `lr*lam` the per-step shrink
(the clock), `t*` in optimizer steps, `tau = lr*lam*steps` dimensionless.

Verdict rules (`fit_relations`), checked in this order; the worst one wins. The evidence is
b (clock.py): the time each probe takes to reach common levels just below the lowest peak
scales as (lr*lam)^-b; b = 1 is the tau clock, b = 0 means lam does not set the time. Unlike
the t* exponent alpha (reported, not deciding), b cannot be faked by probe windows whose
length is proportional to 1/(lr*lam).
  * fewer than MIN_LAMS distinct lr*lam values compared            -> does not hold, or
    cannot tell when the probes sit above the plateau (`above_plateau`, below: the larger lams
    learn too little to rise through the levels the smallest reaches, as over-regularized
    probes do; a vision transformer under AdamW at lam = 5, 2.5, 1.25)
  * no probe clearly reached its top (c unknown)                  -> does not hold, or
    cannot tell when the probes sit above the plateau or b's CI lies above B_MIN (lam sets
    the time, the windows were too short to see the top)
  * b below B_MIN, its CI reaching below B_MIN, or steps lining the
    crossings up clearly better than tau (steps_over_tau < 0.5)   -> does not hold
    (and when, in addition, every lam's peak is within noise: "no effect of lam on the peaks")
    unless, at equal steps, the smallest probed lam is the best and a larger one is clearly
    worse (`above_plateau`: every probe may sit above the plateau, where the learning rate,
    not lam, sets the time to the top; "clearly": 1.5 thresholds, or 1.0 when b is clearly
    negative, plateau.py; within half a threshold of that edge the fit sets `needs_seed` and
    `probe` adds one more seed per lam, probing/follow_up.py)  -> cannot tell
  * b outside B_APPROX = [0.4, 1.6]                               -> does not hold
  * b in B_HOLDS = [0.75, 1.25], CI inside [0.5, 1.5], steps_over_tau >= TAU_CLEARLY_BETTER
                                                                  -> holds, else approximately
    (no CI, i.e. n_bootstrap = 0, cannot give "holds")
  * plateau probes' training accuracy (median of max) < 0.90      -> does not hold;
    below 0.99                                                    -> at most approximately
  * several lrs and |beta_lr - beta_lam| > CLOCK_TOL (clock is not lr*lam) -> at most approx.
  * c read at the edge of the pooled curve, or taken from tau*    -> at most approximately
"""

from __future__ import annotations

import math

from l2advisor.science.numbers import shown
from l2advisor.science.scaling import CLOCK_TOL

HOLDS, APPROX, FAILS = "holds", "holds approximately", "does not hold"
CANNOT = "cannot tell"  # the probes sit above the plateau: probe smaller lams
VERDICTS = (HOLDS, APPROX, CANNOT, FAILS)  # best to worst
MIN_LAMS = 3
B_MIN = 0.25
B_HOLDS = (0.75, 1.25)
B_HOLDS_CI = (0.5, 1.5)
B_APPROX = (0.4, 1.6)
TOPS_BELOW = "so the tops lie at smaller lams, later"  # the end of a "cannot tell" above the plateau
PROBE_LONGER = "probe longer: a larger `probe --horizon`"  # the probe command's flag (train --advise has none)
STEPS_CLEARLY_BETTER = 0.5  # steps_over_tau below this: steps line the probes up clearly better
TAU_CLEARLY_BETTER = 2.0  # misfit on steps / misfit on tau
CLEARLY_DEGENERATE = 1000.0  # a ratio of spreads beyond this is shown as "far better", not as 6.5e+30x
TRAIN_ACC_APPROX, TRAIN_ACC_FAIL = 0.99, 0.90
ABOVE_PLATEAU = ("cannot tell: at equal steps the smallest probed lam is the best, or within noise of it, and larger "
                 "ones are clearly worse, so every probe may sit above the plateau, where the learning rate, not lam, "
                 "sets the time to the top; probe smaller lams (--budget for a longer run; without --budget, a larger "
                 "--probe-budget or --lambdas) to test the tau clock")
# the same at equal steps, where in their own windows a smaller lam fell clearly short of the plateau (an
# interior maximum): the probes straddle the plateau's lower end, not all above it (a reviewer's regression)
STRADDLES_PLATEAU = ("cannot tell: at equal steps the smallest probed lam is the best, or within noise of it, and "
                     "larger ones are clearly worse, but in their own windows a smaller lam fell clearly short of the "
                     "best (the plateau ends below at lam* = {lam_star:.3g}): the probes straddle the plateau's lower "
                     "end, where neither clock can be read")


def _worst(a: str, b: str) -> str:
    return max(a, b, key=VERDICTS.index)


def _ci(lo: float, hi: float) -> str:
    """b's interval as the reasons print it; "(no interval)" where it is unknown (one seed per lam)."""
    return f"[{shown(lo, '.2f')}, {shown(hi, '.2f')}]" if math.isfinite(lo) and math.isfinite(hi) else "(no interval)"


def _clock_comparison(ratio: float) -> str:
    """How much better tau lines the crossings up than steps, read the right way round:
    `ratio` is the steps spread over the tau spread (> 1: tau is better)."""
    if not math.isfinite(ratio) or ratio <= 0:
        return "no better on tau than on steps (not measurable)"
    better, clock, other = (ratio, "tau", "steps") if ratio >= 1 else (1 / ratio, "steps", "tau")
    if better > CLEARLY_DEGENERATE:  # one clock lines them up exactly (a seed at its top from step 0): not a factor
        return f"far better on {clock} than on {other} (over {CLEARLY_DEGENERATE:,.0f}x)"
    return f"{better:.2g}x better on {clock} than on {other}"


def _above(f: dict) -> str:
    """ABOVE_PLATEAU, or STRADDLES_PLATEAU where the fit found an interior maximum (lam* measured)."""
    return STRADDLES_PLATEAU.format(lam_star=f["lam_star"]) if f.get("interior_max") else ABOVE_PLATEAU


def above_the_plateau(reasons: tuple[str, ...] | list[str]) -> bool:
    """Whether a fit's reasons say its probes may all sit above the plateau (the smallest probed
    lam the best at equal steps): then nothing they measured bounds the best lam from below."""
    return any(r == ABOVE_PLATEAU or r.endswith(TOPS_BELOW) for r in reasons)


def _clocks_rising(n: int) -> str:
    """The subject of "... curves that rise through levels the probes share", counted in words."""
    if n == 0:
        return "no lr*lam value has"
    return f"only {n} lr*lam value{'' if n == 1 else 's'} {'has' if n == 1 else 'have'}"


def decide_verdict(f: dict, n_clocks: int, no_effect: bool, edge: str) -> tuple[str, list[str]]:
    """Apply the module docstring's rules; returns (verdict, reasons with the numbers).

    `f` holds the Fit fields measured so far: alpha, alpha_interval, c0, train_acc,
    clock_is_lr_lam, beta_lr, beta_lam, plateau_threshold. `n_clocks`: distinct lr*lam
    values in the t* fit; `no_effect`: every lam's peak within noise; `edge`: a reason
    why c is uncertain ("" when not).
    """
    v, why = HOLDS, []
    b, (lo, hi), ratio = f["b"], f["b_interval"], f["steps_over_tau"]
    if n_clocks < MIN_LAMS:
        few = (f"{_clocks_rising(n_clocks)} curves that rise through levels the probes share (need {MIN_LAMS}): "
               "too few to show which clock sets the time to the top")
        if f.get("above_plateau"):  # the larger lams barely rise at all: over-regularized, not lam-blind
            return CANNOT, [few, _above(f)]
        return FAILS, [few + ", so the relations are not taken to hold"]
    why.append(f"b = {shown(b, '.2f')} {_ci(lo, hi)} over {n_clocks} lr*lam values: the time to "
               f"reach the top scales as (lr*lam)^-b (tau clock: 1; lam irrelevant: 0); the "
               f"crossings line up {_clock_comparison(ratio)}")
    if math.isfinite(f["alpha"]):
        why.append(f"alpha = {shown(f['alpha'], '.2f')} (t* against lr*lam; informative only: t* is read "
                   f"inside windows whose length is proportional to 1/(lr*lam))")
    ci_known = math.isfinite(lo) and math.isfinite(hi)  # not with n_bootstrap = 0, nor one seed per lam
    if not ci_known:
        cause = ("with the probes already at the common levels at step 0 left out, one curve per lam is left: "
                 "nothing to resample" if f.get("n_at_start") else "one seed per lam leaves nothing to resample, or the "
                 "bootstrap is off")
        why.append(f"b's interval is unknown ({cause}): the verdict can be at best \"holds approximately\"")
    if f.get("n_peaked_clocks", MIN_LAMS) == 0:
        short = f"no probe clearly reached its top within its window ({PROBE_LONGER})"
        if f.get("above_plateau"):
            return CANNOT, why + [f"cannot tell: {short}; at equal steps the smallest probed lam is "
                                  f"the best, {TOPS_BELOW}"]
        if (lo if ci_known else b) >= B_MIN and ratio >= STEPS_CLEARLY_BETTER:
            evidence = f"b's 95% interval is above {B_MIN}" if ci_known else f"b is above {B_MIN}"
            return CANNOT, why + [f"cannot tell: {short}; lam does set the time to reach the common "
                                  f"levels ({evidence}), so c is only a lower bound"]
        return FAILS, why + [f"{short}: c is unknown"]
    if not math.isfinite(b) or b < B_MIN or (ci_known and lo < B_MIN) or ratio < STEPS_CLEARLY_BETTER:
        v = FAILS
        why.append("lam does not clearly set the time to the top: " + (
            f"the crossings line up {_clock_comparison(ratio)}" if ratio < STEPS_CLEARLY_BETTER
            else f"b = {shown(b, '.2f')} is below {B_MIN}" if not (math.isfinite(b) and b >= B_MIN)
            else f"b's 95% interval {_ci(lo, hi)} reaches below {B_MIN}"))
        if f.get("above_plateau"):  # before "no effect": its noise leaves out the largest lam's scatter
            v = CANNOT
            why.append(_above(f))
        elif no_effect:
            why.append(f"no effect of lam on the peaks beyond their noise: every lam's peak is within "
                       f"{f['plateau_threshold']:.4f} of the best")
    elif not B_APPROX[0] <= b <= B_APPROX[1]:
        v = FAILS
        why.append(f"b {b:.2f} outside [{B_APPROX[0]}, {B_APPROX[1]}]")
    elif not (B_HOLDS[0] <= b <= B_HOLDS[1] and ci_known and B_HOLDS_CI[0] <= lo
              and hi <= B_HOLDS_CI[1] and ratio >= TAU_CLEARLY_BETTER):
        v = APPROX
        why.append(f"b {b:.2f} {_ci(lo, hi)} not within {list(B_HOLDS)} with CI inside "
                   f"{list(B_HOLDS_CI)} and tau at least {TAU_CLEARLY_BETTER:g}x better than steps")
    acc = f["train_acc"]
    if math.isfinite(acc) and acc < TRAIN_ACC_APPROX and v == CANNOT:
        # probes above the plateau, or none at its top: their decay or their short window holds
        # the training accuracy down, so it says nothing of what the model can fit
        why.append(f"training accuracy reached {acc:.4f} in these probes (the median over the plateau probes "
                   f"of the best each reached), which may be their decay's or their short window's doing, "
                   f"not the model's capacity: overparameterization not checked")
    elif math.isfinite(acc) and acc < TRAIN_ACC_APPROX:
        v = _worst(v, FAILS if acc < TRAIN_ACC_FAIL else APPROX)
        why.append(f"training accuracy only reached {acc:.4f} (< {TRAIN_ACC_APPROX}; the median over the plateau "
                   f"probes of the best each reached): not clearly overparameterized")
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
