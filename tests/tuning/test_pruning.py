"""A tuning trial reports its running peak to the pruner at 20 points of its budget, not at every
evaluation (each report is a storage write, each check a read of the study), and the pruner still
stops a trial at the checkpoint where it says so."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna
import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from l2advisor.training.eval_schedule import eval_steps
from l2advisor.training.train import TrainConfig
from l2advisor.tuning.baseline import _train_trial
from l2advisor.tuning.pruning import CHECKPOINTS, Checkpoints, first_report, make_pruner

runner = CliRunner()


def _due(budget: int, steps: list[int]) -> list[int]:
    checkpoints = Checkpoints(budget)
    return [s for s in steps if checkpoints.due(s)]


def test_an_evenly_evaluated_run_reports_at_each_twentieth_of_its_budget() -> None:
    steps = eval_steps(2000, 20)  # 100 evaluations
    assert _due(2000, [0, *steps]) == list(range(100, 2001, 100))
    assert len(_due(2000, steps)) == CHECKPOINTS


def test_a_sparse_schedule_reports_once_per_evaluation_and_always_at_the_end() -> None:
    steps = eval_steps(2000, 1, per_decade=10)  # dense early, sparse late: 10, 13, ..., 1585, 2000
    due = _due(2000, steps)
    assert due[0] == 100 and due[-1] == 2000 and len(due) == len(set(due))
    assert len({s // 100 for s in due}) == len(due)  # never two within one twentieth of the budget
    assert 1585 in due and 1259 in due  # each a step past several twentieths: reported once
    assert _due(7, [1, 2, 3, 7]) == [1, 2, 3, 7]  # a budget under 20 steps: every evaluation


class FakeTrial:
    """What `_train_trial` asks of an Optuna trial: reports recorded, prune from `prune_from` on."""

    def __init__(self, prune_from: int | None) -> None:
        self.reports: list[tuple[float, int]] = []
        self.checked_after: list[int] = []
        self.prune_from = prune_from
        self.attrs: dict[str, Any] = {}

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        step = self.reports[-1][1]
        self.checked_after.append(step)
        return self.prune_from is not None and step >= self.prune_from

    def set_user_attr(self, key: str, value: Any) -> None:
        self.attrs[key] = value


@pytest.mark.parametrize("prune_from", [None, 300])
def test_a_trial_reports_and_is_pruned_at_the_checkpoints(tiny_model: Path, prune_from: int | None) -> None:
    task = build_task(load_spec(tiny_model))
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=400, eval_every=4, seed=0)  # 100 evaluations
    trial = FakeTrial(prune_from)
    result, value = _train_trial(task, config, trial, 1e-3, "hyperband", None, lambda: False)  # type: ignore[arg-type]
    steps = [step for _, step in trial.reports]
    assert trial.checked_after == steps  # a check only right after a report
    if prune_from is None:
        assert steps == list(range(20, 401, 20)) and result.status == "finished"
        assert trial.reports[-1][0] == pytest.approx(value)  # the last report is the trial's value
    else:
        assert steps == [20 * k for k in range(1, 16)] and result.status == "pruned" and result.steps == 300
    peaks = [v for v, _ in trial.reports]
    assert peaks == sorted(peaks)  # the running peak


def test_no_pruner_makes_no_report(tiny_model: Path) -> None:
    task = build_task(load_spec(tiny_model))
    trial = FakeTrial(0)
    config = TrainConfig(lr=0.1, batch_size=32, max_steps=100, eval_every=5, seed=0)
    result, _ = _train_trial(task, config, trial, 1e-3, "none", None, lambda: False)  # type: ignore[arg-type]
    assert trial.reports == [] and trial.checked_after == [] and result.status == "finished"


def test_tune_stores_the_checkpoint_reports_only(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, ["tune", str(tiny_model), "--budget", "200", "--eval-every", "2", "--trials", "2",
                                 "--pruner", "median", "--out", str(out), "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    storage = f"sqlite:///{out / 'optuna.db'}"
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    for trial in study.trials:  # 16 of the 100 evaluations: the median pruner decides nothing in its warm-up
        assert sorted(trial.intermediate_values) == list(range(50, 201, 10))
    hyperband = runner.invoke(app, ["tune", str(tiny_model), "--budget", "200", "--eval-every", "2", "--trials", "2",
                                    "--pruner", "hyperband", "--out", str(tmp_path / "hb"), "--device", "cpu", "--json"])
    assert hyperband.exit_code == 0, hyperband.output  # the control: no warm-up, 20 of the 100 from the first twentieth
    storage = f"sqlite:///{tmp_path / 'hb' / 'optuna.db'}"
    study = optuna.load_study(study_name=optuna.get_all_study_names(storage)[0], storage=storage)
    assert all(sorted(t.intermediate_values) == list(range(10, 201, 10)) for t in study.trials)


def test_the_median_pruners_warm_up_makes_no_report() -> None:
    """Before step budget/4 the median pruner decides nothing, yet each report there was a storage
    write and each check a read of the whole study."""
    assert first_report("median", 2000) == 500 == make_pruner("median", 2000)._n_warmup_steps
    assert first_report("hyperband", 2000) == 0 == first_report("none", 2000)
    checkpoints = Checkpoints(2000, first=500)
    assert [s for s in range(0, 2001, 20) if checkpoints.due(s)] == list(range(500, 2001, 100))
