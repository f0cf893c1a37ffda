"""AutoL2Callback and WeightDecayReplay in a real Lightning Trainer, offline, on a tiny module
built in code: lam logged and stepped, a checkpoint round trip that continues exactly, and a
replay that reproduces the AutoL2 run step by step."""

from __future__ import annotations

from pathlib import Path

import pytest

pl = pytest.importorskip("lightning.pytorch")
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from l2advisor.integrations.lightning import AutoL2Callback, WeightDecayReplay  # noqa: E402
from l2advisor.training.trajectory import WeightDecayTrajectory, read_trajectory, write_trajectory  # noqa: E402

AUTOL2 = dict(lam0=0.1, check_every=2, patience=1, refractory_tau=0.001, smoothing="none")
STEPS_PER_EPOCH = 8


class Blobs(pl.LightningModule):
    def __init__(self, same_batch: bool = False) -> None:
        super().__init__()
        self.same_batch = same_batch  # every batch holds the same 32 examples
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        out = self(x)
        return {"loss": nn.functional.cross_entropy(out, y), "accuracy": (out.argmax(1) == y).float().mean()}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.2)

    def train_dataloader(self):
        g = torch.Generator().manual_seed(1)
        centers = torch.randn(4, 8, generator=torch.Generator().manual_seed(123)) * 1.5
        y = torch.randint(0, 4, (32 * STEPS_PER_EPOCH,), generator=g)
        if self.same_batch:
            y = y[:32].repeat(STEPS_PER_EPOCH)
            g = torch.Generator().manual_seed(1)
        return DataLoader(TensorDataset(noisy(centers[y], g, self.same_batch), y), batch_size=32)


def noisy(x: torch.Tensor, g: torch.Generator, same_batch: bool) -> torch.Tensor:
    if same_batch:  # one batch's noise, repeated
        return x + torch.randn(32, 8, generator=g).repeat(len(x) // 32, 1)
    return x + torch.randn(len(x), 8, generator=g)


class Recorder(pl.Callback):
    """weight_decay in force at each optimizer step."""

    def __init__(self) -> None:
        self.lams: list[float] = []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.lams.append(optimizer.param_groups[0]["weight_decay"])


def fit(callbacks: list, max_steps: int, root: Path, ckpt: Path | None = None,
        checkpoints: bool = False, same_batch: bool = False, module: pl.LightningModule | None = None,
        max_epochs: int | None = None) -> pl.Trainer:
    torch.manual_seed(0)
    trainer = pl.Trainer(max_steps=max_steps, accelerator="cpu", devices=1, logger=False, callbacks=callbacks,
                         enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=checkpoints,
                         default_root_dir=root, deterministic=True, max_epochs=max_epochs)
    trainer.fit(module or Blobs(same_batch), ckpt_path=ckpt)
    return trainer


def test_autol2_callback_steps_decays_and_logs(tmp_path: Path) -> None:
    callback, recorder = AutoL2Callback(**AUTOL2), Recorder()
    trainer = fit([callback, recorder], 40, tmp_path)
    assert callback.autol2 is not None and callback.autol2.step_count == 40
    assert callback.autol2.events, "the fixture must decay"
    assert recorder.lams[0] == 0.1 and min(recorder.lams) < 0.1
    assert float(trainer.callback_metrics["weight_decay"]) == pytest.approx(callback.autol2.lam)
    assert callback.autol2.state_dict()["accuracy"]["best"] is not None  # accuracy reached AutoL2


def test_checkpoint_round_trip_continues_exactly(tmp_path: Path) -> None:
    # The whole run saves a checkpoint at step 16; a second run resumes from it and must end in
    # the whole run's exact AutoL2 state. Every batch holds the same examples, so the data of a step does
    # not depend on where Lightning restarts its data loader (it replays one batch on resume).
    saver = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=2 * STEPS_PER_EPOCH,
                                         save_top_k=-1, filename="{step}")
    whole = AutoL2Callback(**AUTOL2)
    fit([whole, saver], 4 * STEPS_PER_EPOCH, tmp_path / "whole", checkpoints=True, same_batch=True)
    ckpt = tmp_path / "ckpt" / f"step={2 * STEPS_PER_EPOCH}.ckpt"
    saved = torch.load(ckpt, weights_only=False)["callbacks"]
    (state,) = [v["autol2"] for k, v in saved.items() if k.startswith("AutoL2Callback")]
    assert state["step"] == 2 * STEPS_PER_EPOCH and state["events"], "decays before the checkpoint"
    resumed = AutoL2Callback(**AUTOL2)
    fit([resumed], 4 * STEPS_PER_EPOCH, tmp_path / "second", ckpt=ckpt, same_batch=True)
    assert resumed.autol2.step_count == 4 * STEPS_PER_EPOCH
    assert resumed.autol2.state_dict() == whole.autol2.state_dict()
    assert len(whole.autol2.events) > len(state["events"])  # it went on deciding after the resume
    fresh = AutoL2Callback(**AUTOL2)  # negative control: the first half alone ends elsewhere
    fit([fresh], 2 * STEPS_PER_EPOCH, tmp_path / "fresh", same_batch=True)
    assert fresh.autol2.state_dict() != whole.autol2.state_dict()


