"""advise.py: the budget formula, its clipping, other lrs, the fallback, dicts, AutoL2."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import synthetic as S

from l2advisor.science.advise import (
    DEFAULT_WD,
    advice_from_dict,
    advice_to_dict,
    advise,
    rules_of_thumb,
)
from l2advisor.science.autol2_setup import AUTOL2_DECAY, AUTOL2_LAM0_SHRINK, autol2_config
from l2advisor.science.cannot_tell import CANNOT_C
from l2advisor.science.fit import APPROX, CANNOT, FAILS, HOLDS, fit_relations

KEYS = {"schema_version", "weight_decay", "interval", "lr", "budget_steps", "verdict",
        "predicted_metric", "predicted_peak_step", "extrapolated", "c", "c_interval", "alpha",
        "reasons", "rules_of_thumb"}


@pytest.fixture(scope="module")
def clean():
    return fit_relations(S.family())  # c = 3, lam_c = 0.02, lams 0.0025..0.08, lr 0.1


@pytest.fixture(scope="module")
def interior():
    return fit_relations(S.family(lam_star=0.01, drop_below=0.02))


def test_formula_inside_probed_range(clean):
    a = advise(clean, 3000)  # c/(lr*T) = 3/(0.1*3000) = 0.01: a probed, plateau lam
    assert a.weight_decay == pytest.approx(0.01, rel=0.15)
    assert a.weight_decay == pytest.approx(clean.c / (0.1 * 3000))
    assert a.interval[0] <= a.weight_decay <= a.interval[1]
    assert a.predicted_peak_step == pytest.approx(3000)
    assert a.predicted_metric == pytest.approx(0.95, abs=0.01)
    assert not a.extrapolated and a.verdict == HOLDS and a.lr == 0.1


def test_long_budget_extrapolates(clean):
    a = advise(clean, 100_000)
    assert a.weight_decay < clean.lam_min_probed and a.extrapolated
    # the nearest measurement: the smallest probed lam's mean peak (on the plateau), not the
    # plateau's mean, which larger, slightly lower lams pull down
    smallest = min((r for r in clean.table if r.n_seeds), key=lambda r: r.lam)
    assert smallest.in_plateau and a.predicted_metric == pytest.approx(smallest.peak_mean)
    assert 0.1 * a.weight_decay * 100_000 == pytest.approx(clean.c)  # the tau clock
    assert any("extrapolated" in r for r in a.reasons)


def test_short_budget_clips_to_plateau_edge(clean):
    a = advise(clean, 300)  # c/(lr*T) = 0.1 > lam_c = 0.02
    assert a.weight_decay == pytest.approx(clean.lam_c)
    assert a.unclipped > clean.lam_c
    assert a.predicted_peak_step > 300  # the peak cannot arrive within this budget
    assert a.predicted_metric < clean.plateau_level - 0.05  # read off the pooled curve
    # the plateau's edge lies between lam_c and the next probed lam, clearly lower in its own window (review
    # 48: a transformer's best lam, 2.4, lay between lam_c = 1.67 and 3.33): the interval spans that gap
    above = min(r.lam for r in clean.table if r.lam > clean.lam_c * 1.001 and r.n_seeds)
    assert a.interval == (pytest.approx(clean.lam_c), pytest.approx(above))
    assert any("clipped" in r for r in a.reasons)
    assert any(r.startswith(f"the interval reaches above the plateau edge lam_c = {clean.lam_c:.3g}, up to "
                            f"{above:.3g}: the edge lies between lam_c and {above:.3g}, the next probed lam")
               for r in a.reasons), a.reasons
    # at another lr the top is translated on the lr*lam clock, and the probed lam named as probed (review 49)
    half = advise(clean, 600, lr=clean.lr / 2)
    assert any(f"the edge lies between lam_c and {2 * above:.3g} ({above:.3g} at the probe lr, on the lr*lam clock)"
               in r for r in half.reasons), half.reasons


def test_a_run_shorter_than_the_probes_curve_predicts_no_metric_and_says_why(clean):
    # 20 steps at the plateau edge end at tau = 0.1*0.02*20 = 0.04, before the probes' first
    # evaluation on that clock: nothing measured says how far such a run gets
    short = advise(clean, 20)
    assert math.isnan(short.predicted_metric) and math.isfinite(short.predicted_peak_step)
    assert any(r.startswith("no metric is predicted: a 20-step run ends before") for r in short.reasons)
    assert short.ends_before_curve  # and it survives advice.json (NaN fields: compared as dicts)
    assert advice_from_dict(json.loads(json.dumps(advice_to_dict(short)))).ends_before_curve
    longer = advise(clean, 200)  # inside the curve: a metric, below the top, and no such reason
    assert math.isfinite(longer.predicted_metric) and not longer.ends_before_curve
    assert not any(r.startswith("no metric is predicted") for r in longer.reasons)
    older = advice_to_dict(short)
    del older["ends_before_curve"]  # an advice.json written before the field existed
    assert advice_from_dict(older).ends_before_curve is False


def test_interior_maximum_floors_the_advice(interior):
    a = advise(interior, 1_000_000)
    assert a.weight_decay == pytest.approx(interior.lam_star)
    assert not a.extrapolated
    assert any("interior maximum" in r for r in a.reasons)


def test_other_lr_goes_through_the_clock(clean):
    a1, a2 = advise(clean, 3000), advise(clean, 3000, lr=0.2)
    assert a2.lr == 0.2
    assert a2.weight_decay == pytest.approx(a1.weight_decay / 2)  # same lr*lam
    short = advise(clean, 300, lr=0.2)
    assert short.weight_decay == pytest.approx(clean.lam_c / 2)  # plateau edge moves too
    assert any("clock" in r for r in a2.reasons)
    assert a2.rules_of_thumb == rules_of_thumb(0.2, 3000)


def test_extrapolated_is_read_on_the_clock_at_another_lr(clean):
    """At twice the probe lr the advised lam halves; it is inside the probed range of lr*lam
    (audit 40b: comparing lam alone called it extrapolated below the smallest probed lam)."""
    smallest = min(S.ladder())  # 0.0025 at lr 0.1
    budget = round(clean.c / (0.1 * 1.5 * smallest))  # lr*lam = 1.5x the smallest probe's at lr 0.1
    at_probe_lr, doubled = advise(clean, budget), advise(clean, budget, lr=0.2)
    assert doubled.weight_decay == pytest.approx(0.75 * smallest, rel=1e-3)  # below it in lam ...
    assert not at_probe_lr.extrapolated and not doubled.extrapolated  # ... not in lr*lam
    assert doubled.predicted_metric == pytest.approx(at_probe_lr.predicted_metric)
    assert not any("extrapolated below" in r for r in doubled.reasons)


def test_a_prediction_from_a_smallest_probe_still_rising_says_the_run_may_climb_above_it():
    """Review 42's transformer: predicted 0.858 from the smallest probe's short window, where it had
    not peaked; the advised run reached 0.9975."""
    f = dataclasses.replace(fit_relations(S.family(lam_c=0.0005, alpha=0.0)), c=0.8, lam_c=1.0)
    smallest = min((r for r in f.table if r.n_seeds), key=lambda r: r.lam)
    assert f.verdict == CANNOT and smallest.n_peaked == smallest.n_seeds
    said = " ".join(advise(f, 20000).reasons)
    assert "had not clearly peaked when their windows ended" not in said  # the control: it peaked
    rising = dataclasses.replace(smallest, n_peaked=0)
    f = dataclasses.replace(f, table=tuple(rising if r is smallest else r for r in f.table))
    said = " ".join(advise(f, 20000).reasons)
    assert f"{smallest.n_seeds} of its {smallest.n_seeds} probes had not clearly peaked when their windows ended, " \
        "so a run may climb well above it" in said


def test_approximate_verdict_warns_about_alpha():
    f = fit_relations(S.family(alpha=0.5))
    a = advise(f, 3000)
    assert a.verdict == APPROX
    assert any("alpha" in r and "approximate" in r for r in a.reasons)
    cannot = advise(dataclasses.replace(f, verdict=CANNOT), 3000)  # borrows its c: no formula reads alpha
    assert not any("alpha" in r for r in cannot.reasons), cannot.reasons


def test_does_not_hold_gives_a_measured_lam():
    f = fit_relations(S.no_effect_family())
    a = advise(f, 20_000)
    assert a.verdict == FAILS
    assert a.weight_decay in {r.lam for r in f.table}  # every lam ties here: the middle (test_equal_steps.py)
    assert math.isnan(a.unclipped) and not a.extrapolated
    assert any("do not hold" in r and "not c/(lr*T)" in r for r in a.reasons)
    assert a.interval[0] <= a.weight_decay <= a.interval[1]


def test_does_not_hold_at_the_ladders_foot_reaches_down_to_zero():
    """The best lam at equal steps is the smallest probed: nothing below it was seen, so the
    interval must not end there (it was [lam, lam] on a real model whose best lam was 0)."""
    curves = S.no_effect_family()
    foot = min(cv.lam for cv in curves)
    lifted = [dataclasses.replace(cv, val_metric=cv.val_metric + (0.05 if cv.lam == foot else 0.0))
              for cv in curves]  # the smallest lam better by 5 points all along
    f = dataclasses.replace(fit_relations(lifted), verdict=FAILS)  # (the fit itself says "cannot tell")
    a = advise(f, 20_000)
    assert a.verdict == FAILS and a.weight_decay == foot
    above = sorted({cv.lam for cv in curves})[1]  # and up to the next probed lam (review 42: not a point)
    assert a.interval == (0.0, above) and any("reaches 0" in r for r in a.reasons)
    middle = sorted({cv.lam for cv in curves})[2]  # the control: the best inside the ladder
    inside = [dataclasses.replace(cv, val_metric=cv.val_metric + (0.05 if cv.lam == middle else 0.0))
              for cv in curves]
    control = advise(dataclasses.replace(fit_relations(inside), verdict=FAILS), 20_000)
    assert control.weight_decay == middle and control.interval[0] > 0
    assert not any("reaches 0" in r for r in control.reasons)


def test_cannot_tell_gives_the_papers_clock_with_a_wider_interval():
    f = fit_relations(S.family(lam_c=0.0005, alpha=0.0))  # above the plateau, lr-driven timing
    a = advise(f, 20000)
    assert a.verdict == CANNOT
    c = max(CANNOT_C, f.c)  # the probes' c, above the plateau, is only a lower bound
    assert a.c == c and a.weight_decay == pytest.approx(min(c / (0.1 * 20000), f.lam_c))
    assert "NOT confirmed" in a.reasons[0]
    from_c_alone = [ci / (0.1 * 20000) for ci in a.c_interval]  # b unknown: wider than c's spread
    assert a.interval[0] < min(from_c_alone) * 0.9 and a.interval[1] >= min(max(from_c_alone), f.lam_c)


def test_cannot_tell_takes_the_typical_c_on_the_momentum_clock():
    f = dataclasses.replace(fit_relations(S.family(lam_c=0.0005, alpha=0.0)), c=0.8, lam_c=1.0)
    assert f.verdict == CANNOT
    assert advise(f, 20000).weight_decay == pytest.approx(CANNOT_C / (0.1 * 20000))
    # momentum 0.9: the typical c in lr*lam*T is 10x smaller (0.4), so the measured 0.8 wins
    assert advise(f, 20000, momentum=0.9).weight_decay == pytest.approx(0.8 / (0.1 * 20000))
    larger = dataclasses.replace(f, c=6.0)  # the pooled curve still best at tau 6: a lower bound above 4
    assert advise(larger, 20000).weight_decay == pytest.approx(6.0 / (0.1 * 20000))
    with pytest.raises(ValueError, match="momentum"):
        advise(f, 20000, momentum=1.0)


def test_momentum_leaves_a_measured_c_alone(clean):
    """Negative control: where the probes measured c, the typical value plays no part."""
    assert clean.verdict in (HOLDS, APPROX)
    assert advise(clean, 20000, momentum=0.9).weight_decay == advise(clean, 20000).weight_decay


def test_nothing_measured_falls_back_to_default():
    f = fit_relations([])
    a = advise(f, 1000, lr=0.1)
    assert a.weight_decay == DEFAULT_WD and a.verdict == FAILS
    with pytest.raises(ValueError, match="pass lr"):
        advise(f, 1000)


@pytest.mark.parametrize(("budget", "lr"), [(0, None), (-5, None), (1000, -0.1),
                                            (float("nan"), None)])
def test_bad_arguments(clean, budget, lr):
    with pytest.raises(ValueError):
        advise(clean, budget, lr)


def test_rules_of_thumb():
    r = rules_of_thumb(0.1, 1000)
    assert sorted(r.values()) == pytest.approx(sorted([0.1, 0.01, 5e-4]))
    assert all(isinstance(k, str) and k for k in r)


@pytest.mark.parametrize("budget", [300, 3000, 100_000])
def test_advice_dict_round_trip(clean, budget):
    a = advise(clean, budget)
    d = advice_to_dict(a)
    assert KEYS <= set(d) and d["schema_version"] == 1
    text = json.dumps(d, allow_nan=False)
    assert advice_to_dict(advice_from_dict(json.loads(text))) == d
    assert isinstance(d["interval"], list) and len(d["interval"]) == 2


def test_advice_dict_nan_becomes_none():
    d = advice_to_dict(advise(fit_relations([]), 1000, lr=0.1))
    assert d["predicted_metric"] is None and d["interval"] == [None, None]
    json.dumps(d, allow_nan=False)
    assert math.isnan(advice_from_dict(d).predicted_metric)


def test_autol2_config(clean):
    """lam0: the plateau edge lam_c = 0.02 (lr*lam = 0.002), capped at lr*lam/(1-momentum) = 0.001."""
    cfg = autol2_config(clean, 100_000)
    adv = advise(clean, 100_000)
    assert cfg.lam0 == pytest.approx(AUTOL2_LAM0_SHRINK / 0.1) and cfg.lam0 < clean.lam_c
    assert cfg.refractory_tau == pytest.approx(clean.c / 4)
    assert cfg.lam_min == pytest.approx(adv.weight_decay / AUTOL2_DECAY) and cfg.decay == AUTOL2_DECAY
    assert cfg.lam_min < cfg.lam0
    d = cfg.to_dict()
    json.dumps(d, allow_nan=False)
    assert type(cfg).from_dict(d) == cfg
    assert autol2_config(clean, 100_000, lr=0.2).lam0 == pytest.approx(AUTOL2_LAM0_SHRINK / 0.2)
    # momentum 0.9: the cap is 10x lower on the lr*lam clock
    assert autol2_config(clean, 100_000, momentum=0.9).lam0 == pytest.approx(AUTOL2_LAM0_SHRINK * 0.1 / 0.1)


def test_autol2_starts_at_the_plateau_edge_when_it_is_below_the_cap(clean):
    """Negative control of the cap: a plateau edge below it is used as it is."""
    low = dataclasses.replace(clean, lam_c=0.005)  # lr*lam_c = 0.0005, below the cap's 0.001
    assert autol2_config(low, 100_000).lam0 == pytest.approx(0.005)
    assert any("largest lam inside the plateau" in r for r in autol2_config(low, 100_000).reasons)


def test_autol2_when_relations_fail():
    f = fit_relations(S.no_effect_family())
    cfg = autol2_config(f, 20_000)
    chosen = advise(f, 20_000).weight_decay  # the measured lam the advice chose (equal_steps.py)
    assert chosen * f.lr <= AUTOL2_LAM0_SHRINK  # under the cap: used as it is
    assert cfg.lam0 == chosen and cfg.verdict == FAILS
    assert cfg.lam_min == pytest.approx(cfg.lam0 / AUTOL2_DECAY)
    assert any("do not hold" in r and "measured lam" in r for r in cfg.reasons)


def test_autol2_when_relations_fail_starts_at_the_measured_advice_even_above_the_cap():
    """AutoL2 only decays: started at the cap below the measured advice it can never reach it. A text
    classifier (AdamW, advice 1.25, cap 0.5) peaked at 0.833 / 0.845 from the cap against 0.887 / 0.895
    at the constant advice (docs/suite-history.md, session 29)."""
    f = fit_relations(S.no_effect_family())
    cfg = autol2_config(f, 20_000, lr=0.1 * 40)  # the same probes advised at 40x the lr: the advice is above the cap
    chosen = advise(f, 20_000, lr=4.0).weight_decay
    assert cfg.verdict == FAILS and chosen * 4.0 > AUTOL2_LAM0_SHRINK
    assert cfg.lam0 == chosen and cfg.lam_min == pytest.approx(chosen / AUTOL2_DECAY)
    assert any("starts no lower than the advice" in r for r in cfg.reasons)


def test_autol2_starts_at_a_measured_budget_advice_above_the_cap(clean):
    """A short budget's advice above the cap (lr*lam > 0.001) is where AutoL2 starts, up to the plateau
    edge; a long budget's below it keeps the cap (test_autol2_config)."""
    adv = advise(clean, 2_000)
    assert adv.weight_decay * clean.lr > AUTOL2_LAM0_SHRINK and adv.weight_decay < clean.lam_c
    cfg = autol2_config(clean, 2_000)
    assert cfg.lam0 == pytest.approx(adv.weight_decay) and cfg.lam_min == pytest.approx(adv.weight_decay / 2)
    assert any("a start below the advice never reaches it" in r for r in cfg.reasons)


