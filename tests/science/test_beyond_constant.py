"""Probes that rose from their untrained start but not clearly beyond the best constant prediction
learned nothing (science/learned.py): a reviewer's regression probes, crushed by decay, ended within
1% of the mean's error and were advised lam 0.25, 5x the best and no better than the mean; a
classifier stuck at chance climbed from one seed's unlucky start and got a point-sized interval."""

from __future__ import annotations

import math

import pytest
import synthetic as S

from l2advisor.science.advise import advise
from l2advisor.science.fit import APPROX, CANNOT, HOLDS, fit_relations, nothing_learned
from l2advisor.science.learned import BEYOND_CONSTANT, LITTLE, Baseline, perfect_score

CHANCE = Baseline(0.10, "class 3, the training set's most frequent", 1.0)


def _at_chance() -> list:
    """A clean tau-clock family (c = 3) that climbs from 0.02 only to 0.12: 2 points over chance."""
    return S.family(floor=0.02, top=0.12, drop=0.005, noise=0.002)


def test_a_climb_to_chance_learned_nothing_beyond_the_constant() -> None:
    fit = fit_relations(_at_chance(), baseline=CHANCE)
    assert fit.reasons[0].startswith(BEYOND_CONSTANT) and nothing_learned(fit.reasons), fit.reasons
    assert "always predicting class 3, the training set's most frequent (0.1)" in fit.reasons[0]
    assert fit.verdict not in (HOLDS, APPROX) and not fit.interior_max and not fit.needs_seed
    assert math.isnan(advise(fit, 20_000).predicted_metric)  # nothing predicted of probes that learned nothing


def test_the_same_probes_without_a_baseline_are_read_as_before() -> None:
    """The control: a probe from before the baseline was recorded (or a metric that cannot score a
    constant) is judged on its untrained start alone, which these probes clearly rose from."""
    fit = fit_relations(_at_chance())
    assert not nothing_learned(fit.reasons) and fit.verdict == HOLDS, fit.reasons


def test_a_family_that_learns_is_not_touched_by_the_baseline() -> None:
    """The positive control: 0.95 against chance 0.10."""
    with_it, without = fit_relations(S.family(), baseline=CHANCE), fit_relations(S.family())
    assert not nothing_learned(with_it.reasons) and with_it.verdict == without.verdict == HOLDS
    assert with_it.reasons == without.reasons


@pytest.mark.parametrize(("top", "learned"), [(-1.03, False), (-0.9, True)])
def test_a_regression_that_learns_only_the_mean(top: float, learned: bool) -> None:
    """-MSE from -10 (outputs near 0) up to `top`, against -1.05 for the training mean: 0.02 of
    the way to a perfect 0 learned nothing; 0.14 of it did (LITTLE is 0.05)."""
    mean = Baseline(-1.05, "the training targets' mean", perfect_score(-1.05, accuracy=False))
    fit = fit_relations(S.family(floor=-10.0, top=top, drop=0.005, noise=0.002), baseline=mean)
    assert mean.perfect == 0.0 and (top - mean.metric) / (mean.perfect - mean.metric) != pytest.approx(LITTLE)
    assert nothing_learned(fit.reasons) is not learned, fit.reasons
    if not learned:
        assert fit.verdict == CANNOT and "less than 5% of the way from it to a perfect 0" in fit.reasons[0]


def test_the_perfect_score_a_constant_is_measured_against() -> None:
    assert perfect_score(0.3, accuracy=True) == 1.0
    assert perfect_score(-2.1, accuracy=False) == 0.0  # the negative of an error
    assert perfect_score(0.02, accuracy=False) == 1.0  # a score in [0, 1): F1, R^2
    assert perfect_score(17.0, accuracy=False) is None  # unknown scale: only the noise margin applies
