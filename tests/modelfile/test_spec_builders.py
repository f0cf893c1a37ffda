"""A model file's builders that are not functions, and settings it spells another way: one
sentence, or a note, before anything trains (a reviewer's `build_model = nn.Linear(8, 3)` was told
"build_model() raised TypeError: Linear.forward() missing 1 required positional argument";
`learning_rate = 0.05` trained at lr 0.1 without a word)."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2advisor.errors import InputError
from l2advisor.modelfile.spec import load_spec
from tests.conftest import TINY_MODEL, write_model


def test_a_module_instance_as_build_model_is_told_to_be_a_function(tmp_path: Path) -> None:
    path = write_model(tmp_path, TINY_MODEL + "\nbuild_model = nn.Linear(8, 4)\n")
    with pytest.raises(InputError, match=r"`build_model` is a Linear itself, not a function") as raised:
        load_spec(path)
    assert "forward" not in str(raised.value) and "def build_model(): return Linear(...)" in str(raised.value)


def test_data_instead_of_build_data_is_told_to_be_a_function(tmp_path: Path) -> None:
    path = write_model(tmp_path, TINY_MODEL + "\nbuild_data = (_blobs(256, 1), _blobs(128, 2))\n")
    with pytest.raises(InputError, match=r"`build_data` is a tuple, not a function; write `def build_data\(\)"):
        load_spec(path)
    missing = write_model(tmp_path, TINY_MODEL.replace("def build_data():", "def make_data():"), "missing.py")
    with pytest.raises(InputError, match=r"has no function `build_data\(\)`"):  # the control: absent, said so
        load_spec(missing)


@pytest.mark.parametrize(("line", "meant", "default"), [
    ("learning_rate = 0.05", "lr", "0.1"), ("batchsize = 16", "batch_size", "64"), ("Momentum = 0.9", "momentum", "0.0"),
    ("optim = 'adamw'", "optimizer", "'sgd'"),
])
def test_a_misspelt_setting_that_would_change_the_run_is_refused(tmp_path: Path, line: str, meant: str,
                                                                 default: str) -> None:
    """Review 44: `learning_rate = 0.01` probed at lr 0.1 behind one line of warning, exit 0."""
    body = TINY_MODEL.replace("lr = 0.1\nbatch_size = 32\n", f"{line}\n")
    with pytest.raises(InputError, match=rf"did you mean `{meant}`\? Rename it, or set `{meant}` itself \(in the file or "
                                         rf"by its flag\): else the probes train at the default {meant} = {default}\.$"):
        load_spec(write_model(tmp_path, body))
    given = "0.05" if meant == "lr" else "16" if meant == "batch_size" else "0.9" if meant == "momentum" else "adamw"
    flagged = load_spec(write_model(tmp_path, body), {meant: float(given) if meant in ("lr", "momentum") else
                                                      int(given) if meant == "batch_size" else given})
    assert not any(f"did you mean `{meant}`" in n for n in flagged.notes)  # the flag sets it: nothing is misspelt


@pytest.mark.parametrize("line", ["BN_MOMENTUM = 0.01", "ema_momentum = 0.999", "eval_batch_size = 512", "lr0 = 0.01",
                                  "optimizer = 'adamw'\nMomentum = 0.9"])
def test_a_models_own_hyperparameter_near_a_setting_is_not_refused(tmp_path: Path, line: str) -> None:
    """Review 45: names that hold a setting's inside a longer one are a model's own (a batch norm's
    momentum, an evaluation batch size), and AdamW reads no momentum: noted, never refused."""
    body = TINY_MODEL.replace("lr = 0.1\nbatch_size = 32\n", f"lr = 0.1\nbatch_size = 32\n{line}\n")
    spec = load_spec(write_model(tmp_path, body))
    assert spec.lr == 0.1 and spec.batch_size == 32 and spec.momentum == 0.0
    name = line.split("\n")[-1].split(" =")[0]
    noted = any(f"`{name}` is not a setting l2advisor reads; did you mean" in n for n in spec.notes)
    assert noted is ("momentum" in name.lower()), spec.notes  # noted where the file leaves the setting to its default


@pytest.mark.parametrize(("line", "meant"), [("metrics = 'f1'", "metric"), ("train_batch_size = 16", "batch_size"),
                                             ("lr_ = 0.01", "lr"), ("batch_size_train = 16", "batch_size")])
def test_a_plural_a_trailing_underscore_or_a_train_affix_is_the_setting(tmp_path: Path, line: str, meant: str) -> None:
    """Review 47: `metrics = "f1"` probed for accuracy and `train_batch_size = 32` at batch 64, behind a note."""
    body = TINY_MODEL.replace("lr = 0.1\nbatch_size = 32\n", f"{line}\n")
    with pytest.raises(InputError, match=rf"did you mean `{meant}`\?"):
        load_spec(write_model(tmp_path, body))


def test_misspelt_settings_at_their_default_and_a_weight_decay_are_noted(tmp_path: Path) -> None:
    """The control: a misspelling whose value is the default trains as meant, a function near `loss` and a
    number under an alias of another kind (`score`, not a metric's name) are only noted or left alone."""
    body = TINY_MODEL.replace("lr = 0.1\nbatch_size = 32\n", "learning_rate = 0.1\nbatchsize = 64\nweight_decay = 5e-4\n"
                                                          "Momentum = 0.0\ncriterion = nn.CrossEntropyLoss()\n"
                                                          "score = 0.5\n")
    notes = load_spec(write_model(tmp_path, body)).notes
    said = "\n".join(notes)
    assert "`learning_rate` is not a setting l2advisor reads; did you mean `lr`? lr = 0.1, the default, is used." in said
    assert "did you mean `batch_size`? batch_size = 64" in said and "did you mean `momentum`? momentum = 0.0" in said
    assert "`weight_decay = 0.0005` is not read" in said and "did you mean `loss`? loss = cross-entropy" in said
    assert "did you mean `metric`? metric = 'accuracy'" in said  # `score`, noted as before, not refused
    assert len(notes) == 6, notes


def test_settings_spelt_right_and_other_names_give_no_note(tmp_path: Path) -> None:
    """The control: the tiny model's own lr and batch_size, a helper, a width and a loss written as
    `loss` are read as they are; a name near a setting that the file also defines is the user's own."""
    body = TINY_MODEL + "\nhidden = 32\nepochs = 10\nlr_schedule_note = 'none'\nlearning_rate = 0.1  # lr is defined\n"
    assert load_spec(write_model(tmp_path, body)).notes == ()
