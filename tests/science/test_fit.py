"""fit.py against synthetic families with known c, alpha and lam_c (tests/synthetic.py)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import synthetic as S

from l2advisor.science.curves import Curve
from l2advisor.science.fit import (
    APPROX,
    CANNOT,
    FAILS,
    HOLDS,
    decide_verdict,
    fit_from_dict,
    fit_relations,
    fit_to_dict,
)

C, LAM_C = 3.0, 0.02  # the synthetic truth (S.curve defaults)
ALPHA_TOL = 0.15  # |alpha - truth| allowed
C_FACTOR = 1.3  # c within this factor of the truth
RUNG = 2.0  # the synthetic ladder factor: lam_c within one rung


@pytest.fixture(scope="module")
def clean():
    return fit_relations(S.family(noise=0.003))


def test_clean_family_recovered(clean):
    assert clean.verdict == HOLDS, clean.reasons
    assert abs(clean.alpha - 1.0) < ALPHA_TOL
    lo, hi = clean.alpha_interval
    assert lo <= clean.alpha <= hi
    assert C / C_FACTOR < clean.c < C * C_FACTOR
    assert clean.c_interval[0] <= clean.c <= clean.c_interval[1]
    assert LAM_C / RUNG <= clean.lam_c <= LAM_C * RUNG
    assert not clean.interior_max and math.isnan(clean.lam_star)
    assert clean.overparameterized is True
    assert clean.clock_is_lr_lam is None and math.isnan(clean.beta_lr)
    assert clean.lr == 0.1 and clean.lam_min_probed == pytest.approx(0.0025)
    assert any("alpha = 1.0" in r or "alpha = 0.9" in r for r in clean.reasons)


def test_c_is_the_pooled_top_not_single_run_tau_star(clean):
    # the first-within-tolerance tau* comes before the top of the curve; c is the top
    assert clean.tau_star_median < clean.c


def test_table(clean):
    rows = sorted(clean.table, key=lambda r: r.lam)
    assert [r.n_seeds for r in rows] == [2] * 6
    assert all(r.in_plateau == (r.lam <= clean.lam_c) for r in rows)
    big = rows[-1]  # lam 0.08: two rungs above lam_c -> lower peak
    assert big.peak_mean < rows[0].peak_mean - 0.03
    for r in rows:
        assert r.tau_star == pytest.approx(r.lr * r.lam * r.t_star, rel=1e-6)
    assert len(clean.collapsed_tau) == len(clean.collapsed_mean) == len(clean.collapsed_hi)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_recovery_across_noise_draws(seed):
    f = fit_relations(S.family(seeds=(10 * seed, 10 * seed + 1), noise=0.005))
    assert f.verdict == HOLDS
    assert abs(f.alpha - 1.0) < ALPHA_TOL
    assert C / C_FACTOR < f.c < C * C_FACTOR


def test_probes_above_the_plateau_on_a_learning_rate_clock_cannot_tell():
    # every probed lam over-regularizes (lam_c far below the ladder) and the time to the top does
    # not depend on lam (alpha = 0): lam matters, but these probes cannot see its clock
    f = fit_relations(S.family(lam_c=0.0005, alpha=0.0))
    assert f.verdict == CANNOT, f.reasons
    assert f.b < 0.25
    assert any("probe smaller lams" in r for r in f.reasons)


@pytest.mark.parametrize("train_top", [0.85, 0.95])
def test_training_accuracy_above_the_plateau_is_not_read_as_capacity(train_top):
    """Over-regularized probes that fit their training set only to 0.85 say "cannot tell" (below
    0.90 they said "does not hold"), and `overparameterized` is unknown, not False."""
    f = fit_relations(S.family(lam_c=0.0005, alpha=0.0, train_top=train_top))
    assert f.verdict == CANNOT, f.reasons
    assert f.overparameterized is None and f.train_acc < 0.99
    assert any(r.endswith("overparameterization not checked") for r in f.reasons)
    control = fit_relations(S.family(train_top=train_top))  # on the plateau, peaked: capacity is read
    assert control.overparameterized is False and control.verdict in (APPROX, FAILS), control.reasons


def test_windows_too_short_when_lam_changes_nothing_do_not_hold():
    short = [Curve(lam=cv.lam, lr=cv.lr, seed=cv.seed, steps=cv.steps[:30], tau=cv.tau[:30],
                   val_metric=cv.val_metric[:30], train_acc=cv.train_acc[:30],
                   train_loss=cv.train_loss[:30]) for cv in S.no_effect_family()]  # cut near the top
    assert fit_relations(short).verdict == FAILS


def test_the_same_timing_when_lam_changes_nothing_does_not_hold():
    f = fit_relations(S.family(lam_c=1.0, alpha=0.0))  # negative control: every lam on the plateau
    assert f.verdict == FAILS, f.reasons


def test_smaller_lams_worse_at_equal_steps_is_not_above_the_plateau():
    # an interior maximum inside the ladder: the smallest probed lam is clearly worse
    f = fit_relations(S.family(lam_c=0.02, lam_star=0.01, drop_below=0.03, alpha=0.0))
    assert f.verdict == FAILS, f.reasons


def test_alpha_half_is_not_holds():
    f = fit_relations(S.family(alpha=0.5))
    assert abs(f.alpha - 0.5) < ALPHA_TOL
    assert f.verdict == APPROX
    assert any("not within" in r for r in f.reasons)


def test_alpha_too_steep_does_not_hold():
    f = fit_relations(S.family(alpha=2.0))
    assert f.alpha > 1.6 and f.verdict == FAILS


def test_no_effect_family_does_not_hold():
    f = fit_relations(S.no_effect_family())
    assert f.verdict == FAILS
    assert abs(f.alpha) < 0.1
    assert any("no effect" in r for r in f.reasons)
    assert any("does not clearly set the time" in r for r in f.reasons)


def test_diverged_probes_excluded_and_said():
    fam = S.family()
    bad = S.curve(0.16, 0.1, 0, status="diverged")
    loss = np.asarray(bad.train_loss).copy()
    loss[30:] = np.nan
    blown = Curve(**{**bad.__dict__, "status": "finished", "seed": 1, "train_loss": loss})
    failed = S.curve(0.16, 0.1, 2, status="failed")
    f = fit_relations([*fam, bad, blown, failed])
    assert f.verdict == HOLDS
    assert len(f.excluded) == 3
    assert sum(e.reason.startswith("diverged") for e in f.excluded) == 2
    row = next(r for r in f.table if r.lam == 0.16)
    assert row.n_diverged == 2 and row.n_seeds == 0 and not row.in_plateau
    assert any("3 probe(s) excluded" in r and "diverged" in r for r in f.reasons)


def test_multi_lr_exponents_and_clock():
    f = fit_relations(S.family(lrs=(0.05, 0.1, 0.2)))
    assert abs(f.beta_lr - 1.0) < ALPHA_TOL and abs(f.beta_lam - 1.0) < ALPHA_TOL
    assert f.clock_is_lr_lam is True
    assert f.verdict == HOLDS
    assert any("clock lr*lam confirmed" in r for r in f.reasons)


def test_multi_lr_wrong_clock_detected():
    f = fit_relations(S.family(lrs=(0.05, 0.1, 0.2), beta_lr=0.3))
    assert abs(f.beta_lr - 0.3) < ALPHA_TOL and abs(f.beta_lam - 1.0) < ALPHA_TOL
    assert f.clock_is_lr_lam is False
    assert f.verdict != HOLDS
    assert any("clock is not lr*lam" in r for r in f.reasons)


def test_interior_maximum():
    f = fit_relations(S.family(lam_star=0.01, drop_below=0.02))
    assert f.interior_max and f.lam_star == pytest.approx(0.01)
    assert f.lam_best == pytest.approx(0.01)
    assert any("interior maximum" in r for r in f.reasons)


@pytest.mark.parametrize(("train_top", "verdict"), [(0.95, APPROX), (0.8, FAILS)])
def test_underfit_caps_the_verdict(train_top, verdict):
    f = fit_relations(S.family(train_top=train_top))
    assert f.verdict == verdict
    assert f.overparameterized is False
    assert any("training accuracy" in r for r in f.reasons)


def test_probes_too_short_to_see_the_top_on_the_tau_clock_cannot_tell():
    f = fit_relations(S.family(horizon=0.9))  # no probe reaches its peak (tau_peak = 3)
    assert f.verdict == CANNOT, f.reasons  # lam sets the time (b's CI above 0.25); c unknown
    assert f.b_interval[0] >= 0.25 and any("lower bound" in r for r in f.reasons)
    from l2advisor.science.c_reading import c_text

    assert f.c_bound == "lower" and c_text(f).startswith(f"c >= {f.c:.3g} (lower bound")  # not "c = 4 [4, 4]"
    clean = fit_relations(S.family())  # the control: a measured c keeps its interval
    assert clean.c_bound == "" and c_text(clean).startswith(f"c = {clean.c:.3g} [")
    assert fit_from_dict({k: v for k, v in fit_to_dict(f).items() if k != "c_bound"}).c_bound == ""  # old files


def _const(lam, seed=0, n=40, value=0.5, steps0=1):
    steps = np.arange(steps0, steps0 + n) * 10
    return Curve(lam=lam, lr=0.1, seed=seed, steps=steps, tau=0.1 * lam * steps,
                 val_metric=np.full(n, value), train_acc=np.full(n, value),
                 train_loss=np.full(n, 1.0))


WEIRD = {
    "empty": [],
    "all diverged": [S.curve(lam, 0.1, 0, status="diverged") for lam in S.ladder()],
    "nan everywhere": [Curve(lam=lam, lr=0.1, seed=0, steps=np.arange(30), tau=np.full(30, np.nan),
                             val_metric=np.full(30, np.nan), train_acc=np.full(30, np.nan),
                             train_loss=np.full(30, np.nan)) for lam in S.ladder()],
    "single lam": [S.curve(0.01, 0.1, s) for s in range(4)],
    "constant": [_const(lam, s) for lam in S.ladder() for s in (0, 1)],
    "step zero": [_const(lam, steps0=0) for lam in S.ladder()],
    "lam zero": [S.curve(0.01, 0.1, 0), _const(0.0)],
    "empty arrays": [Curve(0.01, 0.1, 0, *(np.array([]),) * 5)],
    "two lams": [S.curve(lam, 0.1, 0) for lam in (0.02, 0.01)],
}


@pytest.mark.parametrize("name", sorted(WEIRD))
def test_weird_input_never_raises(name):
    f = fit_relations(WEIRD[name])
    assert f.verdict == FAILS
    assert f.reasons and not any("internal error" in r for r in f.reasons)
    json.dumps(fit_to_dict(f), allow_nan=False)


def test_lam_zero_is_excluded_with_reason():
    f = fit_relations(WEIRD["lam zero"])
    assert any("no tau clock" in e.reason for e in f.excluded)


def test_round_trip(clean):
    d = fit_to_dict(clean)
    text = json.dumps(d, allow_nan=False)
    assert d["schema_version"] == 1
    back = fit_from_dict(json.loads(text))
    assert fit_to_dict(back) == d
    assert back.table == clean.table and back.excluded == clean.excluded
    empty = fit_to_dict(fit_relations([]))
    assert fit_to_dict(fit_from_dict(empty)) == empty
    with pytest.raises(ValueError, match="missing key"):
        fit_from_dict({k: v for k, v in d.items() if k != "alpha"})


def test_deterministic():
    fam = S.family()
    assert fit_to_dict(fit_relations(fam, seed=3)) == fit_to_dict(fit_relations(fam, seed=3))


# ---- verdict thresholds -----------------------------------------------------------------


def _f(b, ci, train_acc=1.0, clock=None, steps_over_tau=5.0):
    return dict(b=b, b_interval=ci, steps_over_tau=steps_over_tau, alpha=b, c0=1.0,
                train_acc=train_acc, clock_is_lr_lam=clock, beta_lr=1.0, beta_lam=0.5,
                plateau_threshold=0.005)


@pytest.mark.parametrize(("f", "n", "expected"), [
    (_f(1.0, (0.9, 1.1)), 5, HOLDS),
    (_f(0.76, (0.55, 0.95)), 5, HOLDS),
    (_f(1.0, (0.4, 1.6)), 5, APPROX),  # right estimate, too uncertain
    (_f(0.7, (0.6, 0.8)), 5, APPROX),
    (_f(1.3, (1.2, 1.4)), 5, APPROX),
    (_f(0.45, (0.35, 0.55)), 5, APPROX),
    (_f(0.35, (0.3, 0.4)), 5, FAILS),  # outside [0.4, 1.6]
    (_f(1.7, (1.6, 1.8)), 5, FAILS),
    (_f(0.25, (0.2, 0.3)), 5, FAILS),  # lam barely sets the time
    (_f(0.5, (-0.1, 1.0)), 5, FAILS),  # CI reaches 0
    (_f(1.0, (0.9, 1.1), steps_over_tau=1.5), 5, APPROX),  # tau not clearly better than steps
    (_f(0.6, (0.45, 0.75), steps_over_tau=0.3), 5, FAILS),  # steps clearly better than tau
    (_f(1.0, (0.9, 1.1)), 2, FAILS),  # too few lams
    (_f(1.0, (0.9, 1.1), train_acc=0.95), 5, APPROX),
    (_f(1.0, (0.9, 1.1), train_acc=0.85), 5, FAILS),
    (_f(1.0, (0.9, 1.1), train_acc=float("nan")), 5, HOLDS),
    (_f(1.0, (0.9, 1.1), clock=False), 5, APPROX),
    (_f(1.0, (0.9, 1.1), clock=True), 5, HOLDS),
])
def test_verdict_thresholds(f, n, expected):
    assert decide_verdict(f, n, no_effect=False, edge="")[0] == expected


def test_the_reasons_say_what_their_numbers_say():
    # an interval that reaches below the bound is not "b is below"; a ratio under 1 favours steps
    _, why = decide_verdict(_f(0.52, (0.16, 0.89), steps_over_tau=5.0), 5, no_effect=False, edge="")
    assert any("interval [0.16, 0.89] reaches below 0.25" in r for r in why), why
    assert not any("b = 0.52 is below" in r for r in why)
    _, why = decide_verdict(_f(0.1, (0.0, 0.2), steps_over_tau=5.0), 5, no_effect=False, edge="")
    assert any("b = 0.10 is below 0.25" in r for r in why), why
    _, why = decide_verdict(_f(0.1, (0.0, 0.2), steps_over_tau=0.125), 5, no_effect=False, edge="")
    assert any("8x better on steps than on tau" in r for r in why), why
    _, why = decide_verdict(_f(1.0, (0.9, 1.1), steps_over_tau=5.0), 5, no_effect=False, edge="")
    assert any("5x better on tau than on steps" in r for r in why), why


@pytest.mark.parametrize(("n", "said"), [
    (0, "no lr*lam value has curves that rise"),
    (1, "only 1 lr*lam value has curves that rise"),
    (2, "only 2 lr*lam values have curves that rise")])
def test_too_few_clocks_are_counted_in_words(n, said):
    verdict, why = decide_verdict(_f(1.0, (0.9, 1.1)), n, no_effect=False, edge="")
    assert verdict == FAILS and why[0].startswith(said), why
    assert "value(s)" not in why[0]


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_clocks_above_the_plateau_cannot_tell(n):
    # the larger lams learn too little to rise through the smallest's levels (over-regularized):
    # "probe smaller lams", not "does not hold"; the same count without that evidence still fails
    verdict, why = decide_verdict({**_f(float("nan"), (float("nan"),) * 2), "above_plateau": True}, n,
                                  no_effect=False, edge="")
    assert verdict == CANNOT and "probe smaller lams" in why[-1], why
    verdict, _ = decide_verdict({**_f(float("nan"), (float("nan"),) * 2), "above_plateau": False}, n,
                                no_effect=False, edge="")
    assert verdict == FAILS


def test_verdict_edge_caps():
    v, why = decide_verdict(_f(1.0, (0.9, 1.1)), 5, no_effect=False, edge="c is a lower bound")
    assert v == APPROX and "c is a lower bound" in why


def test_without_bootstrap_no_holds():
    f = fit_relations(S.family(), n_bootstrap=0)
    assert f.verdict == APPROX and abs(f.alpha - 1.0) < ALPHA_TOL
    assert all(math.isnan(v) for v in f.alpha_interval)


def test_one_seed_per_lam_caps_holds_and_still_refuses_a_null():
    one = fit_relations(S.family(noise=0.003, seeds=(0,)))
    assert one.verdict == APPROX and any("one seed per lam" in r for r in one.reasons)
    assert C / C_FACTOR < one.c < C * C_FACTOR
    null = fit_relations(S.no_effect_family(seeds=(0,)))  # negative control under the same plan
    assert null.verdict == FAILS, null.reasons


def test_an_exception_in_the_fit_propagates(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the fit is raised, never dressed up as a "does not hold" verdict."""
    import l2advisor.science.screen as screen_module  # where each probe is analysed

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug planted by the test")

    assert fit_relations(S.family()).n_usable > 0  # the same probes fit without the bug
    monkeypatch.setattr(screen_module, "analyze_curve", broken)
    with pytest.raises(ZeroDivisionError, match="planted"):
        fit_relations(S.family())


