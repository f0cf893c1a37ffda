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
    assert "e.g. with outputs.squeeze(1)." in text and "Traceback" not in text
    assert not (tmp_path / "run" / "probes.jsonl").exists()


@pytest.mark.parametrize(("outputs", "targets", "hint"), [
    ((4, 1), (4,), ", e.g. with outputs.squeeze(1)"),
    ((4, 1, 16, 16), (4, 16, 16), ", e.g. with outputs.squeeze(1)"),  # a one-channel mask against (B, H, W)
    ((4, 16, 16, 1), (4, 16, 16), ", e.g. with outputs.squeeze(3)"),
    ((4,), (4, 1), ", e.g. with targets.squeeze(1)"),
    ((4, 3), (4,), ""),  # no squeeze makes them match: no example that would not work
    ((1, 4), (4, 1), ""),
])
def test_the_squeeze_suggested_is_one_that_makes_the_shapes_match(outputs, targets, hint) -> None:
    import torch

    from l2advisor.modelfile.task import _squeeze_hint

    assert _squeeze_hint(torch.Size(outputs), torch.Size(targets)) == hint


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


TIME_FIRST_LSTM = '''
import torch
from torch import nn
from torch.utils.data import TensorDataset

class Reader(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(3, 8)  # no batch_first: reads (time, batch, features)
        self.head = nn.Linear(8, 2)
    def forward(self, x):  # given (batch, time, features): the last "time" is the last example
        return self.head(self.rnn(x)[0][-1])

def build_model():
    return Reader()

def build_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 12, 3, generator=g)
    y = (x.sum((1, 2)) > 0).long()
    return TensorDataset(x[:48], y[:48]), TensorDataset(x[48:], y[48:])
'''


@pytest.mark.bad_input
def test_outputs_whose_first_size_is_not_the_batch_are_said_so(tmp_path: Path) -> None:
    model = write_model(tmp_path, TIME_FIRST_LSTM, "reader.py")
    result = CliRunner().invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), "--lambdas", "0.4,0.2",
                                      "--horizon", "1", "--seeds", "0", "--device", "cpu"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "on a check batch of the first 4 training items, the model's outputs (12, 2) do not fit the loss" in text, text
    assert "the outputs' first size, 12, should be the batch's, 4" in text and "batch_first=True" in text
