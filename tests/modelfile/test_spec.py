"""The model-file contract: every violation is one sentence naming the file, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2advisor.errors import InputError
from l2advisor.modelfile.spec import load_spec
from l2advisor.modelfile.task import build_task
from tests.conftest import TINY_MODEL, write_model


def spec_error(path: Path, overrides: dict | None = None) -> str:
    with pytest.raises(InputError) as info:
        build_task(load_spec(path, overrides))
    assert info.value.exit_code == 2
    return str(info.value)


def test_loads_settings_and_overrides(tiny_model: Path) -> None:
    spec = load_spec(tiny_model, {"lr": 0.05, "batch_size": None})
    assert spec.lr == 0.05 and spec.batch_size == 32 and spec.optimizer == "sgd"
    assert spec.build_test is not None and len(spec.sha256) == 64
    task = build_task(spec)
    assert task.n_outputs == 4 and task.train_size == 256


def test_missing_file(tmp_path: Path) -> None:
    assert "does not exist" in spec_error(tmp_path / "nope.py")


def test_syntax_error_names_line(tmp_path: Path) -> None:
    path = write_model(tmp_path, "def build_model(:\n    pass\n")
    message = spec_error(path)
    assert "model.py" in message and "line 1" in message


def test_not_python_binary(tmp_path: Path) -> None:
    path = tmp_path / "model.py"
    path.write_bytes(b"\xff\xfe\x00\x81binary")
    assert "not" in spec_error(path)


def test_raises_at_import_shows_user_line(tmp_path: Path) -> None:
    path = write_model(tmp_path, "import math\nx = 1\nraise ValueError('no data here')\n")
    message = spec_error(path)
    assert "ValueError: no data here" in message and "line 3" in message


def test_missing_build_model(tmp_path: Path) -> None:
    path = write_model(tmp_path, "def build_data():\n    return [], []\n")
    assert "build_model" in spec_error(path)


def test_build_data_wrong_type(tmp_path: Path) -> None:
    body = TINY_MODEL.replace("return _blobs(256, 1), _blobs(128, 2)", "return _blobs(256, 1)")
    assert "(train_dataset, val_dataset)" in spec_error(write_model(tmp_path, body))


def test_build_model_wrong_type(tmp_path: Path) -> None:
    body = TINY_MODEL.replace("return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))", "return 3")
    assert "torch.nn.Module" in spec_error(write_model(tmp_path, body))


def test_empty_dataset(tmp_path: Path) -> None:
    body = TINY_MODEL.replace("return _blobs(256, 1), _blobs(128, 2)", "return _blobs(256, 1), _blobs(0, 2)")
    assert "validation dataset is empty" in spec_error(write_model(tmp_path, body))


def test_labels_outside_outputs(tmp_path: Path) -> None:
    body = TINY_MODEL.replace("nn.Linear(32, 4))", "nn.Linear(32, 3))")
    message = spec_error(write_model(tmp_path, body))
    assert "labels range over [0, 3]" in message and "3 outputs" in message


REGRESSION = """
import torch
from torch import nn
from torch.utils.data import TensorDataset

lr = 0.05
loss = nn.functional.mse_loss


def build_model():
    return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1), nn.Flatten(0))


def build_data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 8, generator=g)
    y = x.sum(1) + 0.1 * torch.randn(96, generator=g)
    return TensorDataset(x[:64], y[:64]), TensorDataset(x[64:], y[64:])