def test_autol2_under_cannot_tell_starts_no_lower_than_its_advice_either():
    """"cannot tell" advises a constant lam from a typical c; AutoL2 started at the cap below it (lam0
    0.01 against a constant 0.02 at 2,000 steps, a new user's MLP) could never reach it."""
    f = dataclasses.replace(fit_relations(S.family(lam_c=0.0005, alpha=0.0)), c=0.8, lam_c=0.05)
    assert f.verdict == CANNOT
    short = advise(f, 2_000).weight_decay
    assert short * f.lr > AUTOL2_LAM0_SHRINK and autol2_config(f, 2_000).lam0 == pytest.approx(min(short, 0.05))
    assert autol2_config(f, 200_000).lam0 == pytest.approx(AUTOL2_LAM0_SHRINK / f.lr)  # a long budget: the cap


def test_autol2_under_cannot_tell_keeps_autol2s_own_refractory_and_floor():
    """c and the budget advice were not measured: no c/4 refractory, no floor from the advice."""
    f = dataclasses.replace(fit_relations(S.family(lam_c=0.0005, alpha=0.0)), c=0.8, lam_c=0.05)
    assert f.verdict == CANNOT
    cfg = autol2_config(f, 20_000, momentum=0.9)
    assert cfg.lam0 == pytest.approx(AUTOL2_LAM0_SHRINK * 0.1 / 0.1)  # below lam_c = 0.05
    assert cfg.refractory_tau == pytest.approx(0.1) and cfg.lam_min == pytest.approx(cfg.lam0 * 1e-4)
    assert any("not measured" in r for r in cfg.reasons)
    measured = autol2_config(dataclasses.replace(f, verdict=APPROX), 20_000, momentum=0.9)  # negative control
    assert measured.refractory_tau == pytest.approx(0.8 / 4) and measured.lam_min > cfg.lam_min


