"""advise's fixed numbers, written out: the typical c of "cannot tell" (4, interval 2..8 on the tau
clock) and where "extrapolated" begins (just below the smallest probed lam, not far below it)."""

from __future__ import annotations

import dataclasses
import math

import pytest
import synthetic as S

from l2advisor.science.advise import advise
from l2advisor.science.fit import CANNOT, fit_relations


@pytest.fixture(scope="module")
def clean():
    return fit_relations(S.family())  # c = 3, lam_c = 0.02, lams 0.0025..0.08, lr 0.1


def test_cannot_tell_advises_tau_4_with_c_from_2_to_12():
    """Probes above the plateau that measured c = 0.8: the advice takes the typical c = 4 (lr*lam*T,
    plain SGD), lam = 4 / (0.1 * 20000) = 0.002, and c's interval is half to three times that (a
    reviewer's GRU on noisy labels had its best lam at 3x such an advice)."""
    f = dataclasses.replace(fit_relations(S.family(lam_c=0.0005, alpha=0.0)), c=0.8, lam_c=1.0)
    assert f.verdict == CANNOT
    a = advise(f, 20000)
    assert a.c == 4.0 and a.c_interval == (2.0, 12.0)
    assert a.weight_decay == pytest.approx(0.002)
    assert a.interval[0] <= 2.0 / (0.1 * 20000) and a.interval[1] >= 12.0 / (0.1 * 20000)


def test_cannot_tell_whose_smallest_probe_did_not_peak_highest_reaches_the_plateau_edge():
    """Review 42's AdamW regression: lam 5 peaked above 2.5 (within noise), the borrowed c advised 0.8
    with an interval to 2.78, and the grid's best was 4. Where a larger probed lam peaked highest the
    interval reaches lam_c; where the smallest did (the control) it stays at the borrowed c's 3c."""
    f = dataclasses.replace(fit_relations(S.family(lam_c=0.0005, alpha=0.0)), c=0.8, lam_c=0.08)
    assert f.verdict == CANNOT and f.lam_best == f.lam_min_probed == 0.0025 and not f.interior_max
    control = advise(f, 20000)
    assert control.interval[1] < 0.08 and not any("did not reach the highest peak" in r for r in control.reasons)
    above = advise(dataclasses.replace(f, lam_best=0.005), 20000)
    assert above.weight_decay == control.weight_decay and above.interval == (0.0, 0.08)
    assert any("the smallest probed lam (0.0025) did not reach the highest peak in its own window (lam 0.005 "
               "did" in r for r in above.reasons)
    other_lr = advise(dataclasses.replace(f, lam_best=0.005), 20000, lr=0.2)  # said at the run's lr (review 43)
    assert any("the smallest probed lam (at lr 0.2, on the lr*lam clock) (0.00125) did not reach the highest peak in "
               "its own window (lam 0.0025 did" in r for r in other_lr.reasons), other_lr.reasons


def test_extrapolated_starts_just_below_the_smallest_probed_lam(clean):
    """lam = c/(lr*T): at T where it is 0.7x the smallest probed lam (0.0025) the advice is an
    extrapolation; at 1.3x it is not."""
    below = advise(clean, round(clean.c / (0.1 * 0.7 * 0.0025)))
    inside = advise(clean, round(clean.c / (0.1 * 1.3 * 0.0025)))
    assert below.weight_decay == pytest.approx(0.7 * 0.0025, rel=1e-3) and below.extrapolated
    assert inside.weight_decay == pytest.approx(1.3 * 0.0025, rel=1e-3) and not inside.extrapolated


def test_cannot_tell_ignores_a_fitted_b_the_probes_could_not_see():
    """Under "cannot tell" the clock was not seen: b = 1.4 from the fit must not move the advice off
    c/(lr*T) (b > 1 would ask for a larger lam, and the formula would take it)."""
    f = dataclasses.replace(fit_relations(S.family(lam_c=0.0005, alpha=0.0)), c=0.8, lam_c=1.0,
                            b=1.4, b_used=1.4, b_interval=(1.3, 1.5))
    assert f.verdict == CANNOT
    assert advise(f, 20000).weight_decay == pytest.approx(4.0 / (0.1 * 20000))


def test_a_kept_tau_clock_answer_keeps_its_whole_interval(clean):
    """b = 0.6 fitted, the tau clock's c/(lr*T) kept: the interval reaches up to the top of c's
    interval on the tau clock, c_hi/(lr*T), not only to the advice."""
    budget = 100_000
    slow = dataclasses.replace(clean, b=0.6, b_used=0.6, b_interval=(0.5, 0.7))
    a = advise(slow, budget)
    assert a.weight_decay == pytest.approx(clean.c / (0.1 * budget))
    assert clean.c_interval[1] > clean.c * 1.01  # a real interval, above c
    assert a.interval[1] == pytest.approx(clean.c_interval[1] / (0.1 * budget))