def test_nothing_learned_is_said_first():
    """Random labels (the README's model file) or an lr so large the loss climbs: the validation
    metric never leaves chance. The verdict may be anything; the first reason must say so."""
    import dataclasses

    rng = np.random.default_rng(0)
    flat = [dataclasses.replace(cv, val_metric=0.1 + 0.004 * rng.standard_normal(len(cv.steps)))
            for cv in S.no_effect_family()]
    for cv in flat[::2]:  # seed 0 starts below chance and climbs to it: still nothing learned
        cv.val_metric[0] = 0.036
    from l2advisor.science.advise import advise

    f = fit_relations(flat)
    assert f.reasons[0].startswith("nothing was learned")
    advice = advise(f, 20_000)
    assert "nothing was learned" in advice.reasons[0]  # quoted in the advice's first line too
    assert not any(r.startswith("nothing was learned") for r in fit_relations(S.no_effect_family()).reasons)
    assert not any(r.startswith("nothing was learned") for r in fit_relations(S.family()).reasons)


def test_an_unknown_interval_is_said_not_printed_as_nan():
    nan = float("nan")
    for f in (_f(1.0, (nan, nan)), _f(1.0, (nan, nan), steps_over_tau=1.5)):  # the first line; "not within"
        _, why = decide_verdict(f, 5, no_effect=False, edge="")
        assert not any("nan" in r for r in why), why
        assert any("(no interval)" in r for r in why), why
    _, why = decide_verdict(_f(1.0, (0.9, nan)), 5, no_effect=False, edge="")  # one end unknown: no interval
    assert any("b = 1.00 (no interval)" in r for r in why), why
    _, why = decide_verdict(_f(1.0, (0.9, 1.1)), 5, no_effect=False, edge="")  # the control: a known interval
    assert any("b = 1.00 [0.90, 1.10]" in r for r in why) and not any("no interval" in r for r in why), why


