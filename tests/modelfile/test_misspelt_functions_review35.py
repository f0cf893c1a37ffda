"""Misspelt function settings: `def metrics(...)` and `def loss_function(...)` were used silently
as accuracy and cross-entropy (misspelt numbers got a "did you mean"); `def build_dataset()` got
"has no function build_data()" without naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2advisor.errors import InputError
from l2advisor.modelfile.spec import load_spec
from tests.conftest import TINY_MODEL, write_model

MISSPELT = TINY_MODEL + '''
import torch.nn.functional as F
from torch.nn.functional import cross_entropy  # imported, not the file's own: no note

def metrics(outputs, targets):
    return (outputs.argmax(1) == targets).float().mean().item()

def loss_function(outputs, targets):
    return F.cross_entropy(outputs, targets, label_smoothing=0.1)

def helper_of_mine(x):
    return x
'''


def test_functions_near_a_setting_get_a_note(tmp_path: Path) -> None:
    notes = " ".join(load_spec(write_model(tmp_path, MISSPELT)).notes)
    assert "`metrics` is not a setting l2advisor reads; did you mean `metric`? metric = 'accuracy'" in notes
    assert "`loss_function` is not a setting l2advisor reads; did you mean `loss`? loss = cross-entropy" in notes
    assert "cross_entropy" not in notes and "helper_of_mine" not in notes  # the controls


def test_no_note_where_the_setting_is_defined(tmp_path: Path) -> None:
    both = MISSPELT + "\nmetric = 'accuracy'\nloss = loss_function\n"
    assert not any("did you mean" in note for note in load_spec(write_model(tmp_path, both)).notes)


def test_a_missing_builder_names_the_function_meant(tmp_path: Path) -> None:
    renamed = TINY_MODEL.replace("def build_data():", "def build_dataset():")
    with pytest.raises(InputError, match=r"has no function `build_data\(\)` \(did you mean `build_dataset\(\)`\? "
                                         r"rename it `build_data`\)"):
        load_spec(write_model(tmp_path, renamed))
    gone = TINY_MODEL.replace("def build_data():", "def unrelated():")  # the control: nothing close
    with pytest.raises(InputError) as refused:
        load_spec(write_model(tmp_path, gone, "gone.py"))
    assert "did you mean" not in str(refused.value)
