"""lam*, the floor an interior maximum puts under the advice, is the lower edge of the plateau
above the clearly worse lams, not the best lam: lams tied with the best are as good.

A user's regression (AdamW, lams 1, 0.5, 0.25) had 1 and 0.5 tied on the plateau and 0.25 clearly
worse; lam* was the argmax, 1, and the caveat "longer budgets must not go below it" sat beside an
advice of 0.5."""

from __future__ import annotations

import math

import pytest
import synthetic as S

from l2advisor.science.advise import advise
from l2advisor.science.fit import fit_relations
from l2advisor.science.fit_types import LamRow
from l2advisor.science.plateau import plateau_of


def _row(lam: float, peak: float, sd: float = 0.004) -> LamRow:
    return LamRow(lam=lam, lr=0.01, n_seeds=2, n_diverged=0, peak_mean=peak, peak_sd=sd, t_star=100.0,
                  tau_star=1.0, peak_tau=1.0, peak_common=peak, max_train_acc=1.0, n_peaked=2, in_plateau=False)


def test_the_floor_is_the_plateaus_lower_edge_not_the_best_lam() -> None:
    rows = [_row(1.0, 0.900), _row(0.5, 0.898), _row(0.25, 0.850)]  # 1 and 0.5 tied, 0.25 clearly worse
    p = plateau_of(rows, [], 0.005)
    assert p["inside"] == {1.0, 0.5} and p["lam_best"] == 1.0
    assert p["interior"] and p["lam_star"] == 0.5


def test_no_floor_without_a_clearly_worse_smaller_lam() -> None:
    """The negative control: a flat plateau down to the smallest lam puts no floor."""
    p = plateau_of([_row(1.0, 0.900), _row(0.5, 0.898), _row(0.25, 0.899)], [], 0.005)
    assert not p["interior"] and math.isnan(p["lam_star"])


def test_a_worse_lam_between_plateau_lams_puts_the_floor_above_it() -> None:
    rows = [_row(1.0, 0.900), _row(0.5, 0.850), _row(0.25, 0.899), _row(0.125, 0.80)]
    p = plateau_of(rows, [], 0.005)
    assert p["lam_star"] == 1.0  # nothing above 0.5's dip is on the plateau but the best


def test_the_caveat_names_the_top_of_the_ladder_as_such() -> None:
    """When lam* is the largest probed lam the maximum is not interior: the reason says larger
    lams were not probed, and the advice is floored there."""
    f = fit_relations(S.family(S.ladder(0.02, 4), lam_c=0.04, lam_star=0.02, drop_below=0.04))
    assert f.interior_max and f.lam_star == pytest.approx(0.02)
    said = " ".join(f.reasons)
    assert "best at the largest probed lam, lam* = 0.02 (larger ones were not probed)" in said
    assert "interior maximum" not in said
    assert advise(f, 100_000).weight_decay >= 0.02 * (1 - 1e-9)


def _top_tied() -> object:
    """The plateau reaches the top of the ladder: 0.02 and 0.04 tied, 0.01 clearly worse, and the
    largest probed lam (0.04) the best of the two by its seeds' noise."""
    f = fit_relations(S.family(S.ladder(0.04, 4), seeds=(8, 9), lam_c=0.04, lam_star=0.02, drop_below=0.04))
    assert f.lam_best == pytest.approx(0.04) and f.lam_star == pytest.approx(0.02)  # the layout the tests are about
    return f


def test_a_best_lam_at_the_top_of_the_ladder_is_not_called_interior() -> None:
    """lam* below the best does not make the maximum interior: the best is the largest probed lam."""
    said = " ".join(_top_tied().reasons)
    assert "interior maximum" not in said
    assert ("the peak is best at the largest probed lam, 0.04 (larger ones were not probed); the plateau ends "
            "below at lam* = 0.02: smaller lams are clearly worse") in said


def test_the_raised_advice_does_not_put_the_maximum_at_lam_star() -> None:
    """The advice raised to lam* = 0.02 said "the peak has an interior maximum there", where the best is 0.04."""
    advice = advise(_top_tied(), 10_000_000)
    assert advice.weight_decay == pytest.approx(0.02)
    raised = [r for r in advice.reasons if r.startswith("raised to lam* = 0.02")]
    assert raised and "maximum there" not in raised[0] and "where the plateau ends below" in raised[0]
