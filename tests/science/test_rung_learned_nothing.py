"""A lam at which the probes learned nothing (review 40a's bag-of-tokens model: lam 0.1 peaked at
0.4545 where always answering class 2 scores 0.445), or one of whose seeds did (review 44's 1D CNN:
0.8869 and 0.3519, chance), is named; the curves that learned nothing, which have no rise to time,
are left out of b and the t* fit, and the lam out of the plateau; every other lam is read as without it."""

from __future__ import annotations

import dataclasses

import numpy as np
import synthetic as S

from l2advisor.science.curves import Curve
from l2advisor.science.failed_probes import LEARNED_NOTHING_AT
from l2advisor.science.fit import fit_relations, nothing_learned
from l2advisor.science.learned import Baseline

CHANCE = Baseline(0.10, "class 3, the training set's most frequent", 0.90, train_share=0.10)
LEARNING = (0.04, 0.02, 0.01)  # a tau-clock family, lam_c = 0.02: 0.04 over-regularized but learning


def _flat(lam: float, seed: int, level: float = 0.10, rise: float = 0.0, lr: float = 0.1) -> Curve:
    """A probe at `level` from its start, rising by `rise` at most (Gaussian noise 0.002), whose
    training accuracy stays at chance: weight decay too strong to learn."""
    like = S.curve(lam, lr, seed)
    rng = np.random.default_rng(seed)
    shape = 1.0 - np.exp(-3.0 * like.steps / like.steps[-1])
    return Curve(lam=lam, lr=lr, seed=seed, steps=like.steps, tau=like.tau,
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
    assert fit.b != alone.b  # its curves entered the crossing-time fit ...
    assert any(r.startswith("b = ") and "over 4 lr*lam values" in r for r in fit.reasons), fit.reasons  # all four lams


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


LADDER = [0.04, 0.02, 0.01, 0.005]


def test_a_seed_that_learned_at_no_lam_is_left_out_not_every_lam() -> None:
    """Review 45: one seed dead at every lam flagged every row, so no lam could be a plateau lam but the
    fallback; lam_c fell from 0.02 to 0.005 and the predicted level to the mean with the dead seed."""
    clean = fit_relations(S.family(LADDER, seeds=(0, 1, 2)), baseline=CHANCE)
    dead = [cv if cv.seed != 1 else _flat(cv.lam, 1) for cv in S.family(LADDER, seeds=(0, 1, 2))]
    fit = fit_relations(dead, baseline=CHANCE)
    assert fit.lam_c == clean.lam_c == 0.02 and all(r.n_learned_nothing == 0 for r in fit.table)
    assert all(r.n_seeds == 2 for r in fit.table) and len(fit.excluded) == len(LADDER)
    assert all(e.seed == 1 and e.reason.startswith("learned nothing at any lam") for e in fit.excluded)
    assert any(r.startswith("seed 1 learned nothing at any lam (peaks up to 0.1") for r in fit.reasons), fit.reasons
    assert abs(fit.plateau_level - clean.plateau_level) < 0.01


def test_an_lr_at_which_no_probe_learned() -> None:
    """Review 45: probes at a second lr that kept the model at chance; the fit read that lr and advised
    from probes that all sat at chance, in plain words."""
    curves = S.family(LADDER) + [_flat(lam, seed, lr=0.02) for lam in LADDER for seed in (0, 1)]
    other = fit_relations(curves, baseline=CHANCE, main_lr=0.1)  # advice for the lr that learned
    assert other.lr == 0.1 and not nothing_learned(other.reasons) and other.lam_c == 0.02
    assert any(r.startswith("at lr 0.02 no probe learned at any lam") for r in other.reasons), other.reasons
    smaller = S.family(LADDER) + [_flat(lam, seed, lr=0.01) for lam in LADDER for seed in (0, 1)]
    unasked = fit_relations(smaller, baseline=CHANCE)  # no lr asked for: of two equally probed, the smaller was read
    assert unasked.lr == 0.1 and unasked.lam_c == 0.02 and not nothing_learned(unasked.reasons)
    mine = fit_relations(curves, baseline=CHANCE, main_lr=0.02)  # advice for the lr that learned nothing
    assert nothing_learned(mine.reasons) and mine.reasons[0].startswith("nothing was learned at lr 0.02, the lr the "
                                                                          "advice is for"), mine.reasons[:1]


def test_a_metric_not_scored_at_the_start_leaves_the_start_unknown() -> None:
    """Review 45: a macro metric NaN over the first fifth of the evaluations made a later evaluation the
    probe's "start", and lams that rose to 0.89 and 0.92 "learned nothing"."""
    curves = S.family(LADDER)
    late = [dataclasses.replace(cv, val_metric=np.where(np.arange(cv.val_metric.size) < 20, np.nan, cv.val_metric))
            if cv.lam >= 0.02 else cv for cv in curves]
    fit = fit_relations(late)
    assert not nothing_learned(fit.reasons) and not any(LEARNED_NOTHING_AT in r for r in fit.reasons), fit.reasons


def test_without_a_constant_one_seed_is_not_judged_on_its_own_rise() -> None:
    """Review 45: a fine-tuned model whose seed gained 0.7 points where another gained 1.6 was called a failure
    and its lam taken out of the plateau. Without a constant, only a whole lam is judged."""
    curves = [cv if (cv.lam, cv.seed) != (0.01, 1) else _flat(0.01, 1, level=0.9)
              for cv in S.family(LADDER, floor=0.9)]
    fit = fit_relations(curves)
    assert not any(LEARNED_NOTHING_AT in r for r in fit.reasons), fit.reasons
    with_constant = fit_relations(curves, baseline=CHANCE)  # at 0.9 the same seed beats always answering class 3
    assert not any(LEARNED_NOTHING_AT in r for r in with_constant.reasons), with_constant.reasons


def test_advice_at_a_lam_where_a_seed_learned_nothing_says_so_and_predicts_a_learning_seed() -> None:
    """Review 45: c/(lr*T) landed on lam 0.01, where one of two seeds stayed at chance, and predicted 0.525,
    the mean of 0.95 and 0.10, which no run reaches; no reason named the failure."""
    from l2advisor.science.advise import advise

    curves = [cv if (cv.lam, cv.seed) != (0.01, 1) else _flat(0.01, 1) for cv in S.family(LADDER)]
    fit = fit_relations(curves, baseline=CHANCE)
    a = advise(fit, 3050)  # c/(lr*T) = 3.05/(0.1*3050) = 0.01
    assert abs(a.weight_decay - 0.01) < 1e-4 and a.predicted_metric > 0.9, (a.weight_decay, a.predicted_metric)
    assert any(r.startswith("at lam 0.01, the advised lam, 1 of 2 probe seeds learned nothing") for r in a.reasons)
    far = advise(fit, 100_000)  # a factor 30 below it: nothing to say
    assert not any("probe seeds learned nothing" in r for r in far.reasons)
    clean = advise(fit_relations(S.family(LADDER), baseline=CHANCE), 3050)  # the control
    assert not any("probe seeds learned nothing" in r for r in clean.reasons)
