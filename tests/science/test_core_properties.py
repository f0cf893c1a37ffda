"""Property tests of the pure core: nothing raises on odd input; no-effect -> does not hold."""

from __future__ import annotations

import json
import os

import numpy as np
import synthetic as S
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from l2advisor.science.advise import advice_to_dict, advise
from l2advisor.science.autol2_setup import autol2_config
from l2advisor.science.curves import Curve, analyze_curve, has_peaked, smooth
from l2advisor.science.fit import FAILS, VERDICTS, fit_relations, fit_to_dict

# L2A_EXAMPLES=600 searches harder (about a minute); the default keeps the suite fast.
FAST = settings(max_examples=int(os.environ.get("L2A_EXAMPLES", "40")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])
floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
metric = st.one_of(st.floats(0, 1), st.just(float("nan")), floats)


@st.composite
def curves(draw):
    n = draw(st.integers(0, 40))
    lam = draw(st.one_of(st.sampled_from([0.08, 0.04, 0.02, 0.01, 0.005, 0.0]), floats))
    lr = draw(st.one_of(st.sampled_from([0.05, 0.1]), floats))
    steps = np.sort(np.asarray(draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n))))
    arr = st.lists(metric, min_size=n, max_size=n)
    with np.errstate(all="ignore"):
        tau = lr * lam * steps if draw(st.booleans()) else np.asarray(draw(arr), float)
    status = draw(st.sampled_from(["finished", "stopped", "diverged", "failed", "running"]))
    return Curve(lam=lam, lr=lr, seed=draw(st.integers(0, 3)), steps=steps, tau=tau,
                 val_metric=np.asarray(draw(arr), float), train_acc=np.asarray(draw(arr), float),
                 train_loss=np.asarray(draw(arr), float), status=status)


@FAST
@given(st.lists(curves(), max_size=8))
def test_fit_never_raises(family):
    f = fit_relations(family, n_bootstrap=20)
    assert f.verdict in VERDICTS
    assert not any("internal error" in r for r in f.reasons), f.reasons
    json.dumps(fit_to_dict(f), allow_nan=False)
    if np.isfinite(f.lr):
        a = advise(f, 10_000)
        json.dumps(advice_to_dict(a), allow_nan=False)
        assert np.isfinite(a.weight_decay) and a.weight_decay > 0
        autol2_config(f, 10_000).to_dict()


@FAST
@given(st.lists(curves(), min_size=1, max_size=1))
def test_analyze_curve_never_raises_and_keeps_its_invariants(one):
    curve = one[0]
    m = analyze_curve(curve)
    arrays = (curve.steps, curve.tau, curve.val_metric, curve.train_acc, curve.train_loss)
    n = min(np.asarray(a).size for a in arrays)
    assert m.n_points == n  # the evaluations every array has
    steps = np.asarray(curve.steps, dtype=float)[:n]
    if np.isfinite(m.peak_metric):  # t*: the first evaluation within tolerance of the peak, at or before it
        assert m.peak_step in steps and m.t_star in steps and m.t_star <= m.peak_step
    else:  # nothing finite to peak on: no peak, no t*, never "peaked"
        assert np.isnan(m.t_star) and not m.peaked
    if m.peaked:  # clearly past the top: evaluations after it
        assert m.peak_step < steps[-1] or np.sum(steps == m.peak_step) > 1


@FAST
@given(lam_max=st.floats(0.01, 0.5), n=st.integers(3, 7), factor=st.floats(1.5, 4.0),
       noise=st.floats(0.0, 0.01), n_seeds=st.integers(1, 3))
def test_no_effect_family_does_not_hold(lam_max, n, factor, noise, n_seeds):
    fam = S.no_effect_family(S.ladder(lam_max, n, factor), seeds=tuple(range(n_seeds)),
                             noise=noise)
    assert fit_relations(fam, n_bootstrap=50).verdict == FAILS


