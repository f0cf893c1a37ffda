"""`Fit` + budget (+ lr) -> `Advice`: the weight decay to train with, and an AutoL2 setup.

Pure (numpy only, no torch). `weight_decay` is torch's weight_decay (SGD or AdamW). The
budget `T` is in optimizer steps; the clock is lr*lam per step, so tau = lr*lam*T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from l2advisor.science.cannot_tell import (
    BELOW_THE_PROBES,
    CANNOT_B_RANGE,
    EDGE_DOWN_TO_0,
    EITHER_SIDE,
    NOT_CONFIRMED,
    NOT_CONFIRMED_STRADDLED,
    below_next_probed,
    best_above_smallest,
    best_above_words,
    clock_constant,
    straddled_interval,
    straddled_words,
)
from l2advisor.science.caveats import (  # noqa: F401 - re-exported: the answer and its caveats
    advice_flags,
    borrows_c,
    caveats,
    fitted_b_step,
    peak_step_assumed,
    predicted_is_lower_bound,
    prediction_is_floor,
    smallest_still_rising,
)
from l2advisor.science.equal_steps import answer_at_equal_steps
from l2advisor.science.failed_probes import near_failure_words
from l2advisor.science.fit import CANNOT, FAILS, Fit, LamRow, nothing_learned
from l2advisor.science.numbers import noise_cleared, shown
from l2advisor.science.reason_words import first_reasons
from l2advisor.science.rules_of_thumb import DEFAULT_WD, rules_of_thumb  # noqa: F401 - re-exported
from l2advisor.science.scaling import lam_for_budget, steps_to_top  # noqa: F401 - re-exported
from l2advisor.science.serial import from_jsonable, to_jsonable
from l2advisor.science.verdict import above_the_plateau

NAN = float("nan")


@dataclass(frozen=True)
class Advice:
    """Advice for one budget. NaN where not measurable (None in the dict)."""

    weight_decay: float  # value to pass to torch
    interval: tuple[float, float]  # from c_interval, clipped like weight_decay
    lr: float  # the learning rate the advice is for
    budget_steps: int
    verdict: str  # the Fit's verdict
    predicted_metric: float  # peak metric expected at weight_decay within the budget
    predicted_peak_step: float  # step where the metric is expected to be best: c / (lr*wd)
    extrapolated: bool  # lr*weight_decay below the smallest probed lr*lam
    c: float
    c_interval: tuple[float, float]
    alpha: float
    unclipped: float  # c / (lr*T) before clipping to the plateau (NaN without a formula)
    reasons: tuple[str, ...]
    rules_of_thumb: dict[str, float]  # zero-cost rules, for contrast
    # the run ends before the probes' earliest point on their clock: the NaN predicted metric is
    # that, not a failure (False in advice files written before the field existed)
    ends_before_curve: bool = False


def _main_rows(fit: Fit) -> list[LamRow]:
    """Table rows at the probe lr that have usable probes, sorted by lam."""
    return sorted((r for r in fit.table if r.lr == fit.lr and r.n_seeds > 0),
                  key=lambda r: r.lam)


def _peak_at(fit: Fit, lam: float) -> float:
    """Mean peak metric at probe-lr lam, linear in log lam between probed lams; NaN outside. A lam
    at a probed end but for float rounding (c/(lr*T) = 4/(0.1*1600) = 0.024999999999999998 for a
    probe at 0.025) is that probe's: the same 1e-9 the advice's `extrapolated` allows."""
    rows = _main_rows(fit)
    if not rows or not rows[0].lam * (1 - 1e-9) <= lam <= rows[-1].lam * (1 + 1e-9):
        return NAN
    rows = [r for r in rows if not r.n_learned_nothing] or rows  # what a seed that learns reaches
    return float(np.interp(math.log(lam), [math.log(r.lam) for r in rows],
                           [r.peak_mean for r in rows]))


PREDICTED = ": predicted metric is "  # what an extrapolation's reason says the metric will be, after


def _extrapolated_level(fit: Fit, why: list[str], k: float) -> float:
    """The metric expected below the smallest probed lam: that lam's own mean peak when it is on
    the plateau (the nearest measurement, which the advice extends; the plateau's mean could sit
    below it), else the plateau level. Says which in `why`."""
    rows = _main_rows(fit)
    nearest = rows[0] if rows else None
    smallest = (f"{fit.lam_min_probed:.3g}" if math.isclose(k, 1.0, rel_tol=1e-9) else  # probed at another lr: said so
                f"{fit.lam_min_probed:.3g} at lr {fit.lr:.3g} ({fit.lam_min_probed * k:.3g} at lr {fit.lr / k:.3g} on the "
                "lr*lam clock)")
    where = f"extrapolated below the smallest probed lam {smallest}{PREDICTED}"
    if nearest is not None and nearest.in_plateau and math.isfinite(nearest.peak_mean):
        where_top = BELOW_THE_PROBES if fit.verdict == CANNOT else " (on the plateau)"
        rising = (f"; {nearest.n_seeds - nearest.n_peaked} of its {nearest.n_seeds} probes had not clearly peaked when "
                  "their windows ended, so a run may climb well above it" if smallest_still_rising(fit) else "")
        why.append(where + f"that lam's peak {nearest.peak_mean:.4f}{where_top}{rising}")
        return nearest.peak_mean
    why.append(where + f"the plateau level {fit.plateau_level:.4f}")
    return fit.plateau_level


def _shortfall(fit: Fit, tau_budget: float) -> float:
    """How far below its top the pooled curve still is at tau_budget (0 once past c)."""
    t, m = np.asarray(fit.collapsed_tau, float), np.asarray(fit.collapsed_mean, float)
    ok = np.isfinite(m) & (t > 0)
    if tau_budget >= fit.c or ok.sum() < 2:
        return 0.0
    first = float(t[ok].min())  # a run ending on the first point, but for float rounding, is read there: 10
    tau_budget = first if first * (1 - 1e-9) <= tau_budget < first else tau_budget  # steps x 0.1 x 0.025 < 0.025
    at = np.interp(math.log(tau_budget), np.log(t[ok]), m[ok], left=np.nan)
    return float(max(m[ok].max() - at, 0.0)) if math.isfinite(at) else NAN


def _check(budget_steps: float, lr: float) -> None:
    if not (math.isfinite(budget_steps) and budget_steps > 0):
        raise ValueError(f"budget_steps must be a positive number of steps, got {budget_steps}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be positive, got {lr}")


def _fallback(fit: Fit, budget: int, lr: float, base: dict) -> Advice:
    """Verdict "does not hold": a probed lam chosen at equal steps (equal_steps.py), no formula."""
    answer = answer_at_equal_steps(fit, _main_rows(fit), budget)
    why = [f"the relations do not hold here ({first_reasons(fit.reasons)}): advice is a measured lam, "
           + ("chosen at equal steps, " if answer.compared else "") + "not c/(lr*T)", *answer.reasons]
    if answer.row is None:
        why.append(f"nothing usable was measured: falling back to the common default {DEFAULT_WD:g}")
        return Advice(weight_decay=DEFAULT_WD, interval=(NAN, NAN), predicted_metric=NAN,
                      predicted_peak_step=NAN, extrapolated=False, unclipped=NAN, reasons=tuple(why), **base)
    same_lr = math.isclose(lr, fit.lr, rel_tol=1e-9)
    if not same_lr:
        why.append(f"measured at lr = {fit.lr:.3g}; not translated to lr = {lr:.3g}")
    return Advice(weight_decay=float(answer.lam), interval=answer.interval,
                  predicted_metric=float(answer.row.peak_mean if same_lr else NAN),
                  predicted_peak_step=float(answer.row.t_star if same_lr else NAN),
                  extrapolated=False, unclipped=NAN, reasons=tuple(why), **base)


def lr_translation(fit: Fit, lr: float) -> str | None:
    """Where `lr` is not the probe lr the fit read: that the advice moved along the lr*lam clock, and
    how far the probes confirmed that clock (None at the probe lr)."""
    if math.isclose(lr, fit.lr, rel_tol=1e-9):
        return None
    several = len({r.lr for r in fit.table if r.n_seeds}) > 1
    clock = {True: "confirmed across probe lrs", False: "NOT confirmed across probe lrs: unreliable",
             None: "not checked: too few probes peaked at the other lrs" if several
             else "not checked (one probe lr)"}[fit.clock_is_lr_lam]
    return f"lr {lr:.3g} differs from the probe lr {fit.lr:.3g}: translated through the lr*lam clock ({clock})"


def _interval(fit: Fit, c_interval: tuple[float, float], b: float, budget: int, lr: float,
              clip) -> tuple[float, float]:
    """lam interval over c's interval and (when b was fitted) b's 95% interval, clipped."""
    bs = [b]
    if fit.verdict == CANNOT:  # the clock was not seen: the paper's b = 1, give or take a half
        bs += list(CANNOT_B_RANGE)
    elif b != 1.0 and all(math.isfinite(v) for v in fit.b_interval):
        bs += [min(max(v, 0.4), 1.6) for v in fit.b_interval]
    lams = [clip(lam_for_budget(c, bb, fit.clock_ref, budget) / lr) for c in c_interval for bb in bs]
    lams = [v for v in lams if math.isfinite(v)]
    return (min(lams), max(lams)) if lams else (NAN, NAN)


def _above_edge_words(lam_c: float, hi: float, top: float, k: float) -> str:
    """Why the interval's top lies above the plateau edge lam_c (all at the run's lr; `k`: probe lr / run lr)."""
    at = "" if math.isclose(k, 1.0, rel_tol=1e-9) else f" ({top / k:.3g} at the probe lr, on the lr*lam clock)"
    return (f"the interval reaches above the plateau edge lam_c = {lam_c:.3g}, up to {hi:.3g}: the edge lies between "
            f"lam_c and {top:.3g}{at}, the next probed lam, which peaked clearly lower in its own window")


def advise(fit: Fit, budget_steps: int, lr: float | None = None, momentum: float = 0.0) -> Advice:
    """Weight decay for a budget of `budget_steps` steps (see `_advise`); a peak predicted
    after the run's end is said so in the reasons."""
    advice = _advise(fit, budget_steps, lr, momentum)
    # the answer without float noise, so it reads the same wherever it is shown; what was predicted of
    # it (peak step, metric) was computed from the exact value, which moves less than 5e-13
    advice = replace(advice, weight_decay=noise_cleared(advice.weight_decay),
                     interval=(noise_cleared(advice.interval[0]), noise_cleared(advice.interval[1])))
    k = fit.lr / advice.lr
    if (near := near_failure_words(fit.table, fit.lr, advice.weight_decay * (advice.lr / fit.lr), k)) is not None:
        advice = replace(advice, reasons=(*advice.reasons, near))
    if nothing_learned(fit.reasons):  # no probe's peak says what a run would reach: none is predicted
        said = tuple(r.split(PREDICTED)[0] + " (no metric predicted: the probes learned nothing)" if PREDICTED in r
                     else r for r in advice.reasons)
        return replace(advice, predicted_metric=NAN, predicted_peak_step=NAN, reasons=said)
    if advice.predicted_peak_step > advice.budget_steps * (1 + 1e-9):
        why = (f"the peak is expected around step {advice.predicted_peak_step:.0f}, after the {advice.budget_steps} "
               f"(constant-lr) steps the advice is for: the run ends before its top, below the predicted metric")
        advice = replace(advice, reasons=(*advice.reasons, why))
    return advice


