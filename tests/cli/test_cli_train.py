"""`l2advisor train` end to end, in-process, on a tiny generated task; and the lr schedules."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.cli.budget import budget_steps
from l2advisor.probing.budget import steps_per_epoch
from l2advisor.runs.rundir import TRAIN_FILE, results_path
from l2advisor.runs.store import read_results
from l2advisor.training.lr_schedules import make_lr_at
from tests.conftest import TINY_MODEL, write_model

runner = CliRunner()

# Gradients are exactly zero, so the data loss is 0.0 at every step: from the second check on,
# every measurement is "no better than the best", and AutoL2 must decay at each chance it gets.
FLAT_LOSS_MODEL = TINY_MODEL + '''
def loss(outputs, targets):
    return outputs.sum() * 0.0
'''


def train_args(model: Path, out: Path, *extra: str) -> list[str]:
    return ["train", str(model), "--out", str(out), "--device", "cpu", *extra]


def stored_run(out: Path):
    results = read_results(results_path(out, TRAIN_FILE))
    assert len(results.runs) == 1
    return results, next(iter(results.runs.values()))


def words(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines on stderr


def test_constant_weight_decay_run_writes_curve_and_summary(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, [*train_args(tiny_model, out), "--budget", "40", "--weight-decay", "0.01",
                                 "--eval-every", "10", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    results, state = stored_run(out)
    assert results.header["command"] == "train"
    assert results.header["settings"]["budget_steps"] == 40
    assert state.done and state.meta["lam"] == 0.01 and state.meta["autol2"] is None
    assert [r["step"] for r in state.evals] == [0, 10, 20, 30, 40]
    assert all(r["lam"] == 0.01 and r["lr"] == 0.1 for r in state.evals)
    assert state.evals[-1]["tau"] == pytest.approx(0.1 * 0.01 * 40)
    best = max(state.evals, key=lambda r: r["val_metric"])
    assert summary["peak_metric"] == best["val_metric"] and summary["peak_step"] == best["step"]
    assert summary["final_lam"] == 0.01 and summary["lam_history"] == [] and summary["status"] == "finished"
    table = runner.invoke(app, [*train_args(tiny_model, out), "--budget", "40", "--weight-decay", "0.01",
                                "--eval-every", "10"])
    assert table.exit_code == 0, table.output
    assert "peak validation accuracy" in table.stdout and "replaces it" in words(table.stderr)


def eager_autol2(tmp_path: Path, budget: int, lam_min: str):
    """AutoL2 on a loss that never improves: checks every step, patience 2, decay 10, from 0.1."""
    model = write_model(tmp_path, FLAT_LOSS_MODEL)
    out = tmp_path / "run"
    return out, runner.invoke(app, [*train_args(model, out), "--budget", str(budget), "--autol2", "--lam0", "0.1",
                                    "--refractory-tau", "0", "--check-every", "1", "--patience", "2", "--decay",
                                    "10", "--lam-min", lam_min, "--eval-every", "1", "--json"])


def test_autol2_decays_lam_and_records_it(tmp_path: Path) -> None:
    out, result = eager_autol2(tmp_path, 12, "0.0001")
    assert result.exit_code == 0, result.output
    _, state = stored_run(out)
    lams = [r["lam"] for r in state.evals]  # lam in force after each step
    # checks at steps 1, 2, 3...: step 1 sets the best, steps 2 and 3 stall twice -> decay at 3,
    # then a decay on every later check (patience stays filled) until the floor 1e-4 (step 5).
    assert lams[:3] == [0.1, 0.1, 0.1]
    assert lams[3:6] == pytest.approx([0.01, 0.001, 0.0001])
    assert lams[6:] == pytest.approx([0.0001] * 7)
    events = state.end["events"]
    assert [e["step"] for e in events] == [3, 4, 5]
    assert events[0]["old_lam"] == 0.1 and events[0]["new_lam"] == pytest.approx(0.01)
    assert events[0]["signal"] in ("loss", "both")
    assert state.evals[3]["tau"] == pytest.approx(0.1 * 0.1 * 3)  # tau counts each step's lr*lam
    summary = json.loads(result.stdout)
    assert summary["final_lam"] == pytest.approx(0.0001) and len(summary["lam_history"]) == 3


def test_autol2_takes_no_decay_after_the_last_step(tmp_path: Path) -> None:
    """A decay at the budget's last step would name a lam no step trains with (final_lam)."""
    out, result = eager_autol2(tmp_path, 6, "1e-12")  # decays at steps 3, 4, 5, ... but for the end
    assert result.exit_code == 0, result.output
    _, state = stored_run(out)
    assert [e["step"] for e in state.end["events"]] == [3, 4, 5]  # not 6: no step follows it
    summary = json.loads(result.stdout)
    assert summary["final_lam"] == pytest.approx(state.evals[-1]["lam"]) == pytest.approx(1e-4)


