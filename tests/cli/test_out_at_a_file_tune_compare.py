"""`tune` and `compare` keep their results under --out; an --out at a file (or below one) is the
user's mistake, said as `probe` says it (one sentence naming --out's path, exit 2) before the model
file runs. `tune` blamed the Optuna storage and asked for an RDB URL instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app

runner = CliRunner()
COMMANDS = {"tune": ["--trials", "1"], "compare": ["--trials", "1", "--seeds", "1"]}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_out_at_a_file_is_said_as_out_before_the_model_file_runs(tiny_model: Path, tmp_path: Path,
                                                                     command: str, where: str) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    out = taken if where == "a file" else taken / "run"
    result = runner.invoke(app, [command, str(tiny_model), "--budget", "40", *COMMANDS[command], "--out", str(out),
                                 "--device", "cpu"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert f"Cannot use {out} as a directory" in said and "Optuna storage" not in said, said
    assert "Threads:" not in said
    assert taken.read_text() == "mine"


def test_tune_with_its_own_storage_does_not_use_out(tiny_model: Path, tmp_path: Path) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    result = runner.invoke(app, ["tune", str(tiny_model), "--budget", "40", "--trials", "1", "--out", str(taken),
                                 "--storage", f"journal:{tmp_path / 'study.log'}", "--device", "cpu"])
    assert result.exit_code == 0, result.output
