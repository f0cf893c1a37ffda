"""`--json` on stdout shows a short decimal as that decimal: lr*lam = 0.1 * 0.07 printed as
0.007000000000000001 (the binary arithmetic's digits, not a measurement's), which a reader
comparing with 0.007 had to round. A float that needs all its digits is left as it is (a lam copied
from `tune --json` must be the lam the study holds)."""

from __future__ import annotations

import json
import math
from pathlib import Path

from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.cli.json_out import shown

runner = CliRunner()


def test_short_decimals_lose_the_arithmetics_digits_and_nothing_else_changes() -> None:
    sampled = 0.0005547119471592127  # a lam Optuna drew: all its digits are the value
    data = {"lr_lam": 0.1 * 0.07, "steps": 400, "peaked": True, "name": "x", "rows": [(0.1 * 3, None)],
            "sampled": sampled, "tau": 3.999999999999926, "tiny": 1e-4 * 0.07, "negative": -0.1 * 0.3}
    got = shown(data)
    assert got == {"lr_lam": 0.007, "steps": 400, "peaked": True, "name": "x", "rows": [[0.3, None]],
                   "sampled": sampled, "tau": 3.999999999999926, "tiny": 7e-6, "negative": -0.03}
    assert type(got["steps"]) is int and got["peaked"] is True
    assert math.isnan(shown(float("nan")))  # left to json_safe, which writes null


def test_probe_plan_json_shows_lr_lam_as_typed(tiny_model: Path, tmp_path: Path) -> None:
    planned = runner.invoke(app, ["probe", str(tiny_model), "--out", str(tmp_path / "run"), "--device", "cpu",
                                  "--lr", "0.1", "--lambdas", "0.07,0.03", "--horizon", "1", "--plan", "--json"])
    assert planned.exit_code == 0, planned.output
    assert "0.007000000000000001" not in planned.stdout
    rows = json.loads(planned.stdout)["probes"]
    assert sorted({r["lr_lam"] for r in rows}) == [0.003, 0.007]
