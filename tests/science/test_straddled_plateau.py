"""Under "cannot tell" from equal steps (the smallest probed lam the best, or within noise of it, and the
largest clearly worse), a plateau whose lower end the probes saw in their own windows (an interior
maximum, lam*) is said as such, not as "every probe may sit above the plateau", and the interval runs
from lam* to the probed lam above the plateau instead of reaching 0 (review 44: a 3-output regression
advised its grid's best, 0.05, with an interval 0 .. 0.05 whose lower half was 5-10 seed ranges worse,
beside "smaller lams are worse however long the run"; its probes are data/straddled_regression.jsonl)."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import synthetic as S

import l2advisor
from l2advisor.science.advise import advise
from l2advisor.science.cannot_tell import EITHER_SIDE, NOT_CONFIRMED, NOT_CONFIRMED_STRADDLED
from l2advisor.science.fit import CANNOT, decide_verdict, fit_relations
from l2advisor.science.verdict import ABOVE_PLATEAU, above_the_plateau

NAN = float("nan")


def _f(interior: bool) -> dict:
    """Fit fields as the reviewer's regression had them: b clearly negative, larger lams worse at equal steps."""
    return dict(b=-0.46, b_interval=(-0.55, -0.36), steps_over_tau=0.13, alpha=NAN, c0=NAN, train_acc=NAN,
                clock_is_lr_lam=None, beta_lr=NAN, beta_lam=NAN, plateau_threshold=0.005, n_peaked_clocks=3,
                above_plateau=True, interior_max=interior, lam_star=0.05 if interior else NAN)


def test_the_verdict_says_the_probes_straddle_the_plateaus_lower_end() -> None:
    verdict, why = decide_verdict(_f(True), 3, no_effect=False, edge="")
    assert verdict == CANNOT and ABOVE_PLATEAU not in why and not above_the_plateau(why), why
    assert any("the probes straddle the plateau's lower end" in r and "lam* = 0.05" in r for r in why), why
    control, said = decide_verdict(_f(False), 3, no_effect=False, edge="")  # no interior maximum: as before
    assert control == CANNOT and ABOVE_PLATEAU in said and above_the_plateau(said)


def _above_the_plateau():
    """A real "cannot tell" above the plateau: the smallest of six probed lams (0.0025 .. 0.08) did best."""
    fit = fit_relations(S.family(lam_c=0.0005, alpha=0.0))
    assert fit.verdict == CANNOT and above_the_plateau(fit.reasons) and not fit.interior_max, fit.reasons
    return fit


def test_the_interval_runs_from_lam_star_to_the_probed_lam_above_the_plateau() -> None:
    fit = _above_the_plateau()
    lams = sorted(r.lam for r in fit.table)
    # the same probes, had the second smallest lam been the plateau's lower end and its lower neighbour clearly worse
    seen = dataclasses.replace(fit, interior_max=True, lam_star=lams[1], lam_c=lams[2])
    a = advise(seen, 20_000)
    assert a.weight_decay >= lams[1] and a.interval == (lams[1], lams[3]), (a.weight_decay, a.interval)
    assert EITHER_SIDE not in a.reasons and NOT_CONFIRMED not in a.reasons and a.reasons[0] == NOT_CONFIRMED_STRADDLED
    assert any(f"it runs from lam* = {lams[1]:.3g} up to the probed lam above the plateau, {lams[3]:.3g}" in r
               for r in a.reasons), a.reasons
    at_half_lr = advise(seen, 20_000, lr=fit.lr / 2)  # on the lr*lam clock: every lam doubles
    assert at_half_lr.interval == (2 * lams[1], 2 * lams[3])
    top = dataclasses.replace(fit, interior_max=True, lam_star=lams[-2], lam_c=lams[-1])  # no lam probed above
    assert advise(top, 20_000).interval == (lams[-2], lams[-1])
    control = advise(fit, 20_000)  # unseen: nothing bounds the best lam from below
    assert control.interval[0] == 0.0 and EITHER_SIDE in control.reasons


def test_the_reviewers_regression_end_to_end(tmp_path: Path) -> None:
    """Its real probes (3 lams x 2 seeds, SGD momentum 0.9): the advice stays the grid's best, 0.05; the
    interval, 0 .. 0.05 before, is 0.05 .. 0.1 (the grid: 0.025 -0.3182, 0.05 -0.3115, 0.1 -0.3510)."""
    shutil.copy(Path(__file__).parent / "data" / "straddled_regression.jsonl", tmp_path / "probes.jsonl")
    r = l2advisor.recommend(tmp_path, 12_000, write=False)
    assert r.verdict == CANNOT and r.weight_decay == 0.05 and r.interval == (0.05, 0.1), (r.weight_decay, r.interval)
    assert any("the probes straddle the plateau's lower end" in c for c in r.fit.reasons)
    assert not above_the_plateau(r.fit.reasons) and r.reasons[0] == NOT_CONFIRMED_STRADDLED
    # at 2,000 steps the formula's top (0.0638) lies between lam_c and the probed lam above: the straddled
    # interval's words say the top once, the interval's own (review 49: "up to 0.0638" beside 0.05 .. 0.1)
    short = l2advisor.recommend(tmp_path, 2_000, write=False)
    assert short.interval == (0.05, 0.1) and not any("reaches above the plateau edge" in w for w in short.reasons)
    assert sum("0.1" in w and "up to" in w for w in short.reasons) == 1, short.reasons