def test_the_table_lists_decays_and_says_when_there_were_none(tmp_path: Path) -> None:
    model = write_model(tmp_path, FLAT_LOSS_MODEL)
    args = [*train_args(model, tmp_path / "run"), "--budget", "12", "--autol2", "--lam0", "0.1",
            "--refractory-tau", "0", "--check-every", "1", "--decay", "10", "--lam-min", "0.0001",
            "--eval-every", "1", "--force"]
    decayed = words(runner.invoke(app, [*args, "--patience", "2"]).stdout)
    assert "decay at step 3 (tau 0.03;" in decayed and "stalled)" in decayed and "none (lam stayed" not in decayed
    never = words(runner.invoke(app, [*args, "--patience", "50"]).stdout)  # no decay in 12 steps
    assert "none (lam stayed at lam0)" in never and "decay at step" not in never


def test_paper_preset_is_stored_with_its_rule(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, [*train_args(tiny_model, out), "--budget", "20", "--paper-preset"])
    assert result.exit_code == 0, result.output
    _, state = stored_run(out)
    assert state.run_id.startswith("autol2-paper/lam0=0.1")
    assert state.meta["autol2"]["refractory_lam_steps"] == 0.1 and state.meta["autol2"]["smoothing"] == "none"
    assert state.evals[0]["lam"] == 0.1


def test_cosine_schedule_changes_lr_in_records(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, [*train_args(tiny_model, out), "--budget", "40", "--weight-decay", "0.01",
                                 "--lr-schedule", "cosine", "--eval-every", "10"])
    assert result.exit_code == 0, result.output
    _, state = stored_run(out)
    lrs = [r["lr"] for r in state.evals]  # lr of the last step taken before each evaluation
    assert lrs[0] == 0.1 and all(a > b for a, b in zip(lrs[1:], lrs[2:], strict=False))
    assert lrs[-1] == pytest.approx(0.05 * (1 + math.cos(math.pi * 39 / 40)))
    expected_tau = sum(0.01 * 0.05 * (1 + math.cos(math.pi * s / 40)) for s in range(40))
    assert state.evals[-1]["tau"] == pytest.approx(expected_tau)


