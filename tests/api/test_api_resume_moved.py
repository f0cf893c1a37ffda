"""`l2advisor.probe` from a script of another name or place resumes the same probes: its hash
fingerprints build_model's source, the built model's shapes and the data, so the script's path
is not what tells the probes apart (it refused them: "model_file: a.py -> b.py"). A changed
build_model from the moved script is still refused."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from test_api import blobs

import l2advisor
from l2advisor.errors import InputError
from l2advisor.probing.settings import carries_over, carries_over_from_python

SCRIPT = '''
from torch import nn

def build_model():
    return nn.Sequential(nn.Linear(8, {width}), nn.ReLU(), nn.Linear({width}, 4))
'''
ARGS = dict(progress=False, lr=0.1, batch_size=32, seeds=[0], horizon=2.0, budget=5000)


def _build_model_of(path: Path, width: int):  # noqa: ANN202
    """build_model as a script at `path` defines it (its source file is that script)."""
    path.write_text(SCRIPT.format(width=width))
    spec = importlib.util.spec_from_file_location(f"script_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.build_model


def test_the_same_probes_from_a_renamed_script_are_resumed(tmp_path: Path) -> None:
    (tmp_path / "old").mkdir()
    train, val, out = blobs(256, 1), blobs(128, 2), tmp_path / "run"
    first = l2advisor.probe(_build_model_of(tmp_path / "old" / "a.py", 32), train, val, out=out, **ARGS)
    moved = l2advisor.probe(_build_model_of(tmp_path / "b.py", 32), train, val, out=out, **ARGS)
    assert [p["steps"] for p in moved.probes] == [p["steps"] for p in first.probes]
    assert moved.results.header["settings"]["model_file"] == str(tmp_path / "b.py")
    said = " ".join(moved.notices)
    assert f"made from {tmp_path / 'old' / 'a.py'}, with the same model source, shapes and data" in said
    assert "all 3 of the plan's probes are already here and reused" in said
    with pytest.raises(InputError, match="model_sha256"):  # the control: another model from a moved script
        l2advisor.probe(_build_model_of(tmp_path / "c.py", 16), train, val, out=out, **ARGS)


def test_only_the_python_fingerprint_lets_the_path_differ() -> None:
    old = {"model_file": "/a/model.py", "model_sha256": "f" * 64, "lr": 0.1, "probe": {"seeds": [0]}}
    moved = {**old, "model_file": "/b/model.py"}
    assert carries_over_from_python(old, moved) and not carries_over(old, moved)  # the command line's: the path counts
    assert not carries_over_from_python(old, {**moved, "model_sha256": "e" * 64})
    assert not carries_over_from_python(old, {**moved, "lr": 0.2})