def test_a_peak_after_the_runs_end_is_said_and_only_then(clean):
    short = advise(clean, 500)  # clipped to lam_c = 0.02: the peak arrives at 3/(0.1*0.02) = 1500 steps
    assert short.predicted_peak_step > 500
    assert any("after the 500 (constant-lr) steps the advice is for" in r for r in short.reasons), short.reasons
    assert not any("steps the advice is for" in r for r in advise(clean, 3000).reasons)


def test_rules_of_thumb_that_would_wipe_the_weights_each_step_are_left_out():
    assert len(rules_of_thumb(0.1, 3000)) == 3
    few = rules_of_thumb(0.1, 10)  # 10/(lr*T): lr*lam = 1; 1/(lr*T): lr*lam = 0.1
    assert list(few.values()) == [pytest.approx(1.0), DEFAULT_WD]
    assert all(0.1 * lam < 0.5 for lam in rules_of_thumb(0.1, 1).values())


def test_a_fitted_b_below_one_never_shrinks_the_advice_below_the_tau_clocks(clean):
    """A lam too small ends the run before its top; one larger than needed on the plateau reaches
    the same top earlier. So b < 1 (which would advise a smaller lam for a long budget) keeps the
    tau clock's answer and only widens the interval; b > 1 (a larger lam) is used as fitted. c is
    the tau of the top where the probes ran (clock_ref), whatever b."""
    from l2advisor.science.advise import lam_for_budget

    budget, b = 100_000, 0.6
    slow = dataclasses.replace(clean, b=b, b_used=b, b_interval=(0.5, 0.7), verdict=APPROX)
    a = advise(slow, budget)
    assert a.weight_decay == pytest.approx(clean.c / (0.1 * budget))
    b_answer = lam_for_budget(clean.c, b, clean.clock_ref, budget) / 0.1
    assert b_answer < a.weight_decay / 3 and a.interval[0] <= b_answer * 1.0001  # b's answer stays in the interval
    assert a.interval[0] <= a.weight_decay <= a.interval[1]  # and so does the advice
    assert any("the tau clock's answer" in r for r in a.reasons)
    assert a.predicted_peak_step == pytest.approx(clean.c / (0.1 * a.weight_decay))  # on the tau clock it kept
    fast = dataclasses.replace(clean, b=1.4, b_used=1.4, b_interval=(1.3, 1.5), verdict=APPROX)
    larger = advise(fast, budget)  # the control: b > 1 asks for a larger lam, and gets it
    assert larger.weight_decay == pytest.approx(lam_for_budget(clean.c, 1.4, clean.clock_ref, budget) / 0.1)
    assert not any("the tau clock's answer" in r for r in larger.reasons)


