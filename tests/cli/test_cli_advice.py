"""`l2advisor recommend` in-process, on run directories written from synthetic curves with a
known answer (c = 3, lam_c = 0.02, lr = 0.1; tests/synthetic.py), plus one real tiny probe."""

from __future__ import annotations

import dataclasses
import json
import math
import traceback
from pathlib import Path

import numpy as np
import pytest
import synthetic as S
import torch
import typer
from typer.testing import CliRunner

import l2advisor
from l2advisor.cli.app import app
from l2advisor.runs.rundir import results_path
from l2advisor.runs.store import make_header, open_results
from l2advisor.science.advise import advice_from_dict, advice_to_dict
from l2advisor.science.curves import Curve
from l2advisor.science.fit import VERDICTS, fit_from_dict, fit_relations, fit_to_dict

runner = CliRunner()
C, LAM_C, LR = 3.0, 0.02, 0.1  # the synthetic truth (S.curve defaults)
LAM0 = 0.01  # AutoL2's start: the plateau edge LAM_C capped at lr*lam = 0.001
KEYS = {"schema_version", "weight_decay", "interval", "lr", "budget_steps", "verdict",
        "predicted_metric", "predicted_peak_step", "extrapolated", "c", "c_interval", "alpha",
        "reasons", "caveats", "rules_of_thumb"}


def run_id(cv: Curve) -> str:
    return f"lr={cv.lr:g}/lam={cv.lam:g}/seed={cv.seed}"


def write_run(run_dir: Path, curves: list[Curve], train_size: int | None = 1000,
              batch_size: int = 64, plan: list[str] | None = None, sized_for: int | None = None) -> Path:
    """A probes.jsonl as `l2advisor probe` writes it, from synthetic curves (store's writer);
    `plan`: the run ids the header says were planned (none: an older header without a plan);
    `sized_for`: the budget (steps) the probes were sized for."""
    settings = {"model_file": "mymodel.py", "lr": LR, "batch_size": batch_size, "momentum": 0.0,
                "metric": "accuracy", "probe": {"tolerance": 0.005}}
    if sized_for is not None:
        settings["probe"]["budget_steps"] = sized_for
    if train_size is not None:
        settings["train_size"] = train_size
    header = make_header("probe", settings, "cpu") | ({"plan": plan} if plan is not None else {})
    with open_results(results_path(run_dir), header) as w:
        for cv in curves:
            rid = run_id(cv)
            w.write({"type": "start", "run": rid, "lam": cv.lam, "lr": cv.lr, "seed": cv.seed,
                     "max_steps": int(cv.steps[-1]), "eval_every": 1})
            for i in range(len(cv.steps)):
                w.write({"type": "eval", "run": rid, "step": int(cv.steps[i]), "tau": float(cv.tau[i]),
                         "lam": cv.lam, "lr": cv.lr, "train_loss": float(cv.train_loss[i]),
                         "train_acc": float(cv.train_acc[i]), "val_metric": float(cv.val_metric[i])})
            w.write({"type": "end", "run": rid, "status": cv.status, "steps": int(cv.steps[-1])})
    return run_dir


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("syn") / "run", S.family())


def recommend(run_dir: Path, *args: str):
    return runner.invoke(app, ["recommend", str(run_dir), *args])


def flat(text: str) -> str:
    """Console text with rich's line wrapping and panel borders undone."""
    return " ".join(text.replace("│", " ").split())