def test_replay_reproduces_the_autol2_run(tmp_path: Path) -> None:
    callback, recorded = AutoL2Callback(**AUTOL2), Recorder()
    auto = fit([callback, recorded], 40, tmp_path / "auto")
    path = write_trajectory(tmp_path / "wd.json", callback.trajectory())
    assert (callback.trajectory().lr, callback.trajectory().budget_steps) == (0.2, 40)  # were None, None
    replay, replayed = AutoL2Callback.replay(read_trajectory(path)), Recorder()
    again = fit([replay, replayed], 40, tmp_path / "replay")
    assert isinstance(replay, WeightDecayReplay)
    assert replayed.lams == recorded.lams and len(set(recorded.lams)) > 1
    for a, b in zip(auto.lightning_module.parameters(), again.lightning_module.parameters(), strict=True):
        assert torch.equal(a, b)


def test_from_advice_takes_the_autol2_settings() -> None:
    advice = {"lam0": 0.05, "decay": 10.0, "refractory_tau": 0.7, "lam_min": 5e-4, "lr": 0.1}
    callback = AutoL2Callback.from_advice({"autol2": advice}, check_every=20)
    assert callback.settings == {"lam0": 0.05, "decay": 10.0, "refractory_tau": 0.7, "lam_min": 5e-4,
                                 "check_every": 20, "param_groups": "not_only_1d"}
    with pytest.raises(ValueError, match="lam0"):
        AutoL2Callback(lam0=-1.0)


class Manual(Blobs):
    """Manual optimization: the callback never sees its optimizer steps."""

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False

    def training_step(self, batch, batch_idx):
        x, y = batch
        opt = self.optimizers()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(self(x), y)
        self.manual_backward(loss)
        opt.step()


def test_manual_optimization_is_refused_with_the_way_out(tmp_path: Path) -> None:
    trainer = pl.Trainer(max_steps=3, accelerator="cpu", devices=1, logger=False,
                         callbacks=[AutoL2Callback(**AUTOL2)], enable_progress_bar=False,
                         enable_model_summary=False, enable_checkpointing=False, default_root_dir=tmp_path)
    with pytest.raises(ValueError, match="needs automatic optimization.*AutoL2's step"):
        trainer.fit(Manual())


class WarmFromZero(Blobs):
    """A linear warmup whose first step runs at lr 0 (LambdaLR, as transformers' schedules do)."""

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.2)
        warm = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: min(1.0, step / 4))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": warm, "interval": "step"}}


def test_a_warmup_from_lr_zero_trains(tmp_path: Path) -> None:
    callback = AutoL2Callback(**AUTOL2)
    trainer = pl.Trainer(max_steps=8, accelerator="cpu", devices=1, logger=False, callbacks=[callback],
                         enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
                         default_root_dir=tmp_path)
    trainer.fit(WarmFromZero())  # lr 0 at the first step was refused as "lr must be > 0"
    assert callback.autol2 is not None and callback.autol2.step_count == 8
    # tau sums each step's lr*lam: at most lam0 times the warmup's lrs (decays only lower it)
    assert 0 < callback.autol2.tau <= 0.1 * 0.2 * (0 + 0.25 + 0.5 + 0.75 + 1 + 1 + 1 + 1) + 1e-12


