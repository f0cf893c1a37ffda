"""The Optuna baseline: `tune` end to end, resume, stale trials, the global trial count, two workers."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.training.train import TrainConfig
from l2advisor.tuning.baseline import (
    StudySettings,
    _surplus,
    run_study,
    study_objective,
    trial_rows,
)
from l2advisor.tuning.recovery import stale_reason
from l2advisor.tuning.storage import open_storage, open_study

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def tune(model: Path, out: Path, *extra: str):
    return runner.invoke(app, ["tune", str(model), "--budget", "20", "--eval-every", "5", "--out", str(out),
                               "--device", "cpu", "--json", *extra])


def dead_pid() -> int:
    """The pid of a process that has exited (a worker killed mid-trial)."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def study_for(model: Path, url: str, trials: int, name: str = "s") -> tuple[optuna.Study, object, TrainConfig,
                                                                             StudySettings]:
    task = build_task(load_spec(model))
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=20, eval_every=5, seed=0)
    settings = StudySettings(trials=trials)
    study = open_study(open_storage(url), name, settings, study_objective(task, config, settings), 20)
    return study, task, config, settings


def states(study: optuna.Study) -> list[str]:
    return [t.state.name for t in study.get_trials(deepcopy=False)]


def test_tune_runs_k_trials_and_a_rerun_extends_the_same_study(tiny_model: Path, tmp_path: Path) -> None:
    result = tune(tiny_model, tmp_path / "run", "--trials", "3")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [t["state"] for t in report["trials"]] == ["COMPLETE"] * 3
    assert all(1e-6 <= t["lam"] <= 0.1 and t["steps"] == 20 and t["value"] > 0.25 for t in report["trials"])
    top = max(report["trials"], key=lambda t: t["value"])  # a script needs the best trial without sorting
    ties = [t["number"] for t in report["trials"] if t["value"] == top["value"]]  # the tiny task: often all three
    assert report["best"] == {"number": top["number"], "lam": top["lam"], "value": top["value"], "tied": ties}
    assert (tmp_path / "run" / "optuna.db").exists()  # the default storage: SQLite in the run directory
    again = tune(tiny_model, tmp_path / "run", "--trials", "4")
    assert again.exit_code == 0, again.output
    trials = json.loads(again.stdout)["trials"]
    assert [t["state"] for t in trials] == ["COMPLETE"] * 4
    assert [t["lam"] for t in trials[:3]] == [t["lam"] for t in report["trials"]]  # resumed, not restarted


