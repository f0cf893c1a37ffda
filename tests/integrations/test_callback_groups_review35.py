"""The callbacks' param groups, checks and resumes, from a new user's review (session 35):
the HF callback refused the Trainer's own decay group when it held a 1-D layer scale; the
Lightning one took over a no-decay group its user had built; a replay ignored the groups the
recording managed; a resume with other settings recorded settings that never ran."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from l2advisor.errors import AutoL2ArgumentError
from l2advisor.training.autol2 import AutoL2
from l2advisor.training.param_groups import resolve_groups, split_decay_groups
from l2advisor.training.trajectory import WeightDecayTrajectory


def _mixed_optimizer() -> torch.optim.Optimizer:
    """A decay group holding a matrix and a 1-D layer scale, a no-decay group of biases."""
    weight, scale, bias = (nn.Parameter(torch.ones(*shape)) for shape in ((4, 4), (4,), (4,)))
    return torch.optim.SGD([{"params": [weight, scale], "weight_decay": 0.01},
                            {"params": [bias], "weight_decay": 0.0}], lr=0.1)


def test_not_only_1d_manages_a_mixed_group_as_built() -> None:
    opt = _mixed_optimizer()
    assert resolve_groups(opt, "not_only_1d") == [0]
    with pytest.raises(AutoL2ArgumentError, match="param_groups='not_only_1d' to manage the group as it was built"):
        resolve_groups(opt, "exclude_1d")  # the control: the strict mode still refuses the mix
    assert resolve_groups(opt, [np.int64(1)]) == [1]  # numpy's integers are indices too
    auto = AutoL2(opt, lam0=0.05, param_groups="not_only_1d")
    assert [g["weight_decay"] for g in opt.param_groups] == [0.05, 0.0] and auto.groups == [0]
    only_biases = torch.optim.SGD([nn.Parameter(torch.ones(3))], lr=0.1)
    with pytest.raises(AutoL2ArgumentError, match="leaves no param group"):
        resolve_groups(only_biases, "not_only_1d")


def test_replay_decays_the_groups_the_recording_managed() -> None:
    from l2advisor.integrations._config import replay_groups

    recorded = WeightDecayTrajectory.from_events(0.05, [], extra={"autol2": {"param_groups": "exclude_1d"}})
    assert replay_groups(None, recorded) == "exclude_1d"
    assert replay_groups([0, 1], recorded) == [0, 1]  # given: as given
    unknown = WeightDecayTrajectory.from_events(0.05, [], extra={})  # `l2advisor train --autol2`'s records none
    assert replay_groups(None, unknown) == "not_only_1d"


def test_settings_a_resume_set_aside_are_named_and_not_recorded() -> None:
    from l2advisor.integrations._config import settings_in_force

    given = {"lam0": 0.01, "refractory_tau": 0.5, "param_groups": "not_only_1d"}
    restored = {"config": {"lam0": 0.05, "refractory_tau": 0.1, "decay": 2.0, "param_groups": [0]}}
    in_force, note = settings_in_force(given, restored)
    assert in_force == {"lam0": 0.05, "refractory_tau": 0.1, "param_groups": "not_only_1d"}
    assert note is not None and "continue (lam0=0.05, refractory_tau=0.1)" in note
    assert "this callback's lam0=0.01, refractory_tau=0.5 are not used" in note
    same, none = settings_in_force({"lam0": 0.05}, restored)  # the control: nothing set aside
    assert same == {"lam0": 0.05} and none is None


class _LayerScaled(nn.Module):
    """A ConvNeXt-like block: a 1-D `layer_scale` the Trainer puts in its decay group (by name)."""

    def __init__(self) -> None:
        super().__init__()
        self.lin, self.head = nn.Linear(8, 32), nn.Linear(32, 4)
        self.layer_scale = nn.Parameter(torch.ones(32))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.head(torch.relu(self.lin(x)) * self.layer_scale)
        return {"loss": nn.functional.cross_entropy(logits, labels), "logits": logits}


def test_hf_callback_manages_the_trainers_decay_group_with_a_layer_scale(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    from l2advisor.integrations.hf import AutoL2TrainerCallback

    logging.getLogger("transformers").setLevel(logging.ERROR)
    g = torch.Generator().manual_seed(1)
    data = [{"x": torch.randn(8, generator=g), "labels": torch.randint(0, 4, (), generator=g)} for _ in range(64)]
    args = transformers.TrainingArguments(output_dir=str(tmp_path), max_steps=8, per_device_train_batch_size=16,
                                          learning_rate=0.1, optim="sgd", logging_steps=2, report_to="none",
                                          use_cpu=True, save_strategy="no", disable_tqdm=True)
    callback = AutoL2TrainerCallback(lam0=0.05)  # "exclude_1d" refused this group at train()
    run = transformers.Trainer(model=_LayerScaled(), args=args, train_dataset=data, callbacks=[callback])
    run.train()
    decay, no_decay = run.optimizer.param_groups
    assert any(p.ndim == 1 for p in decay["params"])  # the layer scale, as the Trainer grouped it
    assert decay["weight_decay"] == callback.autol2.lam == 0.05 and no_decay["weight_decay"] == 0.0


@pytest.mark.parametrize(("bad", "said"), [({"lam0": -1.0}, "lam0 must be finite and > 0"),
                                           ({"lam0": 0.05, "decy": 2.0}, "unexpected keyword argument 'decy'")])
def test_hf_callback_checks_its_settings_when_made(bad: dict, said: str) -> None:
    pytest.importorskip("transformers")
    from l2advisor.integrations.hf import AutoL2TrainerCallback

    with pytest.raises((ValueError, TypeError), match=said):
        AutoL2TrainerCallback(**bad)


def test_hf_trajectory_of_a_callback_never_started_says_where_the_copy_is() -> None:
    pytest.importorskip("transformers")
    from l2advisor.integrations.hf import AutoL2TrainerCallback

    with pytest.raises(RuntimeError, match="restore_callback_states_from_checkpoint=True trains a copy"):
        AutoL2TrainerCallback(lam0=0.05).trajectory()


def test_lightning_callback_leaves_a_no_decay_group_alone(tmp_path: Path) -> None:
    pl = pytest.importorskip("lightning.pytorch")
    from l2advisor.integrations.lightning import AutoL2Callback

    class Split(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))

        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(split_decay_groups(self, weight_decay=0.01), lr=0.1)

    g = torch.Generator().manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(64, 8, generator=g), torch.randint(0, 4, (64,), generator=g))
    callback = AutoL2Callback(lam0=0.05)
    trainer = pl.Trainer(max_steps=4, callbacks=[callback], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's notes on workers and logging
        trainer.fit(Split(), torch.utils.data.DataLoader(data, batch_size=16))
    decayed, biases = trainer.optimizers[0].param_groups
    assert decayed["weight_decay"] == 0.05 and biases["weight_decay"] == 0.0  # "all" set the biases to 0.05