def test_c_keeps_its_meaning_across_b_the_top_at_the_probes_arrives_at_c_over_clock_ref(clean):
    """lam_for_budget and steps_to_top anchor at the probes' reference clock: whatever b, a run at
    lr*lam = clock_ref peaks at c/clock_ref steps (an interval over b's values must not move it)."""
    from l2advisor.science.advise import lam_for_budget, steps_to_top

    ref, c = clean.clock_ref, 3.0
    for b in (0.6, 1.0, 1.4):
        assert steps_to_top(c, b, ref, ref) == pytest.approx(c / ref)
        assert lam_for_budget(c, b, ref, c / ref) == pytest.approx(ref)  # the budget that is the probes' time
        shrink = lam_for_budget(c, b, ref, 50_000)
        assert steps_to_top(c, b, ref, shrink) == pytest.approx(50_000)  # the two are inverses


def test_a_top_on_the_tau_clock_after_a_slow_rise_is_advised_near_c_over_lr_t():
    """The simulated top at tau = 3 after a 40-step lr-driven rise (benchmarks/slow_rise.py): the
    advice for 25,600 steps lands near 3/(lr*T), not 10x off either way."""
    from l2advisor.probing.settings import probe_settings
    from l2advisor.probing.simulate import simulate_probes, tau_clock_peak

    settings, _ = probe_settings(0.1, 0.0, n_val=1000, batch_size=64)
    floors = 0
    for seed in range(3):
        fit = fit_relations(simulate_probes(settings, tau_clock_peak(c=3.0, t_rise=40.0), 1000, seed), n_bootstrap=50)
        ratio = advise(fit, 25_600, 0.1).weight_decay / (3.0 / (0.1 * 25_600))
        assert 0.5 < ratio < 3.0, (seed, fit.verdict, fit.b, ratio)
        floors += any("b is read above a floor" in r for r in fit.reasons)
    assert floors >= 2  # the rise is seen as what it is (clock.py's floor), and said


