"""Where one seed's untrained model already sat where another seed climbed to, the panel and
`train --advise`'s refusal leave both readings open (a task solved before training, or a model
that learns nothing beyond the luckiest start) instead of saying "fix the model file"."""

from __future__ import annotations

import dataclasses
import io

import pytest
import synthetic as S
from rich.console import Console

from l2advisor.cli.advice_panel import advice_panel
from l2advisor.cli.advise_first import _refuse_if_nothing_learned
from l2advisor.errors import InputError
from l2advisor.science.advise import advise, peak_step_assumed
from l2advisor.science.fit import fit_relations


def _panel(curves: list) -> str:
    fit = fit_relations(curves)
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(advice_panel(advise(fit, 2000), fit, "accuracy"))
    return " ".join(console.file.getvalue().split())


def test_the_panel_says_learned_nothing_beyond_the_best_untrained_model() -> None:
    head = _panel(S.solved_for_seed_0()).split("verdict")[0]
    assert "but the probes learned nothing beyond the best untrained model" in head
    assert head.startswith("╭─ l2advisor recommend ─") and "use none yet: weight_decay=" in head  # not the number alone
    assert "either the task is solved before training or the model learns nothing" in head
    assert "no predicted metric: the probes learned nothing" in head  # no "at least 1.0000 ... may climb further"
    assert "check the model, the labels" not in head


def test_the_panel_of_probes_that_learned_says_neither() -> None:
    text = _panel(S.family())
    assert "learned nothing" not in text and "no predicted metric" not in text and "none yet" not in text


def test_train_advise_refuses_without_telling_to_fix_the_model_file() -> None:
    with pytest.raises(InputError) as refused:
        _refuse_if_nothing_learned(fit_relations(S.solved_for_seed_0()))
    said = str(refused.value)
    assert said.startswith("The probes learned nothing beyond the best untrained model")
    assert "a task solved before training has no weight decay to advise" in said and "--weight-decay X" in said
    assert "so no run was trained: fix the model file" not in said


def test_train_advise_goes_on_where_the_probes_learned() -> None:
    assert _refuse_if_nothing_learned(fit_relations(S.family())) is None


def _rows(t_stars: list[float | None]) -> list[dict]:
    return [{"t_star": t, "peaked": True} for t in t_stars]


@pytest.mark.parametrize("t_stars, said", [([0, 0, 0], True), ([0, 16, 0], False), ([0, None, 0], False),
                                           ([120, 300], False)])
def test_under_the_summary_every_probe_best_at_step_0_is_said(monkeypatch, t_stars, said) -> None:
    import l2advisor.cli.probe_view as view

    console = Console(file=io.StringIO(), width=400, color_system=None)
    monkeypatch.setattr(view, "err", console)
    view.say_best_at_start(_rows(t_stars), "mse")
    text = console.file.getvalue()
    assert ("Every probe's validation mse was best at its first evaluation" in text) is said
    assert ("return it negated" in text) is said


def test_an_accuracy_of_1_is_not_said_to_climb_further() -> None:
    """A reviewer's separable task: "expect at least 1.0000 peak validation accuracy ... so it may climb
    further" of a lam that had reached the most there is."""
    import dataclasses

    fit = fit_relations(S.no_effect_family())
    advice = advise(fit, 200_000)
    assert fit.verdict == "does not hold" and advice.predicted_metric < 1.0

    def expect(a) -> str:
        console = Console(file=io.StringIO(), width=400, color_system=None)
        console.print(advice_panel(a, fit, "accuracy"))
        return " ".join(console.file.getvalue().split()).split("expect", 1)[1].split("verdict", 1)[0]

    assert "at least" in expect(advice) and "may climb further" in expect(advice)  # the control: below 1
    top = expect(dataclasses.replace(advice, predicted_metric=1.0))
    assert "1.0000 peak validation accuracy, the most there is" in top and "climb" not in top and "at least" not in top


def test_a_peak_step_that_counts_unpeaked_probes_is_said_to_be_perhaps_later() -> None:
    """A reviewer's AdamW block: "this lam's peak in its own probe (step 524)", the median of t* 252 and
    of a probe still rising at 795 (shown 795+ in the probe summary)."""
    import dataclasses

    fit = fit_relations(S.no_effect_family())
    advice = advise(fit, 200_000)

    def expect(f) -> str:
        console = Console(file=io.StringIO(), width=400, color_system=None)
        console.print(advice_panel(advice, f, "accuracy"))
        return " ".join(console.file.getvalue().split()).split("expect", 1)[1].split("verdict", 1)[0]

    assert "had not clearly peaked" not in expect(fit)  # the control: every probe of the lam peaked
    half = tuple(dataclasses.replace(r, n_peaked=r.n_seeds - 1) if r.lam == advice.weight_decay else r
                 for r in fit.table)
    said = expect(dataclasses.replace(fit, table=half))
    assert "a median over 2 probes, 1 of which had not clearly peaked when it ended: perhaps later" in said


