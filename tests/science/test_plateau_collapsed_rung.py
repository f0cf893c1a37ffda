"""A top rung whose seeds collapsed apart (a reviewer's wide MLP at lr*lam = 0.01: 0.35 and 0.27) must not
widen the plateau's noise: pooled as a root mean square of every lam's seed sd, it took a lam 5.2 points below
the best into the plateau. The median over lams keeps the threshold at the learning rungs' noise."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import synthetic as S

from l2advisor.science.fit import fit_relations

LAMS = [0.1, 0.05, 0.025]


def _probes(top_spread: float) -> list:
    """The reviewer's peaks: lam 0.025 at 0.937 / 0.934, lam 0.05 at 0.894 / 0.872 (over-regularized),
    lam 0.1 collapsed at 0.31 +- `top_spread` between its two seeds."""
    levels = {0.025: (0.937, 0.934), 0.05: (0.894, 0.872), 0.1: (0.31 + top_spread, 0.31 - top_spread)}
    out = []
    for cv in S.family(lams=LAMS, noise=0.0005):
        top = levels[cv.lam][cv.seed]
        shape = (cv.val_metric - cv.val_metric.min()) / (cv.val_metric.max() - cv.val_metric.min())
        out.append(dataclasses.replace(cv, val_metric=0.1 + (top - 0.1) * shape))
    return out


def test_a_collapsed_rung_does_not_take_a_worse_lam_into_the_plateau() -> None:
    fit = fit_relations(_probes(top_spread=0.042))
    peaks = {r.lam: r.peak_mean for r in fit.table}
    assert peaks[0.025] - peaks[0.05] > 0.04  # 5 points apart, as the reviewer's
    assert fit.lam_c == 0.025 and fit.plateau_threshold < 0.04, (fit.lam_c, fit.plateau_threshold)


def test_the_noise_is_the_learning_rungs_when_none_collapsed() -> None:
    """The control: with every rung's seeds close, the threshold is their noise and 0.05 stays out too."""
    fit = fit_relations(_probes(top_spread=0.002))
    assert fit.lam_c == 0.025
    # two seeds per lam: the se of a difference is sd * sqrt(1/2 + 1/2), and the threshold twice that
    assert fit.plateau_threshold == pytest.approx(max(0.005, 2 * np.median([r.peak_sd for r in fit.table])))
