"""A saved advice for an lr schedule or a warmup, reported for its run: the run's length and the
step where the predicted peak arrives, as `recommend` told it, whichever of the CLI and the API
made and reports it. On a synthetic run whose advice is raised to lam* (the peak arrives inside
the run, not at its end, so the schedule's shape decides the step)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import synthetic as S
from test_cli_advice import as_json, write_run

import l2advisor
from l2advisor.cli.report_run import report_command
from l2advisor.science.schedules import lr_factors


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return write_run(tmp_path_factory.mktemp("sched") / "run", S.family(lam_star=0.01, drop_below=0.05))


def said_peak(report_md: Path, run_steps: int) -> str:
    text = report_md.read_text()
    tail = f" of the {run_steps}-step run"
    assert tail in text, text
    return text[:text.index(tail)].split()[-1]


@pytest.mark.parametrize(("schedule", "steps", "warmup"), [("linear", 8000, 1000), ("constant", 8000, 1000)])
def test_the_report_says_the_peak_step_recommend_said(run: Path, tmp_path: Path, schedule: str, steps: int,
                                                     warmup: int) -> None:
    told = as_json(run, "--budget", str(steps), "--lr-schedule", schedule, "--warmup", str(warmup))
    peak = told["peak_step"]
    assert peak is not None and 0 < peak < steps * 0.9, told  # inside the run, not at its end
    # the step where the run has gone the advice's fraction of its tau (the sum of its lr factors)
    sums = np.cumsum(lr_factors(schedule, steps, warmup))
    share = told["predicted_peak_step"] / told["budget_steps"]
    assert sums[int(peak) - 1] / sums[-1] == pytest.approx(share, abs=2e-3)
    report_command(run, tmp_path / "cli")
    assert said_peak(tmp_path / "cli" / "report.md", steps) == f"{peak:.0f}"
    # the API: its recommend saves the same schedule, its report reads it
    l2advisor.recommend(run, budget=steps, lr_schedule=schedule, warmup=warmup)
    saved = json.loads((run / "advice.json").read_text())
    assert (saved["lr_schedule"], saved["warmup"], saved["run_steps"]) == (schedule, warmup, steps)
    api = l2advisor.report(run, out=tmp_path / "api")[-1]
    assert said_peak(api, steps) == f"{peak:.0f}"


def test_a_constant_run_without_warmup_is_its_own_budget(run: Path, tmp_path: Path) -> None:
    """The control: nothing to rescale, so no run of its own is saved or reported."""
    l2advisor.recommend(run, budget=8000)
    assert "run_steps" not in json.loads((run / "advice.json").read_text())
    text = l2advisor.report(run, out=tmp_path / "api")[-1].read_text()
    assert "For a budget of **8000 steps**" in text and "-step run" not in text


def test_a_budget_given_in_epochs_is_reported_in_epochs(run: Path, tmp_path: Path) -> None:
    """report.md said "For a budget of **35000 steps**" after `recommend --budget 5000 --unit epochs`
    (a reviewer's); it says the budget as given, with its steps, by the CLI and the API alike."""
    told = as_json(run, "--budget", "50", "--unit", "epochs")
    steps = told["budget_steps"]
    report_command(run, tmp_path / "cli")
    assert f"For a budget of **50 epochs ({steps} steps)**" in (tmp_path / "cli" / "report.md").read_text()
    l2advisor.recommend(run, budget=50, unit="epochs")
    assert f"For a budget of **50 epochs ({steps} steps)**" in l2advisor.report(run, out=tmp_path / "api")[-1].read_text()
    l2advisor.recommend(run, budget=steps)  # the control: the same budget in steps says steps
    assert f"For a budget of **{steps} steps**" in l2advisor.report(run, out=tmp_path / "steps")[-1].read_text()
