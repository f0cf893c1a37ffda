""""Does not hold" when the smallest probed lam alone is still rising as its probe ends.

A slow learner (a new user's regression: every probe fitted the mean within ~20 steps, then the
larger lams fell back while the smallest began to learn at the end of its 1,600 steps) tied every
lam at the 400 steps all probes ran; the middle of the tie, 0.1, peaked at -0.47 in a 4,000-step
run where lam = 0.05 reached -0.09 and lam = 0 -0.04.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from test_equal_steps import _noisy_null, _row

from l2advisor.science.advise import advise
from l2advisor.science.curves import Curve
from l2advisor.science.equal_steps import answer_at_equal_steps
from l2advisor.science.fit import FAILS, fit_relations
from l2advisor.training.eval_schedule import eval_steps

LR = 0.05
RUNGS = {0.2: 400, 0.1: 800, 0.05: 1600}  # lam: steps, the budget plan's halved windows (tau = 4)


def slow_learner(rising_seeds: tuple[int, ...], seeds: tuple[int, ...] = (0, 1)) -> list[Curve]:
    """-0.52 -> -0.475 within ~20 steps at every lam; then lams above 0.05 fall back (more for larger
    lams) and lam 0.05 climbs from step 900 on for the seeds in `rising_seeds`. Noise 0.001."""
    out = []
    for lam, n in RUNGS.items():
        for seed in seeds:
            steps = np.array([0, *eval_steps(n, 1, 10)], dtype=float)
            rng = np.random.default_rng(int(1000 * lam) + seed)
            fast = -0.52 + 0.045 * (1 - np.exp(-steps / 8.0))
            fall = 0.1 * lam * np.clip(np.log10(np.maximum(steps, 1) / 30.0), 0, None) if lam > 0.05 else 0 * steps
            rise = 0.02 * np.clip((steps - 900) / 700, 0, None) if lam == 0.05 and seed in rising_seeds else 0 * steps
            val = fast - fall + rise + 0.001 * rng.standard_normal(steps.size)
            out.append(Curve(lam=lam, lr=LR, seed=seed, steps=steps, tau=LR * lam * steps, val_metric=val,
                             train_acc=np.full(steps.size, np.nan), train_loss=-val))
    return out


def test_the_smallest_lam_still_rising_is_advised_over_the_middle() -> None:
    for rising in ((0,), (0, 1)):
        f = fit_relations(slow_learner(rising))
        a = advise(f, 4000)
        assert f.verdict == FAILS and a.weight_decay == 0.05 and a.interval == (0.0, 0.05), (rising, a)
        assert any("still rising when its probe ended" in r for r in a.reasons)


def test_without_the_late_rise_the_tie_keeps_its_middle() -> None:
    """The negative control: the same probes, no seed rising at the end."""
    f = fit_relations(slow_learner(()))
    a = advise(f, 4000)
    assert f.verdict == FAILS and a.weight_decay == 0.1 and a.interval == (0.0, 0.2)
    assert not any("still rising" in r for r in a.reasons)


def test_a_budget_within_the_compared_steps_keeps_the_middle() -> None:
    f = fit_relations(slow_learner((0,)))
    a = advise(f, int(2 * f.common_steps))
    assert a.weight_decay == 0.1 and not any("still rising" in r for r in a.reasons)


def test_a_null_still_rising_everywhere_keeps_the_middle() -> None:
    """A null's probes are all still rising at their ends: the rule needs the larger lams to have peaked."""
    f = dataclasses.replace(fit_relations(_noisy_null((0, 1))), verdict=FAILS)
    rows = [dataclasses.replace(r, n_peaked=0) for r in f.table if r.lr == f.lr]
    answer = answer_at_equal_steps(f, rows, int(10 * f.common_steps))
    assert not any("still rising" in r for r in answer.reasons)


def _answer(rows: list, budget: int = 4000):
    f = dataclasses.replace(fit_relations(_noisy_null((0, 1))), verdict=FAILS, common_steps=400.0,
                            plateau_threshold=0.01)
    return answer_at_equal_steps(f, rows, budget)


def test_each_condition_of_the_rule() -> None:
    rising = dataclasses.replace(_row(0.025, 0.900), n_peaked=1)
    larger = [_row(0.05, 0.901), _row(0.1, 0.899)]  # every seed peaked
    assert _answer([rising, *larger]).lam == 0.025  # the rule applies
    assert _answer([rising, *larger]).interval == (0.0, 0.025)
    assert _answer([_row(0.025, 0.900), *larger]).lam == 0.05  # the smallest peaked too: the middle
    unpeaked = [larger[0], dataclasses.replace(larger[1], n_peaked=1)]
    assert _answer([rising, *unpeaked]).lam == 0.05  # a larger lam still rising as well: the middle
    behind = dataclasses.replace(rising, peak_common=0.85)
    assert _answer([behind, *larger]).lam == 0.05  # the smallest is not tied: the middle of 0.05, 0.1 (the smaller)
    assert "still rising" not in " ".join(_answer([behind, *larger]).reasons)
    assert _answer([rising, *larger], budget=800).lam == 0.05  # the run ends within 2x the compared steps
    assert _answer([rising]).lam == 0.025 and "still rising" not in " ".join(_answer([rising]).reasons)


def test_every_larger_lam_must_have_peaked_not_only_the_farthest() -> None:
    """The second-smallest lam still rising as well: the smallest is not alone, the middle stays."""
    rising = dataclasses.replace(_row(0.025, 0.900), n_peaked=1)
    second_rising = dataclasses.replace(_row(0.05, 0.901), n_peaked=1)
    answer = _answer([rising, second_rising, _row(0.1, 0.899)])
    assert answer.lam == 0.05 and "still rising" not in " ".join(answer.reasons)


def test_two_lams_probed_the_interval_ends_at_the_rising_one() -> None:
    """With two lams the middle is already the smaller: the rule still ends the interval at it,
    since the larger fell back before its end."""
    rising = dataclasses.replace(_row(0.025, 0.900), n_peaked=1)
    answer = _answer([rising, _row(0.05, 0.901)])
    assert answer.lam == 0.025 and answer.interval == (0.0, 0.025)
    assert "still rising when its probe ended" in " ".join(answer.reasons)
    kept = _answer([_row(0.025, 0.900), _row(0.05, 0.901)])  # the control: both peaked, the tied range
    assert kept.interval == (0.0, 0.05)


def test_the_reason_counts_the_seeds_still_rising() -> None:
    both = dataclasses.replace(_row(0.025, 0.900), n_peaked=0)  # neither of its 2 seeds peaked
    one = dataclasses.replace(_row(0.025, 0.900), n_peaked=1)
    larger = [_row(0.05, 0.901), _row(0.1, 0.899)]
    assert "(2 of 2 seeds)" in " ".join(_answer([both, *larger]).reasons)
    assert "(1 of 2 seeds)" in " ".join(_answer([one, *larger]).reasons)
