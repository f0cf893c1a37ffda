"""An --out that cannot be a directory says what to do, not only what the OS said (trial 16)."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2advisor.errors import InputError
from l2advisor.runs.store import make_dir


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_a_path_that_cannot_be_a_directory_says_to_choose_another(tmp_path: Path, where: str) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    path = taken if where == "a file" else taken / "run"
    with pytest.raises(InputError) as refused:
        make_dir(path)
    message = str(refused.value)
    assert message.startswith(f"Cannot use {path} as a directory: ")
    assert message.endswith("; choose another directory for the results.")
    assert taken.read_text() == "mine"


def test_probe_into_a_file_exits_2_with_what_to_do(tiny_model: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from l2advisor.cli.app import app

    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    result = CliRunner().invoke(app, ["probe", str(tiny_model), "--out", str(taken), "--lambdas", "0.4,0.2",
                                      "--horizon", "2", "--seeds", "0", "--device", "cpu"])
    assert result.exit_code == 2, result.output
    assert "choose another directory for the results." in " ".join(result.output.split())
