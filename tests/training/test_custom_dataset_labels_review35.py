"""A custom Dataset (no `.targets`, not tensors) with a label the model cannot output beyond the
items the model file's check reads: the stacked step's timing raised it inside torch, on no line
of the model file, and it was called a bug of l2advisor (exit 1, "Internal error"); one by one,
every probe failed and the advice was to probe smaller lams or a smaller lr."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from tests.conftest import write_model

BAD_LABEL = '''
import torch
from torch import nn
from torch.utils.data import Dataset

lr = 0.1
batch_size = 32

class Blobs(Dataset):
    def __init__(self, n, seed, bad_at=None):
        g = torch.Generator().manual_seed(seed)
        self.y = torch.randint(0, 4, (n,), generator=g)
        self.x = torch.randn(n, 8, generator=g) + self.y[:, None]
        if bad_at is not None:
            self.y[bad_at] = 4  # the model has 4 outputs: labels 0..3
    def __len__(self):
        return len(self.y)
    def __getitem__(self, i):
        return self.x[i], self.y[i]

def build_model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))

def build_data():
    return Blobs(256, 1, bad_at=BAD_AT), Blobs(64, 2)
'''


@pytest.mark.parametrize("batched", [True, False])
def test_a_label_out_of_range_is_the_models_failure_not_ours(tmp_path: Path, batched: bool) -> None:
    model = write_model(tmp_path, BAD_LABEL.replace("BAD_AT", "7"))  # in the first batch, past the check's items
    args = ["probe", str(model), "--out", str(tmp_path / "run"), "--lambdas", "0.4,0.2,0.1", "--horizon", "1",
            "--seeds", "0", "--device", "cpu", "--no-early-stop", *([] if batched else ["--no-batched"])]
    result = CliRunner().invoke(app, args)
    said = " ".join(result.stderr.split())
    assert result.exit_code == 1 and "Internal error" not in said, said
    assert "All 3 probes failed (see above)" in said and "a label out of the model's range" in said
    assert "is out of bounds" in said and "smaller lams" not in said  # torch's words: "Target 4", "index 4"
    assert "best at its first evaluation" not in said and "had not clearly peaked" not in said  # of failed probes


def test_the_control_trains(tmp_path: Path) -> None:
    model = write_model(tmp_path, BAD_LABEL.replace("BAD_AT", "None"))
    args = ["probe", str(model), "--out", str(tmp_path / "run"), "--lambdas", "0.4,0.2,0.1", "--horizon", "1",
            "--seeds", "0", "--device", "cpu", "--no-early-stop"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
