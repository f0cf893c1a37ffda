"""Every `--json` command prints exactly one document: a Ctrl-C'd `probe --json` printed nothing on
stdout (tune and train print theirs), and a failed `train --json` printed its summary without the
`error` and `exit_code` every other --json error carries."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from conftest import write_model
from typer.testing import CliRunner

from l2advisor.cli.app import app

runner = CliRunner()


def _pressed_once(real):
    def wrapped(*args, **kwargs):
        signal.getsignal(signal.SIGINT)(signal.SIGINT, None)  # a Ctrl-C reaches the command's handler
        return real(*args, **kwargs)
    return wrapped


@pytest.mark.parametrize("as_json", [True, False])
def test_an_interrupted_probe_prints_one_document(tiny_model: Path, tmp_path: Path, monkeypatch, as_json: bool) -> None:
    import l2advisor.probing.probe as probing

    monkeypatch.setattr(probing, "run_probes", _pressed_once(probing.run_probes))
    result = runner.invoke(app, ["probe", str(tiny_model), "--out", str(tmp_path / "run"), "--lambdas",
                                 "0.4,0.2,0.1", "--horizon", "1", "--seeds", "0", "--device", "cpu",
                                 *(["--json"] if as_json else [])])
    assert result.exit_code == 130, result.output
    if as_json:
        said = json.loads(result.stdout)
        assert said["exit_code"] == 130 and said["error"].startswith("interrupted (Ctrl-C)")
    else:  # the control: without --json, nothing on stdout is JSON
        assert "exit_code" not in result.stdout


def test_a_failed_train_json_carries_its_error(tmp_path: Path) -> None:
    from conftest import TINY_MODEL

    crash = TINY_MODEL.replace("def build_model():", '''class Late(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
        self.calls = 0
    def forward(self, x):
        self.calls += 1
        if self.training and self.calls > 12:
            raise KeyError("late")
        return self.net(x)

def build_model():
    return Late()
def unused():''')
    model = write_model(tmp_path, crash)
    result = runner.invoke(app, ["train", str(model), "--budget", "40", "--weight-decay", "0.01",
                                 "--out", str(tmp_path / "run"), "--device", "cpu", "--json"])
    assert result.exit_code == 1, result.output
    said = json.loads(result.stdout)  # one document: the summary, with the error
    assert said["status"] == "failed" and said["exit_code"] == 1 and said["error"].startswith("The run failed at step")
    assert "KeyError" in said["error"]
    fine = runner.invoke(app, ["train", str(model), "--budget", "4", "--weight-decay",
                               "0.01", "--out", str(tmp_path / "ok"), "--device", "cpu", "--json"])
    assert fine.exit_code == 0 and "error" not in json.loads(fine.stdout)  # the control: a run that ends well


def test_an_interrupted_train_json_carries_its_error(tiny_model: Path, tmp_path: Path, monkeypatch) -> None:
    """train printed its summary after Ctrl-C (status "interrupted") without `error` and `exit_code`."""
    import l2advisor.training.train as training

    monkeypatch.setattr(training, "train", _pressed_once(training.train))
    result = runner.invoke(app, ["train", str(tiny_model), "--budget", "40", "--weight-decay", "0.01",
                                 "--out", str(tmp_path / "run"), "--device", "cpu", "--json"])
    assert result.exit_code == 130, result.output
    said = json.loads(result.stdout)  # one document: the summary, with the error
    assert said["status"] == "interrupted" and said["exit_code"] == 130 and said["error"].startswith("interrupted")
