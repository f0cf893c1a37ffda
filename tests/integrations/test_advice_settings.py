"""settings_from_advice, which both callbacks' from_advice use: a plain advice (advice.json
written without --autol2) is refused saying what it lacks and how to get the AutoL2 settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2advisor.errors import InputError
from l2advisor.runs.store import write_json
from l2advisor.training.advised_settings import advice_lr, settings_from_advice

PLAIN_ADVICE = {"weight_decay": 0.01, "interval": [0.005, 0.02], "verdict": "holds", "budget": 1000}


def test_an_advice_json_without_autol2_says_what_it_lacks() -> None:
    """advice.json from a plain `recommend`: no lam0, no autol2 entry; the old message read
    "a dict with lam0, got dict", a contradiction. A user's mistake, raised as InputError (one
    sentence, as the README says of the API's mistakes), not TypeError."""
    with pytest.raises(InputError) as caught:
        settings_from_advice(PLAIN_ADVICE)
    message = str(caught.value)
    assert "neither a `lam0` key nor an `autol2` entry" in message
    assert "`l2advisor recommend DIR --autol2`" in message and "`l2advisor.recommend(DIR)`" in message
    assert "got dict" not in message


def test_something_else_names_its_type_and_what_to_pass() -> None:
    with pytest.raises(TypeError, match=r"got a float: pass `l2advisor.recommend\(DIR\)`"):
        settings_from_advice(0.01)
    assert settings_from_advice({"autol2": {"lam0": 0.05, "decay": 10.0}}) == {"lam0": 0.05, "decay": 10.0}


def test_the_path_of_an_advice_json_or_its_run_directory_is_read(tmp_path: Path) -> None:
    """The refusal named "the advice.json `recommend --autol2` wrote", but its path was refused as
    "got a str"; now the file (or the run directory holding it) is read."""
    write_json(tmp_path / "advice.json", {**PLAIN_ADVICE, "autol2": {"lam0": 0.05, "decay": 2.0, "lr": 0.1}})
    expected = {"lam0": 0.05, "decay": 2.0}
    assert settings_from_advice(str(tmp_path / "advice.json")) == expected
    assert settings_from_advice(tmp_path) == expected and advice_lr(tmp_path) == 0.1
    (tmp_path / "plain").mkdir()
    write_json(tmp_path / "plain" / "advice.json", PLAIN_ADVICE)  # the control: read, then refused as the dict is
    with pytest.raises(InputError, match="neither a `lam0` key nor an `autol2` entry"):
        settings_from_advice(tmp_path / "plain")
    with pytest.raises(InputError, match="No file at"):
        settings_from_advice(tmp_path / "nowhere.json")


def test_a_run_directory_without_advice_says_how_to_write_it(tmp_path: Path) -> None:
    """A probed run never advised was told only "No file at DIR/advice.json"."""
    with pytest.raises(InputError, match=r"holds no advice.json: `l2advisor recommend .* --autol2` writes it"):
        settings_from_advice(tmp_path)
    with pytest.raises(InputError, match=r"holds no advice.json"):
        advice_lr(tmp_path)