def test_autol2_floor_is_one_decay_below_the_budget_advice_short_or_long(clean):
    """lam0 is never below a measured advice, so the floor is one decay below the advice and says so:
    a short budget's advice at the plateau edge, above the cap, as a long one's below it."""
    for budget in (500, 100_000):
        cfg, adv = autol2_config(clean, budget), advise(clean, budget)
        assert cfg.lam0 >= adv.weight_decay and cfg.lam_min == pytest.approx(adv.weight_decay / AUTOL2_DECAY)
        assert any(r.startswith("lam_min") and "below the budget advice" in r for r in cfg.reasons), cfg.reasons
    assert autol2_config(clean, 500).lam0 == pytest.approx(clean.lam_c)  # the advice sits at the edge


def test_c_is_the_tops_tau_whatever_clock_the_collapse_used():
    """A fit whose collapse ran on steps*(lr*lam)^b with b != 1 reports c in tau at the probes'
    reference clock: a reviewer found c = 10-13 for a top at tau = 3 (a "cannot tell" advice then 4x
    too large, AutoL2's refractory c/4 too long)."""
    from l2advisor.probing.settings import probe_settings
    from l2advisor.probing.simulate import simulate_probes, tau_clock_peak

    settings, _ = probe_settings(0.1, 0.0, n_val=1000, batch_size=64, budget_steps=20_000)
    off_tau = 0
    for seed in range(10):
        fit = fit_relations(simulate_probes(settings, tau_clock_peak(c=3.0, t_rise=40.0), 1000, seed), n_bootstrap=50)
        off_tau += fit.b_used != 1.0
        assert 1.5 < fit.c < 6.0, (seed, fit.verdict, fit.b_used, fit.c)
        if fit.verdict != FAILS:
            assert advise(fit, 25_600, 0.1).weight_decay < 2.0 * 3.0 / (0.1 * 25_600), seed
        if fit.verdict in (HOLDS, APPROX):  # "cannot tell" starts AutoL2 with its own defaults
            assert autol2_config(fit, 25_600).refractory_tau == pytest.approx(fit.c / 4)
    assert off_tau >= 2  # the case this is about: collapses on another clock than tau


