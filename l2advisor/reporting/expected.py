"""The advice's prediction in words: the `recommend` panel's "expect" row and report.md's advice line
say it alike (written twice, they drifted apart: report.md hedged a run that ends below its top and
called a 300-step run's late top its peak; review 43). Pure words from an `Advice` and its `Fit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from l2advisor.reporting.data import no_prediction
from l2advisor.science.advise import (
    Advice,
    borrows_c,
    fitted_b_step,
    predicted_is_lower_bound,
    smallest_still_rising,
)
from l2advisor.science.fit import CANNOT, FAILS, Fit
from l2advisor.science.numbers import shown


def _num(x: float, fmt: str) -> str:
    return shown(x, fmt) if x is not None and math.isfinite(x) else "-"


def expected_words(a: Advice, f: Fit, metric: str, peak_step: float, *, scheduled: bool = False,
                   run_steps: int = 0, mark: Callable[[str], str] = lambda text: f"({text})",
                   to_run: Callable[[float], float] | None = None) -> str:
    """The predicted metric and when it comes, or why none is predicted. `peak_step` in the run's
    steps (inf: an lr schedule decays before the peak's tau); `scheduled`: the run has an lr schedule
    (its steps are not the tau clock's); `run_steps` > 0 names the run's length beside the step;
    `mark` dresses what qualifies the prediction (the panel colours it); `to_run` maps a step on the
    constant-lr scale to the scheduled run's (reporting/data.py `run_step`; the identity without one)."""
    missing = no_prediction(a, f)  # "at least - ... (step -)" said nothing
    if missing:
        return missing
    value = _num(a.predicted_metric, ".4f")
    if predicted_is_lower_bound(a, f) and metric == "accuracy" and a.predicted_metric >= 1.0:
        return (f"{value} peak validation accuracy, the most there is: this lam reached it in its own probe "
                f"(step {_num(peak_step, '.0f')})")
    of_run = f" of the {run_steps}-step run" if run_steps else ""
    if predicted_is_lower_bound(a, f) and a.verdict == FAILS:
        return (f"at least {value} peak validation {metric}: this lam's peak in its own probes (step "
                f"{_num(peak_step, '.0f')}{of_run}{_unpeaked(a, f)}); it was among the best over the {f.common_steps:.0f} "
                f"steps all probes ran, and the run is {a.budget_steps / f.common_steps:.3g}x longer than that, so "
                "it may climb further")
    when = ("not within the run: its lr decays before the peak's tau, so the run ends below it"
            if scheduled and math.isinf(peak_step) else f"around step {_num(peak_step, '.0f')}{of_run}")
    hedge = ""
    run = to_run or (lambda steps: steps)  # constant-lr steps -> the run's own
    end = ", the run's end" if math.isclose(peak_step, run(a.budget_steps), rel_tol=0.005) else ""  # by construction
    if a.verdict == CANNOT:  # from a c the probes did not measure: the step, or its absence, is assumed
        assumed = (" if the typical c holds" if borrows_c(a, f) else f" if c is {_num(a.c, '.3g')}, the probes' lower bound")
        at_end = f"{end} (the lam was solved for it)," if end else ""  # review 46: the budget by construction
        when = (when + at_end + assumed if when.startswith("around step") else  # "ends below it" was 4 points off
                f"not within the run{assumed}: its lr decays before that peak's tau")
        hedge = " " + mark("it may come much earlier or later: keep the best checkpoint, not the last")
    elif (b_step := fitted_b_step(a, f)) is not None and when.startswith("around step"):
        step = run(b_step)  # where the fitted b puts the top, in the run's steps
        near = f"nearer step {step:.0f}" if math.isfinite(step) else "after the run's end"
        when += f"{end} (the lam was solved for it on the tau clock; the fitted b = {shown(f.b, '.2f')} puts it {near})"
        hedge = " " + mark("keep the best checkpoint, not the last")
    extrapolated = " " + mark("extrapolated") if a.extrapolated else ""
    if not scheduled and peak_step > a.budget_steps * (1 + 1e-9):  # the run ends before its top: no earlier peak to keep
        return (f"{value} validation {metric} at the run's end, still rising (its top comes {when}, after the "
                f"run's {a.budget_steps} steps){extrapolated}")
    if a.verdict == CANNOT and a.extrapolated:  # the smallest lam did best at equal steps; below it, untested
        rising = ", its probes still rising at their ends: the run may climb well above it" \
            if smallest_still_rising(f) else ""
        below = mark(f"extrapolated below the smallest probed lam: a smaller lam may do better or worse{rising}")
        return f"{value} peak validation {metric} {below}, {when}{hedge}"
    unpeaked = _unpeaked(a, f) if a.verdict == FAILS and not scheduled else ""
    at_most = "at most about " if when.startswith("not within the run:") else ""  # measured c: the run ends below it
    return f"{at_most}{value} peak validation {metric}, {when}{unpeaked}{extrapolated}{hedge}"


def _unpeaked(a: Advice, f: Fit) -> str:
    """Under "does not hold" the step is the median t* of the advised lam's probes: where some had
    not clearly peaked when they ended, their t* is a floor, and so may the step be."""
    rows = [r for r in f.table if r.n_seeds and math.isclose(r.lam, a.weight_decay, rel_tol=1e-9)
            and math.isclose(r.lr, a.lr, rel_tol=1e-9)]
    if not rows or rows[0].n_peaked >= rows[0].n_seeds:
        return ""
    r = rows[0]
    unpeaked = r.n_seeds - r.n_peaked
    return (f", a median over {r.n_seeds} probes, {unpeaked} of which had not clearly peaked when "
            f"{'it' if unpeaked == 1 else 'they'} ended: perhaps later")
