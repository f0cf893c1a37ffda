"""`probe --batch-replicas` is checked before the model file runs, as --seeds, --lrs, --lambdas and
--jobs are: with --no-batched, or below 1, it was refused after the model file had run (and
behind its own error, when it raised one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_probe_lists_first import RUNS_ON_IMPORT
from typer.testing import CliRunner

from l2advisor.cli.app import app
from tests.conftest import write_model


@pytest.mark.bad_input
@pytest.mark.parametrize(("flags", "said"), [(["--no-batched", "--batch-replicas", "4"], "drop --no-batched"),
                                             (["--batch-replicas", "0"], "--batch-replicas must be at least 1")])
def test_batch_replicas_are_refused_before_the_model_file_runs(tmp_path: Path, flags: list[str],
                                                               said: str) -> None:
    model = write_model(tmp_path, RUNS_ON_IMPORT, "model.py")
    result = CliRunner().invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), *flags])
    assert result.exit_code == 2, result.output
    assert said in " ".join(result.stderr.split()) and "the model file ran" not in result.stderr, result.stderr
    assert not (tmp_path / "ran.txt").exists()
