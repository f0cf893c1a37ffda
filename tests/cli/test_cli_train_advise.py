"""`l2advisor train --advise`: the probes `probe --budget` plans, the advice `recommend` gives,
and the budget run at that weight decay, in one command and one run directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.runs.rundir import PROBES_FILE, TRAIN_FILE, results_path
from l2advisor.runs.store import read_results

runner = CliRunner()
BUDGET = "2000"  # steps: 3 rungs of tau 4 (400, 800, 1,600 steps) on the tiny task


def advise_args(model: Path, out: Path, *extra: str) -> list[str]:
    return ["train", str(model), "--out", str(out), "--budget", BUDGET, "--advise", "--probe-seeds", "0",
            "--device", "cpu", *extra]


def test_advise_probes_then_trains_at_the_advised_weight_decay(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, [*advise_args(tiny_model, out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)  # stdout: the training summary only (probe table, panel: stderr)
    advised = json.loads((out / "advice.json").read_text())
    wd = advised["weight_decay"]
    assert summary["advice"]["weight_decay"] == wd and summary["final_lam"] == wd
    probes = read_results(results_path(out, PROBES_FILE))
    assert probes.header["settings"]["probe"]["budget_steps"] == 2000
    assert len(probes.runs) == 3 and all(state.done for state in probes.runs.values())
    trained = read_results(results_path(out, TRAIN_FILE))
    (state,) = trained.runs.values()
    saved = {k: v for k, v in advised.items() if k != "l2advisor_version"}  # write_json adds the version
    assert state.meta["lam"] == wd and state.meta["advice"] == saved  # the run keeps the advice it used
    assert advised["made_by"] == "train --advise"
    assert state.evals[-1]["step"] == 2000
    assert "Probe summary" in result.stderr and "l2advisor recommend" in result.stderr
    report = runner.invoke(app, ["report", str(out)])  # the run beside the probes, against its prediction
    assert report.exit_code == 0, report.output
    page = (out / "report.md").read_text()
    assert "## Runs trained in this directory" in page and f"| lam={wd:g}/seed=0 |" in page
    assert f"{advised['predicted_metric']:.4f}" in page.split("## Runs trained")[1]
    assert "last `l2advisor train --advise`" in page  # where the report's advice came from
    again = runner.invoke(app, [*advise_args(tiny_model, out), "--json"])  # a re-run reuses the probes
    assert again.exit_code == 0, again.output
    assert "(3 reused)" in again.stderr and json.loads(again.stdout)["advice"]["weight_decay"] == wd


def test_advise_gives_what_probe_and_recommend_give(tiny_model: Path, tmp_path: Path) -> None:
    one = runner.invoke(app, [*advise_args(tiny_model, tmp_path / "one"), "--json"])
    assert one.exit_code == 0, one.output
    two = tmp_path / "two"
    probed = runner.invoke(app, ["probe", str(tiny_model), "--out", str(two), "--budget", BUDGET, "--seeds", "0",
                                 "--device", "cpu"])
    assert probed.exit_code == 0, probed.output
    advised = runner.invoke(app, ["recommend", str(two), "--budget", BUDGET, "--json"])
    assert advised.exit_code == 0, advised.output
    separate, together = json.loads(advised.stdout), json.loads(one.stdout)["advice"]
    assert together["weight_decay"] == separate["weight_decay"] and together["verdict"] == separate["verdict"]
    assert together["interval"] == separate["interval"]


def test_advise_follows_the_lr_schedule(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "cos"
    result = runner.invoke(app, [*advise_args(tiny_model, out), "--lr-schedule", "cosine", "--json"])
    assert result.exit_code == 0, result.output
    advice = json.loads(result.stdout)["advice"]
    assert advice["lr_schedule"] == "cosine" and json.loads(result.stdout)["final_lam"] == advice["weight_decay"]
    assert advice["lr_integral"] == pytest.approx(0.5, abs=0.01)  # advised on cosine's tau, half a constant lr's
    same = runner.invoke(app, ["recommend", str(out), "--budget", BUDGET, "--lr-schedule", "cosine", "--json"])
    assert same.exit_code == 0, same.output
    assert json.loads(same.stdout)["weight_decay"] == advice["weight_decay"]


def test_advise_refuses_what_would_choose_the_weight_decay_too(tiny_model: Path, tmp_path: Path) -> None:
    schedule = tmp_path / "wd.json"
    schedule.write_text("{}")
    for extra, said in ((["--weight-decay", "0.01"], "not both"), (["--paper-preset"], "drop --advise"),
                        (["--autol2", "--lam0", "0.01", "--decay", "10"], "takes --lam0, --decay from the probes"),
                        (["--weight-decay-schedule", str(schedule)], "drop --advise")):
        result = runner.invoke(app, [*advise_args(tiny_model, tmp_path / "r"), *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert said in " ".join(result.stderr.split())
    assert not (tmp_path / "r").exists()  # refused before anything ran
    bare = runner.invoke(app, ["train", str(tiny_model), "--budget", "40", "--out", str(tmp_path / "b")])
    assert bare.exit_code == 2 and "--advise" in bare.stderr  # the control: nothing chose a weight decay


def test_advise_with_autol2_trains_the_schedule_recommend_autol2_gives(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "auto"
    result = runner.invoke(app, [*advise_args(tiny_model, out), "--autol2", "--check-every", "5", "--patience", "3",
                                 "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    cfg = summary["advice"]["autol2"]
    (state,) = read_results(results_path(out, TRAIN_FILE)).runs.values()
    used = state.meta["autol2"]
    assert used["lam0"] == pytest.approx(cfg["lam0"], rel=1e-3) and state.meta["lam"] == used["lam0"]
    assert {k: used.get(k, 2.0) for k in ("refractory_tau", "lam_min", "decay")} == \
        pytest.approx({k: cfg[k] for k in ("refractory_tau", "lam_min", "decay")}, rel=1e-3)  # (2: the default decay)
    assert used["check_every"] == 5 and used["patience"] == 3  # flags the advice leaves alone reach AutoL2
    assert summary["advice_applied"] == "autol2" and state.meta["advice_applied"] == "autol2"
    assert state.run_id.startswith("autol2/") and "train --advise --autol2" in result.stderr  # its panel
    separate = runner.invoke(app, ["recommend", str(out), "--budget", BUDGET, "--autol2", "--json"])
    assert separate.exit_code == 0, separate.output
    assert {k: json.loads(separate.stdout)[k] for k in ("lam0", "refractory_tau", "lam_min", "decay")} == \
        {k: cfg[k] for k in ("lam0", "refractory_tau", "lam_min", "decay")}
    printed = json.loads(separate.stdout)["train_command"].split(" ", 2)[2]  # the command recommend prints
    twin = runner.invoke(app, ["train", str(tiny_model), "--out", str(out), *printed.split()[1:], "--check-every",
                               "5", "--patience", "3", "--device", "cpu"])
    assert twin.exit_code == 0, twin.output  # the same run: it replaces the advised one, no second row
    assert f"already holds run {state.run_id}" in " ".join(twin.stderr.split())
    assert list(read_results(results_path(out, TRAIN_FILE)).runs) == [state.run_id]
    report = runner.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    row = next(line for line in (out / "report.md").read_text().splitlines() if line.startswith(f"| {state.run_id} |"))
    assert f"{summary['advice']['predicted_metric']:.4f}" not in row  # AutoL2 makes no peak prediction


def test_overrides_and_epochs_reach_the_probes_and_force_starts_them_over(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = runner.invoke(app, ["train", str(tiny_model), "--out", str(out), "--budget", "250", "--unit", "epochs",
                                "--advise", "--probe-seeds", "0", "--lr", "0.05", "--device", "cpu"])
    assert first.exit_code == 0, first.output
    probes = read_results(results_path(out, PROBES_FILE)).header["settings"]
    assert probes["lr"] == 0.05 and probes["probe"]["budget_steps"] == 2000  # 250 epochs of 8 steps
    advised = json.loads((out / "advice.json").read_text())
    assert (advised["budget"], advised["unit"], advised["budget_steps"]) == (250, "epochs", 2000)
    said = " ".join(first.stderr.split())  # echoed as given: the sizing line and the panel
    assert "Sized for a budget of 250 epochs (2000 steps)" in said and "for 250 epochs (2000 steps)" in said
    (state,) = read_results(results_path(out, TRAIN_FILE)).runs.values()
    assert state.meta["lr"] == 0.05 and state.evals[-1]["step"] == 2000
    before = results_path(out, PROBES_FILE).read_bytes()
    other_lr = runner.invoke(app, advise_args(tiny_model, out))  # the file's lr, 0.1: other probes
    assert other_lr.exit_code == 2 and "--force" in other_lr.stderr
    assert results_path(out, PROBES_FILE).read_bytes() == before
    forced = runner.invoke(app, [*advise_args(tiny_model, out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert read_results(results_path(out, PROBES_FILE)).header["settings"]["lr"] == 0.1
    assert "); --force starts them over." in " ".join(forced.stderr.split())  # one sentence, no ".:"
    longer = runner.invoke(app, [*advise_args(tiny_model, out), "--force", "--budget", "4000"])
    assert longer.exit_code == 0, longer.output  # --force is about the run: probes that fit are kept
    assert "(3 reused)" in longer.stderr and "starts them over" not in " ".join(longer.stderr.split())


def test_an_edited_model_file_is_named_and_force_probes_it_again(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, advise_args(tiny_model, out)).exit_code == 0
    tiny_model.write_text(tiny_model.read_text() + "\n# edited\n")
    edited = runner.invoke(app, advise_args(tiny_model, out))
    assert edited.exit_code == 2 and "tiny.py has changed since the probes" in " ".join(edited.stderr.split())
    forced = runner.invoke(app, [*advise_args(tiny_model, out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "(0 reused)" in forced.stderr  # probed again, for the edited file
    advised = json.loads((out / "advice.json").read_text())  # the run's peak set against the prediction
    said = " ".join(forced.stderr.split())
    assert ("The advice said at least" if advised["predicted_metric_is_floor"] else "The advice predicted") in said
    assert f"{advised['predicted_metric']:.4f} peak validation accuracy" in said and "the run's best evaluation was" in said


def test_the_runs_peak_is_set_against_its_prediction() -> None:
    """Review 42: `train --advise` showed the run's 0.9975 and never the 0.8577 just predicted."""
    from l2advisor.cli.train_view import against_prediction

    run = {"peak_metric": 0.9975, "peak_step": 2820}
    estimate = {"predicted_metric": 0.8577, "predicted_peak_step": 6000.0, "predicted_metric_is_floor": False,
                "predicted_peak_step_is_assumed": True}
    said = against_prediction(run, estimate, "weight_decay", "accuracy")
    assert said is not None and "predicted 0.8577 peak validation accuracy around step 6000, a step the probes " \
        "did not measure; the run's best evaluation was 0.9975 at step 2820 (+0.1398;" in said
    floor = {**estimate, "predicted_metric_is_floor": True}
    assert against_prediction(run, floor, "weight_decay", "accuracy").endswith(": met it.")
    assert "0.1 short of it" in against_prediction({**run, "peak_metric": 0.7577}, floor, "weight_decay", "accuracy")
    assert against_prediction(run, estimate, "autol2", "accuracy") is None  # AutoL2 predicts no peak
    assert against_prediction(run, {**estimate, "predicted_metric": None}, "weight_decay", "accuracy") is None


