"""A probe already at the common levels at step 0 (a model that starts near its top, as in
fine-tuning) took no time to reach them: it is left out of b, not allowed to drop every level.
Before, one such probe in a clean family made b NaN and the verdict "does not hold"."""

from __future__ import annotations

import math

import numpy as np
import pytest
import synthetic as S

from l2advisor.science.curves import Curve
from l2advisor.science.fit import FAILS, HOLDS, fit_relations


def _from_zero(cv: Curve, first: float = 0.1) -> Curve:
    """The probe with the step-0 evaluation real probes make (the untrained model's metric)."""
    return Curve(lam=cv.lam, lr=cv.lr, seed=cv.seed, steps=np.r_[0, cv.steps], tau=np.r_[0.0, cv.tau],
                 val_metric=np.r_[first, cv.val_metric], train_acc=np.r_[0.1, cv.train_acc],
                 train_loss=np.r_[2.3, cv.train_loss], status=cv.status)


def _starts_at_top(lam: float, seed: int, lr: float = 0.1) -> Curve:
    """At 0.95 from step 0, then only worse (heavy decay on a model that starts at its top)."""
    steps = np.r_[0, np.unique(np.round(np.geomspace(10, 400, 60)).astype(int))]
    v = 0.95 - 0.08 * (1 - np.exp(-steps / 100)) + np.random.default_rng(seed).normal(0, 0.002, steps.size)
    return Curve(lam=lam, lr=lr, seed=seed, steps=steps, tau=lr * lam * steps, val_metric=v,
                 train_acc=np.full(steps.size, 0.99), train_loss=np.full(steps.size, 0.05))


@pytest.fixture(scope="module")
def clean() -> list[Curve]:
    return [_from_zero(cv) for cv in S.family()]  # c = 3, lam_c = 0.02: the tau clock


@pytest.mark.parametrize("lam", [0.02, 0.01])  # plateau lams: compared for b
def test_one_probe_at_its_top_from_step_0_is_left_out_of_b(clean: list[Curve], lam: float) -> None:
    fit = fit_relations([*clean, _starts_at_top(lam, seed=5)])
    assert fit.verdict == HOLDS and fit.b == pytest.approx(1.0, abs=0.1)
    assert any(r.startswith("1 probe(s) already at the common levels at step 0") for r in fit.reasons), fit.reasons


def test_the_clean_family_alone_says_nothing_of_step_0(clean: list[Curve]) -> None:
    fit = fit_relations(clean)  # the control: every probe starts at the floor
    assert fit.verdict == HOLDS
    assert not any("at step 0" in r and "common levels" in r for r in fit.reasons)


def test_every_probe_at_its_top_from_step_0_does_not_hold() -> None:
    """The negative control: a model at its top from the start, whatever lam (fine-tuning where lam
    only makes it worse): no probe measured a time, so nothing says lam sets one."""
    fit = fit_relations([_starts_at_top(lam, seed) for lam in S.ladder() for seed in (0, 1)])
    assert fit.verdict == FAILS and math.isnan(fit.b)