def test_include_zero_and_the_table(tiny_model: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["tune", str(tiny_model), "--budget", "10", "--eval-every", "5", "--trials", "2",
                                 "--include-zero", "--out", str(tmp_path / "run"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "Optuna study" in result.stdout and "best" in result.stdout and "so far" in result.stdout  # 2-line header
    # the answer is data: `tune ... > out.txt` kept the table and lost the best lam (stderr)
    assert "Best: lam = " in result.stdout and "Best: lam" not in result.stderr
    study = optuna.load_study(study_name="tiny-T10-seed0", storage=f"sqlite:///{tmp_path / 'run' / 'optuna.db'}")
    assert sorted(row["lam"] for row in trial_rows(study))[0] == 0.0


def test_same_sampler_seed_proposes_the_same_lams(tiny_model: Path, tmp_path: Path) -> None:
    lams = []
    for name in ("a", "b"):
        study, task, config, settings = study_for(tiny_model, f"journal:{tmp_path / 'j.log'}", 3, name)
        run_study(task, config, study, settings)
        lams.append([row["lam"] for row in trial_rows(study)])
    assert lams[0] == lams[1]


def test_storage_that_cannot_be_opened_is_one_sentence(tiny_model: Path, tmp_path: Path) -> None:
    result = tune(tiny_model, tmp_path / "run", "--trials", "1", "--storage", "nosuchdb://me:secret@host/db")
    assert result.exit_code == 2
    assert "Cannot open the Optuna storage" in result.output and "secret" not in result.output


def test_a_study_run_for_another_budget_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    url = f"journal:{tmp_path / 'j.log'}"
    assert tune(tiny_model, tmp_path / "run", "--trials", "1", "--storage", url, "--study-name", "x").exit_code == 0
    result = runner.invoke(app, ["tune", str(tiny_model), "--budget", "30", "--trials", "1", "--storage", url,
                                 "--study-name", "x", "--out", str(tmp_path / "run"), "--device", "cpu"])
    assert result.exit_code == 2 and "budget: 20 -> 30" in result.output


@pytest.mark.parametrize("kind", ["sqlite", "journal"])
def test_a_trial_left_running_by_a_dead_process_is_failed_and_retried(tiny_model: Path, tmp_path: Path,
                                                                       kind: str) -> None:
    url = f"sqlite:///{tmp_path / 'o.db'}" if kind == "sqlite" else f"journal:{tmp_path / 'j.log'}"
    study, *_ = study_for(tiny_model, url, 3, "tiny-T20-seed0")
    dead = study.ask()  # a worker started this trial, then was killed
    lam = dead.suggest_float("lam", 1e-6, 0.1, log=True)
    dead.set_user_attr("worker", {"host": socket.gethostname(), "pid": dead_pid()})
    result = tune(tiny_model, tmp_path / "run", "--trials", "3", "--storage", url)
    assert result.exit_code == 0, result.output
    assert "trial 0 was left running" in result.output
    trials = json.loads(result.stdout)["trials"]
    assert trials[0]["state"] == "FAIL"
    assert [t["state"] for t in trials[1:]] == ["COMPLETE"] * 3
    retried = [t for t in trials if t["retry_of"] == 0]
    assert len(retried) == 1 and retried[0]["lam"] == lam  # the dead trial's lam was run again


def test_stale_by_heartbeat_on_another_host_only_after_the_grace_period() -> None:
    started = datetime.now() - timedelta(seconds=30)
    trial = optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs={
        "worker": {"host": "elsewhere", "pid": 1}, "heartbeat": time.time() - 30})
    trial.datetime_start = started
    assert stale_reason(trial, stale_after=600) is None
    assert "no heartbeat for 3" in stale_reason(trial, stale_after=10)
    mine = optuna.trial.create_trial(state=TrialState.RUNNING, user_attrs={
        "worker": {"host": socket.gethostname(), "pid": os.getpid()}, "heartbeat": time.time()})
    assert stale_reason(mine, stale_after=600) is None  # a live process: never stale


def test_an_interrupt_fails_the_trial_and_a_rerun_retries_its_lam(tiny_model: Path, tmp_path: Path) -> None:
    study, task, config, settings = study_for(tiny_model, f"journal:{tmp_path / 'j.log'}", 2)

    class StopAfterFirstEval:
        stop = False

        def begin(self, *args: object) -> None: ...

        def update(self, record: dict) -> None:
            self.stop = record["step"] > 0

        def finish(self, *args: object) -> None: ...

        def note(self, message: str) -> None: ...

    bars = StopAfterFirstEval()
    outcomes = run_study(task, config, study, settings, bars, lambda: bars.stop)
    assert [o.status for o in outcomes] == ["interrupted"] and states(study) == ["FAIL", "WAITING"]
    run_study(task, config, study, settings)
    rows = trial_rows(study)
    assert [r["state"] for r in rows] == ["FAIL", "COMPLETE", "COMPLETE"]
    assert rows[1]["lam"] == rows[0]["lam"] and rows[1]["retry_of"] == 0


def test_the_trial_count_includes_other_workers_running_trials(tiny_model: Path, tmp_path: Path) -> None:
    study, task, config, settings = study_for(tiny_model, f"journal:{tmp_path / 'j.log'}", 2)
    other = study.ask()  # a live worker elsewhere is running this one
    other.suggest_float("lam", 1e-6, 0.1, log=True)
    other.set_user_attr("worker", {"host": socket.gethostname(), "pid": os.getppid()})
    run_study(task, config, study, settings)
    assert states(study) == ["RUNNING", "COMPLETE"]  # 1 done + 1 in flight = 2: this worker stops
    late = study.ask()  # two workers asked at once: the higher number is the surplus one
    assert _surplus(study, late, 2) and not _surplus(study, other, 3)


def test_two_processes_share_one_journal_study_without_duplicates(tiny_model: Path, tmp_path: Path) -> None:
    journal, trials = tmp_path / "study.log", 6
    command = [sys.executable, "-m", "l2advisor", "tune", str(tiny_model), "--budget", "1500", "--eval-every", "500",
               "--trials", str(trials), "--storage", f"journal:{journal}", "--device", "cpu", "--json"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    workers = [subprocess.Popen([*command, "--out", str(tmp_path / f"w{i}")], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env) for i in range(2)]
    for worker in workers:
        _, errors = worker.communicate(timeout=300)
        assert worker.returncode == 0, errors
    study = optuna.load_study(study_name="tiny-T1500-seed0", storage=open_storage(f"journal:{journal}"))
    rows = trial_rows(study)
    done = [r for r in rows if r["state"] == "COMPLETE"]
    assert len(done) == trials and not [r for r in rows if r["state"] in ("RUNNING", "WAITING")]
    assert len({r["lam"] for r in done}) == trials  # no lam drawn twice
    assert {r["worker"]["pid"] for r in done} == {w.pid for w in workers}  # both did some of the work


@pytest.mark.parametrize("command", ["tune", "compare"])
def test_tune_and_compare_take_the_setting_flags(tiny_model: Path, tmp_path: Path, command: str) -> None:
    """Like probe and train: --momentum and --optimizer override the file (README, "The model file")."""
    base = [command, str(tiny_model), "--budget", "10", "--eval-every", "5", "--trials", "1", "--device", "cpu"]
    if command == "compare":
        base += ["--seeds", "1", "--probe-budget", "400", "--probe-seeds", "0", "--horizon", "0.4"]
    wrong = runner.invoke(app, [*base, "--out", str(tmp_path / "w"), "--optimizer", "adam"])
    assert wrong.exit_code == 2 and "--optimizer must be one of" in " ".join(wrong.stderr.split())
    right = runner.invoke(app, [*base, "--out", str(tmp_path / "r"), "--optimizer", "adamw", "--momentum", "0",
                                "--lr", "0.01"])
    assert right.exit_code == 0, right.output
    if command == "compare":  # its runs file records the settings the arms trained with
        header_file = tmp_path / "r" / "compare_runs.jsonl"
        settings = json.loads(header_file.read_text().splitlines()[0])["settings"]
        assert settings["optimizer"] == "adamw" and settings["lr"] == 0.01


def test_an_evaluation_interval_longer_than_the_budget_is_refused(tiny_model: Path, tmp_path: Path) -> None:
    result = tune(tiny_model, tmp_path / "t", "--trials", "1", "--eval-every", "50")  # budget 20
    assert result.exit_code == 2 and "--eval-every must be a number of steps in [1, 20]" in " ".join(
        result.stderr.split())
    assert tune(tiny_model, tmp_path / "ok", "--trials", "1", "--eval-every", "20").exit_code == 0  # the edge


def test_fewer_trials_than_the_study_has_says_none_were_added(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "t"
    first = tune(tiny_model, out, "--trials", "2")
    assert first.exit_code == 0 and "2 of 2 trials" in " ".join(first.stderr.split())
    again = tune(tiny_model, out, "--trials", "1")
    said = " ".join(again.stderr.split())
    assert again.exit_code == 0 and "2 trials (the study already had more than --trials 1: none added)" in said


@pytest.mark.parametrize("command", ["tune", "compare"])
def test_tune_and_compare_take_a_budget_in_epochs(tiny_model: Path, tmp_path: Path, command: str) -> None:
    """Like probe, train and recommend: --unit epochs (the tiny model: 256 images, batch 32, so
    8 steps an epoch); a fraction of a step stays refused in steps."""
    base = [command, str(tiny_model), "--budget", "2", "--unit", "epochs", "--eval-every", "4", "--trials", "1",
            "--device", "cpu", "--json", "--out", str(tmp_path / "e")]
    if command == "compare":
        base += ["--seeds", "1", "--probe-budget", "400", "--probe-seeds", "0", "--horizon", "0.4"]
    result = runner.invoke(app, base)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    if command == "tune":
        assert report["study_name"].endswith("-T16-seed0") and report["trials"][0]["steps"] == 16
        assert report["budget_steps"] == 16
    else:
        assert report["settings"]["budget"] == 16
    assert report["budget_as_given"] == {"value": 2.0, "unit": "epochs"}  # the steps alone lost the unit
    half = [arg if arg != "epochs" else "steps" for arg in base]
    half[half.index("--budget") + 1] = "10.5"
    refused = runner.invoke(app, half)
    assert refused.exit_code == 2 and "--budget in steps must be a whole number" in " ".join(refused.stderr.split())


def test_tune_bar_counts_the_steps_a_pruned_trial_ran_not_its_budget() -> None:
    from l2advisor.cli.tune import TuneBars
    from l2advisor.tuning.baseline import TrialOutcome

    bars = TuneBars(trials=3, budget=100)
    overall = bars.bars.tasks[bars.overall]
    bars.begin(0, 0.1, counted=0, total=3)
    bars.finish(TrialOutcome(0, 0.1, "PRUNED", 0.5, 30, 1.0, "stopped"), 0.5, counted=1)
    assert (overall.completed, overall.total) == (30, 230)  # 70 skipped steps leave the total
    bars.begin(1, 0.01, counted=1, total=3)
    assert bars.base == 30 and overall.completed == 30  # not the first trial's full budget
    bars.finish(TrialOutcome(1, 0.01, "COMPLETE", 0.6, 100, 1.0, "finished"), 0.6, counted=2)
    assert (overall.completed, overall.total) == (130, 230)  # a full trial counts its budget
    bars.begin(2, 0.001, counted=2, total=3)
    bars.finish(TrialOutcome(2, 0.001, "FAIL", None, 50, 1.0, "diverged"), 0.6, counted=2)
    assert (overall.completed, overall.total) == (130, 230)  # not counted: its replacement runs in full
    bars.begin(3, 0.002, counted=2, total=3)
    bars.finish(TrialOutcome(3, 0.002, "COMPLETE", 0.6, 60, 1.0, "stopped"), 0.6, counted=3)
    assert (overall.completed, overall.total) == (190, 190)  # a complete trial that stopped early gives back 40


def test_an_in_memory_storage_is_said_to_keep_nothing(tiny_model: Path, tmp_path: Path) -> None:
    """`--storage sqlite://` (in memory) was accepted without a word, and nothing could resume."""
    memory = tune(tiny_model, tmp_path / "m", "--trials", "1", "--storage", "sqlite://")
    assert memory.exit_code == 0, memory.output
    assert "keeps the study in this process's memory: a rerun starts it over" in " ".join(memory.stderr.split())
    on_file = tune(tiny_model, tmp_path / "f", "--trials", "1")  # the control: the default file
    assert on_file.exit_code == 0 and "in this process's memory" not in " ".join(on_file.stderr.split())


def test_a_study_run_for_another_model_file_says_so_not_its_hashes(tiny_model: Path, tmp_path: Path) -> None:
    """The refusal showed two 64-digit SHA-256 values; it names what they stand for."""
    url = f"journal:{tmp_path / 'j.log'}"
    assert tune(tiny_model, tmp_path / "run", "--trials", "1", "--storage", url, "--study-name", "x").exit_code == 0
    edited = tmp_path / "edited" / tiny_model.name
    edited.parent.mkdir()
    edited.write_text(tiny_model.read_text() + "\n# edited\n")
    result = tune(edited, tmp_path / "run2", "--trials", "1", "--storage", url, "--study-name", "x")
    said = " ".join(result.output.split())
    assert result.exit_code == 2 and "model_sha256: another model file, or this one edited" in said
    assert not re.search(r"[0-9a-f]{64}", said)


def test_a_rerun_with_another_pruner_is_said(tiny_model: Path, tmp_path: Path) -> None:
    """A study extended with another --pruner mixed two pruning rules without a word."""
    out = tmp_path / "run"
    assert tune(tiny_model, out, "--trials", "1").exit_code == 0
    same = tune(tiny_model, out, "--trials", "2")  # the control: the same pruner
    assert same.exit_code == 0 and "earlier trials ran with" not in same.stderr
    other = tune(tiny_model, out, "--trials", "3", "--pruner", "median")
    said = " ".join(other.stderr.split())
    assert other.exit_code == 0 and "This study's earlier trials ran with --pruner none; these run with median" in said


def test_a_rerun_with_another_sampler_seed_is_said_and_each_trial_keeps_its_own(tiny_model: Path, tmp_path: Path) -> None:
    """A reviewer's study resumed with --sampler-seed 3 was accepted without a word, and its JSON named
    seed 3 for the trials seed 0 had drawn."""
    out = tmp_path / "run"
    assert tune(tiny_model, out, "--trials", "1").exit_code == 0
    same = tune(tiny_model, out, "--trials", "2")  # the control: the same seed
    assert same.exit_code == 0 and "--sampler-seed" not in same.stderr
    other = tune(tiny_model, out, "--trials", "3", "--sampler-seed", "3")
    said = " ".join(other.stderr.split())
    assert other.exit_code == 0 and "This study's earlier trials drew their lams with --sampler-seed 0; these draw " \
        "with 3" in said
    assert [t["sampler_seed"] for t in json.loads(other.stdout)["trials"]] == [0, 0, 3]
    noop = tune(tiny_model, out, "--trials", "3", "--sampler-seed", "5")  # complete: nothing drawn, nothing said
    assert noop.exit_code == 0 and "--sampler-seed" not in noop.stderr


def test_a_rerun_that_adds_no_trial_leaves_the_pruner_record_alone(tiny_model: Path, tmp_path: Path) -> None:
    """A reviewer's study ran 2 trials under median; a no-op rerun with hyperband recorded hyperband as the
    study's pruner, and the next rerun said "earlier trials ran with --pruner none"."""
    out = tmp_path / "run"
    assert tune(tiny_model, out, "--trials", "2", "--pruner", "median").exit_code == 0
    noop = tune(tiny_model, out, "--trials", "2", "--pruner", "hyperband")  # the study is complete: nothing runs
    assert noop.exit_code == 0 and "earlier trials ran with" not in noop.stderr
    third = tune(tiny_model, out, "--trials", "3")
    said = " ".join(third.stderr.split())
    assert "This study's earlier trials ran with --pruner median; these run with none" in said
    assert "hyperband" not in said


@pytest.mark.bad_input
def test_a_misspelt_pruner_is_refused_before_compare_trains_anything(tiny_model: Path, tmp_path: Path) -> None:
    from l2advisor.cli.app import app

    out = tmp_path / "cmp"
    refused = CliRunner().invoke(app, ["compare", str(tiny_model), "--budget", "200", "--trials", "2", "--seeds", "1",
                                       "--pruner", "Median", "--out", str(out), "--device", "cpu"])
    assert refused.exit_code == 2 and "--pruner must be none, median or hyperband, got 'Median'." in refused.stderr
    assert not out.exists()  # nothing trained, no setting kept


def test_a_best_trial_tied_with_others_says_so() -> None:
    """A reviewer's tune named trial 0 "Best" where 6 of 8 trials had exactly 0.9625."""
    from l2advisor.cli.tune import tie_words, tied_with

    complete = [{"number": i, "lam": lam, "value": v} for i, (lam, v) in
                enumerate([(5.5e-4, 0.9625), (1.2e-4, 0.955), (2.4e-6, 0.9625), (5.7e-4, 0.9625)])]
    best = max(complete, key=lambda r: r["value"])
    tied = tied_with(complete, best)
    assert [r["number"] for r in tied] == [0, 2, 3]
    assert tie_words(tied, "accuracy") == ("; 3 trials tie at that peak accuracy (lam 2.4e-06 .. 0.00057): the "
                                           "first drawn is named, and single runs at one seed say nothing between them")
    assert tie_words(tied_with(complete[:2], complete[0]), "accuracy") == ""  # the control: one best


def test_a_journal_in_a_folder_not_yet_made_is_made_as_a_sqlite_files_is(tiny_model: Path, tmp_path: Path) -> None:
    """`--storage journal:DIR/study.log` with DIR missing said "give an RDB URL ... or journal:PATH",
    which is what the user gave."""
    journal = tmp_path / "not" / "yet" / "study.log"
    result = tune(tiny_model, tmp_path / "run", "--trials", "1", "--storage", f"journal:{journal}")
    assert result.exit_code == 0, result.output
    assert journal.is_file() and json.loads(result.stdout)["trials"][0]["state"] == "COMPLETE"


def test_force_deletes_a_study_run_for_another_objective_and_starts_it_over(tiny_model: Path, tmp_path: Path) -> None:
    """After fixing a model file, the only way out offered was another --study-name (tune had no --force)."""
    out = tmp_path / "run"
    assert tune(tiny_model, out, "--trials", "2").exit_code == 0
    tiny_model.write_text(tiny_model.read_text() + "\n# fixed\n")
    refused = tune(tiny_model, out, "--trials", "1")
    assert refused.exit_code == 2 and "--force to delete it and start over" in " ".join(refused.output.split())
    forced = tune(tiny_model, out, "--trials", "1", "--force")
    assert forced.exit_code == 0, forced.output
    assert "--force: deleted study" in " ".join(forced.stderr.split()) and len(json.loads(forced.stdout)["trials"]) == 1
    again = tune(tiny_model, out, "--trials", "1")  # the new study resumes as any other
    assert again.exit_code == 0 and len(json.loads(again.stdout)["trials"]) == 1


def test_a_rerun_on_a_finished_study_shows_it_done(tiny_model: Path, tmp_path: Path) -> None:
    """Review 37b: a rerun on a complete study printed "trial - of 2: 0/40 (0%)"."""
    out = tmp_path / "run"
    assert tune(tiny_model, out, "--trials", "2").exit_code == 0
    again = tune(tiny_model, out, "--trials", "2")
    said = " ".join(again.stderr.split())
    assert again.exit_code == 0 and "trial 2 of 2" in said and "done" in said and "(0%)" not in said, said