def test_a_run_directory_that_would_refuse_the_run_is_said_before_probing(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    plain = runner.invoke(app, ["train", str(tiny_model), "--out", str(out), "--budget", "40", "--weight-decay",
                                "0.01", "--device", "cpu"])
    assert plain.exit_code == 0, plain.output
    refused = runner.invoke(app, advise_args(tiny_model, out))  # train.jsonl holds a 40-step budget
    assert refused.exit_code == 2 and "budget_steps" in refused.stderr and "train.jsonl holds" in " ".join(refused.stderr.split())
    assert not results_path(out, PROBES_FILE).exists() and not (out / "advice.json").exists()


def test_probes_that_all_diverge_stop_before_the_run(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, [*advise_args(tiny_model, out), "--lr", "1e6"])
    assert result.exit_code == 1, result.output
    assert "nothing to fit" in " ".join(result.stderr.split()) and not results_path(out, TRAIN_FILE).exists()


def test_probe_seeds_are_checked_before_anything_runs(tiny_model: Path, tmp_path: Path) -> None:
    alone = runner.invoke(app, ["train", str(tiny_model), "--budget", "40", "--weight-decay", "0.01",
                                "--probe-seeds", "0", "--out", str(tmp_path / "a")])
    assert alone.exit_code == 2 and "only applies with --advise" in alone.stderr
    for text, said in (("", "at least one seed"), ("x", "--probe-seeds takes comma-separated integers")):
        bad = runner.invoke(app, ["train", str(tiny_model), "--budget", "40", "--advise", "--probe-seeds", text,
                                  "--out", str(tmp_path / "b")])
        assert bad.exit_code == 2 and said in bad.stderr, bad.output
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_report_leaves_out_runs_of_another_version_of_the_model(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert runner.invoke(app, advise_args(tiny_model, out)).exit_code == 0
    tiny_model.write_text(tiny_model.read_text() + "\n# edited\n")
    probed = runner.invoke(app, ["probe", str(tiny_model), "--out", str(out), "--budget", BUDGET, "--seeds", "0",
                                 "--device", "cpu", "--force"])  # new probes; train.jsonl is the old model's
    assert probed.exit_code == 0, probed.output
    report = runner.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    assert "another version of the model file" in " ".join(report.stderr.split())
    assert "Runs trained" not in (out / "report.md").read_text()


def test_a_plain_run_at_the_advice_is_compared_and_a_broken_train_file_is_left_out(tiny_model: Path,
                                                                                   tmp_path: Path) -> None:
    out = tmp_path / "run"
    probed = runner.invoke(app, ["probe", str(tiny_model), "--out", str(out), "--budget", BUDGET, "--seeds", "0",
                                 "--device", "cpu"])
    assert probed.exit_code == 0, probed.output
    advised = json.loads(runner.invoke(app, ["recommend", str(out), "--budget", BUDGET, "--json"]).stdout)
    trained = runner.invoke(app, ["train", str(tiny_model), "--out", str(out), "--budget", BUDGET, "--weight-decay",
                                  repr(advised["weight_decay"]), "--device", "cpu"])
    assert trained.exit_code == 0, trained.output
    assert runner.invoke(app, ["report", str(out)]).exit_code == 0
    section = (out / "report.md").read_text().split("## Runs trained")[1]
    assumed = ", assumed" if advised["predicted_peak_step_is_assumed"] else ""  # the flag --json gives, marked
    assert f"{advised['predicted_metric']:.4f} ({advised['predicted_peak_step']:.0f}{assumed})" in section
    results_path(out, TRAIN_FILE).write_text("not json\n")
    broken = runner.invoke(app, ["report", str(out)])
    assert broken.exit_code == 0, broken.output  # the probes' report still comes
    assert "Leaving out the trained runs" in " ".join(broken.stderr.split())
    assert "Runs trained" not in (out / "report.md").read_text()


def test_warmup_and_the_default_seeds_reach_the_probes_and_one_seed_is_warned(tiny_model: Path,
                                                                              tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(tiny_model), "--out", str(out), "--budget", BUDGET, "--advise",
                                 "--warmup", "200", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    assert read_results(results_path(out, PROBES_FILE)).header["settings"]["probe"]["seeds"] == [0, 1]
    assert "One seed" not in result.stderr
    advice = json.loads(result.stdout)["advice"]
    same = json.loads(runner.invoke(app, ["recommend", str(out), "--budget", BUDGET, "--warmup", "200",
                                          "--json"]).stdout)
    assert advice["warmup"] == 200 and (advice["weight_decay"], advice["peak_step"]) == (
        same["weight_decay"], same["peak_step"])
    one = runner.invoke(app, advise_args(tiny_model, tmp_path / "one"))
    assert one.exit_code == 0 and "One seed" in one.stderr


def test_each_set_of_probes_is_fitted_once_per_command(tiny_model: Path, tmp_path: Path, monkeypatch) -> None:
    import l2advisor.science.fit_memo as fit_memo

    seen: list[tuple] = []
    real = fit_memo.fit_relations

    def counting(curves, **kwargs):
        seen.append(tuple(sorted((c.lam, c.seed) for c in curves)))
        return real(curves, **kwargs)

    monkeypatch.setattr(fit_memo, "fit_relations", counting)
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(tiny_model), "--out", str(out), "--budget", BUDGET, "--advise",
                                 "--device", "cpu"])
    assert result.exit_code == 0, result.output
    # the follow-up decision, the check for missing follow-ups and the advice: one fit per set of probes
    assert seen and len(seen) == len(set(seen)), seen


def test_probes_that_learned_nothing_train_no_run(tmp_path: Path) -> None:
    """A loss returned as the metric (l2advisor maximizes it): the panel says "nothing was learned",
    and the budget run at a meaningless advice is not trained (it was, for 2,000 steps, exit 0)."""
    from conftest import TINY_MODEL, write_model

    model = write_model(tmp_path, TINY_MODEL + "\ndef metric(outputs, targets):\n"
                        "    return float(nn.functional.cross_entropy(outputs, targets))\n", "loss_as_metric.py")
    out = tmp_path / "run"
    result = runner.invoke(app, advise_args(model, out))
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert "nothing was learned" in said and "The probes learned nothing" in said and "--weight-decay X" in said
    assert "Every probe's validation metric was best at its first evaluation (step 0" in said  # under the table
    assert not results_path(out, TRAIN_FILE).exists() and results_path(out, PROBES_FILE).exists()
    scheduled = runner.invoke(app, advise_args(model, out, "--autol2"))  # the AutoL2 schedule, from the same probes
    assert scheduled.exit_code == 2, scheduled.output
    assert "The probes learned nothing" in " ".join(scheduled.stderr.split())
    assert not results_path(out, TRAIN_FILE).exists()
    panel = runner.invoke(app, ["recommend", str(out), "--budget", BUDGET])  # its number is flagged beside it
    assert panel.exit_code == 0, panel.output
    head = " ".join(panel.stdout.split("verdict")[0].split())
    assert "weight_decay=" in head and "but the probes learned nothing: this weight decay means nothing" in head
    assert "the lr, and that metric" in head and "(l2advisor maximizes it)" in head  # a loss returned as is
    for form in ([], ["--json"]):  # an AutoL2 setup shows no panel: the warning is said on its own (review 47)
        setup = runner.invoke(app, ["recommend", str(out), "--budget", BUDGET, "--autol2", *form])
        assert setup.exit_code == 0, setup.output
        assert "The probes learned nothing: this AutoL2 setup, made from them, means nothing until they do" in \
            " ".join(setup.stderr.split())


def test_another_budget_in_the_same_directory_says_what_force_replaces_and_keeps(tiny_model: Path,
                                                                                  tmp_path: Path) -> None:
    """The refusal said only "Use --force to start over": nothing of the runs --force replaces, nor
    of the probes it keeps."""
    out = tmp_path / "run"
    assert runner.invoke(app, advise_args(tiny_model, out)).exit_code == 0
    other = [*advise_args(tiny_model, out)]
    other[other.index("--budget") + 1] = str(2 * int(BUDGET))
    refused = runner.invoke(app, other)
    said = " ".join(refused.stderr.split())
    assert refused.exit_code == 2 and "budget_steps:" in said
    assert ("train.jsonl keeps the runs of one setup (budget, lr schedule, evaluation interval, model and its "
            "settings): --force replaces its runs") in said
    assert "the probes beside it are kept and reused where they fit" in said
    starts = len([line for line in (out / "probes.jsonl").read_text().splitlines() if '"type": "start"' in line])
    forced = runner.invoke(app, [*other, "--force"])
    assert forced.exit_code == 0, forced.output
    assert len([line for line in (out / "probes.jsonl").read_text().splitlines()
                if '"type": "start"' in line]) >= starts  # the probes kept (more only for a larger plan)
    plain = runner.invoke(app, ["train", str(tiny_model), "--out", str(out), "--budget", "77", "--weight-decay", "0.01",
                                "--device", "cpu"])  # without --advise: no probes to speak of
    told = " ".join(plain.stderr.split())
    assert plain.exit_code == 2 and "--force replaces its runs with this one, or --out" in told and "probes" not in told