def test_cannot_tell_clipped_to_the_edge_the_probes_saw_reaches_down_to_zero():
    """A short budget asks for more than the plateau edge; under "cannot tell" that edge is only
    where the probes stop. A new user's compare: the advice at the edge (0.025) lost 2 points to
    lam = 0, which its interval [0.0147, 0.025] excluded."""
    f = fit_relations(S.family(lam_c=0.0005, alpha=0.0))
    assert f.verdict == CANNOT
    short = advise(f, 100)  # c/(lr*T) = 4/(0.1*100) = 0.4, far above the edge
    above = min(r.lam for r in f.table if r.lam > f.lam_c * 1.001 and r.n_seeds)  # the edge lies below it
    assert short.weight_decay == pytest.approx(f.lam_c) and short.interval == (0.0, pytest.approx(above))
    assert any("where the probes stop" in r for r in short.reasons)
    assert any(r.startswith(f"the interval reaches above the plateau edge lam_c = {f.lam_c:.3g}") for r in short.reasons)
    failing = dataclasses.replace(f, table=tuple(dataclasses.replace(r, n_learned_nothing=1) if r.lam == above else r
                                                 for r in f.table))  # the control: a seed learned nothing there
    held = advise(failing, 100)
    assert held.interval == (0.0, pytest.approx(f.lam_c))
    assert not any(r.startswith("the interval reaches above the plateau edge") for r in held.reasons)
    long = advise(f, 20_000)  # not clipped, but above the plateau: nothing bounds it from below either
    assert long.interval[0] == 0.0 and not any("where the probes stop" in r for r in long.reasons)
    assert any("may all sit above the plateau and cannot see where it ends below them" in r for r in long.reasons)
    # lam_c, not the interval's top (a probed lam clearly worse where the interval reaches above lam_c), to try
    assert any(r.endswith("try lam = 0 and the plateau's edge lam_c beside it") for r in long.reasons)
    short_windows = fit_relations(S.family(lams=[0.02, 0.01, 0.005], horizon=0.8))  # the control: on the plateau,
    assert short_windows.verdict == CANNOT  # windows too short for the tops: c is a lower bound, and so is lam
    bounded = advise(short_windows, 20_000)
    assert bounded.interval[0] > 0 and not any("down to 0" in r for r in bounded.reasons)
    held = advise(fit_relations(S.family()), 300)  # and "holds": its measured edge stands
    assert held.weight_decay == pytest.approx(held.interval[0]) and held.interval[0] > 0


