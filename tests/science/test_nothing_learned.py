"""When no probe rose above the best untrained model, the fit's first reason says so, in words that
fit what the probes did: the general wording when nothing rose at all, and one that leaves both
readings open when one seed's untrained model already sat where another seed climbed to (a task
solved before training, or a model that only reaches the luckiest start). Nothing is predicted of
such probes, and no claim that smaller lams are worse is made from them."""

from __future__ import annotations

import math

import numpy as np
import pytest
import synthetic as S

from l2advisor.science.advise import advise
from l2advisor.science.curves import Curve
from l2advisor.science.fit import FAILS, NOTHING_LEARNED, fit_relations, nothing_learned

LAMS = (0.1, 0.05, 0.025)  # lr 0.1: lr*lam 0.01 .. 0.0025, the budget ladder's three rungs
STEPS = np.r_[0, np.unique(np.round(np.geomspace(4, 400, 40)).astype(int))]


def _probe(lam: float, seed: int, values: np.ndarray) -> Curve:
    return Curve(lam=lam, lr=0.1, seed=seed, steps=STEPS, tau=0.1 * lam * STEPS, val_metric=values,
                 train_acc=np.clip(values, 0, 1), train_loss=1.0 - np.clip(values, 0, 1))


def _falls_from_the_start() -> list[Curve]:
    """A metric that falls as the model trains (an error returned as it is, not negated): best at
    step 0 for every probe, and falling faster the smaller lam (so the largest lam looks best)."""
    return [_probe(lam, seed, 0.87 - 0.3 * (1 - np.exp(-STEPS * 0.01 / lam * 0.1)))
            for lam in LAMS for seed in (0, 1)]


def test_a_seed_solved_before_training_is_named_not_blamed_on_the_model() -> None:
    fit = fit_relations(S.solved_for_seed_0())
    assert fit.verdict == FAILS and nothing_learned(fit.reasons)
    first = fit.reasons[0]
    assert first != NOTHING_LEARNED
    assert first.startswith("nothing was learned beyond the best untrained model: seed 0's is at 1.0000")
    assert "seed 1's probes rose from their own start" in first and "solved before training" in first


def test_its_b_interval_is_unknown_because_the_solved_seed_is_left_out() -> None:
    reasons = fit_relations(S.solved_for_seed_0()).reasons
    said = [r for r in reasons if r.startswith("b's interval is unknown")]
    assert said and "at the common levels at step 0 left out" in said[0], reasons
    assert "one seed per lam leaves nothing" not in said[0]


def test_a_metric_that_only_falls_gets_the_general_words() -> None:
    """No probe rose above even its own start: the wording that asks for a negated error."""
    fit = fit_relations(_falls_from_the_start())
    assert fit.reasons[0] == NOTHING_LEARNED


def test_nothing_learned_makes_no_claim_that_smaller_lams_are_worse() -> None:
    fit = fit_relations(_falls_from_the_start())
    # the plateau rule alone would have said smaller lams are clearly worse; probes that learned nothing
    # show no plateau edge, so neither the reasons nor the advice (no raise to lam*) rest on one
    assert not fit.interior_max and math.isnan(fit.lam_star)
    assert not any("smaller lams are clearly worse" in r for r in fit.reasons), fit.reasons


def test_a_learning_family_with_an_interior_maximum_still_says_it() -> None:
    """The positive control: the claim stays where the probes learned (lam* = 0.01, smaller worse)."""
    fit = fit_relations(S.family(lam_star=0.01, drop_below=0.03, noise=0.002))
    assert not nothing_learned(fit.reasons) and fit.interior_max
    assert any("smaller lams are clearly worse" in r for r in fit.reasons), fit.reasons


@pytest.mark.parametrize("curves", [S.solved_for_seed_0, _falls_from_the_start])
def test_nothing_is_predicted_of_probes_that_learned_nothing(curves) -> None:
    advice = advise(fit_relations(curves()), 2000)
    assert math.isnan(advice.predicted_metric) and math.isnan(advice.predicted_peak_step)
    assert advice.weight_decay > 0  # the measured lam is still given (and said to mean nothing)


def test_learning_probes_keep_their_prediction() -> None:
    advice = advise(fit_relations(S.family(noise=0.002)), 20000)
    assert math.isfinite(advice.predicted_metric) and math.isfinite(advice.predicted_peak_step)


def test_the_plateau_line_names_the_best_and_the_plateau_level_apart() -> None:
    fit = fit_relations(S.family(noise=0.002))
    line = next(r for r in fit.reasons if r.startswith("plateau: "))
    best = next(r for r in fit.table if r.lam == fit.lam_best and r.lr == fit.lr)
    assert f"of the best, {best.peak_mean:.4f} (lam {fit.lam_best:.3g}, mean over seeds" in line
    assert f"the plateau's level (the mean peak of its lams) {fit.plateau_level:.4f}" in line
    assert not math.isclose(best.peak_mean, fit.plateau_level)  # two numbers, each called what it is
