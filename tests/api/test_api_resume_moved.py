"""`l2advisor.probe` from a script of another name or place resumes the same probes: its hash
fingerprints build_model's source, the built model's layers and shapes, and the data, so the
script's path is not what tells the probes apart (it refused them: "model_file: a.py -> b.py").
The directory keeps naming the script its probes were made from. A changed model is refused
even where build_model's source is the same (a global choosing the activation), and a
functools.partial resumes (its repr, with a memory address, made every run another model)."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import pytest
from test_api import blobs
from torch import nn

import l2advisor
from l2advisor.errors import InputError
from l2advisor.runs.rundir import results_path
from l2advisor.runs.store import read_results

SCRIPT = '''
from torch import nn

def build_model():
    return nn.Sequential(nn.Linear(8, {width}), nn.ReLU(), nn.Linear({width}, 4))
'''
ARGS = dict(progress=False, lr=0.1, batch_size=32, seeds=[0], horizon=2.0, budget=5000)


def _build_model_of(path: Path, width: int = 32):  # noqa: ANN202
    """build_model as a script at `path` defines it (its source file is that script)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SCRIPT.format(width=width))
    spec = importlib.util.spec_from_file_location(f"script_{path.parent.name}_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.build_model


def test_the_same_probes_from_a_renamed_script_are_resumed_and_keep_their_origin(tmp_path: Path) -> None:
    train, val, out = blobs(256, 1), blobs(128, 2), tmp_path / "run"
    first_script = tmp_path / "old" / "a.py"
    first = l2advisor.probe(_build_model_of(first_script), train, val, out=out, **ARGS)
    moved = l2advisor.probe(_build_model_of(tmp_path / "b.py"), train, val, out=out, **ARGS)
    assert [p["steps"] for p in moved.probes] == [p["steps"] for p in first.probes]
    said = " ".join(moved.notices)
    assert f"The probes in {out} were made from {first_script}" in said and "so they are resumed" in said
    assert read_results(results_path(out)).header["settings"]["model_file"] == str(first_script)  # kept
    back = l2advisor.probe(_build_model_of(first_script), train, val, out=out, **ARGS)
    assert "were made from" not in " ".join(back.notices)  # from its own script: nothing to say
    with pytest.raises(InputError, match="model_sha256"):  # the control: another model from a moved script
        l2advisor.probe(_build_model_of(tmp_path / "c.py", width=16), train, val, out=out, **ARGS)


def test_a_refusal_for_another_budget_names_the_directory_to_recommend_from(tmp_path: Path) -> None:
    train, val, out = blobs(256, 1), blobs(128, 2), tmp_path / "run"
    planned = {k: v for k, v in ARGS.items() if k not in ("horizon", "budget")}  # the window from the budget
    l2advisor.probe(_build_model_of(tmp_path / "a.py"), train, val, out=out, budget=2000, **planned)
    with pytest.raises(InputError) as refused:  # from a renamed copy, for a budget whose plan has another window
        l2advisor.probe(_build_model_of(tmp_path / "b.py"), train, val, out=out, budget=500_000, **planned)
    said = " ".join(str(refused.value).split())
    assert f"`l2advisor.recommend('{out}', budget=500000)` reuses them" in said
    assert "the plan for 500,000 steps runs every rung through tau = 8, where these probes ran tau = 4" in said
    assert "model_file" not in said  # the renamed script is no difference


ACTIVATION = {"layer": nn.ReLU}


def global_activation_model() -> nn.Module:  # the same source whatever the global says
    return nn.Sequential(nn.Linear(8, 32), ACTIVATION["layer"](), nn.Linear(32, 4))


def test_another_activation_behind_the_same_source_is_refused(tmp_path: Path) -> None:
    train, val, out = blobs(256, 1), blobs(128, 2), tmp_path / "run"
    l2advisor.probe(global_activation_model, train, val, out=out, **ARGS)
    assert len(l2advisor.probe(global_activation_model, train, val, out=out, **ARGS).probes) == 3  # the control
    ACTIVATION["layer"] = nn.Tanh
    try:
        with pytest.raises(InputError, match="model_sha256"):
            l2advisor.probe(global_activation_model, train, val, out=out, **ARGS)
    finally:
        ACTIVATION["layer"] = nn.ReLU


def _make(hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(8, hidden), nn.ReLU(), nn.Linear(hidden, 4))


def test_a_partial_resumes_and_other_bound_arguments_are_another_model(tmp_path: Path) -> None:
    train, val, out = blobs(256, 1), blobs(128, 2), tmp_path / "run"
    l2advisor.probe(functools.partial(_make, hidden=16), train, val, out=out, **ARGS)
    again = l2advisor.probe(functools.partial(_make, hidden=16), train, val, out=out, **ARGS)  # a new object
    assert len(again.probes) == 3
    with pytest.raises(InputError, match="model_sha256"):
        l2advisor.probe(functools.partial(_make, hidden=24), train, val, out=out, **ARGS)
