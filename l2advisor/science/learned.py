"""Whether the probes learned anything at all, and in what words to say they did not.

Before any relation is read, some probe must clearly rise above the untrained models: its
smoothed peak above the best first evaluation (step 0, before training) by more than the
tolerance and three times its noise. Otherwise whatever lam looks best is noise, and the fit's
first reason says so (`NOTHING_LEARNED`, or a wording for the case where one seed's untrained
model already sits where the others climb to).

Where the probe recorded what the best constant prediction scores (`Baseline`: always the
training set's most frequent class, or the training targets' mean), some probe must also rise
above that by the same margin and by LITTLE of the way from it to a perfect score. Untrained
models start below a constant (a regression's outputs near 0, not the mean), so a probe crushed
by its weight decay still "rose": a reviewer's regression probes ended within 1% of the mean's
error and were advised lam 0.25, 5x the best and no better than the mean (0.5 MSE, 14 seed sd);
a classifier stuck at chance rose from one seed's unlucky start to 0.134 (chance 0.10) and got a
point-sized interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from l2advisor.science.curves import CurveMetrics
from l2advisor.science.numbers import shown

NOTHING_LEARNED = ("nothing was learned: no probe's validation metric rose above the best untrained "
                   "model's (its first evaluation) by more than the tolerance or its noise; check the "
                   "model, the labels and the lr before trusting any advice (and the metric: l2advisor "
                   "maximizes it, so an error or a loss must be returned negated)")


NOTHING_LEARNED_OPENING = "nothing was learned"  # every wording of the reason starts so
BEYOND_CONSTANT = "nothing was learned beyond a constant prediction"  # the opening of its reason
LITTLE = 0.05  # a rise over the constant prediction under this share of the way to a perfect score is none


@dataclass(frozen=True)
class Baseline:
    """What the best constant prediction scores on the validation set (in the metric's units),
    what it predicts (words: "class 3", "the training targets' mean"), and the perfect score
    (accuracy: 1; another metric: 0 below 0, the negative of an error, 1 in [0, 1); else None)."""

    metric: float
    predicts: str
    perfect: float | None

    def to_dict(self) -> dict:
        return {"metric": self.metric, "predicts": self.predicts, "perfect": self.perfect}


def perfect_score(constant_metric: float, accuracy: bool) -> float | None:
    """The perfect score a metric's constant prediction is measured against (Baseline.perfect)."""
    if accuracy:
        return 1.0
    if not math.isfinite(constant_metric):
        return None
    return 0.0 if constant_metric < 0 else 1.0 if constant_metric < 1 else None


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
    starts = [m.first_metric for m in ms if math.isfinite(m.first_metric)]
    if not starts:
        return True
    return any(m.peak_metric - max(starts) > _margin(m, tolerance) for m in ms)


def _little(baseline: Baseline) -> float:
    """LITTLE of the way from the constant prediction to a perfect score (0 where none is known)."""
    if baseline.perfect is None or not baseline.perfect > baseline.metric:
        return 0.0
    return LITTLE * (baseline.perfect - baseline.metric)


def beyond_constant(ms: list[CurveMetrics], tolerance: float, baseline: Baseline | None) -> bool:
    """Some probe's smoothed peak above the constant prediction's metric by more than its margin
    and LITTLE of the way to a perfect score (True where no baseline is known)."""
    if baseline is None or not math.isfinite(baseline.metric):
        return True
    return any(m.peak_metric - baseline.metric > max(_margin(m, tolerance), _little(baseline)) for m in ms)


def no_better_than_constant_words(ms: list[CurveMetrics], baseline: Baseline) -> str:
    """The reason where no probe rose clearly above the best constant prediction."""
    best = max((m.peak_metric for m in ms if math.isfinite(m.peak_metric)), default=float("nan"))
    constant = f"always predicting {baseline.predicts} ({shown(baseline.metric, '.4g')})"
    how = (f"is within the noise of {constant}" if _little(baseline) == 0 else
           f"is not clearly above {constant}, or less than {LITTLE:.0%} of the way from it to a perfect "
           f"{shown(baseline.perfect or 0.0, 'g')}")
    return (f"{BEYOND_CONSTANT}: the probes' best validation metric, "
            f"{shown(best, '.4g')}, {how}; at these lams weight decay may keep the model from "
            "learning (probe smaller lams: without --budget, `probe --lam-max` or `--lambdas`), or check the "
            "model, the labels and the lr "
            "before trusting any advice")


def nothing_learned_words(ms: list[CurveMetrics], tolerance: float) -> str:
    """NOTHING_LEARNED, or where some seed clearly rose from its own start to a level another
    seed's untrained model already had, words that leave both readings open: a task solved
    before training (a linear model on separable points, half its seeds right at step 0) and
    a model that only climbs to where the luckiest start was (chance, from below it)."""
    rose = [m for m in ms if m.peak_metric - m.first_metric > _margin(m, tolerance)]
    starts = [m for m in ms if math.isfinite(m.first_metric)]
    if not rose or not starts:
        return NOTHING_LEARNED
    top = max(starts, key=lambda m: m.first_metric)
    return (f"nothing was learned beyond the best untrained model: seed {top.seed}'s is at "
            f"{shown(top.first_metric, '.4f')} (its first evaluation, before training) and no probe rose clearly "
            f"above that, though seed {rose[0].seed}'s probes rose from their own start; either the task is solved before "
            "training (weight decay cannot be judged on it) or the model learns nothing beyond where the "
            "luckiest start was (check the model, the labels and the lr)")
