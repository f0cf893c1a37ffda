"""`optimizer = "adamw"` with `momentum = 0.9` (Adam's beta1, as a user from Adam writes it): AdamW
never uses momentum, but the planner scaled every lam and window by 1/(1-momentum), 10x, silently."""

from __future__ import annotations

from pathlib import Path

from l2advisor.modelfile.spec import load_spec
from tests.conftest import TINY_MODEL, write_model


def test_momentum_with_adamw_is_said_and_not_used(tmp_path: Path) -> None:
    spec = load_spec(write_model(tmp_path, TINY_MODEL + 'optimizer = "adamw"\nmomentum = 0.9\n'))
    assert spec.momentum == 0.0
    assert any("`momentum` 0.9 is not used with AdamW" in note for note in spec.notes), spec.notes


def test_a_flag_is_named_as_the_flag_and_sgd_keeps_its_momentum(tmp_path: Path) -> None:
    adamw = load_spec(write_model(tmp_path, TINY_MODEL + 'optimizer = "adamw"\n'), {"momentum": 0.5})
    assert adamw.momentum == 0.0 and any(note.startswith("--momentum 0.5 is not used") for note in adamw.notes)
    sgd = load_spec(write_model(tmp_path, TINY_MODEL + "momentum = 0.9\n", "sgd.py"))  # the control
    assert sgd.momentum == 0.9 and not any("not used with AdamW" in note for note in sgd.notes)
