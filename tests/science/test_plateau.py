"""plateau.py: the equal-steps test behind "cannot tell", against hand-made rows."""

from __future__ import annotations

from types import SimpleNamespace

from l2advisor.science.plateau import above_plateau


def rows(common: dict[float, float]) -> list:
    return [SimpleNamespace(lam=lam, peak_common=value) for lam, value in common.items()]


def test_smallest_best_and_largest_clearly_worse_is_above_the_plateau() -> None:
    assert above_plateau(rows({0.1: 0.927, 0.05: 0.955, 0.025: 0.959}), threshold=0.008)


def test_the_batch_norm_cnn_of_the_suite_is_above_the_plateau() -> None:
    # cnn_bn_digits, probe seeds 0-1 at --budget 6400: peaks within the 400 common steps
    assert above_plateau(rows({0.1: 0.9627, 0.05: 0.9656, 0.025: 0.9775}), threshold=0.0079)


def test_a_flat_top_within_the_margin_is_not() -> None:  # noise on a null: 0.010 < 1.5 * 0.008
    assert not above_plateau(rows({0.1: 0.952, 0.05: 0.958, 0.025: 0.962}), threshold=0.008)


def test_the_smallest_lam_worse_than_the_best_is_not() -> None:  # the plateau was reached
    assert not above_plateau(rows({0.1: 0.90, 0.05: 0.96, 0.025: 0.94}), threshold=0.008)


def test_one_row_or_no_equal_steps_value_says_nothing() -> None:
    assert not above_plateau(rows({0.1: 0.9}), threshold=0.008)
    assert not above_plateau(rows({0.1: float("nan"), 0.05: 0.96}), threshold=0.008)
