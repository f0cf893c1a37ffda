"""Whether the probes learned anything at all, and in what words to say they did not.

Before any relation is read, some probe must clearly rise above the untrained models: its
smoothed peak above the best first evaluation (step 0, before training) by more than the
tolerance and three times its noise. Otherwise whatever lam looks best is noise, and the fit's
first reason says so (`NOTHING_LEARNED`, or a wording for the case where one seed's untrained
model already sits where the others climb to).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from l2advisor.science.curves import CurveMetrics
from l2advisor.science.numbers import shown

NOTHING_LEARNED = ("nothing was learned: no probe's validation metric rose above the best untrained "
                   "model's (its first evaluation) by more than the tolerance or its noise; check the "
                   "model, the labels and the lr before trusting any advice (and the metric: l2advisor "
                   "maximizes it, so an error or a loss must be returned negated)")


NOTHING_LEARNED_OPENING = "nothing was learned"  # every wording of the reason starts so


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
