"""What the advice borrows under "cannot tell", and how it says so (pure).

The probes may all sit above the plateau, where they see the learning rate's clock, not lam's,
and cannot measure c: the advice takes the paper's tau clock (b = 1, the interval spanning
CANNOT_B_RANGE) and the typical c = CANNOT_C*(1-momentum) (the batch-norm network measured for
this project had its best lam at lr*lam*T of about 4 and 5), or a larger c the probes did bound
from below (their pooled curve still rising at its end). c's interval spans c/2 .. 3c: the c is
borrowed, and the best lam of models reviewers measured sat from 20x below the advice (a digits MLP
at 2,000 steps, review 37a; 4-8x at 8,000) to 3x above it (a GRU on noisy labels, review 40a, whose
small lams overfit: one model sets that top).
"""

from __future__ import annotations

import math

from l2advisor.science.fit_types import Fit, probed_neighbours, reachable
from l2advisor.science.learned import shows_nothing
from l2advisor.science.verdict import CANNOT

CANNOT_B_RANGE = (0.75, 1.25)  # the interval spans these clock exponents
CANNOT_C = 4.0  # the typical c, in lr/(1-momentum)*lam*T
CANNOT_C_LOW = 2.0  # c's interval: c / CANNOT_C_LOW ..
CANNOT_C_HIGH = 3.0  # .. c * CANNOT_C_HIGH

NOT_CONFIRMED = ("NOT confirmed by these probes (they may all sit above the plateau, or straddle its lower end, where "
                 f"they cannot see the clock): the paper's tau clock (b = 1); the interval spans b = "
                 f"{CANNOT_B_RANGE[0]}..{CANNOT_B_RANGE[1]}")
EDGE_DOWN_TO_0 = ("under \"cannot tell\" that edge is where the probes stop, not where the plateau does: "
                  "smaller lams (down to 0) may be better at this budget, so the interval reaches 0; "
                  "probe smaller lams, or try lam = 0 beside it")
EITHER_SIDE = ("under \"cannot tell\" the probes may all sit above the plateau and cannot see where it ends "
               "below them, and the advice's c is borrowed or a lower bound: smaller lams (down to 0) may be as "
               "good or better at this budget, so the interval reaches 0, and on a model whose small lams overfit "
               "(noisy labels) the best lam can lie above the advice, up to the interval's top; probe smaller "
               "lams, or try lam = 0 and the plateau's edge lam_c beside it")
BELOW_THE_PROBES = (" (an estimate, not a floor: no smaller lam was probed, and a lam too small for the run "
                    "can overfit and peak lower)")


def clock_constant(fit: Fit, momentum: float) -> tuple[float, tuple[float, float], list[str]]:
    """(c, c's interval, why) the advice uses: the measured c, or under "cannot tell" the larger
    of CANNOT_C*(1-momentum) and what the probes measured (above the plateau, a lower bound)."""
    if fit.verdict != CANNOT:
        return fit.c, fit.c_interval, []
    typical = CANNOT_C * (1.0 - momentum)
    own = math.isfinite(fit.c) and fit.c >= typical  # a tie is the probes' own: said as borrows_c reads it
    c = fit.c if own else typical
    measured = ("the probes measured nothing" if not math.isfinite(fit.c) else
                f"the probes' pooled curve still rose at its end, tau = {fit.c:.3g}: c >= {fit.c:.3g}"
                if fit.c_bound == "lower" else f"the probes measured {fit.c:.3g}")
    why = [f"c = {c:.3g}: " + ("the probes' own c, at or above the typical one" if own
                               else f"the typical c = {CANNOT_C:g}*(1-momentum)" if momentum
                               else f"the typical c = {CANNOT_C:g}")  # AdamW has no momentum setting (review 46)
           + f" ({measured}; probes that cannot see the clock cannot measure c, only bound it from below)"]
    return c, (c / CANNOT_C_LOW, c * CANNOT_C_HIGH), why


