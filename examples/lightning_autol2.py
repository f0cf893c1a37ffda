"""AutoL2 in a Lightning Trainer: a small MLP on the 1000 MNIST images that ship with l2advisor.

    pip install "l2advisor[lightning]"
    python examples/lightning_autol2.py                 # about 1 minute on a CPU, offline
    python examples/lightning_autol2.py --replay runs/lightning_autol2/wd_trajectory.json

`AutoL2Callback` needs `training_step` to return the loss (here with the batch accuracy in a
dict), one optimizer, and automatic optimization. It logs lam as "weight_decay", keeps its
state in Lightning checkpoints, and its `trajectory()` can be replayed (`--replay`) by
`WeightDecayReplay` or by `l2advisor train --weight-decay-schedule`.
"""

import argparse
from pathlib import Path

import lightning.pytorch as pl
import torch
from torch import nn
from torch.utils.data import DataLoader

from l2advisor.datasets import load_mnist_subset
from l2advisor.integrations.lightning import AutoL2Callback, WeightDecayReplay
from l2advisor.training.trajectory import write_trajectory


class MLP(pl.LightningModule):
    def __init__(self, lr: float = 0.1) -> None:
        super().__init__()
        self.lr = lr
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = nn.functional.cross_entropy(logits, y)  # no L2 term: the optimizer's weight_decay is it
        return {"loss": loss, "accuracy": (logits.argmax(1) == y).float().mean()}

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_acc", (self(x).argmax(1) == y).float().mean(), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)  # AutoL2 owns weight_decay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--replay", type=Path, help="a wd_trajectory.json to replay instead of AutoL2")
    parser.add_argument("--out", type=Path, default=Path("runs/lightning_autol2"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    pl.seed_everything(0)
    train, val = load_mnist_subset(n_train=1000, n_val=1000, seed=0)
    if args.replay:
        callback = WeightDecayReplay(args.replay)
    else:  # settings of the kind `l2advisor recommend --autol2` prints (or .from_advice(...))
        callback = AutoL2Callback(lam0=0.1, refractory_tau=0.8, lam_min=1e-4, check_every=20)
    trainer = pl.Trainer(max_steps=args.steps, accelerator="cpu", callbacks=[callback], logger=False,
                         enable_checkpointing=False, val_check_interval=250, check_val_every_n_epoch=None,
                         deterministic=True)
    trainer.fit(MLP(), DataLoader(train, batch_size=64, shuffle=True), DataLoader(val, batch_size=500))
    print(f"final weight_decay {float(trainer.callback_metrics['weight_decay']):.3g}, "
          f"val_acc {float(trainer.callback_metrics['val_acc']):.4f}")
    if isinstance(callback, AutoL2Callback):
        for event in callback.autol2.events:
            print(f"decay at step {event.step} (tau {event.tau:.3g}, {event.signal}): "
                  f"{event.old_lam:.3g} -> {event.new_lam:.3g}")
        print("trajectory:", write_trajectory(args.out / "wd_trajectory.json", callback.trajectory()))


if __name__ == "__main__":
    main()
