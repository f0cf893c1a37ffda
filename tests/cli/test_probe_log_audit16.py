"""Probing into a log (no terminal): each probe's end is one plain line that says how far it got
of its planned steps, and a rerun that still has probes to train does not claim all were reused."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.cli.probe_view import ProbeBars
from l2advisor.probing.plan import ProbeRun
from l2advisor.runs.rundir import results_path
from l2advisor.training.train import TrainResult
from tests.conftest import TINY_MODEL, write_model

runner = CliRunner()


def test_a_probe_stopped_early_is_logged_against_its_planned_steps(capsys) -> None:
    runs = [ProbeRun(lam=0.1, lr=0.1, seed=0, max_steps=400, eval_every=13),
            ProbeRun(lam=0.05, lr=0.1, seed=0, max_steps=800, eval_every=13)]
    bars = ProbeBars(runs, live=False)
    for run, status, steps in ((runs[0], "stopped", 200), (runs[1], "finished", 800)):
        bars.begin(run, reused=False)
        bars.update(run, {"step": 13, "tau": 0.13, "val_metric": 0.5})
        bars.finish(run, TrainResult(status, steps=steps))
    lines = [line for line in capsys.readouterr().err.splitlines() if " ended, " in line]
    assert len(lines) == 2, lines
    assert lines[0].startswith(f"{runs[0].run_id}: stopped at step 200 of 400, tau 0.13, val 0.5000 (1 of 2 ended, ")
    assert lines[1].startswith(f"{runs[1].run_id}: finished at step 800 of 800, ")


def test_a_rerun_with_one_probe_left_trains_it_and_does_not_say_all_were_reused(tmp_path: Path) -> None:
    model = write_model(tmp_path, TINY_MODEL)
    args = ["probe", str(model), "--out", str(tmp_path / "run"), "--lambdas", "0.4,0.2,0.1", "--horizon", "1",
            "--seeds", "0", "--device", "cpu", "--no-early-stop"]
    assert runner.invoke(app, args).exit_code == 0
    path = results_path(tmp_path / "run")
    records = [json.loads(line) for line in path.read_text().splitlines()]
    last = next(r["run"] for r in reversed(records) if r.get("type") == "end")
    path.write_text("".join(json.dumps(r) + "\n" for r in records if r.get("run") != last))  # it never ran
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "already finished" not in again.stderr, again.stderr
    ended = [line for line in again.stderr.splitlines() if " ended, " in line]
    assert len(ended) == 1 and ended[0].startswith(f"{last}: finished"), again.stderr
    rerun = runner.invoke(app, args)  # the control: now every probe is done
    assert "All 3 planned probes had already finished" in " ".join(rerun.stderr.split())