def _advise(fit: Fit, budget_steps: int, lr: float | None = None, momentum: float = 0.0) -> Advice:
    """Weight decay for a budget of `budget_steps` steps at learning rate `lr` (default: the
    probe lr). lam = c / (lr*T), clipped to the plateau (<= lam_c) and, when the peak has an
    interior maximum, not below lam*; both limits move to another lr through the lr*lam clock.
    `momentum` (the probes' and the run's SGD momentum) scales the typical c that "cannot tell" uses.
    Raises ValueError on a non-positive budget or lr, or no lr at all.
    """
    if lr is None and not math.isfinite(fit.lr):
        raise ValueError("the fit has no probe lr (nothing usable was measured): pass lr")
    lr = float(fit.lr if lr is None else lr)
    _check(float(budget_steps), lr)
    budget = int(round(budget_steps))
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must be in [0, 1), got {momentum}")
    c, c_interval, c_why = clock_constant(fit, momentum)
    base = dict(lr=lr, budget_steps=budget, verdict=fit.verdict, c=c,
                c_interval=c_interval, alpha=fit.alpha,
                rules_of_thumb=rules_of_thumb(lr, budget))
    if fit.verdict == FAILS or not math.isfinite(c):
        return _fallback(fit, budget, lr, base)
    k = fit.lr / lr  # probe-lr lam -> lam at lr, same lr*lam
    hi_lam, lo_lam = fit.lam_c * k, (fit.lam_star * k if fit.interior_max else 0.0)

    top_lam = below_next_probed(fit) * k  # the interval's top: the plateau edge lies below the probed lam above it

    def clip(lam: float, top: float = hi_lam) -> float:
        return min(max(lam, lo_lam), top) if math.isfinite(lam) else NAN

    def clip_interval(lam: float) -> float:
        return clip(lam, top_lam)

    b = fit.b_used if math.isfinite(fit.b_used) and fit.verdict != CANNOT else 1.0
    raw = lam_for_budget(c, b, fit.clock_ref, budget) / lr  # c: the top's tau where the probes ran
    b_fit, kept_clock = b, []
    if b != 1.0 and raw < (on_tau := lam_for_budget(c, 1.0, fit.clock_ref, budget) / lr):
        # The two errors do not cost the same: a lam too small ends the run before its top; one
        # larger than needed (on the plateau) reaches the same top earlier, and the best checkpoint
        # keeps it. A b below 1 also comes from the top rung's crossings falling in the fast,
        # lr-driven rise (benchmarks/slow_rise.py: advice 10x too small, 3-4 points lost).
        kept_clock = [f"lam = c/(lr*T) = {c:.3g}/({lr:.3g}*{budget}) = {on_tau:.3g}, the tau clock's answer, kept "
                      f"over {raw:.3g} from b = {shown(b, '.2f')}: a lam too small ends the run before its top, one larger "
                      "than needed on the plateau reaches the same top earlier (b's answer is in the interval)"]
        b, raw = 1.0, on_tau
    wd = clip(raw)
    peak_step = steps_to_top(c, b, fit.clock_ref, lr * wd)  # on the clock the advice was solved with
    why = [] if fit.verdict != CANNOT else [NOT_CONFIRMED, *c_why]
    why += kept_clock or [f"lam = c/(lr*T) = {c:.3g}/({lr:.3g}*{budget}) = {raw:.3g}" if b == 1.0 else
                          f"lam = {raw:.3g}: the top arrives at steps = c/(lr*lam)^b with b = {shown(b, '.2f')}, c = {c:.3g}; "
                          f"solved for steps = {budget}"]
    if wd < raw:
        why.append(f"clipped to the plateau edge lam_c = {hi_lam:.3g}: the budget is too short "
                   f"for the peak at any plateau lam (it arrives at step {peak_step:.0f})")
    elif wd > raw:
        why.append(f"raised to lam* = {lo_lam:.3g}, where the plateau ends below (the peak has an interior maximum): "
                   "smaller lams are worse however long the run")
    extrapolated = lr * wd < fit.lr * fit.lam_min_probed * (1 - 1e-9)
    level = _extrapolated_level(fit, why, k) if extrapolated else _peak_at(fit, wd / k)
    axis_b = fit.b_used if math.isfinite(fit.b_used) else 1.0  # the clock the pooled curve was drawn on
    position = budget * (lr * wd) ** axis_b * fit.clock_ref ** (1.0 - axis_b)  # the run's end on that axis, in tau
    metric = level - _shortfall(fit, position)
    ends_before_curve = math.isfinite(level) and not math.isfinite(metric)  # _shortfall: before its first point
    if ends_before_curve:
        first = min(t for t in fit.collapsed_tau if t > 0)  # _shortfall's first point: step 0 is every curve's
        why.append(f"no metric is predicted: a {budget}-step run ends before the earliest point the probes "
                   f"measured past their start, on their clock (the run ends at tau {position:.2g}, their first "
                   f"point is at tau {first:.2g}), so nothing says how far it gets")
    if (moved := lr_translation(fit, lr)) is not None:
        why.append(moved)
    if abs(fit.alpha - 1.0) > 0.25 and fit.verdict != CANNOT:  # "cannot tell" borrows its c: no formula reads alpha
        why.append(f"alpha = {fit.alpha:.2f}, the formula assumes 1: treat it as approximate")
    lo, hi = _interval(fit, c_interval, b_fit, budget, lr, clip_interval)
    if kept_clock:  # the interval holds both answers: b's and the tau clock's, which is advised
        hi = max(hi, _interval(fit, c_interval, 1.0, budget, lr, clip_interval)[1])
    lo, hi = min(lo, wd), max(hi, wd)  # every c beyond the plateau edge: from the edge (advised) up
    above_edge = hi > hi_lam * (1 + 1e-9) and not (fit.verdict == CANNOT and fit.interior_max)  # straddled: said there
    if fit.verdict == CANNOT and fit.interior_max:  # its lower end was seen: not every probe sits above it
        lo, hi = straddled_interval(fit, k)
        why[0] = NOT_CONFIRMED_STRADDLED  # its interval is not b's range: it is the probed lams'
        why.append(straddled_words((lo, hi), hi_lam))
    elif fit.verdict == CANNOT and wd < raw:  # the edge the probes saw may itself be above the plateau
        lo = 0.0
        why.append(EDGE_DOWN_TO_0)
    elif fit.verdict == CANNOT and above_the_plateau(fit.reasons):  # nothing measured bounds it from below
        lo = 0.0
        why.append(EITHER_SIDE)
    if above_edge:
        why.append(_above_edge_words(hi_lam, hi, top_lam, k))
    if best_above_smallest(fit) and hi < hi_lam:  # the probes' own best lies above: so may the run's
        hi = hi_lam
        why.append(best_above_words(fit, hi_lam, k))
    if abs(math.log(fit.lr * fit.lam_min_probed / (lr * wd))) > math.log(4) and b != 1.0:
        why.append(f"extrapolated {fit.lr * fit.lam_min_probed / (lr * wd):.3g}x below the smallest "
                   f"probe with b = {shown(b, '.2f')}: the interval spans b's 95% interval")
    return Advice(weight_decay=float(wd), interval=(float(lo), float(hi)),
                  predicted_metric=float(metric), predicted_peak_step=float(peak_step),
                  extrapolated=bool(extrapolated), unclipped=float(raw),
                  reasons=tuple(why), ends_before_curve=bool(ends_before_curve), **base)


def advice_to_dict(advice: Advice) -> dict:
    """JSON-safe dict (schema_version 1; NaN -> None); keys as in DESIGN.md."""
    return {"schema_version": 1, **to_jsonable(advice)}


def advice_from_dict(d: dict) -> Advice:
    """Inverse of `advice_to_dict` (extra keys ignored; a missing key is a ValueError)."""
    return from_jsonable(Advice, d)
