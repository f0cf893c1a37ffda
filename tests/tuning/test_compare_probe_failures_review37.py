"""`compare` says which of its probes failed, as `recommend` does (it fitted the others without a
word), and stops before training any arm when every probe failed on an error of the model file
(it trained every default and zero run into the same error, then pointed to a compare.json it
never wrote)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import TINY_MODEL, write_model
from test_compare import compare_args
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.errors import RunFailed
from l2advisor.runs.store import RunState
from l2advisor.tuning import compare as compare_module
from l2advisor.tuning.probe_failures import failed_probes_note, refuse_when_all_failed

runner = CliRunner()

LATE_CRASH = TINY_MODEL.replace("def build_model():\n    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))", '''
class Late(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
        self.register_buffer("calls", torch.zeros(()))
    def forward(self, x):
        self.calls.add_(1)
        if self.training and self.calls.max() > 30:
            raise KeyError("late")
        return self.net(x)

def build_model():
    return Late()''')


def _state(run_id: str, status: str, message: str = "") -> RunState:
    return RunState(run_id, {}, [], {"status": status, "message": message, "steps": 10, "seconds": 0.1})


def test_the_note_names_each_failed_probe_and_only_then() -> None:
    states = [_state("lr=0.1/lam=0.1/seed=0", "failed", "RuntimeError: norm (model.py, line 16)"),
              _state("lr=0.1/lam=0.05/seed=0", "diverged", "loss became nan"), _state("lr=0.1/lam=0.025/seed=0", "finished")]
    note = failed_probes_note(states)
    assert note is not None and note.startswith("2 of 3 probes failed or diverged and are left out of the advice")
    assert "lr=0.1/lam=0.1/seed=0 failed: RuntimeError: norm (model.py, line 16)" in note
    assert failed_probes_note(states[2:]) is None  # the control: nothing failed, nothing said
    refuse_when_all_failed(states)  # a finished one among them: no stop
    with pytest.raises(RunFailed, match=r"All 2 probes failed \(lr=0.1/lam=0.1/seed=0: RuntimeError"):
        refuse_when_all_failed(states[:1] * 2)
    refuse_when_all_failed(states[1:2] * 2)  # all diverged: lam's doing, the other arms may train


def test_compare_stops_before_any_arm_when_every_probe_failed(tmp_path: Path) -> None:
    out = tmp_path / "cmp"
    result = runner.invoke(app, [*compare_args(write_model(tmp_path, LATE_CRASH), out), "--json"])
    said = " ".join(result.stderr.split())
    assert result.exit_code == 1 and "probes failed (lr=" in result.stdout + said and "KeyError" in result.stdout + said
    assert not (out / "compare_runs.jsonl").exists() or "default/" not in (out / "compare_runs.jsonl").read_text()
    assert "compare.json" not in result.stdout + said  # no file that is never written is pointed to (it stops first)


def test_compare_notes_the_probes_that_failed(tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = compare_module.Comparison._probe

    def one_failed(self, fit_relations):  # noqa: ANN001, ANN202 - the first probe ends failed
        states, fit = real(self, fit_relations)
        states[0].end = {**states[0].end, "status": "failed", "message": "RuntimeError: boom (tiny.py, line 9)"}
        return states, fit

    monkeypatch.setattr(compare_module.Comparison, "_probe", one_failed)
    result = runner.invoke(app, [*compare_args(tiny_model, tmp_path / "cmp"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert any(n.startswith("1 of ") and "RuntimeError: boom" in n for n in report["notes"]), report["notes"]
    assert len(report["failed_probes"]) == 1
