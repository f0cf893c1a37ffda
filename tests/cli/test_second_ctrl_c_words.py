"""A second Ctrl-C says what is kept in the words of the command it stops: `train` said "a probe
cut mid-way restarts on resume", about probes it never ran and a resume it does not do."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app

runner = CliRunner()


def _pressed_twice(real):
    """`real`, after two Ctrl-C's reach the command's handler (the second stops at once)."""
    def wrapped(*args, **kwargs):
        handler = signal.getsignal(signal.SIGINT)
        handler(signal.SIGINT, None)
        with pytest.raises(KeyboardInterrupt):
            handler(signal.SIGINT, None)
        return real(*args, **kwargs)  # the interrupt is requested: it stops at its first evaluation
    return wrapped


def test_a_second_ctrl_c_in_train_says_a_run_does_not_resume(tiny_model: Path, tmp_path: Path,
                                                              monkeypatch) -> None:
    import l2advisor.training.train as training

    monkeypatch.setattr(training, "train", _pressed_twice(training.train))
    result = runner.invoke(app, ["train", str(tiny_model), "--budget", "40", "--weight-decay", "0.01",
                                 "--out", str(tmp_path / "run"), "--device", "cpu"])
    said = " ".join(result.stderr.split())
    assert result.exit_code == 130, result.output
    again = said.split("Ctrl-C again: stopping now.", 1)[1].split("Interrupted at step", 1)[0]
    assert "A run does not resume: the same command trains it again from step 0." in again, said
    assert "probe" not in again


def test_a_second_ctrl_c_in_probe_says_what_a_rerun_reuses(tiny_model: Path, tmp_path: Path,
                                                           monkeypatch) -> None:
    import l2advisor.probing.probe as probing

    monkeypatch.setattr(probing, "run_probes", _pressed_twice(probing.run_probes))
    result = runner.invoke(app, ["probe", str(tiny_model), "--out", str(tmp_path / "run"), "--lambdas",
                                 "0.4,0.2,0.1", "--horizon", "1", "--seeds", "0", "--device", "cpu"])
    said = " ".join(result.stderr.split())
    assert result.exit_code == 130, result.output
    assert "Ctrl-C again: stopping now. What was written so far is kept; a probe cut mid-way restarts on resume." \
        in said, said
