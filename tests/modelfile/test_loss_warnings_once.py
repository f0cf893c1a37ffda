"""The broadcast check (test_loss_broadcast.py) leaves the user's own warnings as they were: a
warning of the loss or of the forward is shown once by the checks, not once per call (the loss's
came three times, the forward's twice), and a model file that turns warnings into errors gets its
one-sentence user error (exit 2), not an internal error of ours (exit 1)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.errors import InputError
from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from tests.conftest import TINY_MODEL, write_model

WARNS = TINY_MODEL + '''
import warnings

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))

    def forward(self, x):
        warnings.warn("the forward's own warning")
        return self.body(x)

def build_model():
    return Net()

def loss(outputs, targets):
    warnings.warn("the loss's own warning")
    return nn.functional.cross_entropy(outputs, targets)

metric = "accuracy"
'''


def test_the_users_warnings_are_shown_once_by_the_checks(tmp_path: Path) -> None:
    spec = load_spec(write_model(tmp_path, WARNS, "warns.py"), {})
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")  # Python's own: once per line of code
        build_task(spec)
    said = [str(w.message) for w in seen]
    assert said.count("the loss's own warning") == 1, said
    assert said.count("the forward's own warning") == 1, said


@pytest.mark.bad_input
def test_a_model_file_that_makes_warnings_errors_gets_a_user_error(tmp_path: Path) -> None:
    model = write_model(tmp_path, 'import warnings\nwarnings.simplefilter("error")\n' + WARNS.replace(
        'warnings.warn("the forward\'s own warning")', "pass"), "strict.py")
    with warnings.catch_warnings():  # the model file's filter stays inside this test
        with pytest.raises(InputError, match="do not fit the loss .* UserWarning: the loss's own warning"):
            build_task(load_spec(model, {}))
        result = CliRunner().invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), "--lambdas",
                                          "0.4,0.2", "--horizon", "1", "--seeds", "0", "--device", "cpu"])
    assert result.exit_code == 2, result.output
    assert "Internal error" not in result.output
