"""Whether the probes learned anything at all, and in what words to say they did not.

Before any relation is read, some probe must clearly rise above the untrained models: its
smoothed peak above the best first evaluation (step 0, before training) by more than the
tolerance and three times its noise. Otherwise whatever lam looks best is noise, and the fit's
first reason says so (`NOTHING_LEARNED`, or a wording for the case where one seed's untrained
model already sits where the others climb to).

Where the probe recorded what the best constant prediction scores (`Baseline`: always the
training set's most frequent class, or the training targets' mean), two more checks:
- a classifier whose training accuracy ended no probe `chance_margin` above always answering the
  most frequent class learned nothing (a reviewer's model at too large an lr wandered at chance, 0.04 to
  0.10 on the training batches, and climbed on validation from one seed's unlucky start to 0.134,
  chance 0.094: it got a point-sized interval and a floor no run reached);
- probes whose validation metric rises above the constant by less than LITTLE of its scale (the
  way to a perfect accuracy; for a regression what the metric loses one target sd off the mean)
  barely beat it: said first, and the verdict is at best "cannot tell", with no plateau edge
  raising the advice (a reviewer's regression probes, crushed by their decay to within 1% of the
  mean's error, were advised lam 0.25, 5x the best and no better than the mean). Not "nothing was
  learned": a weak but real model (a noisy regression, 80% of what linear regression gets) looks
  the same from the probes, so the advice and its prediction stay.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from l2advisor.science.curves import CurveMetrics
from l2advisor.science.numbers import shown
from l2advisor.science.verdict import APPROX, CANNOT, FAILS, HOLDS

NOTHING_LEARNED = ("nothing was learned: no probe's validation metric rose above the best untrained "
                   "model's (its first evaluation) by more than the tolerance or its noise; weight decay at "
                   "every probed lam may keep the model from learning (probe smaller lams, or lam 0), or check "
                   "the model, the labels and the lr before trusting any advice (and the metric: l2advisor "
                   "maximizes it, so an error or a loss must be returned negated)")


NOTHING_LEARNED_OPENING = "nothing was learned"  # every wording of the reason starts so
SOLVED_OPENING = "nothing was learned beyond the best untrained model"  # the wording that leaves "solved" open
BARELY = "the probes barely beat a constant prediction"  # the opening of that reason
AT_CHANCE_OPENING = "nothing was learned: no probe ended with a training accuracy"  # at_chance_words' opening
LITTLE = 0.05  # a rise over the constant prediction under this share of its scale is barely one
CHANCE_MARGIN = 0.02  # training accuracy within this of the most frequent class's share: chance ...
CHANCE_FRACTION = 0.1  # ... or within this share of the way from it to 1, where that is less (98% majority)


@dataclass(frozen=True)
class Baseline:
    """What the best constant prediction scores on the validation set (in the metric's units),
    what it predicts (words: "class 3, ...", "the training targets' mean"), the metric's scale
    against which a rise over it is judged (accuracy: 1 - the constant's; a regression: what the
    metric loses one target sd off the mean), and for a classifier the most frequent class's share
    of the training set (what its training accuracy is at chance)."""

    metric: float
    predicts: str
    scale: float
    train_share: float | None = None

    def to_dict(self) -> dict:
        return {"metric": self.metric, "predicts": self.predicts, "scale": self.scale,
                "train_share": self.train_share}


def nothing_learned(reasons: Sequence[str]) -> bool:
    """Whether a fit's reasons open with "nothing was learned" (in any of its wordings)."""
    return bool(reasons) and reasons[0].startswith(NOTHING_LEARNED_OPENING)


def _margin(m: CurveMetrics, tolerance: float) -> float:
    """How far above a level a smoothed peak must be to count as a rise, not the noise's luck."""
    return max(tolerance, 3.0 * m.noise)


def learned(ms: list[CurveMetrics], tolerance: float) -> bool:
    """Some probe's smoothed peak clearly above every probe's first evaluation (the untrained
    models: a seed that starts below chance and climbs to it has learned nothing). Without any
    first evaluation: assumed learned."""
    starts = [m.first_metric for m in ms if math.isfinite(m.first_metric) and m.start_scored] or \
        [m.first_metric for m in ms if math.isfinite(m.first_metric)]  # stand-ins only where no start was scored
    if not starts:
        return True
    return any(m.peak_metric - max(starts) > _margin(m, tolerance) for m in ms)


def _constant_margin(m: CurveMetrics, tolerance: float, baseline: Baseline) -> float:
    """How far above the constant a probe's peak must be: three times its evaluation noise and LITTLE
    of the baseline's scale; the tolerance (metric units, for t*) only where no scale is known (it
    exceeded the whole scale of a target with sd 0.04, and of a 99.5% majority's accuracy)."""
    if math.isfinite(baseline.scale) and baseline.scale > 0:
        return max(3.0 * m.noise if math.isfinite(m.noise) else 0.0, LITTLE * baseline.scale)
    return _margin(m, tolerance)


def beyond_constant(ms: list[CurveMetrics], tolerance: float, baseline: Baseline | None) -> bool:
    """Some probe's smoothed peak above the constant prediction's metric by more than its margin
    (`_constant_margin`; True where no baseline is known)."""
    if baseline is None or not math.isfinite(baseline.metric):
        return True
    return any(m.peak_metric - baseline.metric > _constant_margin(m, tolerance, baseline) for m in ms)


def chance_margin(share: float) -> float:
    """How far above the most frequent class's share a training accuracy must end: CHANCE_MARGIN, or
    CHANCE_FRACTION of the way to 1 where that is less (at a 98% majority 2 points is out of reach)."""
    return min(CHANCE_MARGIN, CHANCE_FRACTION * (1.0 - share))


def trained_beyond_chance(ms: list[CurveMetrics], baseline: Baseline | None) -> bool:
    """Some probe's training accuracy at its end (the mean of its last evaluations' intervals: the
    max over a run's early intervals of a few batches is noise's, 0.17 on a reviewer's model at
    chance 0.13) above the most frequent class's training share by more than CHANCE_MARGIN (True
    where either is unknown: a regression, an older probe)."""
    share = None if baseline is None else baseline.train_share
    accs = [m.final_train_acc for m in ms if math.isfinite(m.final_train_acc)]
    if share is None or not accs:
        return True
    return max(accs) > share + chance_margin(share)


def at_chance_words(ms: list[CurveMetrics], baseline: Baseline) -> str:
    """The reason where no probe's training accuracy beat always answering the most frequent class."""
    best = max(m.final_train_acc for m in ms if math.isfinite(m.final_train_acc))
    return (f"{AT_CHANCE_OPENING} above always answering "
            f"{baseline.predicts} ({shown(baseline.train_share or 0.0, '.4f')} of the training set; the probes' "
            f"best {shown(best, '.4f')}), so whatever the validation metric did is noise; weight decay at every "
            "probed lam may keep the model from learning (probe smaller lams, or lam 0), or the model, the labels or "
            "the lr may be at fault (too large an lr keeps a model at chance)")


def barely_words(ms: list[CurveMetrics], baseline: Baseline, tolerance: float) -> str:
    """The reason where no probe rose clearly above the best constant prediction (or none reached it:
    "if at all", review 46's recommender, -1.274 against the constant's -1.273)."""
    top = max((m for m in ms if math.isfinite(m.peak_metric)), key=lambda m: m.peak_metric)
    margin = _constant_margin(top, tolerance, baseline)
    below = top.peak_metric <= baseline.metric
    than = "below" if below else f"not {shown(margin, '.3g')} above"
    return (f"{BARELY}{', if at all' if below else ''}: their best validation metric, {shown(top.peak_metric, '.4g')}, "
            f"is {than} always predicting {baseline.predicts} ({shown(baseline.metric, '.4g')}; the margin: "
            f"{LITTLE:.0%} of the metric's scale, {shown(baseline.scale, '.3g')}, or 3 times the evaluations' "
            "noise, the larger); at these lams weight decay may keep the model from learning "
            "(probe smaller lams: without --budget, `probe --lam-max` or `--lambdas`), or the model learns "
            "little here: the verdict is at best \"cannot tell\"")


def shows_nothing(first_reason: str) -> bool:
    """Whether a fit's first reason leaves its probes no plateau edge and no clock to read: they learned
    nothing or barely beat a constant (not the wording that leaves a task solved before training open)."""
    return first_reason.startswith((NOTHING_LEARNED_OPENING, BARELY)) and not first_reason.startswith(SOLVED_OPENING)


def capped_verdict(verdict: str, why: list[str], b: float, first_reason: str = "") -> tuple[str, list[str]]:
    """A positive verdict on such probes becomes "cannot tell", with why; so does "does not hold" where the
    classifier stayed at chance at every probed lam (`first_reason`: the fit's first, `at_chance_words`):
    nothing was measured to fail (a reviewer's LSTM was told the relations do not hold where weight decay
    alone kept it from learning: lam 0 and 0.001 reached 0.997, every probed lam chance). Any other
    "does not hold" stays (a model at its top from step 0, whatever lam; a weak but real model)."""
    at_chance = first_reason.startswith(AT_CHANCE_OPENING)
    if verdict not in (HOLDS, APPROX) and not (at_chance and verdict == FAILS):
        return verdict, why
    return CANNOT, [f"cannot tell: the relations cannot be read from probes that learned nothing, or barely beat "
                    f"a constant (b = {shown(b, '.2f')} and c come from their noise)"]


def smaller_lams(lam_min: float) -> str:
    """Three lams below the smallest probed one, 4x to 16x smaller, for `probe --lambdas`."""
    return ",".join(f"{lam_min / 2**k:.3g}" for k in (2, 3, 4))


def nothing_learned_words(ms: list[CurveMetrics], tolerance: float) -> str:
    """NOTHING_LEARNED, or where some seed clearly rose from its own start to a level another
    seed's untrained model already had, words that leave both readings open: a task solved
    before training (a linear model on separable points, half its seeds right at step 0) and
    a model that only climbs to where the luckiest start was (chance, from below it)."""
    rose = [m for m in ms if m.peak_metric - m.first_metric > _margin(m, tolerance)]
    starts = [m for m in ms if math.isfinite(m.first_metric) and m.start_scored]  # "its first evaluation"
    if not rose or not starts:
        return NOTHING_LEARNED
    top = max(starts, key=lambda m: m.first_metric)
    return (f"{SOLVED_OPENING}: seed {top.seed}'s is at "
            f"{shown(top.first_metric, '.4f')} (its first evaluation, before training) and no probe rose clearly "
            f"above that, though seed {rose[0].seed}'s probes rose from their own start; either the task is solved before "
            "training (weight decay cannot be judged on it) or the model learns nothing beyond where the "
            "luckiest start was (check the model, the labels and the lr)")
