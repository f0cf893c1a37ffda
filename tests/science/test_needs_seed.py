"""fit.py's `needs_seed`: the verdict hinges on the above-plateau test and its score lies near
the margin, so one more seed per lam should decide (probing/follow_up.py acts on it).

The curves are the bundled default's picture: a rise set by the steps whatever lam (b near 0,
so "does not hold" unless the probes sit above the plateau), each lam's top level its own,
seeds 0.003 either side of it (sd 0.0042, a threshold of 0.0085 at equal steps).
"""

from __future__ import annotations

import numpy as np
import pytest

from l2advisor.science.curves import Curve
from l2advisor.science.fit import CANNOT, FAILS, HOLDS, fit_relations
from tests.synthetic import family


def steps_curve(lam: float, seed: int, level: float, lr: float = 0.1, slowing: float = 0.0) -> Curve:
    """The rise takes 40 steps, times (lam / 0.025)^slowing: larger lams rise later when > 0."""
    steps = np.unique(np.round(np.geomspace(10, 4 / (lr * lam), 30)))  # window 1/(lr*lam), as planned
    rise = 40.0 * (lam / 0.025) ** slowing
    val = 0.1 + (level - 0.1) * (1 - np.exp(-steps / rise)) + (0.003 if seed % 2 == 0 else -0.003)
    n = steps.size
    return Curve(lam=lam, lr=lr, seed=seed, steps=steps, tau=lr * lam * steps, val_metric=val,
                 train_acc=np.ones(n), train_loss=np.full(n, 0.01), status="finished")


def probes(drop: float, slowing: float = 0.0) -> list[Curve]:
    """lams 0.025, 0.05, 0.1 at two seeds; the largest lam's top `drop` below the smallest's."""
    return [steps_curve(lam, seed, level, slowing=slowing) for seed in (0, 1)
            for lam, level in ((0.025, 0.96), (0.05, 0.959), (0.1, 0.96 - drop))]


@pytest.mark.parametrize(("drop", "score", "verdict", "needs"), [
    (0.003, 0.35, FAILS, False),  # a flat top: clearly not above the plateau
    (0.011, 1.29, FAILS, True),   # near the margin of 1.5 on the "does not hold" side
    (0.0125, 1.47, FAILS, True),
    (0.021, 2.47, CANNOT, False),  # clear of the band on the "cannot tell" side
])
def test_a_score_near_the_margin_asks_for_a_seed(drop: float, score: float, verdict: str, needs: bool) -> None:
    fit = fit_relations(probes(drop))
    assert fit.above_plateau_score == pytest.approx(score, abs=0.01)
    assert (fit.verdict, fit.needs_seed) == (verdict, needs)
    assert any("one more seed per lam settles it" in r for r in fit.reasons) is needs


def test_a_score_between_1_5_and_2_on_the_cannot_tell_side_asks_too() -> None:
    fit = fit_relations(probes(0.015))
    assert fit.verdict == CANNOT and 1.5 < fit.above_plateau_score < 2.0 and fit.needs_seed


def test_a_verdict_that_does_not_hinge_on_the_test_asks_for_nothing() -> None:
    """Negative control: the tau clock holds, so the above-plateau test is never consulted,
    whatever its score."""
    fit = fit_relations(family(seeds=(0, 1)))
    assert fit.verdict == HOLDS and not fit.needs_seed


def test_larger_lams_rising_clearly_later_lower_the_margin_to_one_threshold() -> None:
    """1.17 thresholds: "cannot tell" when larger lams also rise later (b clearly negative:
    over-regularization); the same drop with the rise left alone says "does not hold"."""
    fit = fit_relations(probes(0.007, slowing=0.3))
    assert fit.b < -0.25 and fit.b_interval[1] < 0 and 1.0 < fit.above_plateau_score < 1.5
    assert fit.verdict == CANNOT and any("1 suffices because b is clearly negative" in r for r in fit.reasons)
    assert fit.needs_seed  # within half a threshold of the lowered margin
    flat = fit_relations(probes(0.0105))  # about the same score, lam leaves the rise alone
    assert 1.0 < flat.above_plateau_score < 1.5 and flat.verdict == FAILS


def test_a_slowed_rise_without_an_equal_steps_drop_is_still_not_above_the_plateau() -> None:
    """Negative control: b alone does not make "cannot tell"; the drop must reach 1 threshold
    (0.35 here: too far from it to ask for a seed)."""
    fit = fit_relations(probes(0.0, slowing=0.3))
    assert fit.b < -0.25 and fit.b_interval[1] < 0 and fit.above_plateau_score < 0.5
    assert fit.verdict == FAILS and not fit.needs_seed


def test_after_the_follow_up_seed_the_reason_does_not_ask_for_it_again() -> None:
    # three seeds (the follow-up's), the largest lam 0.0065 lower: still near the margin
    three = [steps_curve(lam, seed, level) for seed in (0, 1, 2)
             for lam, level in ((0.025, 0.96), (0.05, 0.959), (0.1, 0.96 - 0.0065))]
    fit = fit_relations(three)
    assert fit.needs_seed and not any("one more seed per lam settles it" in r for r in fit.reasons)
    assert any("still so with 3 seeds per lam" in r for r in fit.reasons), fit.reasons
    two = fit_relations(probes(0.0125))
    assert two.needs_seed and any("one more seed per lam settles it" in r for r in two.reasons)  # the control
