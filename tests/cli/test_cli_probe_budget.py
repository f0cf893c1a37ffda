"""`l2advisor probe --budget`: probes sized to the budget, recorded in the header, and
`recommend` for a very different budget saying how far it extrapolates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.probing.budget import plan_for_budget, same_plan_for
from l2advisor.runs.rundir import results_path
from l2advisor.runs.store import read_results
from tests.conftest import write_model

runner = CliRunner()


def budget_args(model: Path, out: Path, budget: str, *extra: str) -> list[str]:
    return ["probe", str(model), "--out", str(out), "--budget", budget, "--horizon", "2",
            "--seeds", "0", "--device", "cpu", *extra]


def test_probe_sized_to_a_budget(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, [*budget_args(tiny_model, out, "40000"), "--json"])
    assert result.exit_code == 0, result.output
    assert "Sized for a budget of 40000 steps" in result.stderr
    header = read_results(results_path(out)).header["settings"]["probe"]
    plan = plan_for_budget(40000, 0.1, 0.0, 2.0, 1, n_val=128, batch_size=32)
    assert header["budget_steps"] == 40000 and header["early_stop"] is False
    assert header["lambdas"] == list(plan.lams) and len(plan.lams) >= 3
    rows = json.loads(result.stdout)["probes"]
    assert all(row["shrink"] == float(f"{row['lr'] * row['lam']:.12g}") for row in rows)
    assert any(row["shrink"] == 0.01 for row in rows)  # printed as 0.01, not 0.010000000000000002
    for row in rows:  # tau* is a sum of lr*lam over t* steps, shown without its float noise
        assert len(repr(row["tau_star"])) <= 14 and row["tau_star"] == float(f"{row['tau_star']:.12g}")
        assert abs(row["tau_star"] - row["shrink"] * row["t_star"]) <= 1e-9 * row["tau_star"]
    states = read_results(results_path(out)).runs.values()
    for state in states:  # every rung runs its whole tau window: the same for all
        last = state.evals[-1]
        assert state.status == "finished" and abs(last["tau"] - 2.0) < 0.1 * 2.0
    far = runner.invoke(app, ["recommend", str(out), "--budget", "400000", "--json"])
    assert far.exit_code == 0, far.output
    assert "sized for a budget of 40000 steps" in far.stderr and "10x that" in far.stderr
    assert json.loads(far.stdout)["probes_sized_for_steps"] == 40000
    near = runner.invoke(app, ["recommend", str(out), "--budget", "40000"])
    assert near.exit_code == 0 and "sized for a budget" not in near.stderr  # the control
    default = runner.invoke(app, ["recommend", str(out), "--json"])  # no --budget: the one the probes were sized for
    assert default.exit_code == 0, default.output
    assert json.loads(default.stdout)["budget_steps"] == 40000 and "No --budget: advising for the 40000" in default.stderr
    epochs = runner.invoke(app, ["recommend", str(out), "--unit", "epochs"])
    assert epochs.exit_code == 2 and "--unit applies to --budget" in epochs.stderr


def test_a_budget_far_below_the_cheapest_plan_says_train_directly(tiny_model: Path, tmp_path: Path) -> None:
    args = [a for a in budget_args(tiny_model, tmp_path / "a", "50") if a not in ("--horizon", "2")]
    tiny = runner.invoke(app, [*args, "--batch-size", "16"])  # 1,400 probe steps for a 50-step run
    said = " ".join(tiny.stderr.split())
    assert tiny.exit_code == 0 and "More than the cap" in said and "the cheaper way" in said
    assert "`recommend --budget N` reuses them" in said  # what the probes are still good for
    assert said.endswith(f"Or probe, advise and train in one process: l2advisor train {tiny_model} --budget 50 "
                         f"--advise --out {tmp_path / 'a'} --probe-seeds 0 --batch-size 16")  # start-up paid once;
    # the flags that reuse these probes (without them train --advise probed again, into runs/<name>, seeds 0,1)
    again = runner.invoke(app, ["train", str(tiny_model), "--budget", "50", "--advise", "--out", str(tmp_path / "a"),
                                "--probe-seeds", "0", "--batch-size", "16", "--device", "cpu"])
    assert again.exit_code == 0, again.output
    assert "0 reused" not in again.stderr and "reused" in again.stderr
    other = runner.invoke(app, budget_args(tiny_model, tmp_path / "c", "50"))  # --horizon 2: train has no --horizon
    assert other.exit_code == 0 and "in one process" not in other.stderr
    fits = runner.invoke(app, budget_args(tiny_model, tmp_path / "b", "40000"))  # the control
    assert fits.exit_code == 0 and "the cheaper way" not in " ".join(fits.stderr.split())
    assert " ".join(fits.stderr.split()).endswith("--budget 40000")  # a budget in steps: the Next hint's steps
    assert "--advise" not in fits.stderr  # within the cap: no other way offered


def test_a_probe_budget_below_three_rungs_is_said(tiny_model: Path, tmp_path: Path) -> None:
    args = ["probe", str(tiny_model), "--lambdas", "", "--lam-max", "0.4", "--horizon", "2", "--seeds", "0",
            "--device", "cpu"]
    small = runner.invoke(app, [*args, "--out", str(tmp_path / "s"), "--probe-budget", "200"])  # 50+100+200 steps
    said = " ".join(small.stderr.split())
    assert small.exit_code == 0 and "More than --probe-budget 200: up to 350 steps" in said
    roomy = runner.invoke(app, [*args, "--out", str(tmp_path / "r"), "--probe-budget", "400"])  # the control
    assert roomy.exit_code == 0 and "More than --probe-budget" not in " ".join(roomy.stderr.split())


def test_epochs_budget_converts_with_the_train_size(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"  # 256 examples at batch 32: 8 steps per epoch
    result = runner.invoke(app, budget_args(tiny_model, out, "5000", "--unit", "epochs"))
    assert result.exit_code == 0, result.output
    assert read_results(results_path(out)).header["settings"]["probe"]["budget_steps"] == 40000
    said = " ".join(result.stderr.split())  # the user's epochs echoed, with their steps
    assert "Sized for a budget of 5000 epochs (40000 steps)" in said
    assert "Next: l2advisor recommend" in said and said.endswith("--budget 5000 --unit epochs")


def test_probe_without_budget_says_what_it_suits(tiny_model: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["probe", str(tiny_model), "--out", str(tmp_path / "r"), "--lambdas",
                                 "0.4,0.2,0.1", "--horizon", "2", "--seeds", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "Not sized for a budget" in said and "within the cap of a budget of" in said
    assert "a cost, not which budgets they advise for" in said


def test_budget_with_explicit_lams_is_a_user_error(tiny_model: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, [*budget_args(tiny_model, tmp_path / "r", "40000"), "--lambdas", "0.1,0.2"])
    assert result.exit_code == 2
    said = " ".join(result.stderr.split())
    assert "--budget plans the ladder and its cost itself: drop --lambdas (or drop --budget" in said  # only the given
    assert "Threads:" not in said and not (tmp_path / "r").exists()  # said before the model file ran
    zero = runner.invoke(app, [*budget_args(tiny_model, tmp_path / "r", "40000")[:-6], "--horizon", "0",
                               "--seeds", "0", "--device", "cpu"])
    assert zero.exit_code == 2 and "--horizon must be a finite number > 0" in zero.stderr  # was a ZeroDivisionError
    for asked in ("90000", "24000"):  # 24000, the default without --budget, is still a request
        result = runner.invoke(app, [*budget_args(tiny_model, tmp_path / "r", "40000"), "--probe-budget", asked])
        assert result.exit_code == 2 and "--probe-budget" in result.stderr


def _starts(out: Path) -> list[str]:
    lines = results_path(out).read_text().splitlines()
    return [json.loads(line)["run"] for line in lines if json.loads(line)["type"] == "start"]


def test_another_budget_with_the_same_window_reuses_the_probes(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"  # at lr 0.1, window tau = 2: 3 rungs at 5,000 steps, 4 at 10,000 and 20,000
    assert runner.invoke(app, budget_args(tiny_model, out, "5000")).exit_code == 0
    assert len(_starts(out)) == 3
    more = runner.invoke(app, budget_args(tiny_model, out, "10000"))
    assert more.exit_code == 0, more.output
    said = " ".join(more.stderr.split())  # the console wraps long lines
    assert "sized for a budget of 5,000 steps" in said and "3 of the plan's 4 probes are already here" in said
    assert sorted(_starts(out)) == sorted(set(_starts(out))) and len(_starts(out)) == 4  # one new run
    header = read_results(results_path(out)).header
    assert header["settings"]["probe"]["budget_steps"] == 10000 and len(header["plan"]) == 4
    same = runner.invoke(app, [*budget_args(tiny_model, out, "20000"), "--json"])
    assert same.exit_code == 0 and len(_starts(out)) == 4  # the same ladder: nothing trained
    assert len(json.loads(same.stdout)["probes"]) == 4
    advice = runner.invoke(app, ["recommend", str(out), "--budget", "20000", "--json"])
    assert advice.exit_code == 0 and json.loads(advice.stdout)["probes_sized_for_steps"] == 20000
    fewer = runner.invoke(app, budget_args(tiny_model, out, "5000"))  # back to 3 rungs: the 4th stays
    said = " ".join(fewer.stderr.split())
    assert fewer.exit_code == 0 and "all 3 of the plan's probes are already here" in said and "1 finished probe(s) outside" in said
    assert len(_starts(out)) == 4


@pytest.mark.parametrize("other", [["--budget", "2000", "--horizon", "1"], ["--budget", "5000", "--seeds", "1"],
                                   ["--budget", "5000", "--lr", "0.05"]])
def test_another_budget_with_other_probes_is_refused(tiny_model: Path, tmp_path: Path, other: list[str]) -> None:
    out = tmp_path / "run"  # 2,000 steps through tau = 1: every rung would be another run
    assert runner.invoke(app, budget_args(tiny_model, out, "5000")).exit_code == 0
    args = [arg for arg in budget_args(tiny_model, out, "5000") if arg not in ("--budget", "5000")]
    for flag in ("--seeds", "--horizon"):
        if flag in other:
            args = args[:args.index(flag)] + args[args.index(flag) + 2:]
    result = runner.invoke(app, [*args, *other])
    said = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "probes.jsonl holds results made with other settings" in said
    # only another budget is pointed to `recommend`: probes of other seeds or another lr do not serve it
    hint = f"to advise for 2,000 steps from the probes already here, `recommend {out} --budget 2000` reuses them"
    assert (hint in said) == (other[:2] == ["--budget", "2000"]), said
    assert "--budget 5000`" not in said
    window = "the plan for 2,000 steps runs every rung through tau = 1, where these probes ran tau = 2"
    assert (window in said) == (other[:2] == ["--budget", "2000"]), said


def test_a_horizon_given_is_run_as_given_where_the_default_window_is_halved(tiny_model: Path, tmp_path: Path) -> None:
    """`probe --budget 2000 --horizon 2` ran every rung through tau = 1 (the window given, halved to
    fit the cap) and said "--horizon 4 runs the whole 2": a window typed is now the window run, so
    the same --horizon at another budget reuses the probes; the default window is still halved."""
    from l2advisor.probing.settings import probe_settings

    given, plan = probe_settings(0.1, 0.0, budget_steps=2000, horizon=2.0, seeds=(0,), n_val=128, batch_size=32)
    assert plan is not None and plan.horizon == 2.0 and not plan.halved and plan.over_cap
    default, halved = probe_settings(0.1, 0.0, budget_steps=2000, seeds=(0,), n_val=128, batch_size=32)
    assert halved is not None and halved.halved and halved.horizon == 4.0  # the control: the default is halved
    out = tmp_path / "run"
    assert runner.invoke(app, budget_args(tiny_model, out, "5000")).exit_code == 0
    again = runner.invoke(app, budget_args(tiny_model, out, "2000"))  # the same window and ladder: the same probes
    assert again.exit_code == 0, again.output
    assert "already here" in " ".join(again.stderr.split()) and len(_starts(out)) == 3


def test_the_same_model_file_text_at_another_path_is_refused_with_where_to_resume(tiny_model: Path,
                                                                                    tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, budget_args(tiny_model, out, "5000")).exit_code == 0
    copy = tmp_path / "elsewhere" / tiny_model.name
    copy.parent.mkdir()
    copy.write_bytes(tiny_model.read_bytes())
    result = runner.invoke(app, budget_args(copy, out, "5000"))
    said = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "model_file:" in said and "model_sha256" not in said
    assert "the model file's text is the same, but what it imports" in said and f"probe {tiny_model} to resume" in said
    edited = tmp_path / "edited" / tiny_model.name  # the control: another text says nothing of the kind
    edited.parent.mkdir()
    edited.write_text(tiny_model.read_text() + "\n# edited\n")
    other = " ".join(runner.invoke(app, budget_args(edited, out, "5000")).stderr.split())
    assert "model_sha256" in other and "text is the same" not in other
    hand_made = runner.invoke(app, ["probe", str(tiny_model), "--out", str(out), "--lambdas", "0.1,0.05,0.025",
                                    "--horizon", "2", "--seeds", "0", "--device", "cpu"])
    assert hand_made.exit_code == 2  # a ladder without --budget is never re-sized


@pytest.mark.parametrize("command", ["probe", "train"])
@pytest.mark.parametrize("budget,unit", [("-100", "steps"), ("nan", "steps"), ("100", "epoch")])
def test_a_bad_budget_is_refused_before_the_model_file_runs(tmp_path: Path, command: str, budget: str,
                                                            unit: str) -> None:
    # the model file would fail loudly if it ran: the flag's sentence must come first
    model = write_model(tmp_path, "raise RuntimeError('the model file ran')\n")
    extra = ["--weight-decay", "0.01"] if command == "train" else []
    result = runner.invoke(app, [command, str(model), "--out", str(tmp_path / "r"), "--budget", budget,
                                 "--unit", unit, *extra])
    assert result.exit_code == 2, result.output
    assert "--budget" in result.stderr or "--unit" in result.stderr
    assert "the model file ran" not in result.output


def test_a_refusal_names_what_blocks_apart_from_the_budget_that_alone_would_be_fine(tiny_model: Path,
                                                                                    tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, budget_args(tiny_model, out, "5000")).exit_code == 0
    args = [arg for arg in budget_args(tiny_model, out, "8000")]
    args = args[:args.index("--seeds")] + args[args.index("--seeds") + 2:] + ["--seeds", "1"]
    result = runner.invoke(app, args)
    said = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "holds results made with other settings (probe.seeds: [0] -> [1]" in said
    assert "the other differences, probe.budget_steps: 5000 -> 8000;" in said and "would be accepted on their own" in said
    hand = runner.invoke(app, ["probe", str(tiny_model), "--out", str(tmp_path / "hand"), "--lambdas",
                               "0.1,0.05,0.025", "--horizon", "2", "--seeds", "0", "--device", "cpu"])
    assert hand.exit_code == 0, hand.output
    sized = runner.invoke(app, budget_args(tiny_model, tmp_path / "hand", "5000"))  # a hand-made ladder is never re-sized
    assert sized.exit_code == 2 and "would be accepted" not in " ".join(sized.stderr.split())


@pytest.mark.parametrize("extra,says", [(["--factor", "3"], "drop --factor (or drop --budget"),  # only what was given
                                        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler is for --backend dask")])
def test_flags_a_budget_would_ignore_are_refused(tiny_model: Path, tmp_path: Path, extra: list[str], says: str) -> None:
    result = runner.invoke(app, [*budget_args(tiny_model, tmp_path / "run", "5000"), *extra])
    assert result.exit_code == 2 and says in " ".join(result.stderr.split())
    assert not (tmp_path / "run" / "probes.jsonl").exists()


def test_more_seeds_extend_the_probes_fewer_or_other_ones_are_refused(tiny_model: Path, tmp_path: Path) -> None:
    """A user asking for a third seed got a refusal; the probes already there are probes of the
    larger plan too. Seeds that drop one (its probes would still be fitted) are refused."""
    out = tmp_path / "run"  # at 10,000 steps: 4 rungs for one seed, 3 for two (the cap)
    assert runner.invoke(app, budget_args(tiny_model, out, "10000")).exit_code == 0  # seed 0
    args = budget_args(tiny_model, out, "10000")
    with_seeds = lambda seeds: args[:args.index("--seeds") + 1] + [seeds] + args[args.index("--seeds") + 2:]  # noqa: E731
    more = runner.invoke(app, with_seeds("0,1"))
    said = " ".join(more.stderr.split())
    assert more.exit_code == 0, more.output
    assert "Seed 1 is added to the probes here, so 3 of the plan's 6 probes are already here and reused" in said
    assert "1 finished probe(s) outside this plan stay" in said  # seed 0's 4th rung
    assert len(_starts(out)) == 7 and sorted(set(_starts(out))) == sorted(_starts(out))  # 3 new runs, none twice
    assert read_results(results_path(out)).header["settings"]["probe"]["seeds"] == [0, 1]
    for fewer in ("1", "1,2"):  # the control: seed 0's probes would be left in, or another set altogether
        refused = runner.invoke(app, with_seeds(fewer))
        assert refused.exit_code == 2 and "probe.seeds: [0, 1] ->" in " ".join(refused.stderr.split())
        hint = "these probes were extended to seeds 0,1: --seeds 0,1 resumes them, every finished probe kept"
        assert (hint in " ".join(refused.stderr.split())) is (fewer == "1")  # [1, 2] is another set: no resume
    back = " ".join(runner.invoke(app, with_seeds("0")).stderr.split())  # the seeds before the extension
    assert "(these probes were extended to seeds 0,1: --seeds 0,1 resumes them, every finished probe kept)" in back
    hand = tmp_path / "hand"  # a hand-made ladder takes more seeds too
    hand_args = ["probe", str(tiny_model), "--out", str(hand), "--lambdas", "0.1,0.05,0.025", "--horizon", "2",
                 "--device", "cpu", "--seeds"]
    assert runner.invoke(app, [*hand_args, "0"]).exit_code == 0
    again = runner.invoke(app, [*hand_args, "0,1"])
    assert again.exit_code == 0 and "3 of the plan's 6 probes" in " ".join(again.stderr.split())


def test_more_seeds_that_halve_the_window_are_refused_with_the_reason(tiny_model: Path, tmp_path: Path) -> None:
    """At 40,000 steps one seed fits the cap through the default window (tau = 8) and two do not:
    the plan for two halves the window, a change the user never typed. The refusal says why it came.
    (A --horizon given is run as given, seeds or not.)"""
    out = tmp_path / "run"
    args = [a for a in budget_args(tiny_model, out, "40000") if a not in ("--horizon", "2")]
    assert runner.invoke(app, args).exit_code == 0
    args[args.index("--seeds") + 1] = "0,1"
    refused = runner.invoke(app, args)
    said = " ".join(refused.stderr.split())
    assert refused.exit_code == 2 and "probe.horizon: 8.0 -> 4.0" in said
    assert "the plan for more seeds costs more" in said
    args[args.index("--seeds") + 1] = "1"  # the control: another seed, the same window: no such reason
    moved = runner.invoke(app, args)
    said = " ".join(moved.stderr.split())
    assert moved.exit_code == 2 and "probe.seeds: [0] -> [1]" in said and "costs more" not in said


def test_the_budget_is_repeated_as_the_user_gave_it() -> None:
    """The "Next:" command repeats the budget: an epoch count keeps all its digits (at 6 digits,
    2.3456789 epochs came back as another budget, 2.34568)."""
    from l2advisor.cli.budget import budget_flags
    from l2advisor.probing.budget import budget_words

    assert budget_flags(4600, "steps", 4600) == "--budget 4600"
    assert budget_flags(2.3456789, "epochs", 18) == "--budget 2.3456789 --unit epochs"
    assert budget_flags(1234567, "epochs", 9_876_536) == "--budget 1234567 --unit epochs"
    assert budget_words(2.3456789, "epochs", 18) == "2.3456789 epochs (18 steps)"
    assert budget_words(1234567, "epochs", 9_876_536) == "1234567 epochs (9876536 steps)"
    assert budget_words(4600.0, "steps", 4600) == "4600 steps"


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_bad_jobs_are_refused_before_anything_is_written(tiny_model: Path, tmp_path: Path, jobs: str) -> None:
    """--jobs 0 ran silently (0 stood for the default) and --jobs -1 was refused after the plan and a
    progress bar, leaving probes.jsonl behind."""
    result = runner.invoke(app, [*budget_args(tiny_model, tmp_path / "run", "5000"), "--jobs", jobs])
    assert result.exit_code == 2 and f"--jobs must be at least 1, got {jobs}." in " ".join(result.stderr.split())
    assert "Probing" not in result.stderr and not (tmp_path / "run").exists()


def test_batch_replicas_with_no_batched_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    """--no-batched --batch-replicas 4 was accepted, and the 4 did nothing."""
    result = runner.invoke(app, [*budget_args(tiny_model, tmp_path / "run", "5000"), "--no-batched",
                                 "--batch-replicas", "4"])
    assert result.exit_code == 2 and "drop it, or drop --no-batched" in " ".join(result.stderr.split())
    assert not (tmp_path / "run").exists()
    zero = runner.invoke(app, [*budget_args(tiny_model, tmp_path / "z", "5000"), "--batch-replicas", "0"])
    assert zero.exit_code == 2 and "--batch-replicas must be at least 1, got 0." in zero.stderr


@pytest.mark.bad_input
@pytest.mark.parametrize(("unit", "said"), [("epochs", "--unit applies to --budget"),
                                            ("hours", "--unit must be steps or epochs")])
def test_probe_refuses_a_unit_without_a_budget(tiny_model: Path, tmp_path: Path, unit: str, said: str) -> None:
    """--unit alone named a budget that was not there: probe ran the default ladder, silently
    ignoring it (recommend refused the same flags). Refused before anything is written."""
    out = tmp_path / "run"
    result = runner.invoke(app, ["probe", str(tiny_model), "--out", str(out), "--unit", unit, "--horizon", "2",
                                 "--seeds", "0", "--device", "cpu"])
    assert result.exit_code == 2, result.output
    assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not out.exists()


def test_recommend_for_a_budget_whose_plan_is_these_probes_says_nothing_of_sizing(tiny_model: Path,
                                                                                   tmp_path: Path) -> None:
    """recommend for 2.5x the budget the probes were sized for said they were sized for another one,
    and to probe again: that budget's plan is the same probes."""
    out = tmp_path / "run"
    assert runner.invoke(app, budget_args(tiny_model, out, "8000")).exit_code == 0
    same = runner.invoke(app, ["recommend", str(out), "--budget", "20000", "--json"])
    assert same.exit_code == 0, same.output
    assert "sized for a budget of" not in " ".join(same.stderr.split())
    other = runner.invoke(app, ["recommend", str(out), "--budget", "100000", "--json"])  # a plan of more rungs
    assert other.exit_code == 0 and "The probes were sized for a budget of 8000 steps" in " ".join(other.stderr.split())
    header = read_results(results_path(out)).header
    header.pop("sized_for")  # a header from before the planner's inputs were kept: it cannot tell
    assert not same_plan_for(header, 20000) and same_plan_for(read_results(results_path(out)).header, 20000)


