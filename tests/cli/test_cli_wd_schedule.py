"""`train --autol2` writes wd_trajectory.json; `train --weight-decay-schedule` replays it
exactly: the same lam at every step and the same validation curve (same seed, CPU)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.runs.rundir import TRAIN_FILE, results_path
from l2advisor.runs.store import read_results
from l2advisor.training.trajectory import TRAJECTORY_FILE, read_trajectory, replay_notes

runner = CliRunner()
AUTOL2 = ["--autol2", "--lam0", "0.2", "--refractory-tau", "0.002", "--check-every", "5", "--patience", "1"]


def run(model: Path, out: Path, *extra: str):
    result = runner.invoke(app, ["train", str(model), "--out", str(out), "--device", "cpu", "--budget", "120",
                                 "--eval-every", "1", "--seed", "3", *extra])
    assert result.exit_code == 0, result.output
    (state,) = read_results(results_path(out, TRAIN_FILE)).runs.values()
    return state


def test_replayed_schedule_reproduces_the_autol2_run(tiny_model: Path, tmp_path: Path) -> None:
    auto = run(tiny_model, tmp_path / "auto", *AUTOL2)
    trajectory = read_trajectory(tmp_path / "auto" / TRAJECTORY_FILE)
    assert len(trajectory.steps) >= 2, "the fixture must decay at least once"
    assert trajectory.steps[1:] == tuple(e["step"] for e in auto.end["events"])
    assert (trajectory.extra["steps_run"], trajectory.extra["status"]) == (120, "finished")
    replayed = run(tiny_model, tmp_path / "replay", "--weight-decay-schedule",
                   str(tmp_path / "auto" / TRAJECTORY_FILE))
    assert replayed.run_id.startswith("wd-schedule=")
    for key in ("lam", "tau", "val_metric", "val_loss", "train_loss"):
        assert [r[key] for r in replayed.evals] == [r[key] for r in auto.evals], key


def test_negative_control_a_constant_run_differs(tiny_model: Path, tmp_path: Path) -> None:
    auto = run(tiny_model, tmp_path / "auto", *AUTOL2)
    constant = run(tiny_model, tmp_path / "const", "--weight-decay", "0.2")
    assert [r["val_loss"] for r in constant.evals] != [r["val_loss"] for r in auto.evals]


def test_schedule_excludes_other_weight_decay_flags(tiny_model: Path, tmp_path: Path) -> None:
    path = tmp_path / "wd.json"
    path.write_text(json.dumps({"kind": "l2advisor.wd_trajectory", "schema_version": 1,
                                "steps": [0], "lams": [0.1]}))
    for extra, said in ((["--autol2"], "drop --autol2."), (["--weight-decay", "0.1"], "drop --weight-decay."),
                        (["--paper-preset"], "drop --paper-preset.")):  # the flags given, no others
        result = runner.invoke(app, ["train", str(tiny_model), "--budget", "10", "--out", str(tmp_path / "o"),
                                     "--weight-decay-schedule", str(path), *extra])
        assert result.exit_code == 2 and said in " ".join(result.output.split())
    result = runner.invoke(app, ["train", str(tiny_model), "--budget", "10", "--out", str(tmp_path / "o"),
                                 "--weight-decay-schedule", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "does not exist" in " ".join(result.output.split())


def test_a_schedule_recorded_over_another_budget_is_said(tiny_model: Path, tmp_path: Path) -> None:
    run(tiny_model, tmp_path / "auto", *AUTOL2)  # recorded over 120 steps
    schedule = str(tmp_path / "auto" / TRAJECTORY_FILE)
    args = ["train", str(tiny_model), "--device", "cpu", "--eval-every", "10", "--weight-decay-schedule", schedule]
    longer = runner.invoke(app, [*args, "--out", str(tmp_path / "long"), "--budget", "200"])
    assert longer.exit_code == 0, longer.output
    said = " ".join(longer.stderr.split())
    assert "was recorded over 120 steps, this run is 200" in said and "after step 120 the last one" in said
    same = runner.invoke(app, [*args, "--out", str(tmp_path / "same"), "--budget", "120"])  # the control
    assert same.exit_code == 0 and "was recorded over" not in same.stderr and "recorded under" not in same.stderr
    cosine = runner.invoke(app, [*args, "--out", str(tmp_path / "cos"), "--budget", "120", "--lr-schedule", "cosine"])
    assert cosine.exit_code == 0 and "recorded under a constant lr; this run's is cosine" in " ".join(cosine.stderr.split())
    warm = runner.invoke(app, [*args, "--out", str(tmp_path / "warm"), "--budget", "120", "--warmup", "10"])
    assert warm.exit_code == 0 and "recorded with 0 warmup steps, this run has 10" in " ".join(warm.stderr.split())


def test_an_interrupted_recording_says_so(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C at step 30 of 120: the trajectory says it was interrupted, so a replay says so (a recording
    that does not say how it ended is only said to have stopped there: test_trajectory_notes)."""
    calls = iter(range(10**6))

    @contextmanager
    def ctrl_c_at_30(kept: str = ""):  # the interrupt is asked for at each evaluation, after each step
        yield lambda: next(calls) >= 29

    monkeypatch.setattr("l2advisor.cli.train.catch_interrupt", ctrl_c_at_30)
    result = runner.invoke(app, ["train", str(tiny_model), "--out", str(tmp_path / "cut"), "--device", "cpu",
                                 "--budget", "120", "--eval-every", "1", "--seed", "3", *AUTOL2])
    assert result.exit_code == 130, result.output
    trajectory = read_trajectory(tmp_path / "cut" / TRAJECTORY_FILE)
    assert (trajectory.extra["steps_run"], trajectory.extra["status"]) == (30, "interrupted")
    (note,) = replay_notes(trajectory, "wd.json", 120, "constant", trajectory.lr)
    assert "ends at step 30 of the 120 it was planned for (its run was interrupted)" in note
