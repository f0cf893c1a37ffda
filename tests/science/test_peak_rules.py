"""When a probe counts as past its top (analyze_curve's `peaked`, t*) and when a running probe
stops (has_peaked), on hand-made curves whose answers follow from the rules' numbers: tau grows
by 0.01 or 0.1 an evaluation, so each boundary sits at a known evaluation."""

from __future__ import annotations

import numpy as np
import pytest

from l2advisor.science.curves import Curve, analyze_curve, has_peaked, smooth


def _series(values: np.ndarray) -> Curve:
    """Steps 1, 2, ...; lr*lam = 0.01, so tau = steps / 100."""
    v = np.asarray(values, dtype=float)
    steps = np.arange(1, v.size + 1)
    return Curve(lam=0.1, lr=0.1, seed=0, steps=steps, tau=0.01 * steps, val_metric=v,
                 train_acc=np.ones_like(v), train_loss=np.full_like(v, 0.1))


def test_t_star_is_the_first_point_within_the_tolerance_not_twice_it() -> None:
    """A step at 0.992, 0.8 points below the top of 1.0: outside 0.5 points, so t* is where the
    curve reaches 1.0 (step 31, smoothed from step 29), not where it reached 0.992 (step 11)."""
    v = np.r_[np.full(10, 0.5), np.full(20, 0.992), np.full(20, 1.0), np.full(20, 0.9)]
    m = analyze_curve(_series(v), tolerance=0.005)
    assert m.peak_metric == 1.0
    assert 28 <= m.t_star <= 31


def test_run_to_twice_the_peaks_tau_is_peaked_without_a_drop() -> None:
    """Top at tau 0.46 (a bump of 0.004, within the tolerance), run to tau 1.0 >= 2 * 0.46 while
    tau at t* (0.43) times 3 is not reached and the end has not dropped: peaked by the 2x rule."""
    k = np.arange(100)
    v = np.where(k < 40, 0.1 + 0.8 * k / 40, 0.9 + 0.004 * np.exp(-(((k - 45) / 8.0) ** 2)))
    m = analyze_curve(_series(v))
    assert m.final_metric > m.peak_metric - 0.005 and m.tau_end < 3 * m.tau_star
    assert m.peaked


def test_a_flat_top_is_peaked_only_after_three_times_tau_at_t_star() -> None:
    """Within the tolerance from tau 0.43 (t*), creeping up to tau 0.81, barely down after: not
    peaked at tau 1.0 (< 3 * 0.43), peaked at tau 1.4; twice the peak's tau (1.62) is never reached."""
    def creep(n: int) -> np.ndarray:
        k = np.arange(n)
        return np.where(k < 40, 0.1 + 0.8 * k / 40, np.where(
            k <= 80, 0.9 + 0.004 * (k - 40) / 40, 0.904 - 0.002 * np.minimum(k - 80, 19) / 19))

    short, long = analyze_curve(_series(creep(100))), analyze_curve(_series(creep(140)))
    assert short.t_star == long.t_star == 43 and short.peak_tau == long.peak_tau
    assert not short.peaked
    assert long.peaked


def test_has_peaked_waits_for_twice_the_peaks_tau_even_after_a_clear_drop() -> None:
    """Smoothed top at tau 2.1 (tau = 0.1 a step), then a fall of 0.01 a step: at tau 3.9 it has
    dropped far more than the tolerance but is not yet at twice the top's tau; at tau 4.4 it is."""
    v = np.r_[np.linspace(0.2, 0.9, 20), np.linspace(0.9, 0.6, 30)]
    steps = np.arange(50)
    assert not has_peaked(steps[:40], steps[:40] * 0.1, v[:40])
    assert has_peaked(steps[:45], steps[:45] * 0.1, v[:45])


def test_has_peaked_takes_a_fall_within_the_tolerance_for_a_stall_not_a_drop() -> None:
    """Down 0.003 (under the 0.005 tolerance) after the top at tau 2.1: past twice its tau it has
    not dropped, so it waits for the stall rule at three times (6.3)."""
    v = np.r_[np.linspace(0.2, 0.9, 20), np.linspace(0.9, 0.897, 50)]
    steps = np.arange(70)
    assert not has_peaked(steps[:55], steps[:55] * 0.1, v[:55])  # tau 5.4: 2x, not 3x
    assert has_peaked(steps, steps * 0.1, v)  # tau 6.9


def test_has_peaked_needs_five_evaluations_after_the_top() -> None:
    """A clear drop, far past twice the top's tau, seen by 4 evaluations after the smoothed top:
    not yet; by 5: stopped."""
    def probe(after: int) -> bool:
        steps = np.r_[np.arange(1, 21), 60 + np.arange(after)].astype(float)
        v = np.r_[np.linspace(0.2, 0.9, 20), np.full(after, 0.5)]  # smoothed top at index 17
        return has_peaked(steps, steps * 0.01, v)

    assert not probe(2)  # indices 18..21 follow the top: 4
    assert probe(3)


def test_a_curve_climbing_back_toward_its_top_has_not_stalled() -> None:
    """Top 0.9 at tau 0.15-0.22, a dip of 0.004, then a slow climb of 0.003 to tau 1: past three
    times the top's tau and never below it by the tolerance, but still rising: no stop. The same
    curve flat after its dip stops (the positive control)."""
    k = np.arange(100)
    top = np.where(k <= 15, 0.2 + 0.7 * k / 15, 0.9)
    dip = 0.9 - 0.004 * np.clip((k - 22) / 5, 0, 1)
    climbing = np.where(k <= 22, top, dip + 0.003 * np.clip((k - 27) / 72, 0, 1))
    flat = np.where(k <= 22, top, dip)
    assert not has_peaked(k, k * 0.01, climbing)
    assert has_peaked(k, k * 0.01, flat)


def test_training_accuracy_must_reach_0_99_to_be_overparameterized() -> None:
    ramp = np.minimum(np.linspace(0.1, 1.2, 60), 1.0)
    for top, over in ((0.975, False), (0.985, False), (0.995, True)):
        v = np.linspace(0.2, 0.9, 60)
        cv = Curve(**{**_series(v).__dict__, "train_acc": np.minimum(ramp, top)})
        assert analyze_curve(cv).overparameterized is over, top


def test_the_final_training_accuracy_is_the_mean_of_the_last_five() -> None:
    acc = np.linspace(0.1, 1.0, 10)  # the last five: 0.6 .. 1.0
    cv = Curve(**{**_series(np.linspace(0.2, 0.9, 10)).__dict__, "train_acc": acc})
    assert analyze_curve(cv).final_train_acc == pytest.approx(0.8)


def test_a_short_series_is_smoothed_over_at_most_a_third_of_its_length() -> None:
    """12 points: a window of 4 at most, so 3 (odd, centred). A ramp keeps its values two points in
    from the edges; the first point is the mean of the median-of-2 (0.5) and 1: 0.75 (a window of 5
    would reach 2 and give 7/6)."""
    s = smooth(np.arange(12.0))
    assert s[0] == pytest.approx(0.75) and s[1] == pytest.approx(3.5 / 3)
    assert np.allclose(s[2:-2], np.arange(2.0, 10.0))