def test_epochs_budget_counts_full_batches(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, [*train_args(tiny_model, out), "--budget", "2", "--unit", "epochs",
                                 "--weight-decay", "0"])
    assert result.exit_code == 0, result.output
    _, state = stored_run(out)
    assert state.end["steps"] == 2 * (256 // 32)
    assert "lam=0/seed=0, 2 epochs (16 steps) (constant lr" in " ".join(result.stderr.split())  # as given, with its steps
    assert steps_per_epoch(1000, 64) == 15 and steps_per_epoch(10, 64) == 1
    assert budget_steps(1.5, "epochs", 1000, 64) == 22


def test_seeds_accumulate_and_other_settings_are_refused(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    for seed in ("0", "1"):
        args = [*train_args(tiny_model, out), "--budget", "10", "--weight-decay", "0.01", "--seed", seed]
        assert runner.invoke(app, args).exit_code == 0
    assert sorted(read_results(results_path(out, TRAIN_FILE)).runs) == ["lam=0.01/seed=0", "lam=0.01/seed=1"]
    other = runner.invoke(app, [*train_args(tiny_model, out), "--budget", "20", "--weight-decay", "0.01"])
    assert other.exit_code == 2 and "budget_steps: 10 -> 20" in words(other.stderr)


@pytest.mark.parametrize(("flags", "message"), [
    (["--budget", "10", "--autol2", "--weight-decay", "0.01"], "not both"),
    (["--budget", "10"], "Give --weight-decay"),
    (["--budget", "0", "--weight-decay", "0.01"], "--budget must be a finite number > 0"),
    (["--budget", "-5", "--weight-decay", "0.01"], "--budget must be a finite number > 0"),
    (["--budget", "nan", "--weight-decay", "0.01"], "--budget must be a finite number > 0"),
    (["--budget", "2.5", "--weight-decay", "0.01"], "whole number"),
    (["--budget", "10", "--weight-decay", "nan"], "--weight-decay must be a finite number >= 0"),
    (["--budget", "10", "--weight-decay", "0.01", "--lam0", "0.1"], "--lam0 only applies with --autol2"),
    (["--budget", "10", "--lam0", "0.1"], "--lam0 only applies with --autol2"),  # said before "Give --weight-decay"
    (["--budget", "10", "--advise", "--lam0", "0.1"], "--lam0 only applies with --autol2"),  # not "--advise --autol2"
    (["--budget", "10", "--paper-preset", "--weight-decay", "0.01"], "Give either --paper-preset (AutoL2) or"),
    (["--budget", "10", "--autol2", "--lam0", "-1"], "--lam0 must be finite"),
    (["--budget", "10", "--autol2", "--lam-min", "nan"], "--lam-min must be finite"),
    (["--budget", "10", "--paper-preset", "--decay", "3"], "drop --decay"),
    (["--budget", "10", "--weight-decay", "0.01", "--unit", "hours"], "--unit must be steps or epochs"),
    (["--budget", "10", "--weight-decay", "0.01", "--lr-schedule", "exponential"], "--lr-schedule must be one of"),
    (["--budget", "10", "--weight-decay", "0.01", "--warmup", "-1"], "--warmup must be a whole number"),
    (["--budget", "10", "--weight-decay", "0.01", "--warmup", "10"], "must be shorter than the run"),
    (["--budget", "10", "--weight-decay", "0.01", "--eval-every", "0"], "--eval-every must be >= 1"),
])
def test_bad_flags_exit_2_with_a_message(tiny_model: Path, tmp_path: Path, flags: list[str], message: str) -> None:
    result = runner.invoke(app, train_args(tiny_model, tmp_path / "run", *flags))
    assert result.exit_code == 2, result.output
    assert message in words(result.stderr)
    assert "Traceback" not in result.output
    assert not (tmp_path / "run" / TRAIN_FILE).exists()


def test_lr_schedules() -> None:
    constant, cosine, step = (make_lr_at(name, 0.2, 100) for name in ("constant", "cosine", "step"))
    assert [constant(s) for s in (0, 50, 99)] == [0.2, 0.2, 0.2]
    assert cosine(0) == 0.2 and cosine(50) == pytest.approx(0.1) and 0 < cosine(99) < 1e-3
    assert [step(s) for s in (0, 49, 50, 74, 75, 99)] == pytest.approx([0.2, 0.2, 0.02, 0.02, 0.002, 0.002])
    with pytest.raises(ValueError, match="unknown learning-rate schedule"):
        make_lr_at("exponential", 0.1, 10)


def test_linear_schedule_with_warmup_in_records(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, [*train_args(tiny_model, out), "--budget", "40", "--weight-decay", "0.01",
                                 "--lr-schedule", "linear", "--warmup", "8", "--eval-every", "4"])
    assert result.exit_code == 0, result.output
    _, state = stored_run(out)
    assert state.meta["warmup"] == 8 and state.meta["lr_schedule"] == "linear"
    lrs = {r["step"]: r["lr"] for r in state.evals}  # lr of step s-1, the last one before the evaluation
    assert lrs[4] == pytest.approx(0.1 * 4 / 8) and lrs[8] == pytest.approx(0.1)
    assert lrs[40] == pytest.approx(0.1 * 1 / 32)  # step 39: 1 - 31/32 of the peak
    expected_tau = 0.01 * 0.1 * (sum((s + 1) / 8 for s in range(8)) + sum(1 - k / 32 for k in range(32)))
    assert state.evals[-1]["tau"] == pytest.approx(expected_tau)


def test_autol2_stops_at_a_floor_reached_with_round_off() -> None:
    import torch

    from l2advisor.training.autol2 import AutoL2

    opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    sched = AutoL2(opt, lam0=0.3, lam_min=0.0003, refractory_tau=0.0, check_every=1, patience=1, decay=10.0)
    for _ in range(20):  # a constant loss stalls at every check after the first
        sched.step(1.0, 0.5)
    assert len(sched.events) == 3  # 0.3 / 10**3 = 0.00030000000000000003: no 4th "decay" onto the floor
    assert sched.lam == pytest.approx(0.0003)


def test_train_refuses_a_directory_of_another_models_probes(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "r"
    probed = runner.invoke(app, ["probe", str(tiny_model), "--out", str(out), "--lambdas", "0.4,0.2", "--horizon",
                                 "1", "--seeds", "0", "--device", "cpu"])
    assert probed.exit_code == 0, probed.output
    other = write_model(tmp_path, TINY_MODEL.replace("lr = 0.1", "lr = 0.05") + "\n# another model\n", "other.py")
    args = ["--weight-decay", "0.01", "--budget", "20", "--out", str(out), "--device", "cpu"]
    refused = runner.invoke(app, ["train", str(other), *args])
    assert refused.exit_code == 2, refused.output
    assert "holds probes of another model file" in " ".join(refused.stderr.split())
    same = runner.invoke(app, ["train", str(tiny_model), *args])  # its own probes: fine
    assert same.exit_code == 0, same.output


@pytest.mark.parametrize("batch", [512, 32])
def test_a_batch_larger_than_the_training_set_is_said(tmp_path: Path, batch: int) -> None:
    model = write_model(tmp_path, TINY_MODEL.replace("batch_size = 32", f"batch_size = {batch}"), "big.py")
    result = runner.invoke(app, ["train", str(model), "--weight-decay", "0.01", "--budget", "3", "--out",
                                 str(tmp_path / "r"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    said = "larger than the 256 training examples" in " ".join(result.stderr.split())
    assert said is (batch > 256)


def test_a_warmup_as_long_as_the_run_is_refused_before_the_model_file_runs(tiny_model: Path, tmp_path: Path) -> None:
    """--warmup 3000 --budget 2000 was refused only after torch and the model file had loaded (the
    Threads line came first); in epochs it can only be said once the training set's size is known."""
    steps = runner.invoke(app, train_args(tiny_model, tmp_path / "s", "--budget", "20", "--weight-decay", "0.01",
                                          "--warmup", "30"))
    assert steps.exit_code == 2 and "must be shorter than the run (20 steps)" in words(steps.stderr)
    assert "Threads:" not in steps.stderr
    epochs = runner.invoke(app, train_args(tiny_model, tmp_path / "e", "--budget", "1", "--unit", "epochs",
                                           "--weight-decay", "0.01", "--warmup", "100000"))
    assert epochs.exit_code == 2 and "must be shorter than the run" in words(epochs.stderr)
    assert "Threads:" in epochs.stderr  # the control: the epochs' steps are known only after the model file


def test_a_log_file_gets_a_plain_last_line_not_the_bars_frame(tiny_model: Path, tmp_path: Path) -> None:
    """train's stderr in a file ended with the bar's last frame, glyphs and all (probe's did not)."""
    result = runner.invoke(app, [*train_args(tiny_model, tmp_path / "run"), "--budget", "40", "--weight-decay",
                                 "0.01", "--eval-every", "10"])
    assert result.exit_code == 0, result.output
    assert "━" not in result.stderr
    assert "lam 0.01: 40/40 (100%)" in words(result.stderr)  # the plain line, once
    assert words(result.stderr).count("40/40 (100%)") == 1
