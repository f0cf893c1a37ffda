"""`tune` and `compare` said "--budget must be a positive number of steps, got 0.5" of a budget that
is positive: a fraction of a step gets the sentence `probe` and `train` give (not a whole number),
and a budget of 0 or less keeps theirs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app

runner = CliRunner()


@pytest.mark.parametrize("command", ["tune", "compare"])
@pytest.mark.parametrize("budget,said", [("0.5", "--budget in steps must be a whole number, got 0.5."),
                                         ("0", "--budget must be a positive number of steps, got 0."),
                                         ("-3", "--budget must be a positive number of steps, got -3.")])
def test_a_budget_under_one_step_is_said_truly(tiny_model: Path, tmp_path: Path, command: str, budget: str,
                                               said: str) -> None:
    result = runner.invoke(app, [command, str(tiny_model), "--budget", budget, "--trials", "1",
                                 "--out", str(tmp_path / "run"), "--device", "cpu"])
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.stderr.split()), result.stderr
    assert not (tmp_path / "run").exists()
