"""AutoL2TrainerCallback and WeightDecayReplayCallback in a real Hugging Face Trainer, offline,
on a tiny torch module built in code: the logged loss drives AutoL2, lam is logged, a
checkpoint resume continues exactly, and a replay reproduces the run step by step."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

transformers = pytest.importorskip("transformers")
import torch  # noqa: E402
from torch import nn  # noqa: E402

from l2advisor.integrations.hf import AutoL2TrainerCallback, WeightDecayReplayCallback  # noqa: E402
from l2advisor.training.trajectory import WeightDecayTrajectory, write_trajectory  # noqa: E402

AUTOL2 = dict(lam0=0.1, patience=1, refractory_tau=0.001, smoothing="none", decay=10.0)  # the lam logged last is in force at the end
STEPS_PER_EPOCH = 8
logging.getLogger("transformers").setLevel(logging.ERROR)


class Blobs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.net(x)
        return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}


def blobs() -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(1)
    centers = torch.randn(4, 8, generator=torch.Generator().manual_seed(123)) * 1.5
    y = torch.randint(0, 4, (32 * STEPS_PER_EPOCH,), generator=g)
    x = centers[y] + torch.randn(len(y), 8, generator=g)
    return [{"x": xi, "labels": yi} for xi, yi in zip(x, y, strict=True)]


class Recorder(transformers.TrainerCallback):
    """weight_decay of the decay group at each optimizer step."""

    def __init__(self) -> None:
        self.lams: list[float] = []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs) -> None:
        self.lams.append(optimizer.param_groups[0]["weight_decay"])


def trainer(callbacks: list, out: Path, max_steps: int, restore: bool = False) -> transformers.Trainer:
    args = transformers.TrainingArguments(
        restore_callback_states_from_checkpoint=restore,
        output_dir=str(out), max_steps=max_steps, per_device_train_batch_size=32, learning_rate=0.2,
        optim="sgd", lr_scheduler_type="constant", logging_steps=2, save_strategy="steps",
        save_steps=2 * STEPS_PER_EPOCH, report_to="none", use_cpu=True, seed=0, disable_tqdm=True,
        dataloader_num_workers=0)
    torch.manual_seed(0)
    return transformers.Trainer(model=Blobs(), args=args, train_dataset=blobs(), callbacks=callbacks)


def test_logged_loss_drives_autol2_and_lam_is_logged(tmp_path: Path) -> None:
    callback, recorder = AutoL2TrainerCallback(**AUTOL2), Recorder()
    run = trainer([callback, recorder], tmp_path, 4 * STEPS_PER_EPOCH)
    run.train()
    auto = callback.autol2
    assert auto is not None and auto.step_count == 4 * STEPS_PER_EPOCH and auto.check_every == 2
    assert auto.events and all(e.signal == "loss" for e in auto.events)  # no accuracy: loss-only trigger
    assert recorder.lams[0] == 0.1 and recorder.lams[-1] == auto.lam < 0.1
    assert callback.history and callback.history[-1][1] == auto.lam
    steps = [step for step, _ in callback.history]
    assert steps == sorted(set(steps))  # one entry per logged step (the end-of-run summary logs again)
    assert all(group["weight_decay"] == 0.0 for group in run.optimizer.param_groups[1:])  # biases untouched


@pytest.mark.parametrize("restore", [False, True])  # the Trainer rebuilds the callback itself when True
def test_resume_from_checkpoint_continues_exactly(tmp_path: Path, restore: bool) -> None:
    whole = AutoL2TrainerCallback(**AUTOL2)
    trainer([whole], tmp_path / "whole", 4 * STEPS_PER_EPOCH).train()
    ckpt = tmp_path / "whole" / f"checkpoint-{2 * STEPS_PER_EPOCH}"
    resumed_run = trainer([AutoL2TrainerCallback(**AUTOL2)], tmp_path / "resumed", 4 * STEPS_PER_EPOCH, restore)
    resumed_run.train(resume_from_checkpoint=str(ckpt))
    (resumed,) = [c for c in resumed_run.callback_handler.callbacks if isinstance(c, AutoL2TrainerCallback)]
    assert resumed.autol2.step_count == 4 * STEPS_PER_EPOCH
    assert resumed.autol2.state_dict() == whole.autol2.state_dict()
    fresh = AutoL2TrainerCallback(**AUTOL2)  # negative control: the first half alone differs
    trainer([fresh], tmp_path / "fresh", 2 * STEPS_PER_EPOCH).train()
    assert fresh.autol2.state_dict() != whole.autol2.state_dict()


def test_replay_reproduces_the_autol2_run(tmp_path: Path) -> None:
    callback, recorded = AutoL2TrainerCallback(**AUTOL2), Recorder()
    auto = trainer([callback, recorded], tmp_path / "auto", 3 * STEPS_PER_EPOCH)
    auto.train()
    assert (callback.trajectory().lr, callback.trajectory().budget_steps) == (0.2, 3 * STEPS_PER_EPOCH)  # None, None
    replay, replayed = AutoL2TrainerCallback.replay(callback.trajectory()), Recorder()
    again = trainer([replay, replayed], tmp_path / "replay", 3 * STEPS_PER_EPOCH)
    again.train()
    assert isinstance(replay, WeightDecayReplayCallback)
    assert replayed.lams == recorded.lams and len(set(recorded.lams)) > 1
    for a, b in zip(auto.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_too_few_logged_losses_are_warned_about(tmp_path: Path) -> None:
    """The Trainer's default logging_steps (500) on a 60-step run: AutoL2 would never check."""
    import warnings

    run = trainer([AutoL2TrainerCallback(**AUTOL2)], tmp_path / "few", 4)
    run.args.logging_steps = run.state.logging_steps = 500
    with pytest.warns(UserWarning, match="logs it 0 time.*lower logging_steps"):
        run.train()
    never = trainer([AutoL2TrainerCallback(**AUTOL2)], tmp_path / "no", 4)
    never.args.logging_strategy = transformers.IntervalStrategy.NO
    with pytest.warns(UserWarning, match="logging_strategy is 'no'"):
        never.train()
    by_epoch = trainer([AutoL2TrainerCallback(**AUTOL2)], tmp_path / "epoch", 4)
    by_epoch.args.logging_strategy = transformers.IntervalStrategy.EPOCH
    by_epoch.args.logging_steps = 500  # not what epoch logging uses: no warning about it
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message="(?!AutoL2|logging_strategy)")
        by_epoch.train()
    with warnings.catch_warnings():  # the control: logging every 2 of 32 steps is enough
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message="(?!AutoL2)")  # only ours
        trainer([AutoL2TrainerCallback(**AUTOL2)], tmp_path / "many", 4 * STEPS_PER_EPOCH).train()


