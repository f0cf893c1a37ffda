"""plateau_of's noise: which lams are "within noise of the best", with hand-made rows whose
thresholds are known by arithmetic (2 sd of a difference of means; the tolerance as a floor)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from l2advisor.science.fit_types import LamRow
from l2advisor.science.plateau import above_plateau_score, plateau_of


def _row(lam: float, peak: float, sd: float = float("nan"), seeds: int = 2, peaked: int = 2) -> LamRow:
    return LamRow(lam=lam, lr=0.1, n_seeds=seeds, n_diverged=0, peak_mean=peak, peak_sd=sd, t_star=100.0,
                  tau_star=1.0, peak_tau=1.0, peak_common=peak, max_train_acc=1.0, n_peaked=peaked,
                  in_plateau=False)


def _probe(noise: float) -> SimpleNamespace:
    return SimpleNamespace(noise=noise)


def test_two_sd_of_a_difference_of_means_is_the_plateaus_width() -> None:
    """sd 0.01 over 2 seeds at every lam: threshold 2 * 0.01 * sqrt(1/2 + 1/2) = 0.02. A lam 0.015
    below the best is on the plateau; one 0.025 below is not."""
    p = plateau_of([_row(0.04, 0.925, 0.01), _row(0.02, 0.935, 0.01), _row(0.01, 0.950, 0.01)], [], 0.005)
    assert p["threshold"] == pytest.approx(0.02)
    assert p["inside"] == {0.02, 0.01} and p["lam_c"] == 0.02 and p["lam_best"] == 0.01
    assert p["level"] == pytest.approx((0.935 + 0.950) / 2)


def test_one_seed_per_lam_takes_the_noise_of_a_smoothed_evaluation() -> None:
    """No sd over seeds: the evaluation noise (0.01) over sqrt(5), the smoothing window, is one
    peak's sd: threshold 2 * 0.00447 * sqrt(2) = 0.0126. 0.01 below the best is inside, 0.02 is not."""
    rows = [_row(0.04, 0.930, seeds=1, peaked=1), _row(0.02, 0.940, seeds=1, peaked=1),
            _row(0.01, 0.950, seeds=1, peaked=1)]
    p = plateau_of(rows, [_probe(0.01)] * 3, 0.005)
    assert p["threshold"] == pytest.approx(2 * 0.01 / math.sqrt(5) * math.sqrt(2))
    assert p["inside"] == {0.02, 0.01}


def test_no_noise_measured_leaves_the_tolerance() -> None:
    """Neither an sd over seeds nor an evaluation noise: the plateau is the tolerance wide, not
    everything (a lam 0.02 below the best is not on it)."""
    rows = [_row(0.04, 0.930, seeds=1, peaked=1), _row(0.02, 0.947, seeds=1, peaked=1),
            _row(0.01, 0.950, seeds=1, peaked=1)]
    p = plateau_of(rows, [_probe(float("nan"))] * 3, 0.005)
    assert p["threshold"] == 0.005 and p["inside"] == {0.02, 0.01}
    assert not p["no_effect"]


@pytest.mark.parametrize(("peaked", "interior"), [(2, True), (1, True), (0, False)])
def test_a_worse_smaller_lam_counts_when_half_its_seeds_peaked(peaked: int, interior: bool) -> None:
    """A smaller lam clearly below the best makes the maximum interior when at least half of its
    seeds clearly peaked (the others may have been cut short); with none peaked it may just be slow."""
    rows = [_row(0.04, 0.950, 0.004), _row(0.02, 0.949, 0.004), _row(0.01, 0.900, 0.004, peaked=peaked)]
    p = plateau_of(rows, [], 0.005)
    assert p["inside"] == {0.04, 0.02}
    assert p["interior"] is interior
    assert (p["lam_star"] == 0.02) if interior else math.isnan(p["lam_star"])


def test_without_any_noise_any_drop_at_the_largest_lam_is_clear() -> None:
    """Threshold and tolerance 0 (every seed alike): a largest lam below the smallest scores +inf
    (above the plateau however small the drop), the same peak scores 0."""
    worse = [_row(0.04, 0.949), _row(0.02, 0.950), _row(0.01, 0.950)]
    assert above_plateau_score(worse, 0.0) == float("inf")
    assert above_plateau_score([_row(0.04, 0.95), _row(0.01, 0.95)], 0.0) == 0.0
