"""The API's on/off keywords take a bool, not anything truthy: `batched="no"` used to train as
batched, `force="no"` to start over. One InputError in the keyword's name, before anything is
trained or written; numpy's bools are bools."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from test_api import FAST, blobs, build_model

import l2advisor
from l2advisor.errors import InputError


@pytest.mark.bad_input
@pytest.mark.parametrize(("keyword", "value", "allowed"), [
    ("batched", "no", "True or False"), ("batched", 0, "True or False"), ("force", "no", "True or False"),
    ("early_stop", "no", "True, False or None"), ("batched", None, "True or False")])
def test_probe_refuses_an_on_off_keyword_that_is_not_a_bool(tmp_path: Path, keyword: str, value, allowed: str) -> None:
    with pytest.raises(InputError, match=rf"^{keyword} must be {allowed}, got {value!r}\.$"):
        l2advisor.probe(build_model, blobs(64, 1), blobs(32, 2), out=tmp_path / "run", progress=False,
                        **{**FAST, keyword: value})
    assert not (tmp_path / "run").exists()  # refused before anything was trained or written


@pytest.mark.bad_input
def test_recommend_refuses_a_write_that_is_not_a_bool(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"^write must be True or False, got 'no'\.$"):
        l2advisor.recommend(tmp_path, budget=500, write="no")  # type: ignore[arg-type]


def test_numpy_bools_are_bools(tmp_path: Path) -> None:
    """The control: numpy's bools pass, as bools (the header is JSON)."""
    results = l2advisor.probe(build_model, blobs(64, 1), blobs(32, 2), out=tmp_path / "run", progress=False,
                              **FAST, batched=np.False_, early_stop=np.True_, force=np.True_)
    header = json.loads((tmp_path / "run" / "probes.jsonl").read_text().splitlines()[0])
    assert header["settings"]["probe"]["early_stop"] is True and len(results.probes) == 3
    l2advisor.recommend(results, budget=500, write=np.False_)
    assert not (tmp_path / "run" / "advice.json").exists()
