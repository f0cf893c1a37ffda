"""A lam at which the probes learned nothing (review 40a's bag-of-tokens model: lam 0.1 peaked at
0.4545 where always answering class 2 scores 0.445), or one of whose seeds did (review 44's 1D CNN:
0.8869 and 0.3519, chance), is named; the curves that learned nothing, which have no rise to time,
are left out of b and the t* fit, and the lam out of the plateau; every other lam is read as without it."""

from __future__ import annotations

import numpy as np
import synthetic as S

from l2advisor.science.curves import Curve
from l2advisor.science.fit import fit_relations, nothing_learned
from l2advisor.science.learned import LEARNED_NOTHING_AT, Baseline

CHANCE = Baseline(0.10, "class 3, the training set's most frequent", 0.90, train_share=0.10)
LEARNING = (0.04, 0.02, 0.01)  # a tau-clock family, lam_c = 0.02: 0.04 over-regularized but learning


def _flat(lam: float, seed: int, level: float = 0.10, rise: float = 0.0) -> Curve:
    """A probe at `level` from its start, rising by `rise` at most (Gaussian noise 0.002), whose
    training accuracy stays at chance: weight decay too strong to learn."""
    like = S.curve(lam, 0.1, seed)
    rng = np.random.default_rng(seed)
    shape = 1.0 - np.exp(-3.0 * like.steps / like.steps[-1])
    return Curve(lam=lam, lr=0.1, seed=seed, steps=like.steps, tau=like.tau,
                 val_metric=level + rise * shape + rng.normal(0, 0.002, like.steps.size),
                 train_acc=np.full(like.steps.size, 0.1), train_loss=np.full(like.steps.size, 2.3))


def _with_top(rise: float = 0.0, level: float = 0.10) -> list[Curve]:
    return S.family(list(LEARNING)) + [_flat(0.08, seed, level, rise) for seed in (0, 1)]


def test_a_lam_that_learned_nothing_is_named_and_left_out_of_b() -> None:
    alone = fit_relations(S.family(list(LEARNING)), baseline=CHANCE)
    fit = fit_relations(_with_top(), baseline=CHANCE)
    named = [r for r in fit.reasons if LEARNED_NOTHING_AT in r]
    assert len(named) == 1 and named[0].startswith("lam 0.08 learned nothing (peaks up to 0.1"), fit.reasons
    assert "always predicting class 3, the training set's most frequent: 0.1)" in named[0]
    assert not nothing_learned(fit.reasons)  # the other lams learned: no verdict on every probe
    assert fit.b == alone.b and fit.b_interval == alone.b_interval  # b from the three lams that rose
    assert fit.alpha == alone.alpha  # the t* fit too
    assert not any("had not clearly peaked" in r for r in fit.reasons), fit.reasons  # not counted twice
    top = [row for row in fit.table if row.lam == 0.08]
    assert top and top[0].n_seeds == 2 and not top[0].in_plateau  # still in the table, as the worst lam


def test_without_a_baseline_it_is_judged_on_its_own_start() -> None:
    fit = fit_relations(_with_top())
    named = [r for r in fit.reasons if LEARNED_NOTHING_AT in r]
    assert len(named) == 1 and "no better than their own start" in named[0], fit.reasons
    assert fit.b == fit_relations(S.family(list(LEARNING))).b


def test_a_lam_that_learns_a_little_stays_in_b() -> None:
    """The control: the top lam rising from chance to 0.5 (well over the constant's margin) is an
    over-regularized lam that learned, timed with the others."""
    alone = fit_relations(S.family(list(LEARNING)), baseline=CHANCE)
    fit = fit_relations(_with_top(rise=0.4), baseline=CHANCE)
    assert not any(LEARNED_NOTHING_AT in r for r in fit.reasons), fit.reasons
    assert fit.b != alone.b  # its curves entered the crossing-time fit


def test_when_no_lam_learned_only_the_probes_as_a_whole_are_said_to() -> None:
    flat = [_flat(lam, seed) for lam in (0.08, 0.04, 0.02) for seed in (0, 1)]
    fit = fit_relations(flat, baseline=CHANCE)
    assert nothing_learned(fit.reasons) and not any(LEARNED_NOTHING_AT in r for r in fit.reasons), fit.reasons


def test_a_lam_where_one_seed_learned_nothing_is_no_plateau_lam() -> None:
    """Review 44: a seed stuck at chance widened its lam's own margin (sd 0.38) and took it into the
    plateau, whose edge, and the interval's top, it then set."""
    mixed = S.family([0.04, 0.02, 0.01, 0.005])
    mixed = [cv if (cv.lam, cv.seed) != (0.04, 1) else _flat(0.04, 1) for cv in mixed]
    fit = fit_relations(mixed, baseline=CHANCE)
    named = [r for r in fit.reasons if LEARNED_NOTHING_AT in r]
    assert len(named) == 1 and named[0].startswith("lam 0.04: seed 1 learned nothing (peak 0.1"), fit.reasons
    assert "where seed 0 reached 0.9" in named[0]
    row = next(r for r in fit.table if r.lam == 0.04)
    assert row.n_learned_nothing == 1 and not row.in_plateau and row.peak_sd > 0.3  # the spread that took it in
    assert fit.lam_c == 0.02  # the family's own edge
    assert all(r.n_learned_nothing == 0 for r in fit.table if r.lam != 0.04)


def test_the_same_lam_with_both_seeds_learning_is_judged_on_its_peaks() -> None:
    """The control: the family as made, whose lam 0.04 is 0.03 below the top on both seeds."""
    fit = fit_relations(S.family([0.04, 0.02, 0.01, 0.005]), baseline=CHANCE)
    assert not any(LEARNED_NOTHING_AT in r for r in fit.reasons) and fit.lam_c == 0.02
    assert all(r.n_learned_nothing == 0 for r in fit.table)
