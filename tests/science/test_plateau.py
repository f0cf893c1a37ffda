"""plateau.py: the equal-steps test behind "cannot tell", against hand-made rows."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from l2advisor.science.plateau import above_plateau


def rows(common: dict[float, float], sds: dict[float, float] | None = None) -> list:
    """Hand-made LamRows: 2 seeds each; the peak's sd over seeds unknown unless given."""
    return [SimpleNamespace(lam=lam, peak_common=value, n_seeds=2, peak_sd=(sds or {}).get(lam, float("nan")))
            for lam, value in common.items()]


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


# The bundled default CNN, probe seeds 4,5 at --budget 20000: the top rung's two seeds peaked at
# 0.913 and 0.949; that scatter alone set the plateau threshold to 0.0298.
SEEDS_4_5 = {0.1: 0.9310, 0.05: 0.9518, 0.025: 0.9533}
SDS_4_5 = {0.1: 0.0257, 0.05: 0.00014, 0.025: 0.0018}


def test_the_largest_lams_own_scatter_is_not_the_noise() -> None:
    assert above_plateau(rows(SEEDS_4_5, SDS_4_5), threshold=0.0298)


def test_without_the_other_rows_sds_the_plateau_threshold_decides() -> None:
    assert not above_plateau(rows(SEEDS_4_5), threshold=0.0298)
    assert not above_plateau(rows(SEEDS_4_5, {0.1: 0.0257, 0.025: 0.0018}), threshold=0.0298)  # one other row


def test_equal_scatter_everywhere_keeps_a_small_drop_inside_the_margin() -> None:
    """Negative control, a null's pattern: every row scatters alike (sd 0.01), so a drop of 0.02 at
    the largest lam is 1 threshold (2 * 0.01), inside the margin of 1.5."""
    sds = {0.1: 0.01, 0.05: 0.01, 0.025: 0.01}
    assert not above_plateau(rows({0.1: 0.94, 0.05: 0.955, 0.025: 0.96}, sds), threshold=0.02)
    assert above_plateau(rows({0.1: 0.925, 0.05: 0.955, 0.025: 0.96}, sds), threshold=0.02)  # 1.75 thresholds


def test_the_score_counts_thresholds_and_is_nan_when_the_smallest_lam_is_not_best() -> None:
    from l2advisor.science.plateau import above_plateau_score

    assert above_plateau_score(rows({0.1: 0.952, 0.05: 0.958, 0.025: 0.962}), threshold=0.008) == pytest.approx(1.25)
    assert above_plateau_score(rows({0.1: 0.90, 0.05: 0.96, 0.025: 0.94}), threshold=0.008) != \
        above_plateau_score(rows({0.1: 0.90, 0.05: 0.96, 0.025: 0.94}), threshold=0.008)  # NaN
    assert above_plateau_score(rows({0.1: 0.97, 0.05: 0.96, 0.025: 0.962}), threshold=0.008) < 0  # largest best


def test_the_margin_drops_to_one_threshold_only_when_b_is_clearly_negative() -> None:
    from l2advisor.science.plateau import ABOVE_MARGIN, SLOWED_MARGIN, above_plateau_margin

    assert above_plateau_margin(-0.4, (-0.6, -0.2)) == SLOWED_MARGIN == 1.0
    assert above_plateau_margin(-0.4, (-0.6, 0.05)) == ABOVE_MARGIN  # its interval reaches 0
    assert above_plateau_margin(-0.1, (-0.15, -0.05)) == ABOVE_MARGIN  # too small to mean anything
    assert above_plateau_margin(-0.4, (float("nan"), float("nan"))) == ABOVE_MARGIN  # unknown interval
    assert above_plateau_margin(0.9, (0.7, 1.1)) == ABOVE_MARGIN