@FAST
@given(st.lists(st.floats(-1e3, 1e3), max_size=60), st.integers(1, 15))
def test_smooth_shape_and_range(values, window):
    v = np.asarray(values, float)
    s = smooth(v, window)
    assert s.shape == v.shape
    if v.size:
        assert np.all(s >= v.min() - 1e-9) and np.all(s <= v.max() + 1e-9)


@FAST
@given(st.lists(st.floats(1e-4, 1.0), min_size=1, max_size=120))
def test_has_peaked_never_on_rising_curve(increments):
    v = np.cumsum(increments)  # strictly increasing
    steps = np.arange(v.size) * 10
    assert not has_peaked(steps, steps * 1e-3, v)


@FAST
@given(st.lists(st.floats(0, 1), max_size=14))
def test_has_peaked_never_early(values):
    steps = np.arange(len(values))
    assert not has_peaked(steps, steps * 0.1, np.asarray(values, float))


@FAST
@given(c=st.floats(0.3, 10), alpha=st.floats(0.0, 2.0), lam_c=st.floats(0.001, 0.2),
       noise=st.floats(0.0, 0.02), n_lams=st.integers(1, 7), seeds=st.integers(1, 3),
       lrs=st.sampled_from([(0.1,), (0.05, 0.2)]), horizon=st.floats(0.5, 6.0),
       budget=st.integers(10, 10**7), n_diverged=st.integers(0, 3))
def test_synthetic_families_fit_and_advise(c, alpha, lam_c, noise, n_lams, seeds, lrs, horizon,
                                           budget, n_diverged):
    fam = S.family(S.ladder(0.08, n_lams), lrs=lrs, seeds=tuple(range(seeds)), c=c,
                   alpha=alpha, lam_c=lam_c, noise=noise, horizon=horizon, n_evals=40)
    fam += [S.curve(0.16, lrs[0], k, status="diverged") for k in range(n_diverged)]
    f = fit_relations(fam, n_bootstrap=30)
    assert f.verdict in VERDICTS and not any("internal error" in r for r in f.reasons)
    assert len(f.excluded) == n_diverged
    a = advise(f, budget)
    assert np.isfinite(a.weight_decay) and a.weight_decay > 0
    if f.verdict != FAILS:
        assert a.weight_decay <= f.lam_c * (1 + 1e-9)
        if f.interior_max:
            assert a.weight_decay >= f.lam_star * (1 - 1e-9)
        lo, hi = a.interval
        assert lo <= a.weight_decay * (1 + 1e-9) and a.weight_decay <= hi * (1 + 1e-9)


def test_pure_core_never_imports_torch():
    import ast
    import pathlib

    import l2advisor

    root = pathlib.Path(l2advisor.__file__).parent / "science"
    names = sorted(p.name for p in root.glob("*.py"))
    assert {"curves.py", "fit.py", "advise.py"} <= set(names)
    for name in names:
        tree = ast.parse((root / name).read_text())
        mods = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        mods |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(m.split(".")[0] == "torch" for m in mods), name


def test_a_peak_past_1e154_does_not_overflow_the_plateau_threshold() -> None:
    """Hypothesis found it in CI: the plateau's threshold squared a peak of 2.9e154 as a Python float,
    which raises OverflowError (numpy would give inf); the fit must answer, not raise."""
    huge = Curve(lam=0.08, lr=0.05, seed=0, steps=np.array([0, 0, 0]), tau=np.array([1.0, np.nan, np.nan]),
                 val_metric=np.array([1.0, 0.0, 5.71957527e154]), train_acc=np.array([1.0, np.nan, np.nan]),
                 train_loss=np.array([np.nan, 1.0, 1.0]))
    empty = Curve(lam=0.08, lr=0.05, seed=0, steps=np.array([0]), tau=np.array([2.2e-308]),
                  val_metric=np.array([np.nan]), train_acc=np.array([np.nan]), train_loss=np.array([1.0]))
    assert fit_relations([empty, huge], n_bootstrap=20).verdict in VERDICTS
