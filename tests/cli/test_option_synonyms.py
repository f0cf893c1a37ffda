"""An option another tool's users would type suggests this command's own first."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app

runner = CliRunner()


@pytest.mark.bad_input
@pytest.mark.parametrize(("args", "first"), [
    (["probe", "model.py", "--steps", "2000"], "--budget"),
    (["train", "model.py", "--epochs", "3"], "--budget"),
    (["train", "model.py", "--budget", "10", "--wd", "0.1"], "--weight-decay"),
    (["probe", "model.py", "--learning-rate", "0.1"], "--lr"),
])
def test_a_synonym_suggests_the_commands_own_option_first(tiny_model: Path, args: list[str], first: str) -> None:
    args = [str(tiny_model) if a == "model.py" else a for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    # click's words for one guess differ between versions (typer's own copy of it, or the click package)
    assert f"No such option: {args[-2]} (Possible options: {first})" in said or \
        f"No such option: {args[-2]} Did you mean {first}?" in said, said


@pytest.mark.bad_input
def test_a_synonym_of_an_option_the_command_lacks_is_not_suggested(tiny_model: Path) -> None:
    result = runner.invoke(app, ["probe", str(tiny_model), "--wd", "0.1"])  # probe takes --lambdas, not --weight-decay
    assert result.exit_code == 2 and "No such option: --wd" in result.output
    assert "--weight-decay" not in result.output