def test_an_advice_for_another_lr_is_warned_about(tmp_path: Path) -> None:
    """The Trainer trains at lr 0.2: an advice made at 0.1 set lr*lam for 0.1 (it was silent)."""
    import warnings

    other = AutoL2TrainerCallback.from_advice({"autol2": {"lam0": 0.1, "lr": 0.1}}, check_every=2)
    with pytest.warns(UserWarning, match=r"made for lr=0.1 but the optimizer trains at lr=0.2"):
        trainer([other], tmp_path / "other", 2).train()
    same = AutoL2TrainerCallback.from_advice({"autol2": {"lam0": 0.1, "lr": 0.2}}, check_every=2)
    with warnings.catch_warnings():  # the control: the advice's own lr
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message="(?!AutoL2TrainerCallback)")
        trainer([same], tmp_path / "same", 2).train()


def test_an_advice_for_another_lr_is_warned_about_once_per_callback(tmp_path: Path) -> None:
    """A second train() with the same callback was told again; a new callback is told."""
    import warnings

    def said(callback: AutoL2TrainerCallback, out: Path) -> int:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer([callback], out, 2).train()
        return sum("made for lr=0.1" in str(w.message) for w in caught)

    advice = {"autol2": {"lam0": 0.1, "lr": 0.1}}
    callback = AutoL2TrainerCallback.from_advice(advice, check_every=2)
    assert [said(callback, tmp_path / name) for name in ("first", "second")] == [1, 0]
    assert said(AutoL2TrainerCallback.from_advice(advice, check_every=2), tmp_path / "fresh") == 1


