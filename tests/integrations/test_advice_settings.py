"""settings_from_advice, which both callbacks' from_advice use: a plain advice (advice.json
written without --autol2) is refused saying what it lacks and how to get the AutoL2 settings."""

from __future__ import annotations

import pytest

from l2advisor.integrations._config import settings_from_advice

PLAIN_ADVICE = {"weight_decay": 0.01, "interval": [0.005, 0.02], "verdict": "holds", "budget": 1000}


def test_an_advice_json_without_autol2_says_what_it_lacks() -> None:
    """advice.json from a plain `recommend`: no lam0, no autol2 entry; the old message read
    "a dict with lam0, got dict", a contradiction."""
    with pytest.raises(TypeError) as caught:
        settings_from_advice(PLAIN_ADVICE)
    message = str(caught.value)
    assert "neither a `lam0` key nor an `autol2` entry" in message
    assert "`l2advisor recommend DIR --autol2`" in message and "`l2advisor.recommend(DIR)`" in message
    assert "got dict" not in message


def test_something_else_names_its_type_and_what_to_pass() -> None:
    with pytest.raises(TypeError, match=r"got a float: pass `l2advisor.recommend\(DIR\)`"):
        settings_from_advice(0.01)
    assert settings_from_advice({"autol2": {"lam0": 0.05, "decay": 10.0}}) == {"lam0": 0.05, "decay": 10.0}
