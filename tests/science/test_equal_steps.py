"""The "does not hold" answer: the middle of the lams tied with the best at equal steps."""

from __future__ import annotations

import dataclasses

import pytest
import synthetic as S

from l2advisor.science.advise import advise
from l2advisor.science.curves import Curve
from l2advisor.science.equal_steps import middle_lam, tied_at_equal_steps
from l2advisor.science.fit import FAILS, fit_relations
from l2advisor.science.fit_types import LamRow


def _row(lam: float, peak_common: float) -> LamRow:
    return LamRow(lam=lam, lr=0.1, n_seeds=2, n_diverged=0, peak_mean=peak_common, peak_sd=0.001,
                  t_star=100.0, tau_star=1.0, peak_tau=1.0, peak_common=peak_common,
                  max_train_acc=1.0, n_peaked=2, in_plateau=True)


@pytest.mark.parametrize("lams, middle", [
    ([0.025, 0.05, 0.1], 0.05),
    ([0.05, 0.1], 0.05),  # two: the smaller
    ([0.01, 0.02, 0.04, 0.08], 0.02),  # even count, the centre 0.028 equally far from 0.02 and 0.04
    ([0.001, 0.002, 0.1], 0.002),  # the centre 0.01 is nearer 0.002 than 0.1 in log lam
    ([0.3], 0.3),
    ([1e-162, 1e-160, 1e-158], 1e-160),  # min*max underflowed to 0 (a hypothesis-found ZeroDivisionError)
    ([1e150, 1e152, 1e154], 1e152),  # and overflowed (math domain error)
])
def test_middle_lam(lams, middle):
    assert middle_lam(lams) == middle
    assert middle_lam(list(reversed(lams))) == middle  # order does not matter


def test_tied_rows_are_those_within_the_threshold_of_the_best():
    rows = [_row(0.01, 0.90), _row(0.02, 0.93), _row(0.04, 0.925), _row(0.08, float("nan"))]
    best, tied = tied_at_equal_steps(rows, threshold=0.006)
    assert best.lam == 0.02 and [r.lam for r in tied] == [0.02, 0.04]
    assert [r.lam for r in tied_at_equal_steps(rows, threshold=0.04)[1]] == [0.01, 0.02, 0.04]  # NaN never tied
    assert tied_at_equal_steps([_row(0.01, float("nan"))], 0.01) == (None, [])


def _noisy_null(seeds: tuple[int, ...], noise: float = 0.01) -> list[Curve]:
    """lam changes nothing, and every (lam, seed) has its own noise: which lam looks best is chance."""
    out = []
    for i, lam in enumerate(S.ladder()):
        for sd in seeds:
            base = S.curve(0.01, 0.1, 1000 * i + sd, noise=noise)
            out.append(Curve(lam=lam, lr=0.1, seed=sd, steps=base.steps, tau=0.1 * lam * base.steps,
                             val_metric=base.val_metric, train_acc=base.train_acc, train_loss=base.train_loss))
    return out


def test_a_null_gets_the_same_advice_whichever_lam_the_seeds_favour():
    fits = [fit_relations(_noisy_null((2 * k, 2 * k + 1))) for k in range(5)]
    favoured = {max(f.table, key=lambda r: r.peak_common).lam for f in fits}
    assert len(favoured) >= 3  # the control: the best lam at equal steps moves with the seeds
    advice = [advise(f, 20_000) for f in fits]
    assert all(a.verdict == FAILS for a in advice)
    assert {a.weight_decay for a in advice} == {middle_lam(S.ladder())}
    assert all(a.interval == (0.0, max(S.ladder())) for a in advice)  # every lam tied, the foot among them
    assert all(any("middle" in r for r in a.reasons) for a in advice)


def test_a_lam_clearly_best_at_equal_steps_is_advised_alone():
    """The negative control of the middle: one lam 5 points better is the advice, not the middle."""
    lams = S.ladder()
    second = sorted(lams)[-2]
    lifted = [dataclasses.replace(cv, val_metric=cv.val_metric + (0.05 if cv.lam == second else 0.0))
              for cv in _noisy_null((0, 1))]
    a = advise(dataclasses.replace(fit_relations(lifted), verdict=FAILS), 20_000)
    assert a.weight_decay == second and not any("middle" in r for r in a.reasons)
    # its interval spans the probed lams either side, not the point (review 42: "5 .. 5", the best at 4)
    assert a.interval == (sorted(lams)[-3], sorted(lams)[-1])
    assert any("the interval reaches the probed lams beside it" in r for r in a.reasons)