class StopAt(transformers.TrainerCallback):
    """Ends the run after `step` optimizer steps, as an interrupted or early-stopped run ends."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs) -> None:
        if state.global_step >= self.step:
            control.should_training_stop = True


def replay_warnings(run: transformers.Trainer, **train: Any) -> list[str]:
    """What WeightDecayReplayCallback warned while `run` trained (`train`: `Trainer.train`'s keywords)."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.train(**train)
    return [str(w.message) for w in caught if str(w.message).startswith("WeightDecayReplayCallback")]


def test_a_replay_that_does_not_fit_the_run_is_warned_about(tmp_path: Path) -> None:
    """A recording that ended at step 6 of 16 was replayed to step 16 holding its last lam without a
    word; so were one made at another lr and one of another length. The whole one: nothing said."""
    cut, whole = AutoL2TrainerCallback(**AUTOL2), AutoL2TrainerCallback(**AUTOL2)
    trainer([cut, StopAt(6)], tmp_path / "cut", 2 * STEPS_PER_EPOCH).train()
    trainer([whole], tmp_path / "whole", 2 * STEPS_PER_EPOCH).train()
    assert (cut.trajectory().extra["steps_run"], cut.trajectory().budget_steps) == (6, 16)
    assert (whole.trajectory().extra["steps_run"], whole.trajectory().budget_steps) == (16, 16)
    (note,) = replay_warnings(trainer([WeightDecayReplayCallback(cut.trajectory())], tmp_path / "r-cut", 16))
    assert "recorded by AutoL2TrainerCallback ends at step 6 of the 16" in note
    assert "(its run stopped there)" in note and "interrupted" not in note  # stopped on purpose, not interrupted
    assert replay_warnings(trainer([WeightDecayReplayCallback(whole.trajectory())], tmp_path / "r-whole", 16)) == []
    at_lr = write_trajectory(tmp_path / "wd.json", WeightDecayTrajectory((0,), (0.01,), lr=0.1, budget_steps=4))
    (note,) = replay_warnings(trainer([WeightDecayReplayCallback(at_lr)], tmp_path / "r-lr", 4))
    assert f"{at_lr} was recorded at lr 0.1, this run's is 0.2" in note
    longer = WeightDecayTrajectory((0, 2), (0.1, 0.01), lr=0.2, budget_steps=5000)
    (note,) = replay_warnings(trainer([WeightDecayReplayCallback(longer)], tmp_path / "r-long", 4))
    assert "recorded over 5000 steps, this run is 4" in note


def test_a_resumed_replay_is_not_warned_again(tmp_path: Path) -> None:
    """One WeightDecayReplayCallback resumed from its checkpoint warned again that the recording was cut
    short; a note it had not given (this run's other length) is still given."""
    cut = WeightDecayTrajectory((0,), (0.01,), lr=0.2, budget_steps=32, extra={"steps_run": 6})
    replay = WeightDecayReplayCallback(cut)
    first = replay_warnings(trainer([replay], tmp_path / "first", 2 * STEPS_PER_EPOCH))
    resumed_run = trainer([replay], tmp_path / "resumed", 3 * STEPS_PER_EPOCH)
    resumed = replay_warnings(resumed_run, resume_from_checkpoint=str(tmp_path / "first" / "checkpoint-16"))
    assert len(first) == 2 and "ends at step 6 of the 32" in first[0] and "this run is 16" in first[1]
    assert len(resumed) == 1 and "this run is 24" in resumed[0]


def test_a_resume_with_other_settings_says_whose_continue(tmp_path: Path) -> None:
    """The checkpoint's AutoL2 configuration runs on; the callback said nothing and its trajectory
    recorded the settings it was given (lam0 0.01) for a run that ran lam0 0.1."""
    trainer([AutoL2TrainerCallback(**AUTOL2)], tmp_path / "whole", 4 * STEPS_PER_EPOCH).train()
    ckpt = tmp_path / "whole" / f"checkpoint-{2 * STEPS_PER_EPOCH}"
    other = AutoL2TrainerCallback(**{**AUTOL2, "lam0": 0.01})
    with pytest.warns(UserWarning, match=r"continue \(lam0=0.1\); this callback's lam0=0.01 is not used"):
        trainer([other], tmp_path / "resumed", 4 * STEPS_PER_EPOCH).train(resume_from_checkpoint=str(ckpt))
    assert other.settings["lam0"] == 0.1 and other.trajectory().extra["autol2"]["lam0"] == 0.1


def test_logging_by_epoch_checks_every_epoch(tmp_path: Path) -> None:
    """check_every followed logging_steps (500 by default) when the Trainer logs by epoch: no decay
    could come before step 1,000 of a run logging its loss every 8 steps."""
    run = trainer([callback := AutoL2TrainerCallback(**AUTOL2)], tmp_path / "epoch", 4 * STEPS_PER_EPOCH)
    run.args.logging_strategy = transformers.IntervalStrategy.EPOCH
    run.args.logging_steps = 500
    run.train()
    assert callback.autol2.check_every == STEPS_PER_EPOCH  # one epoch: 8 steps, where 500 were
    by_steps = AutoL2TrainerCallback(**AUTOL2)  # the control: logging_steps = 2 when logging by steps
    trainer([by_steps], tmp_path / "steps", 4 * STEPS_PER_EPOCH).train()
    assert by_steps.autol2.check_every == 2