"""


def test_a_loss_of_ones_own_with_the_default_accuracy_metric_is_one_sentence(tmp_path: Path) -> None:
    message = spec_error(write_model(tmp_path, REGRESSION))  # was an IndexError in the first evaluation
    assert "the default metric, accuracy, needs (batch, classes) outputs" in message and "set `metric`" in message
    fixed = REGRESSION + "\n\ndef metric(outputs, targets):\n    return -float(nn.functional.mse_loss(outputs, targets))\n"
    assert build_task(load_spec(write_model(tmp_path, fixed, "fixed.py"))).n_outputs is None  # the control


def test_input_shape_mismatch(tmp_path: Path) -> None:
    body = TINY_MODEL.replace("nn.Linear(8, 32)", "nn.Linear(9, 32)")
    message = spec_error(write_model(tmp_path, body))
    assert "cannot take a batch" in message and "(4, 8) (a check batch of the first 4 items)" in message


@pytest.mark.parametrize("name,value,expected", [
    ("lr", 0.0, "--lr must be a finite number > 0"),
    ("lr", float("nan"), "--lr must be a finite number > 0"),
    ("lr", -1.0, "--lr must be a finite number > 0"),
    ("batch_size", 0, "--batch-size must be a positive integer"),
    ("momentum", 1.5, "--momentum must be in [0, 1)"),
    ("optimizer", "adam", "--optimizer must be one of sgd, adamw"),
])
def test_bad_settings(tiny_model: Path, name: str, value: object, expected: str) -> None:
    assert expected in spec_error(tiny_model, {name: value})


def test_plain_adam_is_told_why_and_pointed_to_adamw(tiny_model: Path) -> None:
    said = " ".join(spec_error(tiny_model, {"optimizer": "Adam"}).split())
    assert "got 'Adam'. Adam's weight_decay is L2 added to the gradient" in said
    assert "--optimizer adamw (torch.optim.AdamW)" in said  # the flag was given: the flag's words
    assert "Adam's weight_decay" not in spec_error(tiny_model, {"optimizer": "rmsprop"})  # only for Adam


def test_an_optimizer_class_is_read_by_its_name(tmp_path: Path) -> None:
    """A reviewer wrote `optimizer = torch.optim.Adam` and got no word on Adam; torch's own AdamW and
    SGD classes mean what their names say."""
    adam = write_model(tmp_path, TINY_MODEL + "\noptimizer = torch.optim.Adam\n")
    said = " ".join(spec_error(adam).split())
    assert "Adam's weight_decay is L2" in said and 'optimizer = "adamw" (torch.optim.AdamW)' in said  # the file's words
    adamw = write_model(tmp_path, TINY_MODEL + "\noptimizer = torch.optim.AdamW\n", "adamw.py")
    assert load_spec(adamw).optimizer == "adamw"
    rmsprop = write_model(tmp_path, TINY_MODEL + "\noptimizer = torch.optim.RMSprop\n", "rms.py")
    assert "must be one of sgd, adamw" in spec_error(rmsprop)
    own = write_model(tmp_path, TINY_MODEL + "\nclass SGD:\n    pass\noptimizer = SGD\n", "own.py")
    assert "must be one of sgd, adamw" in spec_error(own)  # a class of the file's own is not torch's SGD


def test_bad_setting_in_file(tmp_path: Path) -> None:
    path = write_model(tmp_path, TINY_MODEL.replace("lr = 0.1", "lr = 'fast'"))
    assert "`lr` must be a number" in spec_error(path)


def test_errors_outside_the_file_say_where_they_were_raised(tmp_path: Path) -> None:
    """No line of the model file in the traceback: a library's line is named as such, and
    l2advisor's own call of a user function is not named at all (it read as the user's line)."""
    narrow = write_model(tmp_path, TINY_MODEL.replace("nn.Linear(8, 32)", "nn.Linear(7, 32)"), "narrow.py")
    with pytest.raises(InputError) as shapes:
        build_task(load_spec(narrow))
    assert "raised in torch/nn/modules/linear.py, line" in str(shapes.value) and "task.py" not in str(shapes.value)
    one_arg = write_model(tmp_path, TINY_MODEL + "\ndef loss(outputs):\n    return outputs.sum()\n", "one_arg.py")
    with pytest.raises(InputError, match=r"takes 1 positional argument but 2 were given\.$") as signature:
        build_task(load_spec(one_arg))
    assert "line" not in str(signature.value).split("TypeError")[1]
    inside = write_model(tmp_path, TINY_MODEL + "\ndef loss(outputs, targets):\n    raise ValueError('mine')\n",
                         "inside.py")
    with pytest.raises(InputError, match=r"ValueError: mine \(line \d+ of inside.py"):  # the control: the user's line
        build_task(load_spec(inside))


@pytest.mark.parametrize("file, shown", [
    ("/venv/lib/python3.11/site-packages/torch/nn/modules/linear.py", "torch/nn/modules/linear.py"),
    ("/usr/lib/python3/dist-packages/torch/nn/modules/linear.py", "torch/nn/modules/linear.py"),  # Debian's
    # a project folder named l2advisor holding the venv: the package folder nearest the file counts
    ("/home/u/l2advisor/.venv/lib/python3.11/site-packages/torch/nn/functional.py", "torch/nn/functional.py"),
    ("/home/u/src/l2advisor/modelfile/task.py", "l2advisor/modelfile/task.py"),
    ("/home/u/project/helpers.py", "helpers.py"),  # in no package: the file's name, not its folders
])
def test_a_library_file_is_named_from_its_package(file: str, shown: str) -> None:
    from l2advisor.modelfile.spec import _in_package

    assert _in_package(Path(file)) == shown


def test_an_error_is_described_without_a_file_or_a_traceback() -> None:
    from l2advisor.modelfile.spec import describe_user_error

    assert describe_user_error(ValueError("no data")) == "ValueError: no data"  # never raised: no frames
    try:
        raise ValueError("boom")
    except ValueError as err:  # no model file given: the deepest line is the one named
        described = describe_user_error(err)
    assert described.startswith("ValueError: boom (line ") and " of test_spec.py: `raise ValueError" in described
