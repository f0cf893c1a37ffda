"""`probe` refuses an empty --seeds list and an --out that cannot be a directory before the
model file runs, as it does its other lists and --jobs: exit 2, one sentence, no "Threads:"
line, nothing written (both were said only after the model file had run)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app

runner = CliRunner()


def _probe(model: Path, out: Path, *extra: str):
    return runner.invoke(app, ["probe", str(model), "--out", str(out), "--horizon", "2", "--device", "cpu",
                               *extra])


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"" for p in root.rglob("*")}


@pytest.mark.parametrize("seeds", [",", ""])
def test_no_seeds_is_refused_before_the_model_file_runs(tiny_model: Path, tmp_path: Path, seeds: str) -> None:
    before = _files(tmp_path)
    result = _probe(tiny_model, tmp_path / "run", "--seeds", seeds)
    assert result.exit_code == 2, result.output
    assert "--seeds must name at least one seed." in result.stderr
    assert "Threads:" not in result.stderr, result.stderr
    assert _files(tmp_path) == before  # no run directory, nothing beside the model file


@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_an_out_at_a_file_is_refused_before_the_model_file_runs(tiny_model: Path, tmp_path: Path,
                                                                where: str) -> None:
    taken = tmp_path / "notes.txt"
    taken.write_text("mine")
    out = taken if where == "a file" else taken / "deeper" / "run"
    before = _files(tmp_path)
    result = _probe(tiny_model, out, "--seeds", "0")
    assert result.exit_code == 2, result.output
    assert f"Cannot use {out} as a directory" in " ".join(result.stderr.split())
    assert "Threads:" not in result.stderr, result.stderr
    assert _files(tmp_path) == before  # the user's file untouched, nothing made
