"""--json's stdout holds the JSON alone: a model file that prints while it loads (a very common
`print(x.shape)`) wrote before the JSON and broke every parser (a reviewer's `probe`, `train` and
`probe --plan`); its prints now go to stderr. Without --json they stay on stdout, as written."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from l2advisor.cli.app import app
from tests.conftest import TINY_MODEL, write_model

PRINTS = 'print("loading the blobs...")\n' + TINY_MODEL + '''
_build = build_model

def build_model():
    print("building")
    return _build()
'''


def _run(tmp_path: Path, *args: str):
    model = write_model(tmp_path, PRINTS)
    return CliRunner().invoke(app, [args[0], str(model), "--out", str(tmp_path / "run"), "--device", "cpu",
                                    *args[1:]])


def test_probe_json_is_all_of_stdout(tmp_path: Path) -> None:
    result = _run(tmp_path, "probe", "--lambdas", "0.4,0.2,0.1", "--horizon", "1", "--seeds", "0",
                  "--no-early-stop", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["probes"]  # nothing before or after the object
    assert "loading the blobs..." in result.stderr and "building" in result.stderr


def test_train_and_plan_json_too(tmp_path: Path) -> None:
    train = _run(tmp_path, "train", "--budget", "20", "--weight-decay", "0.01", "--eval-every", "10", "--json")
    assert train.exit_code == 0, train.output
    assert json.loads(train.stdout)["status"] == "finished"
    plan = _run(tmp_path, "probe", "--budget", "2000", "--plan", "--json")
    assert plan.exit_code == 0, plan.output
    assert isinstance(json.loads(plan.stdout), dict)


def test_without_json_the_prints_stay_where_the_user_put_them(tmp_path: Path) -> None:
    result = _run(tmp_path, "train", "--budget", "20", "--weight-decay", "0.01", "--eval-every", "10")
    assert result.exit_code == 0, result.output
    assert "loading the blobs..." in result.stdout  # the control


def test_an_error_under_json_is_a_json_object_on_stdout(tmp_path: Path) -> None:
    """A script read an empty stdout on a refusal; now the error, with its exit status, as JSON."""
    result = CliRunner().invoke(app, ["recommend", str(tmp_path / "nowhere"), "--budget", "100", "--json"])
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {"error": json.loads(result.stdout)["error"], "exit_code": 2}
    assert "nowhere" in json.loads(result.stdout)["error"]
    plain = CliRunner().invoke(app, ["recommend", str(tmp_path / "nowhere"), "--budget", "100"])
    assert plain.exit_code == 2 and plain.stdout == ""  # the control: without --json, stderr alone


def test_probe_workers_prints_go_to_stderr_too(tmp_path: Path) -> None:
    """`probe --jobs 2 --json`: the worker processes' prints reached the shared stdout ahead of the JSON."""
    import os
    import subprocess
    import sys

    model = write_model(tmp_path, PRINTS)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "l2advisor", "probe", str(model), "--out", str(tmp_path / "run"),
                           "--lambdas", "0.4,0.2,0.1", "--horizon", "1", "--seeds", "0", "--device", "cpu",
                           "--no-early-stop", "--jobs", "2", "--json"], capture_output=True, text=True, env=env,
                          timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)["probes"]) == 3
    assert done.stderr.count("building") >= 2  # the parent's check, the workers' probes
