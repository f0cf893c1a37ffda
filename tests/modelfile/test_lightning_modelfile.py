"""A model file with a LightningModule (and a LightningDataModule) instead of build_model /
build_data: its optimizer settings and data are taken, `l2advisor probe` probes it, and the
parts of the Lightning contract l2advisor does not run are refused in one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("lightning.pytorch")
from typer.testing import CliRunner  # noqa: E402

from l2advisor.cli.app import app  # noqa: E402
from l2advisor.errors import InputError  # noqa: E402
from l2advisor.modelfile.spec import load_spec  # noqa: E402
from l2advisor.modelfile.task import build_task  # noqa: E402
from tests.conftest import write_model  # noqa: E402

MODULE = '''
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
import lightning.pytorch as pl


def _blobs(n, seed):
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(4, 8, generator=torch.Generator().manual_seed(123)) * 1.5
    y = torch.randint(0, 4, (n,), generator=g)
    return TensorDataset(centers[y] + torch.randn(n, 8, generator=g), y)


class Blobs(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        OPTIMIZER
'''
DATAMODULE = '''

class BlobData(pl.LightningDataModule):
    def setup(self, stage):
        self.train, self.val = _blobs(256, 1), _blobs(128, 2)

    def train_dataloader(self):
        return DataLoader(self.train, batch_size=16, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val, batch_size=64)
'''
SGD = ('optimizer = torch.optim.SGD(self.parameters(), lr=0.2, momentum=0.5, weight_decay=1e-4)\n'
       '        return {"optimizer": optimizer, "lr_scheduler": torch.optim.lr_scheduler.StepLR(optimizer, 10)}')


def lightning_file(tmp_path: Path, optimizer: str = SGD, extra: str = DATAMODULE) -> Path:
    return write_model(tmp_path, MODULE.replace("OPTIMIZER", optimizer) + extra, "blobs_pl.py")


def test_settings_and_data_come_from_the_lightning_module(tmp_path: Path) -> None:
    spec = load_spec(lightning_file(tmp_path))
    assert (spec.lr, spec.optimizer, spec.momentum, spec.batch_size) == (0.2, "sgd", 0.5, 16)
    task = build_task(spec)
    assert task.train_size == 256 and len(task.val) == 128 and task.n_outputs == 4
    assert type(spec.build_model()).__name__ == "Blobs"
    assert load_spec(lightning_file(tmp_path), {"lr": 0.05}).lr == 0.05  # flags still override


def test_what_the_probes_will_not_run_is_said(tmp_path: Path) -> None:
    """training_step is never called and a returned lr scheduler is not used: one note each."""
    notes = load_spec(lightning_file(tmp_path)).notes  # SGD with a StepLR, and its own training_step
    assert len(notes) == 2
    assert "training_step of Blobs is not called" in notes[0] and "`loss`" in notes[0]
    assert "lr scheduler" in notes[1] and "constant lr" in notes[1]
    bare = MODULE.replace("    def training_step(self, batch, batch_idx):\n        x, y = batch\n"
                          "        return nn.functional.cross_entropy(self(x), y)\n", "")
    assert "training_step" not in bare  # the control: no own training_step, no scheduler, nothing said
    (tmp_path / "bare").mkdir()
    plain = write_model(tmp_path / "bare", bare.replace("OPTIMIZER", "return torch.optim.SGD(self.parameters(), "
                                                                  "lr=0.1)") + DATAMODULE, "blobs_pl.py")
    assert load_spec(plain).notes == ()
    for returned in ("return [optimizer], [torch.optim.lr_scheduler.StepLR(optimizer, 10)]",
                     "return [{'optimizer': optimizer, 'lr_scheduler': torch.optim.lr_scheduler.StepLR(optimizer, 10)}]"):
        body = "optimizer = torch.optim.SGD(self.parameters(), lr=0.1)\n        " + returned
        (tmp_path / str(len(returned))).mkdir()
        assert any("lr scheduler" in n for n in load_spec(lightning_file(tmp_path / str(len(returned)), body)).notes)


def test_a_file_that_sets_loss_is_told_its_loss_is_used(tmp_path: Path) -> None:
    """With `loss` in the file, the training_step note says that loss is used, not "set loss"."""
    own_loss = "\n\ndef loss(outputs, targets):\n    return nn.functional.cross_entropy(outputs, targets)\n"
    note = load_spec(lightning_file(tmp_path, extra=DATAMODULE + own_loss)).notes[0]
    assert "training_step of Blobs is not called" in note and "the file's own `loss`" in note
    assert "set `loss`" not in note and "cross-entropy by default" not in note


def test_adamw_and_the_modules_own_loaders(tmp_path: Path) -> None:
    own_loaders = '''

def _train_loader(self):
    return DataLoader(_blobs(128, 1), batch_size=8)

def _val_loader(self):
    return DataLoader(_blobs(64, 2), batch_size=8)

Blobs.train_dataloader = _train_loader
Blobs.val_dataloader = _val_loader
'''
    spec = load_spec(lightning_file(tmp_path, "return [torch.optim.AdamW(self.parameters(), lr=0.01)]", own_loaders))
    assert (spec.optimizer, spec.lr, spec.batch_size) == ("adamw", 0.01, 8)
    assert build_task(spec).train_size == 128


def test_probe_runs_on_a_lightning_file(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["probe", str(lightning_file(tmp_path)), "--out", str(out), "--device", "cpu",
                                      "--lambdas", "0.2,0.1", "--horizon", "2", "--seeds", "0", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["probes"]
    assert sorted(r["lam"] for r in rows) == [0.1, 0.2] and all(r["lr"] == 0.2 for r in rows)
    header = json.loads((out / "probes.jsonl").read_text().splitlines()[0])
    assert header["settings"]["optimizer"] == "sgd" and header["settings"]["momentum"] == 0.5
    assert "training_step of Blobs is not called" in " ".join(result.stderr.split())  # said on stderr


@pytest.mark.bad_input
@pytest.mark.parametrize(("optimizer", "says"), [
    ("return torch.optim.Adam(self.parameters(), lr=0.01)", "returns Adam; l2advisor probes SGD or AdamW"),
    ("return [torch.optim.SGD(self.parameters(), lr=0.1), torch.optim.SGD(self.parameters(), lr=0.1)]",
     "returns 2 optimizers"),
    ("return torch.optim.SGD(self.parameters(), lr=0.1, momentum=0.9, nesterov=True)", "Nesterov"),
    ("return self.trainer.estimated_stepping_batches", r"configure_optimizers\(\) raised .*line 28 of blobs_pl.py"),
    ("return None", "must return a torch optimizer"),
])
def test_unsupported_lightning_contract_is_one_sentence(tmp_path: Path, optimizer: str, says: str) -> None:
    with pytest.raises(InputError, match=says):
        load_spec(lightning_file(tmp_path, optimizer))


@pytest.mark.bad_input
def test_manual_optimization_and_two_modules_are_refused(tmp_path: Path) -> None:
    manual = "\nBlobs.automatic_optimization = False\n"
    with pytest.raises(InputError, match="manual optimization is not supported"):
        load_spec(lightning_file(tmp_path, extra=DATAMODULE + manual))
    second = "\n\nclass Other(Blobs):\n    pass\n"
    with pytest.raises(InputError, match="defines 2 LightningModules"):
        load_spec(lightning_file(tmp_path, extra=DATAMODULE + second))


def test_negative_control_a_plain_file_is_untouched(tiny_model: Path) -> None:
    spec = load_spec(tiny_model)
    assert spec.build_model.__name__ == "build_model" and spec.batch_size == 32


def test_a_lightning_module_built_by_build_model_gives_what_the_file_leaves_out(tmp_path: Path) -> None:
    """build_model() returning a LightningModule (its class defined elsewhere) was probed with the
    defaults, plain SGD at lr 0.1, whatever its configure_optimizers() said; the file's own
    settings still win, and what the probes do not run is said as for a module class."""
    library = MODULE.replace("OPTIMIZER", SGD)
    (tmp_path / "blobs_library.py").write_text(library)
    file_text = (f"import sys\nsys.path.insert(0, {str(tmp_path)!r})\nfrom blobs_library import Blobs, _blobs\n\n"
                 "def build_model():\n    return Blobs()\n\n"
                 "def build_data():\n    return _blobs(64, 1), _blobs(32, 2)\n")
    spec = load_spec(write_model(tmp_path, file_text, "blobs_factory.py"))
    assert (spec.lr, spec.optimizer, spec.momentum) == (0.2, "sgd", 0.5)
    assert any("lr scheduler" in note for note in spec.notes)
    assert any("training_step" in note for note in spec.notes)
    own_lr = load_spec(write_model(tmp_path, file_text + "\nlr = 0.03\n", "blobs_factory_lr.py"))
    assert (own_lr.lr, own_lr.momentum) == (0.03, 0.5)
    plain = load_spec(write_model(tmp_path, file_text.replace("return Blobs()", "return Blobs().net"),
                                  "blobs_plain.py"))
    assert (plain.lr, plain.optimizer, plain.momentum, plain.notes) == (0.1, "sgd", 0.0, ())


def test_nothing_is_built_to_look_for_a_module_where_no_lightning_is_imported(monkeypatch) -> None:
    from l2advisor.modelfile import lightning

    built = []
    monkeypatch.setattr(lightning, "lightning_bases", lambda: [])
    assert lightning.built_module_settings(lambda: built.append(1), Path("model.py")) == {}
    assert built == []