def as_json(run_dir: Path, *args: str) -> dict:
    result = recommend(run_dir, *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_panel_shows_the_answer_and_writes_files(run: Path) -> None:
    result = recommend(run, "--budget", "3000")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "weight_decay=0.01" in text  # c/(lr*T) = 3/(0.1*3000) = 0.01 (fit c ~ 3.05)
    assert "holds" in text and "b=1" in text and "c = 3" in flat(text)
    assert "the advice uses c" not in flat(text) and "not used" not in flat(text)  # the measured c is the advice's
    assert "rules of thumb" in text and "5e-4" in text
    assert "learned nothing" not in flat(text)  # these probes learned (test_cli_train_advise.py: ones that did not)
    assert (run / "fit.json").exists() and (run / "advice.json").exists()
    assert "advice.json" in result.stderr and "fit.json" in result.stderr


def test_a_run_too_short_to_predict_says_so_in_place_of_a_dash(run: Path) -> None:
    text = flat(recommend(run, "--budget", "20").stdout)
    assert "expect no predicted metric: the 20-step run ends before the earliest point the probes measured" in text
    assert "- peak validation" not in text


def test_json_has_the_design_keys_and_matches_advice_file(run: Path) -> None:
    d = as_json(run, "--budget", "3000")
    assert KEYS <= set(d)
    assert d["verdict"] == "holds" and d["lr"] == LR and d["budget_steps"] == 3000
    assert d["weight_decay"] == pytest.approx(C / (LR * 3000), rel=0.15)
    assert d["interval"][0] <= d["weight_decay"] <= d["interval"][1]
    assert d["c"] == pytest.approx(C, rel=0.15) and d["extrapolated"] is False
    saved = json.loads((run / "advice.json").read_text())
    assert {k: saved[k] for k in KEYS} == {k: d[k] for k in KEYS}
    fit = json.loads((run / "fit.json").read_text())  # the panel's verdict line, machine-readable
    assert d["fit"] == {"b": fit["b"], "b_interval": fit["b_interval"], "steps_over_tau": fit["steps_over_tau"],
                        "alpha": fit["alpha"], "alpha_interval": fit["alpha_interval"], "lam_c": fit["lam_c"],
                        "train_acc": fit["train_acc"], "n_probes": fit["n_usable"], "lr": fit["lr"],
                        "c": fit["c"], "c_interval": fit["c_interval"], "c_bound": fit["c_bound"], "excluded": []}
    assert d["fit"]["c_interval"][0] <= d["fit"]["c"] <= d["fit"]["c_interval"][1]  # the panel's "c = 2.1 [1.6, 2.9]"
    assert 0.75 <= d["fit"]["b"] <= 1.25 and d["fit"]["n_probes"] > 0
    assert d["predicted_metric_is_floor"] is False and d["learned_nothing"] is False


@pytest.mark.parametrize("family", ["no effect", "above the plateau"])
def test_caveats_are_the_panels_in_json_and_the_api(tmp_path: Path, family: str) -> None:
    import l2advisor
    from l2advisor.api.words import api_words

    curves = S.no_effect_family() if family == "no effect" else S.family(lam_c=0.0005, alpha=0.0)
    run_dir = write_run(tmp_path / "r", curves)
    d = as_json(run_dir, "--budget", "20000")
    panel = flat(recommend(run_dir, "--budget", "20000").stdout)
    assert d["caveats"] and all(flat(c) in panel for c in d["caveats"])  # the panel's, word for word
    assert panel.index("caveats") < panel.index(flat(d["caveats"][0]))
    # the API's are the same caveats, with its keywords for the flags (l2advisor/api/words.py)
    said = [api_words(c, ("recommend", "probe")) for c in d["caveats"]]
    assert list(l2advisor.recommend(run_dir, budget=20000, write=False).caveats) == said
    assert json.loads((run_dir / "advice.json").read_text())["caveats"] == d["caveats"]


def test_a_far_budget_is_said_to_extrapolate_only_where_the_advice_does(tmp_path: Path) -> None:
    import l2advisor

    for name, curves, verdict, said in (("measured", S.no_effect_family(), "does not hold", "a probed lam compared"),
                                        ("formula", S.family(), "holds", "extrapolates further below")):
        run_dir = write_run(tmp_path / name, curves, sized_for=2000)
        result = recommend(run_dir, "--budget", "20000", "--json")
        assert json.loads(result.stdout)["verdict"] == verdict
        assert said in flat(result.stderr) and "10x that" in flat(result.stderr)
        assert ("extrapolates" in flat(result.stderr)) is (name == "formula")
        warnings = l2advisor.recommend(run_dir, budget=20000, write=False).warnings
        assert any(said in flat(w) for w in warnings), warnings


def test_advice_and_fit_files_round_trip(run: Path) -> None:
    as_json(run, "--budget", "30000")
    saved = json.loads((run / "advice.json").read_text())
    assert advice_to_dict(advice_from_dict(saved)).items() <= saved.items()
    fit_saved = json.loads((run / "fit.json").read_text())
    again = fit_to_dict(fit_from_dict(fit_saved))
    assert again.items() <= fit_saved.items()


def test_long_budget_extrapolates(run: Path) -> None:
    d = as_json(run, "--budget", "100000")
    assert d["extrapolated"] is True
    assert LR * d["weight_decay"] * 100000 == pytest.approx(d["c"])  # the tau clock
    assert "extrapolated" in flat(recommend(run, "--budget", "100000").stdout)


def test_epochs_use_the_header_sizes(run: Path) -> None:
    d = as_json(run, "--budget", "200", "--unit", "epochs")  # floor(1000/64) = 15 steps/epoch
    assert d["budget_steps"] == 3000 and d["unit"] == "epochs" and d["budget"] == 200
    assert d["weight_decay"] == pytest.approx(as_json(run, "--budget", "3000")["weight_decay"])


def test_epochs_with_a_tiny_train_set(tmp_path: Path) -> None:
    small = write_run(tmp_path / "small", S.family(), train_size=50, batch_size=64)
    assert as_json(small, "--budget", "300", "--unit", "epochs")["budget_steps"] == 300  # 1 step/epoch


def test_a_budget_in_epochs_is_echoed_in_epochs(run: Path) -> None:
    """recommend --unit epochs: the panel names the user's epochs with their steps (15 an epoch)."""
    panel = flat(recommend(run, "--budget", "200", "--unit", "epochs").stdout)
    assert "for 200 epochs (3000 steps)" in panel
    cosine = flat(recommend(run, "--budget", "200", "--unit", "epochs", "--lr-schedule", "cosine").stdout)
    assert "(peak) for 200 epochs (3000 steps) of cosine lr" in cosine
    assert "for 3000 steps" in flat(recommend(run, "--budget", "3000").stdout)  # the control: steps stay steps


def test_other_lr_goes_through_the_clock(run: Path) -> None:
    base, other = as_json(run, "--budget", "3000"), as_json(run, "--budget", "3000", "--lr", "0.2")
    assert other["lr"] == 0.2
    assert other["weight_decay"] == pytest.approx(base["weight_decay"] / 2)
    assert any("clock" in r for r in other["reasons"])


def train_flags() -> set[str]:
    command = typer.main.get_command(app).commands["train"]
    return {opt for p in command.params for opt in p.opts}


def test_autol2_prints_train_flags_and_a_snippet(run: Path) -> None:
    result = recommend(run, "--budget", "100000", "--autol2")
    assert result.exit_code == 0, result.output
    assert "learned nothing" not in result.stderr  # probes that learned: no warning beside the setup
    line = next(ln for ln in result.stdout.splitlines() if ln.startswith("l2advisor train"))
    assert line.startswith("l2advisor train mymodel.py --budget 100000 --autol2 --lam0 0.01 ")
    flags = {w for w in line.split() if w.startswith("--")}
    assert {"--refractory-tau", "--lam-min"} <= flags
    assert flags <= train_flags()  # every printed flag exists on `l2advisor train`
    # the probes' own setup, spelled out (they may have overridden the file's): lr, optimizer, momentum
    assert {"--lr", "--optimizer", "--momentum"} <= flags and f"--lr {LR:g}" in line
    assert "from l2advisor import AutoL2" in result.stdout
    assert "sched.step(loss.item(), train_accuracy)" in result.stdout
    # pasted as printed it runs: torch imported, train_accuracy said to be the user's (a reviewer's did neither)
    assert "import torch\n" in result.stdout and "train_accuracy: this batch's accuracy, in [0, 1]" in result.stdout


def test_autol2_json_and_snippet_runs(run: Path) -> None:
    d = as_json(run, "--budget", "40", "--autol2")
    assert json.loads((run / "advice.json").read_text())["autol2"]["lam0"] == d["lam0"]
    advice = as_json(run, "--budget", "40")  # a short budget: the advice at the plateau edge, above the cap
    assert advice["weight_decay"] > LAM0 and d["lam0"] == pytest.approx(advice["weight_decay"])  # never below it
    assert d["refractory_tau"] == pytest.approx(0.25 * advice["c"])
    assert 0 < d["lam_min"] < d["lam0"] and d["train_command"].startswith("l2advisor train")
    model = torch.nn.Linear(2, 2)
    loss = model(torch.ones(1, 2)).sum()
    loss.backward()
    scope = {"torch": torch, "model": model, "loss": loss, "train_accuracy": 0.5}
    exec(d["snippet"], scope)  # the user's loop, with the training part left out
    sched, optimizer = scope["sched"], scope["optimizer"]
    assert sched.step_count == 40
    # the snippet builds what the JSON advises (written to 4 significant digits)
    assert sched.lam0 == pytest.approx(d["lam0"], rel=1e-3)
    assert sched.lam_min == pytest.approx(d["lam_min"], rel=1e-3)
    assert sched.refractory_tau == pytest.approx(d["refractory_tau"], rel=1e-3)
    assert sched.decay == pytest.approx(d["decay"])
    assert optimizer.param_groups[0]["lr"] == pytest.approx(d["lr"])
    assert not sched.events  # no decay yet: the optimizer still trains at lam0
    assert optimizer.param_groups[0]["weight_decay"] == pytest.approx(d["lam0"], rel=1e-3)


@pytest.mark.parametrize("optimizer,momentum,expected", [
    ("sgd", 0.0, "torch.optim.SGD(model.parameters(), lr=0.1)"),
    ("sgd", 0.9, "torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)"),
    ("adamw", 0.0, "torch.optim.AdamW(model.parameters(), lr=0.1)")])
def test_autol2_snippet_uses_the_probes_optimizer(tmp_path: Path, optimizer: str, momentum: float,
                                                  expected: str) -> None:
    run_dir = write_run(tmp_path / "r", S.family())
    path = results_path(run_dir)  # the header as `probe` writes it for such a model file
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    header["settings"].update(optimizer=optimizer, momentum=momentum)
    path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    d = as_json(run_dir, "--budget", "4000", "--autol2")
    assert expected in d["snippet"]
    assert f"--optimizer {optimizer}" in d["train_command"]  # and the command trains the same setup
    assert ("--momentum 0.9" in d["train_command"]) is (momentum == 0.9)
    model = torch.nn.Linear(2, 2)
    loss = model(torch.ones(1, 2)).sum()
    loss.backward()
    scope = {"torch": torch, "model": model, "loss": loss, "train_accuracy": 0.5}
    exec(d["snippet"], scope)
    assert type(scope["optimizer"]).__name__ == ("AdamW" if optimizer == "adamw" else "SGD")


def test_autol2_snippet_without_a_training_accuracy_steps_on_the_loss(tmp_path: Path) -> None:
    """A regression (a custom metric, train_acc NaN throughout): the snippet must not pass a
    train_accuracy the user's loop does not have; AutoL2 steps on the loss alone."""
    curves = [dataclasses.replace(cv, train_acc=np.full(cv.steps.size, np.nan)) for cv in S.family()]
    run_dir = write_run(tmp_path / "r", curves)
    d = as_json(run_dir, "--budget", "40", "--autol2")
    assert "sched.step(loss.item())" in d["snippet"] and "train_accuracy" not in d["snippet"]
    assert "train_accuracy" not in recommend(run_dir, "--budget", "40", "--autol2").stdout
    model = torch.nn.Linear(2, 2)
    loss = model(torch.ones(1, 2)).sum()
    loss.backward()
    scope = {"torch": torch, "model": model, "loss": loss}  # no train_accuracy in a regression's loop
    exec(d["snippet"], scope)
    assert scope["sched"].step_count == 40


def test_does_not_hold_far_past_the_probes_expects_a_lower_bound(tmp_path: Path) -> None:
    same = write_run(tmp_path / "same", S.no_effect_family())  # probes compared over 12,000 steps
    far = flat(recommend(same, "--budget", "60000").stdout)
    assert "at least" in far and "5x longer than that, so it may climb further" in far
    near = flat(recommend(same, "--budget", "20000").stdout)  # the control: within 2x of the probes
    assert "may climb further" not in near and "around step" in near


def test_relations_that_do_not_hold_give_a_measured_lam(tmp_path: Path) -> None:
    same = write_run(tmp_path / "same", S.no_effect_family())
    result = recommend(same, "--budget", "20000")
    assert result.exit_code == 0, result.output
    assert "does not hold" in flat(result.stdout) and "a measured lam" in flat(result.stdout)
    assert "the advice uses c =" not in flat(result.stdout)  # no formula, no c of its own
    assert "(not used: no formula)" in flat(result.stdout)  # the measured c is shown, and said to go unused
    d = as_json(same, "--budget", "20000")
    assert d["verdict"] == "does not hold" and d["weight_decay"] in S.ladder()


def test_what_could_not_be_measured_is_said_in_words(tmp_path: Path) -> None:
    """One lam probed: b (and the advice's interval) cannot be measured; the panel says so, with
    no "b=- [-, -]" placeholders, and the fit's reason counts the lr*lam values in words."""
    one = write_run(tmp_path / "one", S.family(lams=[0.01]))
    text = flat(recommend(one, "--budget", "20000").stdout)
    assert "does not hold" in text and "b not measurable" in text and "no interval" in text
    assert "b=-" not in text and "[-, -]" not in text and "- .. -" not in text
    assert "no lr*lam value has curves that rise through levels the probes share" in text
    assert "b=1" in flat(recommend(write_run(tmp_path / "all", S.family()), "--budget", "3000").stdout)  # control


def test_probes_above_the_plateau_cannot_tell_and_say_the_advice_is_unconfirmed(tmp_path: Path) -> None:
    above = write_run(tmp_path / "above", S.family(lam_c=0.0005, alpha=0.0))  # lr-driven timing
    result = recommend(above, "--budget", "20000")
    assert result.exit_code == 0, result.output
    text = flat(result.stdout)
    assert "cannot tell" in text and "NOT confirmed" in text and "probe smaller lams" in text
    assert "after the run's" not in text  # the peak comes within 20,000 steps
    short = flat(recommend(above, "--budget", "100").stdout)  # clipped to the edge: its peak comes later
    # so short a run ends before the probes' first point on the clock: no metric, said, not a "-"
    assert "no predicted metric: the 100-step run ends before the earliest point the probes measured" in short
    assert "(the peak comes around step" in short and "- peak validation" not in short
    assert "at least" not in short and "below the smallest probe" not in short  # within the probes: no floor
    d = as_json(above, "--budget", "20000")
    assert d["verdict"] == "cannot tell" and d["weight_decay"] < min(S.ladder())  # the clock, not a probed lam
    # the verdict line shows the measured c; the advice's own (typical) c is named beside it
    assert f"(the advice uses c = {d['c']:.3g})" in text
    # below the probes: the smallest probe's peak, which a smaller lam that overfits can miss, so not a floor
    assert d["extrapolated"] and f"{d['predicted_metric']:.4f} peak validation" in text
    assert "at least" not in text and "not a floor" in text and d["predicted_metric_is_floor"] is False
    assert d["predicted_peak_step_is_assumed"] is True and "keep the best checkpoint, not the last" in text
    assert "a smaller lam may do better or worse" in text
    made = l2advisor.recommend(above, 20000, write=False)  # the Python API says them as --json does
    assert made.flags == {k: d[k] for k in made.flags} and made.to_dict()["predicted_peak_step_is_assumed"] is True
    assert d["interval"][0] < d["weight_decay"] < d["interval"][1]


def test_diverged_probe_is_a_caveat(tmp_path: Path) -> None:
    curves = S.family()
    bad = curves[0]
    curves[0] = Curve(lam=bad.lam, lr=bad.lr, seed=bad.seed, steps=bad.steps, tau=bad.tau,
                      val_metric=bad.val_metric, train_acc=bad.train_acc,
                      train_loss=bad.train_loss * math.nan, status="diverged")
    result = recommend(write_run(tmp_path / "div", curves), "--budget", "3000")
    assert result.exit_code == 0, result.output
    assert "caveats" in result.stdout and "1 probe(s) excluded" in flat(result.stdout)


def test_all_probes_diverged_is_a_failed_run(tmp_path: Path) -> None:
    curves = [Curve(lam=cv.lam, lr=cv.lr, seed=cv.seed, steps=cv.steps, tau=cv.tau,
                    val_metric=cv.val_metric, train_acc=cv.train_acc,
                    train_loss=cv.train_loss * math.inf, status="diverged") for cv in S.family()]
    result = recommend(write_run(tmp_path / "div", curves), "--budget", "3000")
    assert result.exit_code == 1
    assert "nothing to advise" in flat(result.stderr) and "Traceback" not in result.output
    # even the smallest lam diverged: lam is not the cause, so the hint is a smaller lr alone
    assert "use a smaller lr (even the smallest lam probed" in flat(result.stderr)
    assert "smaller lams" not in flat(result.stderr)


def test_only_larger_lams_diverging_keeps_the_lam_hint(tmp_path: Path) -> None:
    """The smallest lam failed (an error, not a divergence), the others diverged: smaller lams
    may still help, so the hint names them beside a smaller lr."""
    smallest = min(cv.lam for cv in S.family())
    curves = [Curve(lam=cv.lam, lr=cv.lr, seed=cv.seed, steps=cv.steps, tau=cv.tau,
                    val_metric=cv.val_metric, train_acc=cv.train_acc, train_loss=cv.train_loss * math.inf,
                    status="failed" if cv.lam == smallest else "diverged") for cv in S.family()]
    result = recommend(write_run(tmp_path / "div", curves), "--budget", "3000")
    assert result.exit_code == 1
    assert "fix what made them fail" in flat(result.stderr) and "probe smaller lams or a smaller lr" in flat(result.stderr)


@pytest.mark.bad_input
@pytest.mark.parametrize("budget", ["0", "-5", "nan", "inf", "12.5"])
def test_bad_budget_is_one_sentence(run: Path, budget: str) -> None:
    result = recommend(run, f"--budget={budget}")
    assert result.exit_code == 2
    assert "--budget" in result.stderr and "Traceback" not in result.output


@pytest.mark.bad_input
@pytest.mark.parametrize("args", [["--lr", "0"], ["--lr", "nan"], ["--unit", "hours"]])
def test_bad_flags(run: Path, args: list[str]) -> None:
    result = recommend(run, "--budget", "3000", *args)
    assert result.exit_code == 2 and "Error" in result.stderr


@pytest.mark.bad_input
def test_epochs_without_sizes_in_header(tmp_path: Path) -> None:
    bare = write_run(tmp_path / "bare", S.family(), train_size=None)
    result = recommend(bare, "--budget", "10", "--unit", "epochs")
    assert result.exit_code == 2 and "steps" in result.stderr


@pytest.mark.bad_input
def test_no_finished_probe(tmp_path: Path) -> None:
    run_dir = tmp_path / "empty"
    with open_results(results_path(run_dir), make_header("probe", {}, "cpu")) as w:
        w.write({"type": "start", "run": "x", "lam": 0.1, "lr": 0.1, "seed": 0})
        w.write({"type": "eval", "run": "x", "step": 0, "tau": 0.0, "val_metric": 0.1})
    result = recommend(run_dir, "--budget", "1000")
    assert result.exit_code == 2 and "no finished probe" in flat(result.stderr)
    missing = recommend(tmp_path / "nowhere", "--budget", "1000")
    assert missing.exit_code == 2 and "Error" in missing.stderr


@pytest.mark.bad_input
def test_other_schema_and_corrupt_files(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "r", S.family())
    path = results_path(run_dir)
    lines = path.read_text().splitlines()
    header = json.loads(lines[0])
    path.write_text("\n".join([json.dumps({**header, "schema_version": 99}), *lines[1:]]) + "\n")
    result = recommend(run_dir, "--budget", "1000")
    assert result.exit_code == 2 and "schema version 99" in flat(result.stderr)
    path.write_text("\n".join([lines[0], "{not json", *lines[1:]]) + "\n")
    result = recommend(run_dir, "--budget", "1000")
    assert result.exit_code == 2 and "corrupt" in result.stderr


def test_partial_last_line_is_a_warning(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "p", S.family())
    with open(results_path(run_dir), "a") as f:
        f.write('{"type": "eval", "run": "lr=0.1/l')
    result = recommend(run_dir, "--budget", "3000")
    assert result.exit_code == 0, result.output
    assert "partial last line" in flat(result.stderr)


def test_real_tiny_probe_end_to_end(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny"
    probe = runner.invoke(app, ["probe", str(tiny_model), "--out", str(out), "--lambdas",
                                "0.4,0.2,0.1", "--horizon", "2", "--seeds", "0", "--device", "cpu"])
    assert probe.exit_code == 0, probe.output
    d = as_json(out, "--budget", "20", "--unit", "epochs")  # 256 examples / 32 = 8 steps/epoch
    assert d["budget_steps"] == 160 and d["weight_decay"] > 0
    assert d["missing_probes"] == [] and d["failed_probes"] == []  # the header's plan, all finished
    assert len(json.loads(results_path(out).read_text().splitlines()[0])["plan"]) == 3
    assert d["verdict"] in VERDICTS
    report = runner.invoke(app, ["report", str(out)])
    assert report.exit_code == 0, report.output
    assert (out / "report.md").exists()


# ---- planned probes the fit does not get, and a bug in the fit ----

def unfinished(run_dir: Path, cv: Curve) -> None:
    """Append a probe that started and evaluated but has no end record (killed mid-run)."""
    with open(results_path(run_dir), "a") as f:
        f.write(json.dumps({"type": "start", "run": run_id(cv), "lam": cv.lam, "lr": cv.lr,
                            "seed": cv.seed, "max_steps": 100, "eval_every": 1}) + "\n")
        f.write(json.dumps({"type": "eval", "run": run_id(cv), "step": 0, "tau": 0.0,
                            "val_metric": 0.1}) + "\n")


def test_recommend_names_missing_unfinished_and_failed_probes(tmp_path: Path) -> None:
    done = S.family()  # 6 lams x 2 seeds, finished
    failed = S.curve(0.08, LR, 2, status="failed")
    late, never = S.curve(0.00125, LR, 0), S.curve(0.000625, LR, 0)  # below the ladder: the longest
    plan = [run_id(cv) for cv in [*done, failed, late, never]]
    run_dir = write_run(tmp_path / "gaps", [*done, failed], plan=plan)
    unfinished(run_dir, late)
    result = recommend(run_dir, "--budget", "3000", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["missing_probes"] == [{"run": run_id(late), "state": "unfinished", "message": ""},
                                   {"run": run_id(never), "state": "not started", "message": ""}]
    assert [(g["run"], g["state"]) for g in d["failed_probes"]] == [(run_id(failed), "failed")]
    warned = flat(result.stderr)
    assert "2 of the 15 planned probes have not finished" in warned
    assert "1 of the 15 planned probes failed or diverged" in warned
    for cv in (late, never, failed):
        assert run_id(cv) in warned
    saved = json.loads((run_dir / "advice.json").read_text())
    assert saved["missing_probes"] == d["missing_probes"] and saved["failed_probes"] == d["failed_probes"]
    assert "run the same `l2advisor probe` command again" in warned  # nothing holds the directory
    import subprocess
    import sys

    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # a live 'probe'
    try:
        (run_dir / ".lock").write_text(str(holder.pid))
        busy = flat(recommend(run_dir, "--budget", "3000", "--json").stderr)
        assert f"wait for the probe running in {run_dir} (pid {holder.pid}) to finish" in busy
    finally:
        holder.kill()
        holder.wait()
    panel = recommend(run_dir, "--budget", "3000")  # the panel's run warns on stderr too
    assert panel.exit_code == 0 and run_id(never) in flat(panel.stderr)


def test_a_complete_plan_warns_of_nothing(tmp_path: Path) -> None:
    done = S.family()
    run_dir = write_run(tmp_path / "whole", done, plan=[run_id(cv) for cv in done])
    result = recommend(run_dir, "--budget", "3000", "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert d["missing_probes"] == [] and d["failed_probes"] == []
    assert "Warning" not in result.stderr


def test_an_old_header_without_a_plan_still_names_started_probes(tmp_path: Path) -> None:
    done = S.family()
    run_dir = write_run(tmp_path / "old", done)
    unfinished(run_dir, S.curve(0.00125, LR, 0))
    d = as_json(run_dir, "--budget", "3000")
    assert [g["state"] for g in d["missing_probes"]] == ["unfinished"]


@pytest.mark.bad_input
def test_too_few_finished_lams_while_probes_are_pending_is_refused(tmp_path: Path) -> None:
    lams = S.ladder()  # 6 lams; only the two largest finished
    done = [S.curve(lam, LR, 0) for lam in lams[:2]]
    plan = [run_id(S.curve(lam, LR, 0)) for lam in lams]
    result = recommend(write_run(tmp_path / "early", done, plan=plan), "--budget", "3000")
    assert result.exit_code == 2 and "Traceback" not in result.output
    said = flat(result.stderr)
    assert "4 of the 6 planned probes" in said and "only 2 lam(s)" in said and "needs 3" in said
    assert run_id(S.curve(lams[-1], LR, 0)) in said and "it resumes" in said
    # the same two lams with nothing pending: a verdict from the fit, not a refusal
    whole = recommend(write_run(tmp_path / "small", done, plan=plan[:2]), "--budget", "3000")
    assert whole.exit_code == 0, whole.output
    # figures of the partial probes are still drawn, with the same names on stderr
    drawn = runner.invoke(app, ["report", str(tmp_path / "early")])
    assert drawn.exit_code == 0, drawn.output
    assert "4 of the 6 planned probes have not finished" in flat(drawn.stderr)


def test_a_bug_in_the_fit_is_an_internal_error(run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception inside the fit: exit 1, one line that calls it a bug of l2advisor, no
    verdict and no traceback; with --debug, the exception itself (and its traceback)."""
    import l2advisor.science.screen as screen_module  # where each probe is analysed

    def broken(*args: object, **kwargs: object) -> None:
        raise ZeroDivisionError("a bug planted by the test")

    monkeypatch.setattr(screen_module, "analyze_curve", broken)
    result = recommend(run, "--budget", "3000", "--json")
    assert result.exit_code == 1  # stdout: the error as JSON, for a script (it read an empty string), no verdict
    assert json.loads(result.stdout) == {"error": "internal error: ZeroDivisionError: a bug planted by the test",
                                         "exit_code": 1}
    said = flat(result.stderr)
    assert "Internal error" in said and "bug in l2advisor" in said and "report it" in said
    assert "ZeroDivisionError: a bug planted by the test" in said
    assert "Traceback" not in result.output and "does not hold" not in result.output
    debug = runner.invoke(app, ["--debug", "recommend", str(run), "--budget", "3000"])
    assert isinstance(debug.exception, ZeroDivisionError)
    assert "fit.py" in "".join(traceback.format_exception(*debug.exc_info))


def test_without_a_budget_probes_not_sized_for_one_ask_for_it(run: Path) -> None:
    result = recommend(run)  # the header has no probe budget
    assert result.exit_code == 2 and "Give --budget" in flat(result.stderr)
    assert recommend(run, "--budget", "8000").exit_code == 0  # the control


@pytest.mark.parametrize("flags", [["--json"], ["--autol2"], ["--autol2", "--json"]])
def test_every_form_says_it_replaced_advice_json(run: Path, flags: list[str]) -> None:
    """`recommend --autol2 --json` replaced advice.json, which `report` shows, without a word; only the
    panel's form said so. stdout stays the data alone."""
    result = recommend(run, "--budget", "3000", *flags)
    assert result.exit_code == 0, result.output
    assert f"Wrote {run / 'advice.json'} and fit.json" in " ".join(result.stderr.split())
    if "--json" in flags:
        json.loads(result.stdout)


def test_autol2_snippet_for_a_scheduled_run_builds_its_lr_schedule(run: Path) -> None:
    """Advised for a cosine run, the snippet said "before any lr scheduler" and built none: copied, it
    trained at constant lr. It now steps the schedule `l2advisor train --lr-schedule` runs, lr for lr."""
    from l2advisor.training.lr_schedules import make_lr_at

    d = as_json(run, "--budget", "40", "--autol2", "--lr-schedule", "cosine", "--warmup", "4")
    assert "lr_scheduler.step()" in d["snippet"]
    model = torch.nn.Linear(2, 2)
    model(torch.ones(1, 2)).sum().backward()
    seen: list[float] = []
    scope = {"torch": torch, "model": model, "loss": torch.tensor(1.0), "train_accuracy": 0.5}
    exec(d["snippet"].replace("optimizer.step()", "seen.append(optimizer.param_groups[0]['lr']); optimizer.step()"),
         {**scope, "seen": seen})
    expected = make_lr_at("cosine", d["lr"], 40, 4)
    assert seen == pytest.approx([expected(t) for t in range(40)])
    constant = as_json(run, "--budget", "40", "--autol2")  # the control: no schedule, none built
    assert "lr_scheduler" not in constant["snippet"]


def test_a_run_ending_before_its_top_is_expected_at_its_end_not_at_a_peak(tmp_path: Path) -> None:
    """"0.2938 peak validation accuracy, around step 1600, after the run's 10 steps" called the end of a
    run still rising its peak; and a 10-step run ending on the probes' first point (tau 0.025 against
    0.02500000000000001, float rounding) was said to end before it, with no metric."""
    above = write_run(tmp_path / "above", S.family(lam_c=0.0005, alpha=0.0))
    d = as_json(above, "--budget", "150")
    text = flat(recommend(above, "--budget", "150").stdout)
    assert d["predicted_peak_step"] > 150 and d["predicted_metric"] is not None  # the case: rising at its end
    assert "validation accuracy at the run's end, still rising (its top comes around step" in text
    assert "peak validation accuracy, around step" not in text
    long = flat(recommend(above, "--budget", "20000").stdout)  # the control: the top within the run
    assert "still rising" not in long and "peak validation accuracy" in long


def test_a_run_ending_on_the_first_point_but_for_rounding_is_read_there() -> None:
    from l2advisor.science.advise import _shortfall

    fit = fit_relations(S.family())
    first = min(t for t in fit.collapsed_tau if t > 0)
    assert math.isfinite(_shortfall(fit, first * (1 - 1e-12)))  # rounding below the first point: read there
    assert math.isnan(_shortfall(fit, first * 0.9))  # the control: really before it


def test_advice_without_autol2_says_it_replaces_a_saved_autol2_setup(run: Path) -> None:
    """`recommend --autol2` then `recommend` rewrote advice.json without its "autol2" entry, which
    AutoL2.from_advice and the callbacks' from_advice read, without a word."""
    assert recommend(run, "--budget", "100000", "--autol2").exit_code == 0
    assert "autol2" in json.loads((run / "advice.json").read_text())
    plain = recommend(run, "--budget", "100000")
    said = " ".join(plain.stderr.split())
    assert plain.exit_code == 0 and "advice.json held an AutoL2 setup" in said, said
    assert f"`l2advisor recommend {run} --autol2` writes one again" in said
    assert "autol2" not in json.loads((run / "advice.json").read_text())
    again = recommend(run, "--budget", "100000")  # the control: nothing held, nothing said
    assert again.exit_code == 0 and "held an AutoL2 setup" not in again.stderr
