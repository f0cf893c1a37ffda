"""Review 47 of the sorting of probes that learned nothing (science/failed_probes.py): what each kind
says must be true of the probes that stay, and an lr at which nothing learned is blamed on the lr only
where another lr learned at as strong a shrink."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import synthetic as S
from rich.console import Console
from test_rung_learned_nothing import CHANCE, LADDER, _flat

from l2advisor.cli.advice_panel import advice_panel
from l2advisor.science.advise import advise
from l2advisor.science.caveats import caveats
from l2advisor.science.fit import fit_relations, nothing_learned


def test_a_lam_that_failed_on_every_seed_left_is_one_that_learned_nothing() -> None:
    """Seed 1 dead at every lam, seed 0 dead at lam 0.04 only: lam 0.04 is a whole failure among the seeds
    kept, not "seed 0 ... where seed 1 reached" the excluded seed's chance."""
    curves = [cv if cv.seed != 1 and (cv.lam, cv.seed) != (0.04, 0) else _flat(cv.lam, cv.seed)
              for cv in S.family(LADDER, seeds=(0, 1, 2))]
    fit = fit_relations(curves, baseline=CHANCE)
    said = [r for r in fit.reasons if "lam 0.04" in r and "learned nothing" in r]
    assert said and said[0].startswith("lam 0.04: seed 0 learned nothing (peak 0.1") and "where seed 2 reached" in said[0]
    assert not any("where seed 1 reached" in r for r in fit.reasons), fit.reasons
    assert any(r.startswith("seed 1 learned nothing at any lam") for r in fit.reasons)


def test_the_only_seed_of_a_lam_left_out_is_said() -> None:
    curves = [cv for cv in S.family(LADDER, seeds=(0, 1)) if (cv.lam, cv.seed) != (0.005, 0)]  # lam 0.005: seed 1 only
    fit = fit_relations([cv if cv.seed != 1 else _flat(cv.lam, 1) for cv in curves], baseline=CHANCE)
    note = next(r for r in fit.reasons if r.startswith("seed 1 learned nothing at any lam"))
    assert "its 4 probes are left out, as if not made; lam 0.005 had no other seed and drops out of the fit" in note


def test_advice_beside_a_lam_where_no_seed_learned_says_decay_not_seeds() -> None:
    curves = [cv if cv.lam != 0.04 else _flat(0.04, cv.seed) for cv in S.family(LADDER)]
    fit = fit_relations(curves, baseline=CHANCE)
    a = advise(fit, 1000)  # clipped to lam_c = 0.02, beside 0.04
    assert any(r.startswith("at lam 0.04, beside the advice, no probe seed learned anything: weight decay that strong")
               for r in a.reasons), a.reasons
    assert not any("second seed" in r for r in a.reasons)


def test_an_lr_whose_shrinks_all_failed_at_the_other_lr_too_is_not_blamed_alone() -> None:
    """The same lams at lr 0.1 and 0.4, nothing learning at lr*lam >= 0.001: lr 0.4's failures are weight
    decay's as much as the lr's; with lr 0.1 learning at shrinks as strong, lr 1 is the lr's."""
    def probes(lr: float) -> list:
        return [(_flat(lam, seed, lr=lr) if lr * lam >= 0.001 else S.curve(lam, lr, seed))
                for lam in LADDER + [0.0025] for seed in (0, 1)]
    both = fit_relations(probes(0.1) + probes(0.4), baseline=CHANCE, main_lr=0.4)
    assert both.reasons[0].startswith("nothing was learned at lr 0.4, the lr the advice is for")
    assert "weight decay at every lam probed there, or that lr, keeps the model from learning" in both.reasons[0]
    lr_only = fit_relations(S.family(LADDER) + [_flat(lam, s, lr=0.02) for lam in LADDER for s in (0, 1)],
                            baseline=CHANCE, main_lr=0.02)  # lr 0.1 learned at shrinks up to 0.004 >= 0.0001
    assert "that lr, not weight decay, keeps the model from learning" in lr_only.reasons[0], lr_only.reasons[0]


def test_the_panel_over_a_silent_advised_lr_points_at_the_lr() -> None:
    curves = S.family(LADDER) + [_flat(lam, s, lr=0.02) for lam in LADDER for s in (0, 1)]
    fit = fit_relations(curves, baseline=CHANCE, main_lr=0.02)
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(advice_panel(advise(fit, 3000, lr=0.02), fit, "accuracy"))
    head = " ".join(console.file.getvalue().split()).split("verdict")[0]
    assert "but the probes learned nothing at this lr: this weight decay means nothing; lower the lr, or ask for " \
        "advice at a probed lr that learned" in head and "--lambdas" not in head
    rows = [r for r in fit.table if r.lr == 0.02]
    assert rows and not any(r.in_plateau for r in rows) and all(r.n_learned_nothing == r.n_seeds for r in rows)


def test_flat_probes_whose_metric_was_nan_at_first_learned_nothing() -> None:
    """The first_metric change of review 45 made flat probes with a NaN start "assumed learned"; the smoothed
    curve's lowest point stands in for a start no evaluation scored."""
    flat = [_flat(lam, seed) for lam in LADDER for seed in (0, 1)]
    late = [dataclasses.replace(cv, val_metric=np.where(np.arange(cv.val_metric.size) < 10, np.nan, cv.val_metric))
            for cv in flat]
    assert nothing_learned(fit_relations(flat).reasons) and nothing_learned(fit_relations(late).reasons)


def test_a_dead_seed_is_among_the_caveats_the_panel_keeps() -> None:
    curves = [cv if cv.seed != 1 else _flat(cv.lam, 1) for cv in S.family(LADDER, seeds=(0, 1, 2))]
    fit = fit_relations(curves, baseline=CHANCE)
    assert any(c.startswith("seed 1 learned nothing at any lam") for c in caveats(fit, advise(fit, 20_000), limit=1))