@pytest.mark.parametrize("which", ["smallest", "largest"])
def test_a_lam_alone_best_at_either_end_reaches_its_one_neighbour(which: str) -> None:
    """The ends of the ladder: the smallest alone best keeps its 0 and reaches the next lam up; the
    largest reaches the next lam down and one ladder step above itself (nothing above it was probed;
    review 48's ridge regression had its best lam there, 2x the ladder's top)."""
    lams = sorted(S.ladder())
    lam = lams[0] if which == "smallest" else lams[-1]
    lifted = [dataclasses.replace(cv, val_metric=cv.val_metric + (0.05 if cv.lam == lam else 0.0))
              for cv in _noisy_null((0, 1))]
    a = advise(dataclasses.replace(fit_relations(lifted), verdict=FAILS), 20_000)
    assert a.weight_decay == lam
    assert a.interval == ((0.0, lams[1]) if which == "smallest" else (lams[-2], lams[-1] ** 2 / lams[-2]))
    opened = [r for r in a.reasons if r.startswith(f"the largest probed lam, {lams[-1]:.3g}, is the best, at equal steps")]
    assert bool(opened) == (which == "largest"), a.reasons
    if opened:
        assert f"--lambdas {','.join(f'{lams[-1] * 2**k:.3g}' for k in range(4))}" in opened[0]
    side = "above" if which == "smallest" else "below"
    assert any(f"the interval reaches the probed lam {side} it, {lams[1] if side == 'above' else lams[-2]:.3g}: it was"
               in r for r in a.reasons), a.reasons


def test_a_neighbour_where_a_seed_learned_nothing_is_not_reached() -> None:
    """Review 44: a 1D CNN's lam 0.05 failed on one of two seeds, in its probes and in budget runs;
    the interval of the lam alone best below it reached it."""
    lams = sorted(S.ladder())
    second = lams[-2]
    lifted = [dataclasses.replace(cv, val_metric=cv.val_metric + (0.05 if cv.lam == second else 0.0))
              for cv in _noisy_null((0, 1))]
    fit = dataclasses.replace(fit_relations(lifted), verdict=FAILS)
    failing = dataclasses.replace(fit, table=tuple(dataclasses.replace(r, n_learned_nothing=1) if r.lam == lams[-1]
                                                   else r for r in fit.table))
    a = advise(failing, 20_000)
    assert a.weight_decay == second and a.interval == (lams[-3], second)
    assert any(f"reaches the probed lam below it, {lams[-3]:.3g}" in r and
               f"not lam {lams[-1]:.3g} above, where a seed learned nothing" in r for r in a.reasons), a.reasons
    assert advise(fit, 20_000).interval == (lams[-3], lams[-1])  # the control: without the failed seed, reached


def test_a_predicted_metric_is_a_floor_only_past_the_compared_steps() -> None:
    """A "does not hold" advice is a probed lam: a run longer than the steps the lams were compared at
    reaches at least that lam's peak there. Not "cannot tell" below the smallest probe: there the
    prediction is another lam's peak (a reviewer's GRU peaked below it, its small lams overfitting)."""
    from l2advisor.science.advise import peak_step_assumed, predicted_is_lower_bound

    above = fit_relations(S.family(lam_c=0.0005, alpha=0.0))  # "cannot tell": the smallest probe did best
    far, near = advise(above, 1_000_000), advise(above, 10)
    assert far.extrapolated and not predicted_is_lower_bound(far, above)
    assert not near.extrapolated and not predicted_is_lower_bound(near, above)
    null = dataclasses.replace(fit_relations(_noisy_null((0, 1))), verdict=FAILS)
    steps = null.common_steps
    assert predicted_is_lower_bound(advise(null, int(10 * steps)), null)  # the run goes on past the comparison
    assert not predicted_is_lower_bound(advise(null, int(steps)), null)
    # its step is the probe's own peak, not the run's (review 42: 829 for a 20,000-step run): not a prediction
    assert peak_step_assumed(advise(null, int(10 * steps)), null) and not peak_step_assumed(advise(null, int(steps)), null)


def _lifted(lams: set[float], by: float = 0.05) -> list[Curve]:
    return [dataclasses.replace(cv, val_metric=cv.val_metric + (by if cv.lam in lams else 0.0))
            for cv in _noisy_null((0, 1))]


def test_the_interval_is_the_tied_range_when_the_foot_is_not_tied() -> None:
    ladder = sorted(S.ladder())
    a = advise(dataclasses.replace(fit_relations(_lifted(set(ladder[1:4]))), verdict=FAILS), 20_000)
    assert a.interval == (ladder[1], ladder[3]) and a.weight_decay == ladder[2]  # the middle of three


def test_a_budget_past_the_compared_steps_is_said() -> None:
    f = dataclasses.replace(fit_relations(_noisy_null((0, 1))), verdict=FAILS)
    far, near = advise(f, int(10 * f.common_steps)), advise(f, int(f.common_steps))
    assert any("pay off" in r for r in far.reasons) and not any("pay off" in r for r in near.reasons)