def test_an_advice_for_another_lr_is_warned_about(tmp_path: Path) -> None:
    """The module trains at lr 0.2: an advice made at 0.1 set lr*lam for 0.1 (it was silent)."""
    import warnings

    other = AutoL2Callback.from_advice({"autol2": {"lam0": 0.1, "lr": 0.1}}, check_every=2)
    with pytest.warns(UserWarning, match=r"made for lr=0.1 but the optimizer trains at lr=0.2"):
        fit([other], 2, tmp_path / "other")
    same = AutoL2Callback.from_advice({"autol2": {"lam0": 0.1, "lr": 0.2}}, check_every=2)
    with warnings.catch_warnings():  # the control: the advice's own lr
        warnings.simplefilter("error", UserWarning)
        warnings.filterwarnings("ignore", message="(?!AutoL2Callback)")
        fit([same], 2, tmp_path / "same")


def test_an_advice_for_another_lr_is_warned_about_once_per_callback(tmp_path: Path) -> None:
    """A second fit of the same callback (a resume, another run) was told again; a new callback is told."""
    import warnings

    def said(callback: AutoL2Callback, root: Path) -> list[str]:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit([callback], 2, root)
        return [str(w.message) for w in caught if "made for lr=0.1" in str(w.message)]

    advice = {"autol2": {"lam0": 0.1, "lr": 0.1}}
    callback = AutoL2Callback.from_advice(advice, check_every=2)
    assert [len(said(callback, tmp_path / name)) for name in ("first", "second")] == [1, 0]
    assert len(said(AutoL2Callback.from_advice(advice, check_every=2), tmp_path / "fresh")) == 1


class StopAt(pl.Callback):
    """Ends the fit after `step` optimizer steps, as an interrupted or early-stopped run ends."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            trainer.should_stop = True


def replay_warnings(callback: WeightDecayReplay, root: Path, max_steps: int = -1, **kwargs) -> list[str]:
    """What WeightDecayReplay warned while a run with it trained."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit([callback], max_steps, root, **kwargs)
    return [str(w.message) for w in caught if str(w.message).startswith("WeightDecayReplay")]


def test_a_replay_that_does_not_fit_the_run_is_warned_about(tmp_path: Path) -> None:
    """A recording that ended at step 6 of 16 was replayed to step 16 holding its last lam without a
    word; so were one made at another lr and one of another length. The whole one: nothing said."""
    cut, whole = AutoL2Callback(**AUTOL2), AutoL2Callback(**AUTOL2)
    fit([cut, StopAt(6)], 16, tmp_path / "cut")
    fit([whole], 16, tmp_path / "whole")
    assert (cut.trajectory().extra["steps_run"], cut.trajectory().budget_steps) == (6, 16)
    assert (whole.trajectory().extra["steps_run"], whole.trajectory().budget_steps) == (16, 16)
    (note,) = replay_warnings(WeightDecayReplay(cut.trajectory()), tmp_path / "r-cut", 16)
    assert "recorded by AutoL2Callback ends at step 6 of the 16" in note
    assert "(its run stopped there)" in note and "interrupted" not in note  # stopped on purpose, not interrupted
    assert replay_warnings(WeightDecayReplay(whole.trajectory()), tmp_path / "r-whole", 16) == []
    at_lr = write_trajectory(tmp_path / "wd.json", WeightDecayTrajectory((0,), (0.01,), lr=0.1, budget_steps=8))
    (note,) = replay_warnings(WeightDecayReplay(at_lr), tmp_path / "r-lr", 8)
    assert f"{at_lr} was recorded at lr 0.1, this run's is 0.2" in note
    at_peak = WeightDecayTrajectory((0,), (0.01,), lr=0.2, budget_steps=8)  # the peak lr, not the warmup's 0
    assert replay_warnings(WeightDecayReplay(at_peak), tmp_path / "r-warm", 8, module=WarmFromZero()) == []


def test_a_run_by_epochs_records_and_compares_its_length(tmp_path: Path) -> None:
    """max_epochs, no max_steps: the recording's budget_steps were None, and no length was compared."""
    epoch = AutoL2Callback(**AUTOL2)
    fit([epoch], -1, tmp_path / "epoch", max_epochs=1)
    assert (epoch.trajectory().budget_steps, epoch.trajectory().extra["steps_run"]) == (8, 8)
    (note,) = replay_warnings(WeightDecayReplay(epoch.trajectory()), tmp_path / "r-two", max_epochs=2)
    assert "recorded over 8 steps, this run is 16" in note
    assert replay_warnings(WeightDecayReplay(epoch.trajectory()), tmp_path / "r-one", max_epochs=1) == []


