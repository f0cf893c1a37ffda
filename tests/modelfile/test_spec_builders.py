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


def test_misspelt_settings_and_a_weight_decay_are_noted(tmp_path: Path) -> None:
    body = TINY_MODEL.replace("lr = 0.1\nbatch_size = 32\n", "learning_rate = 0.05\nbatchsize = 16\nweight_decay = 5e-4\n"
                                                          "Momentum = 0.9\ncriterion = nn.CrossEntropyLoss()\n")
    notes = load_spec(write_model(tmp_path, body)).notes
    said = "\n".join(notes)
    assert "`learning_rate` is not a setting l2advisor reads; did you mean `lr`? lr = 0.1, the default, is used." in said
    assert "did you mean `batch_size`? batch_size = 64" in said and "did you mean `momentum`? momentum = 0.0" in said
    assert "`weight_decay = 0.0005` is not read" in said and "did you mean `loss`? loss = cross-entropy" in said
    assert len(notes) == 5, notes


def test_settings_spelt_right_and_other_names_give_no_note(tmp_path: Path) -> None:
    """The control: the tiny model's own lr and batch_size, a helper, a width and a loss written as
    `loss` are read as they are; a name near a setting that the file also defines is the user's own."""
    body = TINY_MODEL + "\nhidden = 32\nepochs = 10\nlr_schedule_note = 'none'\nlearning_rate = 0.1  # lr is defined\n"
    assert load_spec(write_model(tmp_path, body)).notes == ()