def test_without_a_comparison_at_equal_steps_the_foot_still_reaches_zero() -> None:
    """No common steps (or no usable peak within them): the best peak in each probe's own window,
    said to be so, and the interval still from 0 at the ladder's foot (it was [foot, foot])."""
    foot = min(S.ladder())
    f = dataclasses.replace(fit_relations(_lifted({foot})), verdict=FAILS)
    for broken in (dataclasses.replace(f, common_steps=float("nan")),
                   dataclasses.replace(f, table=tuple(dataclasses.replace(r, peak_common=float("nan"))
                                                      for r in f.table))):
        a = advise(broken, 20_000)
        assert a.weight_decay == foot and a.interval == (0.0, foot)
        assert any("no two lams could be compared" in r for r in a.reasons)
        assert not any("chosen at equal steps" in r for r in a.reasons)


def test_one_usable_lam_bounds_nothing() -> None:
    lam = S.ladder()[2]
    one = [cv for cv in _noisy_null((0, 1)) if cv.lam == lam]
    a = advise(dataclasses.replace(fit_relations(one), verdict=FAILS), 20_000)
    assert a.weight_decay == lam and all(v != v for v in a.interval)  # NaN: no interval
    assert any("bounds nothing" in r for r in a.reasons)


def test_two_tied_lams_are_not_called_a_middle() -> None:
    """Review 44: "the advice is the middle of them" beside 0.005, the smaller of 0.005 and 0.01."""
    from l2advisor.science.equal_steps import _sentence_on_ties

    two = [_row(0.005, 0.97), _row(0.01, 0.972)]
    assert middle_lam([r.lam for r in two]) == 0.005
    assert "the advice is the smaller of the two" in _sentence_on_ties(two[1], two, 0.005, 400)
    three = [_row(0.005, 0.97), _row(0.01, 0.972), _row(0.02, 0.971)]
    assert "the advice is the middle of them" in _sentence_on_ties(three[1], three, 0.005, 400)


def _rows_fit(rows: list[LamRow]):
    """A "does not hold" fit whose table is `rows` (one seed threshold 0.005, lams compared at 400 steps)."""
    return dataclasses.replace(fit_relations(S.family()), verdict=FAILS, table=tuple(rows), plateau_threshold=0.005,
                               common_steps=400)


def _r(lam: float, common: float, own: float | None = None, n_peaked: int = 2) -> LamRow:
    return dataclasses.replace(_row(lam, common), peak_mean=common if own is None else own, n_peaked=n_peaked)


def test_the_interval_opens_above_only_on_a_trend_the_top_lam_leads_in_every_window() -> None:
    """Review 48's ridge: the top lam best at equal steps and in its own window, the others falling off: the
    interval reaches one ladder step above (at most 2x, with a hand ladder of 10x steps). Controls (review 49):
    a smaller lam whose longer window peaked higher (a momentum-0.99 MLP whose best lam lay below); the
    smallest tied with the top (no trend); a middle lam alone worse; the rising exception keeps its top."""
    def opened(rows: list[LamRow], budget: int = 20_000) -> tuple[float, bool]:
        a = advise(_rows_fit(rows), budget)
        return a.interval[1], any(r.startswith("the largest probed lam") for r in a.reasons)

    assert opened([_r(0.01, 0.85), _r(0.02, 0.88), _r(0.04, 0.90)]) == (pytest.approx(0.08), True)
    assert opened([_r(0.001, 0.85), _r(0.01, 0.88), _r(0.1, 0.90)]) == (pytest.approx(0.2), True)  # 2x, not 10x
    assert opened([_r(0.01, 0.85, own=0.91), _r(0.02, 0.88), _r(0.04, 0.90)]) == (0.04, False)  # caught up later
    assert opened([_r(0.01, 0.899), _r(0.02, 0.88), _r(0.04, 0.90)])[1] is False  # the smallest tied: no trend
    assert opened([_r(0.01, 0.85), _r(0.02, 0.90), _r(0.04, 0.88), _r(0.08, 0.902)])[1] is False  # not a run at the top
    rising = advise(_rows_fit([_r(0.01, 0.900, n_peaked=1), _r(0.02, 0.880), _r(0.04, 0.902)]), 20_000)
    assert rising.weight_decay == 0.01 and rising.interval == (0.0, 0.01)  # README: the rising lam is the top


def test_a_null_never_opens_the_interval_above() -> None:
    """The negative control (review 49: the first rule opened 24 of 300 null seed sets, mostly with the
    smallest lam tied): lam changes nothing, and which lam the noise favours must not open the interval."""
    fits = [fit_relations(_noisy_null((2 * k, 2 * k + 1))) for k in range(40)]
    assert sum(max(f.table, key=lambda r: r.peak_common).lam == max(S.ladder()) for f in fits) >= 4  # the top led
    assert not any(any(r.startswith("the largest probed lam") for r in advise(f, 20_000).reasons) for f in fits)