def test_the_fit_does_not_depend_on_the_order_of_the_curves():
    # parallel jobs write probes as they finish: the same probes in another order, the same fit
    curves = S.family()
    shuffled = [curves[i] for i in np.random.default_rng(1).permutation(len(curves))]
    assert [c.seed for c in shuffled] != [c.seed for c in curves] or [c.lam for c in shuffled] != [c.lam for c in curves]
    assert json.dumps(fit_to_dict(fit_relations(shuffled)), default=str) == json.dumps(
        fit_to_dict(fit_relations(curves)), default=str)


def test_a_b_that_rounds_to_zero_reads_as_the_panel_writes_it():
    # the panel printed b=0.00 above reasons that said b = -0.00 [-0.01, 0.00]
    _, why = decide_verdict(_f(-0.001, (-0.004, 0.002), steps_over_tau=0.5), 5, no_effect=False, edge="")
    text = " ".join(why)
    assert "b = 0.00 [0.00, 0.00]" in text, why
    assert "-0.00" not in text
    _, why = decide_verdict(_f(-0.3, (-0.5, -0.1), steps_over_tau=0.5), 5, no_effect=False, edge="")
    assert "b = -0.30 [-0.50, -0.10]" in " ".join(why), why  # a real negative keeps its sign


def _never_rising(lam: float, seed: int, reached: float) -> Curve:
    """A probe of the plan's window (tau = 4 at lr 0.1) that climbs only to `reached`, early, and
    stays there: an over-regularized model that barely learns."""
    steps = np.linspace(0, 4 / (0.1 * lam), 41).round().astype(int)
    rng = np.random.default_rng([seed, int(lam * 1e4)])
    val = reached - (reached - 0.1) * np.exp(-steps / 20.0) + rng.normal(0, 0.003, steps.size)
    acc = np.clip(val + 0.02, 0, 1)
    return Curve(lam=lam, lr=0.1, seed=seed, steps=steps, tau=0.1 * lam * steps, val_metric=val,
                 train_acc=acc, train_loss=-np.log(acc))


@pytest.mark.parametrize(("reached", "verdict"), [((0.1, 0.6), CANNOT), ((0.9, 0.9), FAILS)])
def test_larger_lams_that_never_rise_make_it_cannot_tell(reached, verdict):
    # the plan's 3 rungs (lr*lam 0.01, 0.005, 0.0025); the smallest lam climbs to 0.9. When the two
    # larger ones stay far below it (they never rise through its levels: fewer than 3 clocks) the
    # probes sit above the plateau: "cannot tell: probe smaller lams", as on a ViT under AdamW.
    # When they reach the same top at once (lam changes nothing) it stays "does not hold".
    curves = [_never_rising(lam, s, top) for lam, top in zip((0.1, 0.05), reached, strict=True) for s in (0, 1)]
    curves += [_never_rising(0.025, s, 0.9) for s in (0, 1)]
    f = fit_relations(curves)
    assert f.verdict == verdict, f.reasons
    assert any("probe smaller lams" in r for r in f.reasons) == (verdict == CANNOT)
