"""`probe`'s lists (--seeds, --lrs, --lambdas) are read before the model file runs: a typo in
them is the one thing said, not preceded by the model's build, the Threads line, or an error of
the model file itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from tests.conftest import write_model

RUNS_ON_IMPORT = '''
from pathlib import Path
Path(__file__).with_name("ran.txt").write_text("the model file ran")
raise RuntimeError("the model file ran")
'''


@pytest.mark.bad_input
@pytest.mark.parametrize(("flag", "value"), [("--seeds", "0,a"), ("--lrs", "0.1,x"), ("--lambdas", "0.2;0.1")])
def test_a_malformed_list_is_refused_before_the_model_file_runs(tmp_path: Path, flag: str, value: str) -> None:
    model = write_model(tmp_path, RUNS_ON_IMPORT, "model.py")
    result = CliRunner().invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), flag, value])
    assert result.exit_code == 2, result.output
    assert f"{flag} takes comma-separated" in result.stderr, result.stderr
    assert "Threads" not in result.stderr and "the model file ran" not in result.stderr
    assert not (tmp_path / "ran.txt").exists()


def test_the_control_a_well_formed_list_reaches_the_model_file(tmp_path: Path) -> None:
    model = write_model(tmp_path, RUNS_ON_IMPORT, "model.py")
    result = CliRunner().invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), "--seeds", "0,1"])
    assert result.exit_code == 2 and (tmp_path / "ran.txt").exists(), result.output
