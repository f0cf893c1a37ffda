"""build_data() returning each split as (inputs, targets) arrays or tensors, a common first try
(the Python API takes tensor pairs), gets one sentence that says how to wrap them; it was told
"each training item must be an (input, target) pair, got ndarray", about items it never made."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from tests.conftest import write_model

PAIRS = '''
import numpy as np
import torch
from torch import nn

def build_model():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))

def build_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    if KIND == "tensor":
        x, y = torch.from_numpy(x), torch.from_numpy(y)
    return (x[:32], y[:32]), (x[32:], y[32:])
'''


@pytest.mark.parametrize("kind", ["ndarray", "Tensor"])
def test_a_split_given_as_two_arrays_is_told_to_wrap_them(tmp_path: Path, kind: str) -> None:
    model = write_model(tmp_path, f"KIND = {'tensor' if kind == 'Tensor' else 'numpy'!r}\n" + PAIRS, "pairs.py")
    result = CliRunner().invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), "--lambdas", "0.4,0.2",
                                      "--horizon", "2", "--seeds", "0", "--device", "cpu"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"pairs.py: the training split is a pair ({kind} and {kind}), not a dataset of (input, target) pairs" in text
    assert "wrap it as TensorDataset(torch.as_tensor(inputs, dtype=torch.float32), torch.as_tensor(targets))" in text
    assert "Traceback" not in result.output and "got ndarray" not in text and "got Tensor" not in text
