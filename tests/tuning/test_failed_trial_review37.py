"""A trial whose run fails inside the model file (a lam the model cannot take) is FAIL and the
search goes on, as Optuna's own loop does: it aborted `tune` and `compare` with exit 1 on the first
run, and the same command run again went on past the recorded FAIL and exited 0."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_baseline import study_for, tune

import l2advisor.tuning.baseline as baseline
from l2advisor.errors import RunFailed
from l2advisor.training.train import TrainResult

# fails its run at the start where lam is large (the model itself cannot see lam: the fake train can)
FAIL_ABOVE = 1e-2


class Heard:
    """A TuneProgress that keeps the notes it hears."""

    def __init__(self) -> None:
        self.notes: list[str] = []

    def begin(self, *args) -> None: ...

    def update(self, record) -> None: ...

    def finish(self, outcome, best, counted) -> None: ...

    def note(self, message: str) -> None:
        self.notes.append(message)


def _failing_train(real):
    def train(task, config, lam, **kw):  # noqa: ANN001, ANN202
        if lam > FAIL_ABOVE:
            return TrainResult("failed", message="RuntimeError: norm too small (model.py, line 9)")
        return real(task, config, lam, **kw)
    return train


def test_a_failed_trial_is_recorded_and_the_search_goes_on(tiny_model: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(baseline, "train", _failing_train(baseline.train))
    study, task, config, settings = study_for(tiny_model, f"sqlite:///{tmp_path / 'db.sqlite'}", trials=6)
    heard = Heard()
    notes = heard.notes

    outcomes = baseline.run_study(task, config, study, settings, heard)
    failed = [o for o in outcomes if o.status == "failed"]
    assert failed and all(o.lam > FAIL_ABOVE and o.state == "FAIL" for o in failed)
    assert sum(o.state == "COMPLETE" for o in outcomes) == 6  # the 6 asked for, failures not counted
    assert any(f"Trial {failed[0].number} (lam={failed[0].lam:g}) failed: RuntimeError: norm too small" in n
               and "the search goes on" in n for n in notes), notes


def test_as_many_failures_as_trials_stop_the_search(tiny_model: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The negative control: a model file that fails at every lam is not searched forever."""
    monkeypatch.setattr(baseline, "train", lambda task, config, lam, **kw: TrainResult("failed", message="KeyError: 'x'"))
    study, task, config, settings = study_for(tiny_model, f"sqlite:///{tmp_path / 'db.sqlite'}", trials=3)
    heard = Heard()
    notes = heard.notes

    with pytest.raises(RunFailed, match=r"3 trials failed in this run, the last \(trial 2, .*KeyError: 'x'; fix what"):
        baseline.run_study(task, config, study, settings, heard)
    assert len(notes) == 2 and all("the search goes on" in n for n in notes)  # not before the error that stops it


def test_tune_exits_0_on_its_first_run_past_a_failed_trial(tiny_model: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_model
    monkeypatch.setattr(baseline, "train", _failing_train(baseline.train))
    first = tune(model, tmp_path / "t", "--trials", "6", "--lam-low", "1e-6", "--lam-high", "0.1")
    assert first.exit_code == 0, first.output
    assert "failed: RuntimeError: norm too small" in first.stderr and '"FAIL"' in first.stdout, first.stdout
    again = tune(model, tmp_path / "t", "--trials", "6", "--lam-low", "1e-6", "--lam-high", "0.1")
    assert again.exit_code == 0 and first.stdout == again.stdout  # the same study, the same answer
