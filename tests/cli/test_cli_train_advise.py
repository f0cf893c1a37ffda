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
    assert state.meta["lam"] == wd and state.meta["advised_by"] == str(out / "advice.json")
    assert state.evals[-1]["step"] == 2000
    assert "Probe summary" in result.stderr and "l2advisor recommend" in result.stderr
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
    for extra, said in ((["--weight-decay", "0.01"], "not both"), (["--autol2"], "recommend RUN_DIR"),
                        (["--weight-decay-schedule", str(schedule)], "drop --advise")):
        result = runner.invoke(app, [*advise_args(tiny_model, tmp_path / "r"), *extra])
        assert result.exit_code == 2, (extra, result.output)
        assert said in " ".join(result.stderr.split())
    assert not (tmp_path / "r").exists()  # refused before anything ran
    bare = runner.invoke(app, ["train", str(tiny_model), "--budget", "40", "--out", str(tmp_path / "b")])
    assert bare.exit_code == 2 and "--advise" in bare.stderr  # the control: nothing chose a weight decay