def best_above_smallest(fit: Fit) -> bool:
    """Under "cannot tell", whether a larger probed lam peaked higher than the smallest (within
    noise, or the fit would have an interior maximum): the best lam may then lie above the advice
    as well as below it (a reviewer's AdamW regression on 150 points: lam 5 beat 2.5 in every seed
    set, the borrowed c advised 0.8 with an interval to 2.78, and the grid's best was 4)."""
    return (fit.verdict == CANNOT and not fit.interior_max and math.isfinite(fit.lam_best)
            and not (fit.reasons and shows_nothing(fit.reasons[0]))  # probes at the constant: their best is noise's
            and math.isfinite(fit.lam_min_probed) and fit.lam_best > fit.lam_min_probed * (1 + 1e-9))


def best_above_words(fit: Fit, top: float, k: float = 1.0) -> str:
    """Why the interval reaches up to the plateau edge; lams at the run's lr (`k`: probe lr / run lr)."""
    at = "" if math.isclose(k, 1.0, rel_tol=1e-9) else f" (at lr {fit.lr / k:.3g}, on the lr*lam clock)"
    return (f"the smallest probed lam{at} ({fit.lam_min_probed * k:.3g}) did not reach the highest peak in its own "
            f"window (lam {fit.lam_best * k:.3g} did, within noise): the best lam may lie above the advice, so the "
            f"interval reaches the plateau edge lam_c = {top:.3g} (on the plateau a larger lam reaches the same top "
            "earlier); try it beside the advice")


def straddled_interval(fit: Fit, k: float = 1.0) -> tuple[float, float]:
    """Under "cannot tell" where the plateau has an interior maximum (its lower end, lam*, measured):
    from lam* (smaller lams were seen to do worse) to the probed lam above the plateau, clearly worse
    in its own window, or the plateau's top where none was probed above it (or some seed learned
    nothing there); at the run's lr (`k`: probe lr / run lr). Not down to 0 (a reviewer's regression:
    the interval 0 .. 0.05 held lams 5-10 seed ranges worse than the advice, the grid's best), and
    not a point where the plateau is one probed lam."""
    return fit.lam_star * k, below_next_probed(fit) * k


def below_next_probed(fit: Fit) -> float:
    """How far above the plateau edge lam_c its true edge may lie: the probed lam above it (at the
    probe lr), which peaked clearly lower in its own window, or lam_c itself where none was probed
    above it or some seed learned nothing there. The edge lies between them: a reviewer's transformer
    had lam_c = 1.67 beside a collapsed 3.33, and its best lam for the run was 2.4."""
    rows = [r for r in fit.table if r.lr == fit.lr]
    _, up = probed_neighbours(rows, fit.lam_c, fit.lam_c)
    return up.lam if reachable(up) else fit.lam_c  # type: ignore[union-attr]


def straddled_words(interval: tuple[float, float], lam_c: float) -> str:
    """Why the interval runs from lam* up (`lam_c` at the run's lr: a top above it is a probed lam)."""
    if interval[1] <= interval[0] * (1 + 1e-9):  # a plateau of one probed lam, nothing reachable above it
        return (f"the probes saw where the plateau ends below (lam*), so the interval does not reach 0; the plateau "
                f"is one probed lam, lam* = {interval[0]:.3g}, and no lam above it was probed or learned on every seed: "
                "the interval is that lam alone")
    top = (f"up to the probed lam above the plateau, {interval[1]:.3g}, which peaked clearly lower in its own window"
           if interval[1] > lam_c * (1 + 1e-9) else f"up to the plateau's top, {interval[1]:.3g}")
    return (f"the probes saw where the plateau ends below (lam*), so the interval does not reach 0: it runs from lam* "
            f"= {interval[0]:.3g} {top}; the best lam for the run may lie anywhere in it")


NOT_CONFIRMED_STRADDLED = ("NOT confirmed by these probes (they straddle the plateau's lower end, where they cannot see "
                           "the clock): the paper's tau clock (b = 1)")
