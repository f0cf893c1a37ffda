"""The automatic probe plan (no --budget): the ladder's top and length, the probe budget shared by
the seeds, 100 evaluations a probe, and the early stop that waits for half the horizon. Known
answers: at lr 0.1 and horizon 4 a rung at lam costs 40/lam steps (400, 800, 1600, ...)."""

from __future__ import annotations

import numpy as np
import pytest

from l2advisor.probing.plan import ProbeSettings, design_ladder, plan_probes, stop_reason


def _settings(**kw) -> ProbeSettings:
    base = dict(lrs=(0.1,), seeds=(0, 1), horizon=4.0, probe_budget=6000, lam_max=0.1)
    return ProbeSettings(**{**base, **kw})


def test_the_probe_budget_is_shared_by_the_seeds() -> None:
    """6,000 steps for 2 seeds: 3,000 a seed, so rungs 400 + 800 + 1,600 = 2,800 (a 3,200 fourth
    would overrun); with one seed the fourth fits exactly (6,000)."""
    assert design_ladder(0.1, _settings()) == [0.1, 0.05, 0.025]
    assert design_ladder(0.1, _settings(seeds=(0,))) == [0.1, 0.05, 0.025, 0.0125]
    runs = plan_probes(_settings())
    assert sum(r.max_steps for r in runs) == 5600 <= 6000


def test_the_probe_budget_is_shared_by_the_lrs_too() -> None:
    """12,000 steps for 2 lrs x 2 seeds: 3,000 for lr 0.1 and one seed, so 3 rungs (2,800); one lr
    alone gets 6,000 a seed, 4 rungs (audit 40b: sharing across lrs went untested)."""
    two_lrs = _settings(lrs=(0.1, 0.05), probe_budget=12_000)
    assert design_ladder(0.1, two_lrs) == [0.1, 0.05, 0.025]
    assert design_ladder(0.1, _settings(probe_budget=12_000)) == [0.1, 0.05, 0.025, 0.0125]


def test_the_ladder_stops_at_twelve_rungs() -> None:
    lams = design_ladder(0.1, _settings(probe_budget=10**15))
    assert len(lams) == 12 and lams[-1] == pytest.approx(0.1 / 2**11, rel=1e-3)


def test_the_default_top_is_a_shrink_of_0_01_per_step_momentum_included() -> None:
    """lr*lam/(1-momentum) = 0.01: lam 0.1 at lr 0.1 for plain SGD, 0.01 with momentum 0.9."""
    assert design_ladder(0.1, _settings(lam_max=None))[0] == pytest.approx(0.1)
    assert design_ladder(0.1, _settings(lam_max=None), momentum=0.9)[0] == pytest.approx(0.01)


def test_every_probe_evaluates_100_times() -> None:
    runs = plan_probes(_settings())
    assert {r.max_steps for r in runs} == {400, 800, 1600}
    assert all(r.max_steps // r.eval_every == 100 for r in runs)


def _never() -> bool:
    return False


def _records(steps: np.ndarray, tau: np.ndarray, metric: np.ndarray) -> list[dict]:
    return [{"step": s, "tau": t, "val_metric": v} for s, t, v in zip(steps, tau, metric, strict=True)]


def test_a_probe_stops_after_its_peak_only_past_half_the_horizon() -> None:
    """A clear peak at tau 0.9 and a fall after it: at tau 3.9 (under half the horizon of 8) the
    probe goes on; at tau 7.4 it stops. Without early stop it never does."""
    v = np.r_[np.linspace(0.2, 0.9, 10), np.linspace(0.9, 0.5, 30)]
    steps = np.arange(40.0)
    settings = _settings(horizon=8.0)
    assert stop_reason(_records(steps, 0.1 * steps, v), settings, _never) is None
    assert stop_reason(_records(steps[:38], 0.2 * steps[:38], v[:38]), settings, _never) == "stopped"
    off = _settings(horizon=8.0, early_stop=False)
    assert stop_reason(_records(steps[:38], 0.2 * steps[:38], v[:38]), off, _never) is None
    assert stop_reason(_records(steps[:5], 0.2 * steps[:5], v[:5]), settings, lambda: True) == "interrupted"