def _with_peaks(fit, peaks: dict[float, float], off_plateau: tuple[float, ...] = ()):
    table = tuple(dataclasses.replace(r, peak_mean=peaks.get(r.lam, r.peak_mean),
                                      in_plateau=r.in_plateau and r.lam not in off_plateau) for r in fit.table)
    return dataclasses.replace(fit, table=table)


def test_the_predicted_metric_between_probed_lams_is_linear_in_log_lam(clean):
    """Peaks 0.90 at lam 0.005 and 0.95 at 0.01: at their geometric mean, 0.00707, the prediction
    is halfway, 0.925 (linear in lam it would be 0.921)."""
    f = _with_peaks(clean, {0.005: 0.90, 0.01: 0.95})
    lam = (0.005 * 0.01) ** 0.5
    a = advise(f, round(clean.c / (0.1 * lam)))
    assert a.weight_decay == pytest.approx(lam, rel=1e-3) and not a.extrapolated
    assert a.predicted_metric == pytest.approx(0.925, abs=1e-3)


def test_below_a_smallest_lam_off_the_plateau_the_plateau_level_is_predicted(clean):
    """Extrapolating below the smallest probed lam predicts that lam's peak when it is on the plateau;
    when it is not (0.5 here, far below), the plateau's level."""
    on = advise(_with_peaks(clean, {0.0025: 0.96}), 100_000)
    assert on.extrapolated and on.predicted_metric == pytest.approx(0.96)
    off = advise(_with_peaks(clean, {0.0025: 0.5}, off_plateau=(0.0025,)), 100_000)
    assert off.extrapolated and off.predicted_metric == pytest.approx(clean.plateau_level)


def test_a_peak_after_the_budget_is_said(clean):
    """T = 1000: c/(lr*T) = 0.03 is clipped to lam_c = 0.02, whose peak comes at c/(0.1*0.02), about
    step 1,500: after the run, which the advice says. T = 3000 (lam 0.01, the top at 3000) says nothing."""
    short = advise(clean, 1000)
    assert short.weight_decay == pytest.approx(0.02) and 1000 < short.predicted_peak_step < 2000
    assert any(r.startswith("the peak is expected around step") for r in short.reasons)
    assert not any(r.startswith("the peak is expected around step") for r in advise(clean, 3000).reasons)


def test_an_advice_on_a_probed_lam_but_for_rounding_predicts_that_probes_peak():
    """Probes at 0.1, 0.05, 0.025 (lr 0.1): lam = 4/(0.1*1600) = 0.024999999999999998, the smallest
    probe's 0.025 but for float rounding: not extrapolated, and the predicted metric is that probe's
    measured peak (it was NaN, shown as "no predicted metric: nothing usable was measured")."""
    f = dataclasses.replace(fit_relations(S.family(lams=[0.1, 0.05, 0.025], lam_c=0.0005, alpha=0.0)),
                            c=0.8, lam_c=1.0)
    a = advise(f, 1600)
    assert a.unclipped < 0.025 and a.weight_decay == 0.025  # the rounding is real (the answer is shown without it)
    smallest = min((r for r in f.table if r.lr == f.lr and r.n_seeds > 0), key=lambda r: r.lam)
    assert smallest.lam == 0.025 and not a.extrapolated
    assert math.isfinite(a.predicted_metric) and a.predicted_metric <= smallest.peak_mean + 1e-12
    beyond = advise(f, 1700)  # the control: below the smallest probe, extrapolated from its peak
    assert beyond.extrapolated and a.predicted_metric == pytest.approx(beyond.predicted_metric, abs=0.01)


def test_an_advice_that_is_a_round_number_carries_no_float_noise():
    """lam = c/(lr*T) computed as (c/T)/lr: (4/12800)/0.1 is 0.0031249999999999997, shown 0.00312
    by the panel while its JSON, read back, showed 0.00313. The advice is 0.003125, the same
    number wherever it is shown; its interval's ends likewise. No advice moves (5e-13 at most)."""
    from l2advisor.science.numbers import noise_cleared

    noisy = (4 / 12800) / 0.1
    assert noisy != 0.003125 and f"{noisy:.3g}" == "0.00312" and noise_cleared(noisy) == 0.003125
    assert noise_cleared(1 / 3) == pytest.approx(1 / 3, rel=1e-12) and math.isnan(noise_cleared(math.nan))
    f = dataclasses.replace(fit_relations(S.family(lam_c=0.0005, alpha=0.0)), c=0.8, lam_c=1.0)
    a = advise(f, 12800)  # "cannot tell": c = 4, interval 2..8, b = 0.75..1.25
    assert a.weight_decay == 0.003125 and f"{a.weight_decay:.3g}" == "0.00313"
    assert a.interval[1] == noise_cleared(a.interval[1]) and a.interval[0] <= 0.003125 <= a.interval[1]
    assert not any("raised to" in r or "clipped to" in r for r in a.reasons)  # cleared, not moved