def test_recommend_on_two_probe_lrs_advises_at_the_files_lr_from_its_own_probes(tiny_model, tmp_path) -> None:
    """A reviewer's `probe --lrs 0.1,0.05` on a file with lr = 0.1: recommend answered at lr 0.05 and,
    asked for 0.1, translated from 0.05's probes "(not checked (one probe lr))"."""
    import json

    from typer.testing import CliRunner

    from l2advisor.cli import app

    runner = CliRunner()
    out = tmp_path / "lrs"
    probed = runner.invoke(app, ["probe", str(tiny_model), "--out", str(out), "--lrs", "0.1,0.05", "--lambdas",
                                 "0.4,0.2,0.1", "--horizon", "2", "--seeds", "0", "--device", "cpu"])
    assert probed.exit_code == 0, probed.output
    for asked, lr in ((None, 0.1), ("0.05", 0.05), ("0.1", 0.1)):
        said = runner.invoke(app, ["recommend", str(out), "--budget", "4000", "--json",
                                   *(["--lr", asked] if asked else [])])
        assert said.exit_code == 0, said.output
        advice = json.loads(said.stdout)
        assert advice["lr"] == lr and advice["fit"]["lr"] == lr
        assert not any("differs from the probe lr" in r for r in advice["reasons"]), advice["reasons"]
    other = json.loads(runner.invoke(app, ["recommend", str(out), "--budget", "4000", "--json", "--lr", "0.2"]).stdout)
    assert any("lr 0.2 differs from the probe lr 0.1" in r for r in other["reasons"])  # not probed: translated
    assert runner.invoke(app, ["recommend", str(out), "--budget", "4000", "--lr", "0.05"]).exit_code == 0
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0  # the saved advice's lr is the one read
    page = " ".join((out / "report.md").read_text().split())
    assert "Probe lr 0.05; 3 usable probes at lr 0.05 (6 in all: the other lrs check that lr*lam is the clock)" in page


def test_a_peak_step_from_the_typical_c_says_so() -> None:
    """A reviewer's cosine run peaked at step 960 where the panel said "around step 4000": under "cannot
    tell" that step comes from the borrowed c, as the lam does."""
    def expect(curves) -> str:
        return _panel(curves).split("expect", 1)[1].split("verdict", 1)[0]

    above = S.family(lam_c=0.0005, alpha=0.0)
    assert fit_relations(above).verdict == "cannot tell"
    late = expect(above)  # 2000 steps: clipped to the edge, whose top comes after the run's end
    assert "at the run's end, still rising (its top comes around step 16000 if the typical c holds, after the " \
        "run's 2000 steps)" in late and "checkpoint" not in late  # still rising: no earlier peak to keep
    assert "typical c" not in expect(S.family())  # the control: "holds", its own c
    fit = fit_relations(above)
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(advice_panel(advise(fit, 20_000), fit, "accuracy"))  # unclipped: its top is the budget, by design
    row = " ".join(console.file.getvalue().split()).split("expect", 1)[1].split("verdict", 1)[0]
    assert "around step 20000, the run's end (the lam was solved for it), if the typical c holds" in row  # review 46
    assert "the run's end (the lam" not in late and "the run's end (the lam" not in expect(S.family())


def test_a_peak_step_from_the_probes_own_lower_bound_is_hedged_too() -> None:
    """Review 41: a "cannot tell" advice from the probes' own c (a lower bound above the plateau, larger
    than the typical one) said "around step 6000" unhedged; a reviewer's GRU peaked at step 500."""
    fit = dataclasses.replace(fit_relations(S.family(lam_c=0.0005, alpha=0.0)), c=8.0, c_bound="lower", lam_c=1.0)
    advice = advise(fit, 20_000)
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(advice_panel(advice, fit, "accuracy"))
    row = " ".join(console.file.getvalue().split()).split("expect", 1)[1].split("verdict", 1)[0]
    assert advice.c == 8.0 and peak_step_assumed(advice, fit)
    assert "if c is 8, the probes' lower bound (it may come much earlier or later: keep the best checkpoint, not the last)" in row
    assert not peak_step_assumed(advise(fit_relations(S.family()), 20_000), fit_relations(S.family()))  # "holds"


def test_the_train_summary_has_no_float_noise_in_its_taus() -> None:
    """A reviewer's `train --json`: "peak_tau": 0.39000000000000745, "final_tau": 0.45000000000001195."""
    from l2advisor.cli.train_view import summarize
    from l2advisor.training.train import TrainResult

    records = [{"step": s, "tau": t, "val_metric": m, "lam": 0.001} for s, t, m in
               [(0, 0.0, 0.1), (390, 0.39000000000000745, 0.9), (450, 0.45000000000001195, 0.8)]]
    summary = summarize(records, None, TrainResult(status="finished", records=records, steps=450))
    assert summary["peak_tau"] == 0.39 and summary["final_tau"] == 0.45
    assert summary["peak_step"] == 390 and summary["within_tolerance_step"] == 390


def test_probes_at_chance_point_at_smaller_lams_first() -> None:
    """Review 46: an LSTM at chance at every probed lam (weight decay alone: lam 0 and 0.001 reached 0.997) was
    told to check the model, labels and lr, and `train --advise` to "fix the model file"."""
    from l2advisor.science.learned import Baseline

    chance = Baseline(0.10, "class 3, the training set's most frequent", 0.90, train_share=0.10)
    stuck = S.family(floor=0.02, top=0.12, drop=0.005, noise=0.002, train_top=0.105)
    fit = fit_relations(stuck, baseline=chance)
    smallest = min(r.lam for r in fit.table)
    suggested = f"--lambdas {smallest / 4:.3g},{smallest / 8:.3g},{smallest / 16:.3g}"
    console = Console(file=io.StringIO(), width=400, color_system=None)
    console.print(advice_panel(advise(fit, 2000), fit, "accuracy"))
    head = " ".join(console.file.getvalue().split()).split("verdict")[0]
    assert f"weight decay at every probed lam may keep the model from learning (probe smaller lams: {suggested})" in head
    with pytest.raises(InputError) as refused:
        _refuse_if_nothing_learned(fit)
    assert f"(probe smaller lams: `l2advisor probe FILE {suggested}`), or fix the model file" in str(refused.value)