def test_recommend_names_the_halved_window_where_no_probe_reached_its_top(tiny_model: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """"cannot tell: no probe clearly reached its top within its window (probe longer: a larger --horizon)"
    under a budget whose plan had halved the window: which --horizon runs the whole one was said by
    probe's sizing note only."""
    import dataclasses

    import l2advisor.cli.advising as advising
    from l2advisor.probing.budget import halved_window_note

    out = tmp_path / "run"
    probed = runner.invoke(app, ["probe", str(tiny_model), "--out", str(out), "--budget", "2000", "--seeds", "0",
                                 "--device", "cpu"])
    assert probed.exit_code == 0, probed.output
    note = halved_window_note(read_results(results_path(out)).header)
    assert note == ("These probes ran every rung to tau = 4, half of the default window of 8 (--horizon 8 runs the "
                    "whole window, at a higher cost; with another --out, or --force, since other rungs are other probes).")
    real = advising.fit_once
    short = "cannot tell: no probe clearly reached its top within its window (probe longer: a larger `probe --horizon`)"
    monkeypatch.setattr(advising, "fit_once", lambda curves, tol, **kw: dataclasses.replace(
        real(curves, tol), reasons=(*real(curves, tol).reasons, short)))
    said = runner.invoke(app, ["recommend", str(out), "--json"])
    assert said.exit_code == 0 and note in " ".join(said.stderr.split()), said.stderr
    monkeypatch.setattr(advising, "fit_once", real)  # the control: probes that reached their tops hear nothing
    plain = runner.invoke(app, ["recommend", str(out), "--json"])
    assert plain.exit_code == 0 and "These probes ran every rung" not in plain.stderr


def test_a_window_not_halved_gets_no_note(tiny_model: Path, tmp_path: Path) -> None:
    from l2advisor.probing.budget import halved_window_note

    out = tmp_path / "run"
    assert runner.invoke(app, budget_args(tiny_model, out, "40000")).exit_code == 0
    header = read_results(results_path(out)).header
    assert halved_window_note(header) is None
    header.pop("sized_for")  # an older header cannot tell
    assert halved_window_note(header) is None


def test_a_rerun_with_another_window_names_the_horizon_that_resumes(tiny_model: Path, tmp_path: Path) -> None:
    """Review 38: an old `probe --budget B --horizon 8` directory (run through tau = 4: a given --horizon
    was halved then) was refused on the same command without saying why or what resumes it."""
    out = tmp_path / "run"
    assert runner.invoke(app, budget_args(tiny_model, out, "5000")).exit_code == 0  # tau = 2
    args = budget_args(tiny_model, out, "5000")
    args[args.index("--horizon") + 1] = "4"
    refused = runner.invoke(app, args)
    said = " ".join(refused.stderr.split())
    assert refused.exit_code == 2 and "these probes ran every rung through tau = 2: `probe --horizon 2` resumes them" in said
    args[args.index("--horizon") + 1] = "2"
    args[args.index("--budget") + 1] = "2000"  # the control: another budget says its own window, not this
    other = runner.invoke(app, [*args[:args.index("--horizon")], "--horizon", "1", *args[args.index("--horizon") + 2:]])
    assert other.exit_code == 2 and "resumes them" not in " ".join(other.stderr.split())
