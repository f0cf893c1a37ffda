"""Probes at several lrs: the fit reads the plateau, t*, b and c at the lr the advice is for where it
was probed (a reviewer's `probe --lrs 0.1,0.05` fitted 0.05 only, advised at 0.05 by default, and
"translated" the advice for lr 0.1 from it, with 0.1's own six probes unused); every lr still serves
the check that lr*lam is the clock. Its words say which lr a number comes from."""

from __future__ import annotations

import math

import pytest
import synthetic as S

from l2advisor.science.advise import advise
from l2advisor.science.fit import fit_relations

TWO = (0.1, 0.05)


@pytest.mark.parametrize("main_lr", TWO)
def test_the_lr_asked_for_is_the_one_read(main_lr: float) -> None:
    fit = fit_relations(S.family(lrs=TWO), main_lr=main_lr)
    assert fit.lr == main_lr
    assert fit.lam_min_probed == min(r.lam for r in fit.table if r.lr == main_lr)
    assert fit.clock_is_lr_lam is True  # both lrs in the clock check, whichever is read


def test_without_a_preference_the_smaller_lr_wins_the_tie_and_else_the_nearest_probed_lr() -> None:
    assert fit_relations(S.family(lrs=TWO)).lr == 0.05
    assert fit_relations(S.family(lrs=TWO), main_lr=0.2).lr == 0.1  # not probed: the nearest probed lr
    assert fit_relations(S.family(lrs=TWO), main_lr=0.06).lr == 0.05


def test_an_lr_probed_at_fewer_than_3_lams_is_not_read() -> None:
    curves = [cv for cv in S.family(lrs=TWO) if cv.lr == 0.05 or cv.lam in (0.08, 0.04)]
    assert fit_relations(curves, main_lr=0.1).lr == 0.05  # two lams at 0.1: its plateau is no plateau


def test_advice_at_a_probed_lr_is_not_translated() -> None:
    fit = fit_relations(S.family(lrs=TWO), main_lr=0.1)
    advice = advise(fit, 20000, 0.1)
    assert not any("differs from the probe lr" in r for r in advice.reasons), advice.reasons
    translated = advise(fit_relations(S.family(lrs=TWO)), 20000, 0.1)  # read at 0.05: said so
    assert any("lr 0.1 differs from the probe lr 0.05: translated through the lr*lam clock (confirmed" in r
               for r in translated.reasons)


def test_an_unchecked_clock_says_why_with_several_lrs() -> None:
    import dataclasses

    fit = dataclasses.replace(fit_relations(S.family(lrs=TWO)), clock_is_lr_lam=None)
    said = " ".join(advise(fit, 20000, 0.2).reasons)
    assert "not checked: too few probes peaked at the other lrs" in said and "one probe lr" not in said
    one = fit_relations(S.family())
    assert "not checked (one probe lr)" in " ".join(advise(one, 20000, 0.2).reasons)


def test_the_smallest_probed_lam_of_another_lr_is_named_with_its_lr() -> None:
    fit = fit_relations(S.family(lam_c=0.0005, alpha=0.0))  # above the plateau: extrapolated below it
    here = " ".join(advise(fit, 20000).reasons)
    assert f"extrapolated below the smallest probed lam {fit.lam_min_probed:.3g}: " in here
    there = " ".join(advise(fit, 20000, 2 * fit.lr).reasons)
    assert (f"extrapolated below the smallest probed lam {fit.lam_min_probed:.3g} at lr {fit.lr:.3g} "
            f"({fit.lam_min_probed / 2:.3g} at lr {2 * fit.lr:.3g} on the lr*lam clock)") in there


def test_the_probe_count_says_which_lr_was_read() -> None:
    fit = fit_relations(S.family(lrs=TWO), main_lr=0.1)
    assert fit.probes_words() == "12 probes at lr 0.1 (24 in all: the other lrs check that lr*lam is the clock)"
    assert fit_relations(S.family()).probes_words() == "12 probes"
    assert math.isfinite(fit.c)


def test_autol2_at_another_lr_says_it_moved_along_the_clock() -> None:
    """A reviewer's `recommend --autol2 --lr 0.2` printed lam0 with no word of the translation the
    constant advice flags (there "NOT confirmed across probe lrs: unreliable")."""
    from l2advisor.science.autol2_setup import autol2_config

    fit = fit_relations(S.family())
    said = " ".join(autol2_config(fit, 20000, lr=0.2).reasons)
    assert ("lr 0.2 differs from the probe lr 0.1: lam0 and lam_min translated through the lr*lam clock "
            "(not checked (one probe lr))") in said
    assert "differs from the probe lr" not in " ".join(autol2_config(fit, 20000).reasons)  # the control
