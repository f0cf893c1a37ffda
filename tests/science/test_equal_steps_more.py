"""The "does not hold" answer's prediction, ties at the threshold's edge, and when a prediction is a floor."""

from __future__ import annotations

import dataclasses
import math

import synthetic as S
from test_equal_steps import _noisy_null, _row

from l2advisor.science.advise import advise, predicted_is_lower_bound
from l2advisor.science.equal_steps import tied_at_equal_steps
from l2advisor.science.fit import APPROX, FAILS, HOLDS, fit_relations


def test_ties_at_the_threshold_edge() -> None:
    rows = [_row(0.01, 0.90), _row(0.02, 0.93), _row(0.04, 0.925), _row(0.08, float("nan"))]
    assert [r.lam for r in tied_at_equal_steps(rows, threshold=0.004)[1]] == [0.02]  # 0.925 is 0.005 below
    assert [r.lam for r in tied_at_equal_steps(rows, threshold=0.0)[1]] == [0.02]  # the best ties with itself
    assert [r.lam for r in tied_at_equal_steps(rows, threshold=float("nan"))[1]] == [0.02]


def test_the_prediction_is_the_advised_lams_own_peak() -> None:
    for k in range(5):
        f = fit_relations(_noisy_null((2 * k, 2 * k + 1)))
        a = advise(f, 20_000)
        row = next(r for r in f.table if r.lr == f.lr and r.lam == a.weight_decay)
        assert (a.predicted_metric, a.predicted_peak_step) == (row.peak_mean, row.t_star)


def test_another_lr_gets_no_prediction_from_the_probes() -> None:
    f = dataclasses.replace(fit_relations(_noisy_null((0, 1))), verdict=FAILS)
    a = advise(f, 20_000, lr=2 * f.lr)
    assert math.isnan(a.predicted_metric) and math.isnan(a.predicted_peak_step)
    assert any(f"not translated to lr = {2 * f.lr:.3g}" in r for r in a.reasons)
    assert math.isfinite(advise(f, 20_000, lr=f.lr).predicted_metric)  # the control


def test_the_budget_caveat_starts_past_twice_the_compared_steps() -> None:
    f = dataclasses.replace(fit_relations(_noisy_null((0, 1))), verdict=FAILS)
    under, over = advise(f, int(1.9 * f.common_steps)), advise(f, int(2.1 * f.common_steps) + 1)
    assert not any("pay off" in r for r in under.reasons) and not predicted_is_lower_bound(under, f)
    assert any("pay off" in r for r in over.reasons) and predicted_is_lower_bound(over, f)


def test_a_formula_advice_is_never_a_floor() -> None:
    f = fit_relations(S.family())
    a = advise(f, int(10 * f.common_steps))
    assert a.verdict in (HOLDS, APPROX) and not predicted_is_lower_bound(a, f)  # extrapolated, but an estimate


def test_without_a_comparison_the_interval_is_the_plateau() -> None:
    f = dataclasses.replace(fit_relations(_noisy_null((0, 1))), verdict=FAILS, common_steps=float("nan"))
    a = advise(f, 20_000)
    inside = sorted(r.lam for r in f.table if r.lr == f.lr and r.in_plateau)
    assert len(inside) > 1 and a.weight_decay == f.lam_best
    assert a.interval == (0.0 if inside[0] == min(S.ladder()) else inside[0], inside[-1])


def test_the_prediction_is_the_peak_in_the_advised_lams_own_window() -> None:
    """Chosen at equal steps, predicted from its own probe's whole window (the run is that long or longer)."""
    lifted = [dataclasses.replace(cv, val_metric=cv.val_metric + (0.05 if cv.lam == 0.01 else 0.0))
              for cv in S.family()]
    f = dataclasses.replace(fit_relations(lifted), verdict=FAILS)
    a = advise(f, 20_000)
    row = next(r for r in f.table if r.lam == 0.01)
    assert a.weight_decay == 0.01 and row.peak_common < row.peak_mean  # its window is longer than the shortest
    assert (a.predicted_metric, a.predicted_peak_step) == (row.peak_mean, row.t_star)
