"""What could be wrong with an advice, in the fit's own words: the caveats the panel and
`--json` show under the answer, whether its predicted metric is a floor and whether its peak step is
assumed (pure; the one number computed here is the step a fitted b puts the top at)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from l2advisor.science.failed_probes import DEAD_LR, DEAD_SEED, LEARNED_NOTHING_AT
from l2advisor.science.learned import nothing_learned
from l2advisor.science.reason_words import unrepeated
from l2advisor.science.scaling import steps_to_top
from l2advisor.science.verdict import APPROX, CANNOT, FAILS, HOLDS

if TYPE_CHECKING:
    from l2advisor.science.advise import Advice
    from l2advisor.science.fit_types import Fit

SHOWN_ABOVE = ("b = ", "plateau: ", "c = ", "c >= ", "c <= ", "clock lr*lam confirmed")  # fit reasons the answer already gives


def caveats(fit: Fit, advice: Advice, limit: int = 4) -> list[str]:
    """What could be wrong with the advice: the fit's reasons that neither restate a number the
    answer shows (b, c, the plateau), repeat one of the advice's own reasons, nor only inform
    (alpha); a verdict near its threshold first, then those about the probes themselves (some had
    not clearly peaked), then in the fit's order; at most `limit`."""
    found = [r for r in fit.reasons if not r.startswith(SHOWN_ABOVE) and "informative only" not in r
             and not any(r in said for said in advice.reasons)]
    return unrepeated(sorted(found, key=_caveat_rank)[:limit], said=advice.reasons)


def _caveat_rank(reason: str) -> int:
    """A verdict that one more seed could flip first (it was cut by the limit, said only in
    report.md), then what is wrong with the probes themselves: some had not clearly peaked, were
    left out of the fit (a lam at which they learned nothing too), or lost evaluations to a NaN
    metric, and probe lrs that do not confirm lr*lam as the clock (each was cut too), then the
    fit's order."""
    if "that decides whether the probes sit above the plateau" in reason:  # fit.py's needs_seed reason
        return 0
    about_probes = ("had not clearly peaked", "probe(s) excluded: ", "the metric was NaN at ", LEARNED_NOTHING_AT,
                    DEAD_SEED, DEAD_LR)
    return 1 if any(k in reason for k in about_probes) or reason.startswith("the clock is not lr*lam") else 2


def predicted_is_lower_bound(advice: Advice, fit: Fit) -> bool:
    """Whether the predicted metric is a floor rather than an estimate: "does not hold" for a budget
    more than twice the steps the lams were compared at (the advised lam is a probed one, and a
    longer run of it may climb further). Not "cannot tell" below the smallest probe: that prediction
    is the smallest probed lam's peak, and a smaller lam can do worse (a GRU on noisy labels, review
    40a: both seeds of the advice below it, its small lams overfitting)."""
    return prediction_is_floor(advice.verdict, advice.budget_steps, fit.common_steps)


def prediction_is_floor(verdict: str, budget_steps: float, common_steps: float) -> bool:
    """`predicted_is_lower_bound` from an advice's fields (a saved advice's, read back) and the
    steps at which its fit compared the lams."""
    return verdict == FAILS and math.isfinite(common_steps) and budget_steps > 2 * common_steps


def peak_step_assumed(advice: Advice, fit: Fit) -> bool:
    """Whether the predicted peak step is not a prediction for the run: under "cannot tell" it rests
    on a c the probes did not measure (the typical c is borrowed, and a c of the probes' own is only
    a lower bound above the plateau: on a reviewer's GRU and a bag-of-tokens model the peaks came
    10-30x before the step so predicted); under "does not hold" with a floor it is the step of the
    advised lam's peak in its own probes, and the longer run may climb past it (review 42: 829 for
    a 20,000-step run whose grid peaked at 6,400-6,800)."""
    return advice.verdict == CANNOT or predicted_is_lower_bound(advice, fit) or fitted_b_step(advice, fit) is not None


def fitted_b_step(advice: Advice, fit: Fit) -> float | None:
    """Where the advice was solved on the tau clock for the run's end (its peak step is the budget by
    construction) while the fitted b's 95% interval leaves out 1: the step the fitted b puts the top
    at, when it is more than 10% away (review 48: 16 images, b = 0.47 [0.43, 0.51], "around step 2000"
    where runs peaked at steps 980-1260; the fitted b said 990). None otherwise, and always under
    "cannot tell" and "does not hold" (no fitted clock is read there)."""
    lo, hi = fit.b_interval
    if advice.verdict not in (HOLDS, APPROX) or not (math.isfinite(lo) and math.isfinite(hi)) or lo <= 1.0 <= hi:
        return None
    if not (math.isfinite(fit.b) and fit.b > 0 and math.isclose(advice.predicted_peak_step, advice.budget_steps,
                                                                 rel_tol=0.005)):
        return None
    step = steps_to_top(advice.c, fit.b, fit.clock_ref, advice.lr * advice.weight_decay)
    return step if math.isfinite(step) and abs(math.log(step / advice.budget_steps)) > math.log(1.1) else None


def borrows_c(advice: Advice, fit: Fit) -> bool:
    """Whether the advice's c is the typical one "cannot tell" borrows, not the probes' own bound."""
    return advice.verdict == CANNOT and not (math.isfinite(fit.c) and math.isclose(advice.c, fit.c, rel_tol=1e-9))


def advice_flags(advice: Advice, fit: Fit) -> dict[str, bool]:
    """What `recommend --json`, advice.json and the Python API say beside the numbers: whether the
    predicted metric is a floor, whether the peak step is assumed, whether the probes learned
    nothing (the advised lam then means nothing)."""
    metric, step = math.isfinite(advice.predicted_metric), math.isfinite(advice.predicted_peak_step)
    return {"predicted_metric_is_floor": predicted_is_lower_bound(advice, fit) and metric,
            "predicted_peak_step_is_assumed": peak_step_assumed(advice, fit) and step,
            "learned_nothing": nothing_learned(fit.reasons)}


def smallest_still_rising(fit: Fit) -> bool:
    """Whether some probe of the smallest probed lam (at the probe lr) had not clearly peaked when its
    window ended: a prediction read from it may be far below what a run reaches (review 42's
    transformer: 0.858 predicted, 0.9975 reached)."""
    rows = [r for r in fit.table if r.lr == fit.lr and r.n_seeds > 0]
    smallest = min(rows, key=lambda r: r.lam, default=None)
    return smallest is not None and smallest.n_peaked < smallest.n_seeds
