"""The command line pauses the garbage collector while it starts (torch, the model file, its
data) and collects again once they are loaded: before the first training step, on every
command that trains. A user's process, or a test's runner, keeps its collector as it was."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from l2advisor.cli.app import app
from tests.conftest import TINY_MODEL, write_model

ROOT = Path(__file__).resolve().parents[2]
# build_model() notes whether the collector runs each time it is called: once while the task
# is built (start-up), then once per run that trains
RECORDING = TINY_MODEL.replace("def build_model():\n", "def build_model():\n"
                               "    import gc, os\n"
                               "    with open(os.environ['GC_LOG'], 'a') as log:\n"
                               "        log.write(f'{gc.isenabled()}\\n')\n")


def _command(args: list[str], log: Path) -> list[str]:
    env = {**os.environ, "GC_LOG": str(log), "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT),
                                                                                          os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-m", "l2advisor", *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    return log.read_text().split()


def test_train_collects_again_before_it_trains(tmp_path: Path) -> None:
    model = write_model(tmp_path, RECORDING)
    seen = _command(["train", str(model), "--budget", "20", "--weight-decay", "0.001", "--out",
                     str(tmp_path / "run")], tmp_path / "gc.log")
    assert seen[0] == "False"  # the task's build, during start-up: paused
    assert seen[-1] == "True" and len(seen) >= 2  # the model that trains: collecting again


def test_probe_collects_again_before_it_trains(tmp_path: Path) -> None:
    model = write_model(tmp_path, RECORDING)
    seen = _command(["probe", str(model), "--budget", "200", "--out", str(tmp_path / "run")], tmp_path / "gc.log")
    assert seen[0] == "False" and seen[1:] and set(seen[1:]) == {"True"}, seen


def test_the_runner_in_process_keeps_its_collector(tmp_path: Path) -> None:
    model = write_model(tmp_path, TINY_MODEL)
    frozen = gc.get_freeze_count()
    result = CliRunner().invoke(app, ["train", str(model), "--budget", "20", "--weight-decay", "0.001",
                                      "--out", str(tmp_path / "run"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["steps"] == 20
    assert gc.isenabled() and gc.get_freeze_count() == frozen  # nothing of the caller's frozen
