"""`probe --budget` runs every rung through the same tau window, never stopping a probe early:
an explicit --early-stop with it did nothing (the probes ran to their ends, the header recorded
early_stop false), so it is refused in one sentence before the model file runs; --no-early-stop,
which says what happens, and --early-stop without --budget still run."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.runs.rundir import results_path
from l2advisor.runs.store import read_results

runner = CliRunner()


def _probe(model: Path, out: Path, *extra: str):
    return runner.invoke(app, ["probe", str(model), "--out", str(out), "--horizon", "2", "--seeds", "0",
                               "--device", "cpu", *extra])


def test_early_stop_with_a_budget_is_refused_before_the_model_file_runs(tiny_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = _probe(tiny_model, out, "--budget", "40000", "--early-stop")
    assert result.exit_code == 2, result.output
    said = " ".join(result.stderr.split())
    assert "drop --early-stop" in said and "Threads:" not in said, said
    assert not out.exists()


def test_no_early_stop_with_a_budget_and_early_stop_alone_still_run(tiny_model: Path, tmp_path: Path) -> None:
    sized = _probe(tiny_model, tmp_path / "sized", "--budget", "40000", "--no-early-stop")
    assert sized.exit_code == 0, sized.output
    assert read_results(results_path(tmp_path / "sized")).header["settings"]["probe"]["early_stop"] is False
    ladder = _probe(tiny_model, tmp_path / "ladder", "--early-stop", "--probe-budget", "2000")
    assert ladder.exit_code == 0, ladder.output
    assert read_results(results_path(tmp_path / "ladder")).header["settings"]["probe"]["early_stop"] is True
