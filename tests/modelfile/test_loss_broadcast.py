"""A loss that broadcasts the model's outputs against targets of another shape is refused before
any probe runs: mse_loss of (B, 1) outputs against (B,) targets compares every output with every
target, and the probes trained on that wrong loss with only torch's one warning, lost among the
progress lines (a new user's regression on scikit-learn's diabetes data)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from tests.conftest import write_model

REGRESSION = '''
import torch
import warnings
from torch import nn
from torch.utils.data import TensorDataset

lr = 0.01
optimizer = "adamw"


def loss(outputs, targets):
    return nn.functional.mse_loss(OUTPUTS, targets)


def metric(outputs, targets):
    return -nn.functional.mse_loss(outputs.reshape(targets.shape), targets).item()


def build_model():
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 1))


def build_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 3, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    return TensorDataset(x[:64], y[:64]), TensorDataset(x[64:], y[64:])
'''


def _probe(tmp_path: Path, outputs: str):
    model = write_model(tmp_path, REGRESSION.replace("OUTPUTS", outputs), "regression.py")
    return CliRunner().invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), "--lambdas", "0.4,0.2",
                                    "--horizon", "1", "--seeds", "0", "--device", "cpu"])


@pytest.mark.bad_input
def test_a_broadcasting_loss_is_refused_in_one_sentence(tmp_path: Path) -> None:
    result = _probe(tmp_path, "outputs")
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert ("regression.py: the loss broadcasts the model's outputs (4, 1) against the training targets (4,)"
            in text), text
    assert "outputs.squeeze(-1)" in text and "Traceback" not in text
    assert not (tmp_path / "run" / "probes.jsonl").exists()


def test_the_same_loss_with_matching_shapes_runs(tmp_path: Path) -> None:
    """The control: squeezed outputs probe as usual, and no warning escapes."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        result = _probe(tmp_path, "outputs.squeeze(-1)")
    assert result.exit_code == 0, result.output
    assert "broadcasts" not in result.output


def test_other_warnings_of_the_loss_are_passed_on(tmp_path: Path) -> None:
    """Only the broadcast is refused; another warning the loss raises reaches the user as it was."""
    with pytest.warns(UserWarning, match="a warning of the user's own"):
        result = _probe(tmp_path, "(warnings.warn('a warning of the user\\'s own') or outputs.squeeze(-1))")
    assert result.exit_code == 0, result.output
