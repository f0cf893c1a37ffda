"""replay_notes: what a run replaying a recorded weight-decay schedule is told."""

from __future__ import annotations

from l2advisor.training.trajectory import WeightDecayTrajectory, replay_notes


def _recorded(steps_run: int | None, lr: float | None = 0.1, status: str | None = None) -> WeightDecayTrajectory:
    extra = ({} if steps_run is None else {"steps_run": steps_run}) | ({} if status is None else {"status": status})
    return WeightDecayTrajectory(steps=(0,), lams=(0.01,), lr=lr, budget_steps=6000, extra=extra)


def test_an_interrupted_recording_is_said_to_be_one() -> None:
    """A run interrupted at step 360 wrote lam 0.01 alone; replaying it held 0.01 for 6,000 steps silently.
    (The recording says it was interrupted, as `train --autol2` now writes: see the test below.)"""
    notes = replay_notes(_recorded(360, status="interrupted"), "wd.json", 6000, "constant", lr=0.1)
    assert len(notes) == 1 and "ends at step 360 of the 6000" in notes[0] and "interrupted" in notes[0]
    assert replay_notes(_recorded(6000), "wd.json", 6000, "constant", lr=0.1) == []  # the control: whole
    assert replay_notes(_recorded(None), "wd.json", 6000, "constant", lr=0.1) == []  # no record of it: nothing said


def test_a_recording_stopped_on_purpose_is_not_called_interrupted() -> None:
    """A callback's run ended at step 360 by early stopping (its recording says only how far it ran) was
    said to have been interrupted; one that diverged, too. Each is said as the recording tells it."""
    for status, said in ((None, "(its run stopped there)"), ("stopped", "(its run stopped there)"),
                         ("diverged", "(its run diverged there)"), ("interrupted", "(its run was interrupted)")):
        (note,) = replay_notes(_recorded(360, status=status), "wd.json", 6000, "constant", lr=0.1)
        assert "ends at step 360 of the 6000 it was planned for " + said in note, status
        assert ("interrupted" in note) == (status == "interrupted"), status


def test_another_lr_is_said_to_make_another_tau() -> None:
    notes = replay_notes(_recorded(6000), "wd.json", 6000, "constant", lr=0.05)
    assert len(notes) == 1 and "recorded at lr 0.1, this run's is 0.05" in notes[0]
    assert replay_notes(_recorded(6000, lr=None), "wd.json", 6000, "constant", lr=0.05) == []


def test_what_the_run_cannot_tell_is_not_compared() -> None:
    """A callback's run may not know its length, and never names its lr schedule as the CLI does."""
    recorded = WeightDecayTrajectory(steps=(0,), lams=(0.01,), lr=0.1, lr_schedule="cosine", budget_steps=6000)
    assert len(replay_notes(recorded, "wd.json", 500, "constant", lr=0.1)) == 2  # the control: length, schedule
    assert replay_notes(recorded, "wd.json", None, None, lr=0.1) == []


def test_another_warmup_is_said_to_make_another_tau() -> None:
    """A cosine run with 100 warmup steps replayed without them reached another tau (peak step 1220
    against 1080) and was told nothing: the recording did not keep its warmup."""
    recorded = WeightDecayTrajectory(steps=(0,), lams=(0.01,), lr=0.1, lr_schedule="cosine", budget_steps=6000,
                                     warmup=100)
    (note,) = replay_notes(recorded, "wd.json", 6000, "cosine", lr=0.1, warmup=0)
    assert "recorded with 100 warmup steps, this run has 0" in note
    assert replay_notes(recorded, "wd.json", 6000, "cosine", lr=0.1, warmup=100) == []  # the control
    assert replay_notes(recorded, "wd.json", 6000, "cosine", lr=0.1) == []  # a run that cannot tell
    older = WeightDecayTrajectory.from_dict({k: v for k, v in recorded.to_dict().items() if k != "warmup"})
    assert older.warmup is None and replay_notes(older, "wd.json", 6000, "cosine", lr=0.1, warmup=0) == []
    assert WeightDecayTrajectory.from_dict(recorded.to_dict()) == recorded  # kept in the file
