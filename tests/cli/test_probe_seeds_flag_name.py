"""`compare` and `train --advise` take the probe seeds as --probe-seeds: a refused list names that
flag, not `probe`'s --seeds (in `compare`, --seeds is the count of training seeds, another flag),
and a seed listed twice is refused before the model file runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app

runner = CliRunner()


def _compare(model: Path, out: Path, seeds: str) -> list[str]:
    return ["compare", str(model), "--budget", "40", "--trials", "1", "--seeds", "1", "--probe-seeds", seeds,
            "--out", str(out), "--device", "cpu"]


def _advise(model: Path, out: Path, seeds: str) -> list[str]:
    return ["train", str(model), "--budget", "40", "--advise", "--probe-seeds", seeds, "--out", str(out),
            "--device", "cpu"]


@pytest.mark.parametrize("command", [_compare, _advise])
@pytest.mark.parametrize("seeds,said", [("0,0", "The probe seeds (--probe-seeds) list 0 more than once"),
                                        (",", "--probe-seeds must name at least one seed.")])
def test_a_refused_probe_seed_list_names_probe_seeds(tiny_model: Path, tmp_path: Path, command, seeds: str,
                                                     said: str) -> None:
    out = tmp_path / "run"
    result = runner.invoke(app, command(tiny_model, out, seeds))
    assert result.exit_code == 2, result.output
    shown = " ".join(result.stderr.split())
    assert said in shown and "(--seeds)" not in shown and not shown.startswith("Error: --seeds"), shown
    assert "Threads:" not in shown  # said before the model file runs
    assert not out.exists()


def test_probe_still_names_its_own_seeds_flag(tiny_model: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["probe", str(tiny_model), "--seeds", "1,1", "--out", str(tmp_path / "run")])
    assert result.exit_code == 2, result.output
    assert "The probe seeds (--seeds) list 1 more than once" in " ".join(result.stderr.split())
    assert "Threads:" not in result.stderr
