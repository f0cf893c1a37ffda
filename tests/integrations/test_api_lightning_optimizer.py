"""`l2advisor.probe` on a LightningModule takes its optimizer from `configure_optimizers()`, as a
model file does; it probed plain SGD at lr 0.1 without a word (a new user's batch-norm CNN at lr
0.05, momentum 0.9, got advice for another run)."""

from __future__ import annotations

from pathlib import Path

import pytest

pl = pytest.importorskip("lightning.pytorch")
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import TensorDataset  # noqa: E402

import l2advisor  # noqa: E402


class Blobs(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)


def blobs(n: int, seed: int) -> TensorDataset:
    g = torch.Generator().manual_seed(seed)
    centers = torch.randn(4, 8, generator=torch.Generator().manual_seed(123)) * 1.5
    y = torch.randint(0, 4, (n,), generator=g)
    return TensorDataset(centers[y] + torch.randn(n, 8, generator=g), y)


def probe(tmp_path: Path, **settings):
    return l2advisor.probe(Blobs, blobs(128, 1), blobs(64, 2), out=tmp_path / "run", lambdas=(0.4, 0.2),
                           horizon=2, seeds=(0,), progress=False, device="cpu", force=True, **settings)


def test_a_lightning_modules_own_optimizer_is_probed(tmp_path: Path) -> None:
    results = probe(tmp_path)
    settings = results.results.header["settings"]
    assert {p["lr"] for p in results.probes} == {0.05}
    assert (settings["lr"], settings["momentum"], settings["optimizer"]) == (0.05, 0.9, "sgd")


def test_a_factory_building_a_lightning_module_gives_its_optimizer_too(tmp_path: Path) -> None:
    """A lambda returning the module was probed at the defaults (only a class was read)."""
    results = l2advisor.probe(lambda: Blobs(), blobs(128, 1), blobs(64, 2), out=tmp_path / "factory",
                              lambdas=(0.4, 0.2), horizon=2, seeds=(0,), progress=False, device="cpu")
    settings = results.results.header["settings"]
    assert (settings["lr"], settings["momentum"], settings["optimizer"]) == (0.05, 0.9, "sgd")


def test_arguments_given_override_the_modules_optimizer(tmp_path: Path) -> None:
    results = probe(tmp_path, lr=0.1, momentum=0.0)
    settings = results.results.header["settings"]
    assert (settings["lr"], settings["momentum"]) == (0.1, 0.0)


def test_a_plain_module_keeps_the_defaults(tmp_path: Path) -> None:
    results = l2advisor.probe(lambda: nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4)), blobs(128, 1),
                              blobs(64, 2), out=tmp_path / "plain", lambdas=(0.4, 0.2), horizon=2, seeds=(0,),
                              progress=False, device="cpu")
    settings = results.results.header["settings"]
    assert (settings["lr"], settings["momentum"], settings["optimizer"]) == (0.1, 0.0, "sgd")


class Manual(Blobs):
    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False


class Scheduled(Blobs):  # training_step inherited from Blobs: the module still has its own
    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=0.05)
        return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.StepLR(opt, 10)}


def test_manual_optimization_is_refused_as_a_model_file_refuses_it(tmp_path: Path) -> None:
    """The API probed it silently: the module's training_step, where it steps its optimizers, is never run."""
    from l2advisor.errors import InputError

    with pytest.raises(InputError, match="manual optimization is not supported"):
        l2advisor.probe(Manual, blobs(128, 1), blobs(64, 2), out=tmp_path / "m", lambdas=(0.4, 0.2), horizon=2,
                        seeds=(0,), progress=False, device="cpu")


def test_what_the_probes_do_not_run_is_among_the_notices(tmp_path: Path) -> None:
    """Its training_step (inherited) and its lr scheduler were dropped from the notices the README promises."""
    results = l2advisor.probe(Scheduled, blobs(128, 1), blobs(64, 2), out=tmp_path / "s", lambdas=(0.4, 0.2),
                              horizon=2, seeds=(0,), progress=False, device="cpu")
    notices = " ".join(results.notices)
    assert "training_step of Scheduled is not called" in notices
    assert "the lr scheduler configure_optimizers() returns is not used" in notices
