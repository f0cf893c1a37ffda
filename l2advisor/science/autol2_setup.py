"""`Fit` + budget (+ lr) -> `AutoL2Advice`: an AutoL2 setup from the probes (pure python).

`lam` is torch's weight_decay; the clock is lr*lam per step (tau = sum lr*lam). The defaults of
`l2advisor.training.autol2.AutoL2` live here too, so that the advice and the scheduler agree.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from l2advisor.science.advise import advise, lr_translation
from l2advisor.science.fit import CANNOT, FAILS, Fit
from l2advisor.science.serial import from_jsonable, to_jsonable

__all__ = ["AUTOL2_DECAY", "AutoL2Advice", "autol2_config", "autol2_lam0"]

REFRACTORY_FRACTION = 0.25  # AutoL2 waits refractory_tau = c / 4 after each decay
AUTOL2_DECAY = 2.0  # AutoL2 halves lam at each trigger (the authors' rule: / 10; AutoL2.paper keeps it)
# AutoL2 starts no higher than a per-step shrink lr*lam/(1-momentum) of 0.001 (a weight-decay time
# of 1,000 steps), a tenth of the probe ladder's top: started at the plateau edge (a quarter of
# the top on every suite task), the momentum MLP under cosine spent its high-lr phase
# over-regularized and ended 0.25 points below the best constant; from 0.001 every measured suite
# case met its target (README, "AutoL2 against the best constant lam").
AUTOL2_LAM0_SHRINK = 0.001
AUTOL2_REFRACTORY_TAU = 1.0  # AutoL2's own refractory: one weight-decay time, times (1 - momentum)
AUTOL2_LAM_MIN_RATIO = 1e-4  # AutoL2's own floor: lam0 / 10^4


def autol2_lam0(lr: float, momentum: float = 0.0) -> float:
    """AutoL2's default starting weight decay: per-step shrink lr*lam/(1-momentum) = AUTOL2_LAM0_SHRINK."""
    return float(f"{AUTOL2_LAM0_SHRINK * (1.0 - momentum) / lr:.4g}")


@dataclass(frozen=True)
class AutoL2Advice:
    """Settings for the AutoL2 scheduler, filled from the probes."""

    lam0: float  # starting weight decay: the plateau edge lam_c, capped at autol2_lam0(lr, momentum)
    decay: float  # lam <- lam / decay at each trigger
    refractory_tau: float  # minimum tau (sum of lr*lam) between decays
    lam_min: float  # floor: never decay below it
    lr: float
    budget_steps: int
    verdict: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict:
        """JSON-safe dict with schema_version 1."""
        return {"schema_version": 1, **to_jsonable(self)}

    @classmethod
    def from_dict(cls, d: dict) -> AutoL2Advice:
        return from_jsonable(cls, d)


def autol2_config(
    fit: Fit, budget_steps: int, lr: float | None = None, decay: float = AUTOL2_DECAY,
    momentum: float = 0.0,
) -> AutoL2Advice:
    """AutoL2 settings: lam0 = lam_c (largest plateau lam, through the clock at another lr), but
    no higher than AUTOL2_LAM0_SHRINK*(1-momentum)/lr unless the budget advice is higher: AutoL2
    only decays, so a start below the advice could never reach it (a text classifier
    started at the cap, 0.4x its advice, peaked 5 points below the constant advice);
    refractory_tau = c/4: after a decay the network needs a tau of order c to use the new
    lam, and the loss plateaus on noise long before that, so a wait of a fraction of c keeps
    the trigger from firing twice on one plateau, while 4 waits still fit inside one c;
    lam_min = the budget advice / decay: one decay below the best constant lam, a floor the
    paper's rule lacks. Verdict "cannot tell": c and the budget advice were not measured, so the
    refractory time and the floor stay AutoL2's own defaults. Verdict "does not hold": lam0 = the
    measured lam the advice chose (equal_steps.py), whatever the cap.
    """
    adv = advise(fit, budget_steps, lr, momentum)
    why = []
    cap = autol2_lam0(adv.lr, momentum)
    if adv.verdict == FAILS or not math.isfinite(fit.lam_c):
        lam0 = adv.weight_decay  # never the cap below it: AutoL2 only decays, so it could never reach it
        why.append("the relations do not hold: AutoL2's 1/lam clock is not supported by the probes; "
                   f"lam0 is the measured lam the advice chose, {lam0:.3g}" + (
                       f" (above the usual start lr*lam0/(1-momentum) = {AUTOL2_LAM0_SHRINK:g}: AutoL2 starts no "
                       "lower than the advice, since it only decays)" if lam0 > cap else ""))
    else:
        edge = fit.lam_c * fit.lr / adv.lr
        start = max(cap, adv.weight_decay)  # never below the advice: AutoL2 only decays
        lam0 = min(edge, start)
        why.append(f"lam0 = lam_c = {lam0:.3g}, the largest lam inside the plateau" if edge <= start else
                   f"lam0 = {lam0:.3g}: lr*lam0/(1-momentum) = {AUTOL2_LAM0_SHRINK:g}, below the plateau "
                   f"edge {edge:.3g} (started at the edge, AutoL2 would spend the high-lr phase over-regularized)"
                   if start == cap else
                   f"lam0 = {lam0:.3g}, the budget advice: above the usual start lr*lam0/(1-momentum) = "
                   f"{AUTOL2_LAM0_SHRINK:g}, since AutoL2 only decays and a start below the advice never reaches it")
    if adv.verdict == CANNOT:  # measured: the plateau edge only
        refr, lam_min = AUTOL2_REFRACTORY_TAU * (1.0 - momentum), lam0 * AUTOL2_LAM_MIN_RATIO
        why.append(f"cannot tell: c is not measured (the budget advice rests on the typical c, unconfirmed), "
                   f"so the refractory time and the floor are AutoL2's own defaults: refractory_tau = one "
                   f"weight-decay time = {refr:.3g}, lam_min = lam0/1e4 = {lam_min:.3g}")
    else:
        has_c = adv.verdict != FAILS and math.isfinite(adv.c)
        refr = REFRACTORY_FRACTION * adv.c if has_c else 0.1 * adv.lr  # else the paper's 0.1/lam steps, in tau
        why.append(f"refractory_tau = c/4 = {refr:.3g}" if has_c else
                   f"no usable c: refractory_tau = 0.1*lr = {refr:.3g} (the paper's 0.1/lam steps)")
        lam_min = adv.weight_decay / decay  # lam0 is never below a measured advice (above)
        why.append(f"lam_min = {lam_min:.3g}: one decay below the budget advice {adv.weight_decay:.3g}")
    if (moved := lr_translation(fit, adv.lr)) is not None:  # lam0 and lam_min moved along the clock too
        why.append(moved.replace("translated through", "lam0 and lam_min translated through"))
    return AutoL2Advice(lam0=float(lam0), decay=float(decay), refractory_tau=float(refr),
                        lam_min=float(lam_min), lr=adv.lr, budget_steps=adv.budget_steps,
                        verdict=adv.verdict, reasons=tuple(why))
