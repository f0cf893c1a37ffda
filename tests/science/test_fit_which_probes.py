"""Which probes each part of the fit reads: the t* fit and b on the plateau lams (its edge
included), not the over-regularized ones; probes with t* = 0 left out; the main lr on a tie; the
clock tolerance between lr and lam; "nothing learned" against the evaluation noise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import synthetic as S

from l2advisor.science.curves import Curve
from l2advisor.science.fit import HOLDS, NOTHING_LEARNED, fit_relations


def _plateau_on_tau_above_on_steps() -> list[Curve]:
    """lams 0.005-0.02 on the plateau, their tops on the tau clock (c = 3); 0.04 and 0.08 above it
    (peaks 0.03 and 0.06 lower), their tops at the same step as 0.02's: lam does not set their time."""
    return [S.curve(lam, 0.1, seed, c=3.0 * max(lam / 0.02, 1.0), noise=0.003)
            for lam in (0.08, 0.04, 0.02, 0.01, 0.005) for seed in (0, 1)]


def test_b_and_alpha_are_read_on_the_plateau_lams_edge_included() -> None:
    f = fit_relations(_plateau_on_tau_above_on_steps())
    assert f.lam_c == pytest.approx(0.02)  # three plateau lams: 0.005, 0.01, 0.02
    assert abs(f.b - 1.0) < 0.1 and abs(f.alpha - 1.0) < 0.15
    assert f.verdict == HOLDS, f.reasons
    assert not any("plateau lam" in r and "clearly peaked" in r for r in f.reasons), f.reasons


def test_a_probe_at_its_top_from_step_0_is_left_out_of_the_t_star_fit() -> None:
    """t* = 0 has no log: the probe is counted out and said to be, and alpha stays a number."""
    base = S.curve(0.01, 0.1, 2)
    steps = np.r_[0, base.steps]
    v = np.r_[0.95, 0.95 - 0.3 * np.linspace(0, 1, base.steps.size)]
    odd = Curve(lam=0.01, lr=0.1, seed=2, steps=steps, tau=1e-3 * steps, val_metric=v,
                train_acc=np.ones_like(v), train_loss=np.full_like(v, 0.1))
    f = fit_relations(S.family(noise=0.003) + [odd])
    assert abs(f.alpha - 1.0) < 0.15
    assert any("1 probe(s) had not clearly peaked (or peaked at step 0)" in r for r in f.reasons)


def test_the_smaller_lr_is_the_main_one_on_a_tie() -> None:
    assert fit_relations(S.family(lrs=(0.1, 0.05))).lr == 0.05
    assert fit_relations(S.family(lrs=(0.05, 0.1))).lr == 0.05


@pytest.mark.parametrize(("beta_lr", "same_clock"), [(0.8, True), (0.55, False)])
def test_lr_and_lam_exponents_apart_by_more_than_0_3_are_two_clocks(beta_lr: float, same_clock: bool) -> None:
    f = fit_relations(S.family(lrs=(0.05, 0.1, 0.2), beta_lr=beta_lr))
    assert abs(f.beta_lr - beta_lr) < 0.1 and abs(f.beta_lam - 1.0) < 0.1
    assert f.clock_is_lr_lam is same_clock


def test_a_peak_within_three_noise_sds_of_the_start_is_nothing_learned() -> None:
    """Every untrained model at 0.1 (chance), then noise of sd 0.02 around it: the smoothed peaks
    climb about 0.02 above the start by chance, over the 0.005 tolerance but within 3 sd."""
    rng = np.random.default_rng(0)
    flat = []
    for cv in S.no_effect_family():
        v = 0.1 + 0.02 * rng.standard_normal(len(cv.steps))
        v[0] = 0.1
        flat.append(dataclasses.replace(cv, val_metric=v))
    f = fit_relations(flat)
    assert max(r.peak_mean for r in f.table) > 0.1 + 0.005  # the tolerance alone would call it learned
    assert f.reasons[0] == NOTHING_LEARNED


def test_without_a_pooled_curve_c_is_the_median_single_run_tau_star(monkeypatch: pytest.MonkeyPatch) -> None:
    import l2advisor.science.fit as fit_module

    clean = fit_relations(S.family(noise=0.003))
    monkeypatch.setattr(fit_module, "collapse", lambda *args, **kwargs: {})
    f = fit_relations(S.family(noise=0.003))
    assert f.c == pytest.approx(f.tau_star_median) and f.tau_star_median == pytest.approx(clean.tau_star_median)
    assert any("no pooled curve: c taken from the median single-run tau*" in r for r in f.reasons)
    assert f.verdict != HOLDS  # c read off single runs is at most approximate