def test_caveats_put_probes_that_had_not_peaked_first_and_leave_out_what_only_informs() -> None:
    from l2advisor.science.advise import caveats

    fit = fit_relations(S.family(), tolerance=0.005)
    reasons = ("alpha = 0.99 (t* against lr*lam; informative only: t* is read inside windows)",
               "lam does not clearly set the time to the top", "cannot tell: probe smaller lams",
               "training accuracy unknown: overparameterization not checked", "another note",
               "4 probe(s) had not clearly peaked (or peaked at step 0): left out of the t* fit")
    fit = dataclasses.replace(fit, reasons=reasons)
    shown = caveats(fit, advise(fit, 20000))
    assert shown[0].startswith("4 probe(s) had not clearly peaked") and len(shown) == 4
    assert not any("informative only" in c for c in shown)
    assert shown[1:] == list(reasons[1:4])  # the rest in the fit's order


def test_a_verdict_one_seed_could_flip_is_the_first_caveat_not_cut_by_the_limit() -> None:
    """A user's regression: report.md said "read the verdict as uncertain" and recommend's panel, which
    shows 4 caveats, left it out behind three others."""
    from l2advisor.science.advise import caveats

    fit = fit_relations(S.family())
    near = ("at equal steps the largest lam falls 1.36 thresholds below the smallest, near the 1 that decides "
            "whether the probes sit above the plateau (verdict \"does not hold\" the other side): still so with "
            "3 seeds per lam: read the verdict as uncertain (more --seeds would settle it)")
    others = ["5 probe(s) had not clearly peaked (or peaked at step 0): left out of the t* fit",
              "lam does not clearly set the time to the top", "one", "two", "three"]
    said = caveats(dataclasses.replace(fit, reasons=(*others, near)), advise(fit, 20000))
    assert len(said) == 4 and said[0] == near and said[1] == others[0]
    assert caveats(dataclasses.replace(fit, reasons=tuple(others)), advise(fit, 20000)) == others[:4]  # the control