class CtrlCAt(pl.Callback):
    """Ctrl-C after `step` optimizer steps, as Lightning sees it."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step >= self.step:
            raise KeyboardInterrupt


def test_an_interrupted_fit_records_that_it_was(tmp_path: Path) -> None:
    """Lightning tells callbacks of a Ctrl-C (on_exception): the recording says its run was interrupted."""
    import signal

    cut, previous = AutoL2Callback(**AUTOL2), signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(SystemExit):  # Lightning ends the process after a Ctrl-C
            fit([cut, CtrlCAt(6)], 16, tmp_path / "cut")
    finally:
        signal.signal(signal.SIGINT, previous)  # Lightning ignores Ctrl-C from then on
    assert (cut.trajectory().extra["steps_run"], cut.trajectory().extra["status"]) == (6, "interrupted")
    (note,) = replay_warnings(WeightDecayReplay(cut.trajectory()), tmp_path / "r-cut", 16)
    assert "ends at step 6 of the 16 it was planned for (its run was interrupted)" in note


def test_a_resumed_replay_is_not_warned_again(tmp_path: Path) -> None:
    """One WeightDecayReplay resumed from its checkpoint warned again that the recording was cut short;
    a note it had not given (this fit's other length) is still given."""
    import warnings

    cut = WeightDecayTrajectory((0,), (0.01,), lr=0.2, budget_steps=16, extra={"steps_run": 6})
    replay = WeightDecayReplay(cut)
    saver = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=STEPS_PER_EPOCH,
                                         save_top_k=-1, filename="{step}")
    with warnings.catch_warnings(record=True) as first:
        warnings.simplefilter("always")
        fit([replay, saver], STEPS_PER_EPOCH, tmp_path / "first", checkpoints=True)
    with warnings.catch_warnings(record=True) as resumed:
        warnings.simplefilter("always")
        fit([replay], 12, tmp_path / "resumed", ckpt=tmp_path / "ckpt" / f"step={STEPS_PER_EPOCH}.ckpt")
    said = [[str(w.message) for w in caught if str(w.message).startswith("WeightDecayReplay")]
            for caught in (first, resumed)]
    assert len(said[0]) == 2 and "ends at step 6 of the 16" in said[0][0] and "this run is 8" in said[0][1]
    assert len(said[1]) == 1 and "this run is 12" in said[1][0]


class SplitGroups(Blobs):
    """A decayed group of matrices and a no-decay group of biases, built by the user."""

    def configure_optimizers(self):
        from l2advisor.training.param_groups import split_decay_groups

        return torch.optim.SGD(split_decay_groups(self, weight_decay=0.01), lr=0.2)


def test_a_resume_with_other_param_groups_continues_the_checkpoints(tmp_path: Path) -> None:
    """Resumed with param_groups="all", the callback first wrote lam0 into the no-decay group, where it
    stayed for the rest of the run, and said nothing; the trajectory named groups that never ran."""
    import warnings

    saver = pl.callbacks.ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=STEPS_PER_EPOCH,
                                         save_top_k=-1, filename="{step}")
    fit([AutoL2Callback(**AUTOL2), saver], STEPS_PER_EPOCH, tmp_path / "first", checkpoints=True,
        module=SplitGroups())
    other = AutoL2Callback(**{**AUTOL2, "param_groups": "all"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        trainer = fit([other], 2 * STEPS_PER_EPOCH, tmp_path / "resumed", module=SplitGroups(),
                      ckpt=tmp_path / "ckpt" / f"step={STEPS_PER_EPOCH}.ckpt")
    said = " ".join(str(w.message) for w in caught)
    assert "param_groups=[0]" in said and "this callback's param_groups='all'" in said and "not used" in said
    decayed, biases = trainer.optimizers[0].param_groups
    assert biases["weight_decay"] == 0.0 and decayed["weight_decay"] == other.autol2.lam
    assert other.settings["param_groups"] == [0] and other.trajectory().extra["autol2"]["param_groups"] == [0]
