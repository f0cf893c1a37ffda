"""Advice when the relations do not hold: the probed lams compared at equal steps.

Plain arithmetic on fit.py's `LamRow`s. No formula is rescaled: the answer is one of
the probed lams. Each probe ran for its own window (1/(lr*lam) in the probe plan), so the lams
are compared within the steps every probe ran (`LamRow.peak_common`); a longer window must not
win by being longer.

Among the lams tied with the best at those steps (within the plateau's noise threshold), the
advice is the middle one, not the best: on a flat top which lam comes out best is the seed's
choice (null_weightnorm's advice moved 4x between probe-seed sets when it was the best), while
the middle of the tied range moves only when the range's edges do.

One exception, for a run much longer than the compared steps: when the smallest probed lam is
tied and alone still rising as its probe ended (every larger lam peaked and fell back before
its end), it is the advice and the interval's top. A slow learner (a new user's regression)
tied every lam at the 400 steps all probes ran, before any learned more than the mean; the
middle, 0.1, then learned nothing in 4,000 steps where 0.05 reached -0.09 and 0 -0.04 (-MSE).
A null's probes are all still rising: the rule leaves them alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from l2advisor.science.fit_types import Fit, LamRow, probed_neighbours, reachable

NAN = float("nan")
FACTOR_ABOVE = 2.0  # the most the interval reaches above the largest probed lam (the default ladder's step)
__all__ = ["EqualStepsAnswer", "answer_at_equal_steps", "middle_lam", "tied_at_equal_steps"]


@dataclass(frozen=True)
class EqualStepsAnswer:
    """The lam to advise, its interval, its measured peak and peak step, and why."""

    lam: float  # at the probe lr
    interval: tuple[float, float]
    row: LamRow | None  # the advised lam's row (None when nothing was measured)
    reasons: tuple[str, ...]
    compared: bool = True  # False: no comparison at equal steps was possible (each probe's own window)


def tied_at_equal_steps(rows: list[LamRow], threshold: float) -> tuple[LamRow | None, list[LamRow]]:
    """(best row at equal steps, every row whose `peak_common` is within `threshold` of it, by lam).
    (None, []) when no row has a finite `peak_common`."""
    compared = [r for r in rows if math.isfinite(r.peak_common)]
    if not compared:
        return None, []
    best = max(compared, key=lambda r: r.peak_common)
    margin = threshold if math.isfinite(threshold) else 0.0
    return best, sorted((r for r in compared if r.peak_common >= best.peak_common - margin), key=lambda r: r.lam)


def middle_lam(lams: list[float]) -> float:
    """The lam nearest (in log lam) the geometric centre of [min, max]; the smaller on a tie."""
    centre = (math.log(min(lams)) + math.log(max(lams))) / 2  # in logs: min*max over- or underflows at extremes
    return min(lams, key=lambda lam: (round(abs(math.log(lam) - centre), 9), lam))


def _sentence_on_ties(best: LamRow, tied: list[LamRow], threshold: float, steps: float) -> str:
    head = (f"lams compared at the same number of steps, {steps:.0f} (the shortest probe): "
            f"best there lam {best.lam:.3g} at {best.peak_common:.4f}")
    if len(tied) == 1:
        return head + f"; no other probed lam came within {threshold:.4f} of it there"
    names = ", ".join(f"{r.lam:.3g}" for r in tied)
    middle = "the smaller of the two" if len(tied) == 2 else "the middle of them"  # middle_lam's tie rule
    return (head + f"; lams {names} came within {threshold:.4f} of it (lam barely matters among them): "
            f"the advice is {middle}, which the probes' noise moves less than the best")


def answer_at_equal_steps(fit: Fit, rows: list[LamRow], budget: int) -> EqualStepsAnswer:
    """The middle of the lams tied with the best at equal steps (`rows`: the probe lr's rows with
    data, by lam), its interval (the tied range; from 0 when the smallest probed lam is tied:
    nothing below it was seen; none with one lam) and the comparison's limits for a budget of
    `budget` steps. One threshold, the plateau's (`fit.plateau_threshold`, for the best lam's
    seeds), decides the ties: with follow-up seeds at some lams only, the plateau's per-row
    thresholds may tie a lam the equal-steps comparison does not."""
    best, tied = tied_at_equal_steps(rows, fit.plateau_threshold)
    if best is None or not (math.isfinite(fit.common_steps) and fit.common_steps > 0):
        answer = _answer_on_own_windows(fit, rows)
    else:
        why = [_sentence_on_ties(best, tied, fit.plateau_threshold, fit.common_steps)]
        if budget > 2 * fit.common_steps:
            why.append(f"the budget ({budget} steps) is {budget / fit.common_steps:.3g}x longer than that: "
                       f"the probes cannot say whether a smaller lam would pay off by then")
        lam, top = middle_lam([r.lam for r in tied]), tied[-1].lam
        rising = _rising_alone(rows, tied) if budget > 2 * fit.common_steps else None
        if rising is not None:
            lam = top = rising.lam  # the larger lams fell back: the interval ends at it too
            why.append(_sentence_on_rising(rising, budget))
        answer = EqualStepsAnswer(lam=lam, interval=(tied[0].lam, top),
                                  row=next(r for r in tied if r.lam == lam), reasons=tuple(why))
        if len(tied) == 1 and rising is None:
            answer = _between_neighbours(_bounded(answer, rows), rows)
        else:
            answer = _bounded(answer, rows)
        return _open_above(answer, rows, best, tied)  # never with `rising`: its smallest lam is tied
    return _bounded(answer, rows)


def _open_above(answer: EqualStepsAnswer, rows: list[LamRow], best: LamRow, tied: list[LamRow]) -> EqualStepsAnswer:
    """A trend toward larger lams that the ladder's top does not bound: the interval reaches one ladder
    step above the largest probed lam (at most 2x), as it reaches 0 below the smallest (review 48's ridge
    regression: the default ladder's top, 0.5, was the best, the interval ended there, and the best lam
    was 1). A trend, not the seeds' choice on a flat top (review 49: a null opened 24 times in 300): the
    largest lam is the best at equal steps and in every probe's own window (smaller lams, given longer
    windows, did not catch up: a momentum-0.99 MLP's smaller lam did, and its best lam lay below), and
    the lams tied with it are a run at the top that leaves out the smallest."""
    used = [r for r in rows if r.n_seeds > 0 and math.isfinite(r.peak_common)]
    if len(used) < 2 or answer.row is None or best is not used[-1]:
        return answer
    foot = [r for r in used if r not in tied]
    own_best = max(used, key=lambda r: r.peak_mean if math.isfinite(r.peak_mean) else -math.inf)
    if used[0] in tied or any(r.lam > min(t.lam for t in tied) for r in foot) or own_best is not used[-1]:
        return answer
    top = used[-1].lam
    step = top * min(top / used[-2].lam, FACTOR_ABOVE)
    lams = ",".join(f"{top * 2**k:.3g}" for k in range(4))
    return replace(answer, interval=(answer.interval[0], max(answer.interval[1], step)), reasons=(
        *answer.reasons, f"the largest probed lam, {top:.3g}, is the best, at equal steps and in every probe's own "
                         f"window, and smaller ones fall off: larger ones were not probed and may be better, so the "
                         f"interval reaches one ladder step above it, {step:.3g} (not measured); probe larger lams to "
                         f"bound it (`l2advisor probe FILE --lambdas {lams} --out DIR`)"))


def _between_neighbours(answer: EqualStepsAnswer, rows: list[LamRow]) -> EqualStepsAnswer:
    """One lam alone best at equal steps: its interval reaches the probed lams beside it, not the
    point itself (review 42: "5 .. 5" on a regression whose best was 4); they were worse over the
    shortest probe's steps only. An interval already opened to 0 (the smallest probed lam alone best)
    keeps its 0 and reaches the next lam up; the largest keeps its own top. A neighbour where some
    seed learned nothing is not reached (a reviewer's 1D CNN failed on one of two seeds at it, in the
    probes and in budget runs alike)."""
    lo, hi = answer.interval
    if answer.row is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return answer
    down, up = probed_neighbours(rows, answer.row.lam, answer.row.lam)
    down = down if lo > 0 else None  # an interval already open to 0 keeps its 0
    below = down.lam if reachable(down) else lo  # type: ignore[union-attr]
    above = up.lam if reachable(up) else hi  # type: ignore[union-attr]
    if (below, above) == (lo, hi):
        return answer
    held = [f"not lam {r.lam:.3g} {side}, where a seed learned nothing" for r, side in ((down, "below"), (up, "above"))
            if r is not None and not reachable(r)]
    if below != lo and above != hi:
        said = f"the interval reaches the probed lams beside it, {below:.3g} .. {above:.3g}: they were"
    else:
        said = f"the interval reaches the probed lam {'below' if below != lo else 'above'} it, " \
               f"{below if below != lo else above:.3g}: it was"
    return replace(answer, interval=(below, above), reasons=(
        *answer.reasons, f"{said} worse over the shortest probe's steps only, and the best lam for the run may lie "
                         f"between" + "".join(f"; {h}" for h in held)))


def _rising_alone(rows: list[LamRow], tied: list[LamRow]) -> LamRow | None:
    """The smallest probed lam when it alone was still rising as its probe ended: some seed had not
    clearly peaked, while every seed of every larger lam peaked and fell back before its end; and
    it is among the tied. None otherwise (a null's probes are all still rising: none)."""
    used = [r for r in rows if r.n_seeds > 0]
    if len(used) < 2 or used[0] not in tied:
        return None
    smallest, larger = used[0], used[1:]
    if smallest.n_peaked < smallest.n_seeds and all(r.n_peaked == r.n_seeds for r in larger):
        return smallest
    return None


def _sentence_on_rising(row: LamRow, budget: int) -> str:
    return (f"but lam {row.lam:.3g}, the smallest probed, was still rising when its probe ended ({row.n_seeds - row.n_peaked} "
            f"of {row.n_seeds} seeds), while every larger lam peaked and fell back before its end: their tops came "
            f"early, its top had not come, and over {budget} steps it may climb above them, so the advice is lam "
            f"{row.lam:.3g}, not the middle; probe smaller lams, or longer, to see where its top lies")


def _bounded(answer: EqualStepsAnswer, rows: list[LamRow]) -> EqualStepsAnswer:
    """The interval's edges where the probes say nothing: from 0 when it starts at the smallest
    probed lam (nothing below it was seen), none at all with a single lam."""
    if answer.row is None:
        return answer
    if len(rows) == 1:
        return replace(answer, interval=(NAN, NAN), reasons=(*answer.reasons, "one lam was probed usefully: it "
                                                             "bounds nothing on either side, so there is no interval"))
    if answer.interval[0] != rows[0].lam:
        return answer
    return replace(answer, interval=(0.0, answer.interval[1]), reasons=(
        *answer.reasons, f"the smallest probed lam is among the best: smaller ones (down to 0) were not probed and "
                         f"may be as good, so the interval reaches 0; probe below {rows[0].lam:.3g} to bound it"))


def _answer_on_own_windows(fit: Fit, rows: list[LamRow]) -> EqualStepsAnswer:
    """No comparison at equal steps was possible: the best mean peak in each probe's own window,
    and the plateau around it, said to be so (`compared` False)."""
    row = next((r for r in rows if r.lam == fit.lam_best), None)
    if row is None:
        return EqualStepsAnswer(lam=NAN, interval=(NAN, NAN), row=None, reasons=(), compared=False)
    plateau = [r.lam for r in rows if r.in_plateau] or [row.lam]
    why = ("no two lams could be compared at the same number of steps (no probe has a usable peak within the "
           f"steps all of them ran): the best peak in each probe's own window, lam {row.lam:.3g}, where longer "
           f"windows may favour smaller lams; lams {min(plateau):.3g}..{max(plateau):.3g} peaked within "
           f"{fit.plateau_threshold:.4f} of it",)
    return EqualStepsAnswer(lam=row.lam, interval=(min(plateau), max(plateau)), row=row, reasons=why, compared=False)