def test_autol2_under_cannot_tell_tells_one_story() -> None:
    """A reviewer read "lam0 = 0.0125, the budget advice" then "c and the budget advice are not measured"."""
    fit = fit_relations(S.family(lam_c=0.0005, alpha=0.0))  # above the plateau: cannot tell
    assert fit.verdict == CANNOT
    said = " ".join(autol2_config(fit, 20000).reasons)
    assert "the budget advice rests on the typical c, unconfirmed" in said
    assert "the budget advice are not measured" not in said


def test_cannot_tell_says_a_c_read_at_the_pooled_curves_end_is_a_bound_not_a_measurement():
    """A reviewer's panel said "the probes measured 4" where the pooled curve still rose at the end
    of a tau = 4 window, and "(on the plateau)" beside "they may all sit above the plateau"."""
    f = dataclasses.replace(fit_relations(S.family(lam_c=0.0005, alpha=0.0)), c=4.0, c_bound="lower", lam_c=1.0)
    assert f.verdict == CANNOT
    said = " ".join(advise(f, 20000).reasons)
    assert "the probes' pooled curve still rose at its end, tau = 4: c >= 4" in said and "measured 4" not in said
    measured = " ".join(advise(dataclasses.replace(f, c=0.8, c_bound=""), 20000).reasons)
    assert "(the probes measured 0.8;" in measured  # the control: a c read inside the curve is said as measured
    assert "that lam's peak" in said and "(on the plateau)" not in said  # extrapolated: not the plateau ...
    assert "(an estimate, not a floor: no smaller lam was probed, and a lam too small for the run can overfit and " \
        "peak lower)" in said  # ... nor a floor: a smaller lam can overfit and peak lower (review 40a's GRU)


def test_the_typical_c_names_momentum_only_where_there_is_one() -> None:
    """Review 46: an AdamW model (no momentum setting) read "the typical c = 4*(1-momentum)"."""
    from l2advisor.science.cannot_tell import clock_constant

    above = fit_relations(S.family(lam_c=0.0005, alpha=0.0))  # "cannot tell": the c is borrowed
    assert clock_constant(above, 0.0)[2][0].startswith("c = 4: the typical c = 4 (")
    assert clock_constant(above, 0.5)[2][0].startswith("c = 2: the typical c = 4*(1-momentum) (")  # above its 0.832
