"""`recommend RUN_DIR` without --budget on probes sized with `probe --budget N --unit epochs`
advises for the budget in the user's unit: "N epochs (S steps)", and its JSON says epochs. The
probe header records the budget as given (`sized_for`); a header without it (older ones) still
reads, as steps. It said the steps only, as if the user had counted in steps."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.runs.rundir import results_path
from l2advisor.runs.store import read_results

runner = CliRunner()
EPOCHS, STEPS = 5000, 40000  # the tiny model: 256 examples / batch 32 = 8 steps an epoch


def _probe_in_epochs(model: Path, out: Path) -> None:
    result = runner.invoke(app, ["probe", str(model), "--out", str(out), "--budget", str(EPOCHS), "--unit", "epochs",
                                 "--horizon", "2", "--seeds", "0", "--device", "cpu", "--json"])
    assert result.exit_code == 0, result.output
    assert f"Sized for a budget of {EPOCHS} epochs ({STEPS} steps)" in result.stderr


def test_recommend_without_a_budget_says_the_epochs_the_probes_were_sized_for(tiny_model: Path,
                                                                              tmp_path: Path) -> None:
    out = tmp_path / "run"
    _probe_in_epochs(tiny_model, out)
    result = runner.invoke(app, ["recommend", str(out), "--json"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert f"No --budget: advising for the {EPOCHS} epochs ({STEPS} steps) the probes were sized for." in said
    advice = json.loads(result.stdout)
    assert (advice["budget"], advice["unit"], advice["budget_steps"]) == (EPOCHS, "epochs", STEPS)
    given = runner.invoke(app, ["recommend", str(out), "--budget", str(EPOCHS), "--unit", "epochs", "--json"])
    assert json.loads(given.stdout)["weight_decay"] == advice["weight_decay"]  # the same advice as when given
    assert "is read as steps" not in given.stderr
    as_steps = runner.invoke(app, ["recommend", str(out), "--budget", str(EPOCHS), "--json"])  # --unit forgotten
    assert (f"--budget {EPOCHS} is read as steps; the probes were sized for {EPOCHS} epochs ({STEPS} steps): "
            "add --unit epochs") in " ".join(as_steps.stderr.split())
    other = runner.invoke(app, ["recommend", str(out), "--budget", "3000", "--json"])  # the control: another number
    assert "is read as steps" not in other.stderr

    from l2advisor.runs.rundir import SIZED_FOR_KEY

    header = read_results(results_path(out)).header
    assert header[SIZED_FOR_KEY] == {"value": float(EPOCHS), "unit": "epochs", "steps": STEPS,
                                     "val_size": 128, "horizon_asked": 2.0, "halve_to_fit": False}  # the planner's other inputs
    assert header["settings"]["probe"]["budget_steps"] == STEPS

    # an older header, without the budget as given: steps, as before
    path = results_path(out)
    lines = path.read_text().splitlines(keepends=True)
    first = json.loads(lines[0])
    del first[SIZED_FOR_KEY]
    path.write_text(json.dumps(first) + "\n" + "".join(lines[1:]))
    older = runner.invoke(app, ["recommend", str(out), "--json"])
    assert older.exit_code == 0, older.output
    assert f"No --budget: advising for the {STEPS} steps the probes were sized for." in " ".join(older.stderr.split())
    assert (json.loads(older.stdout)["unit"], json.loads(older.stdout)["budget_steps"]) == ("steps", STEPS)


def test_compare_records_its_budget_in_epochs_for_recommend(tiny_model: Path, tmp_path: Path) -> None:
    """compare's advisor probes, sized for its budget in epochs: `recommend` on its run directory
    without --budget says the epochs too (it said the steps)."""
    from l2advisor.runs.rundir import SIZED_FOR_KEY

    out = tmp_path / "compare"
    result = runner.invoke(app, ["compare", str(tiny_model), "--budget", "250", "--unit", "epochs", "--eval-every",
                                 "500", "--trials", "1", "--seeds", "1", "--probe-seeds", "0", "--horizon", "1",
                                 "--device", "cpu", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    header = read_results(results_path(out)).header
    assert header[SIZED_FOR_KEY] == {"value": 250.0, "unit": "epochs", "steps": 2000}
    assert "sized_for" not in header["settings"]  # not a setting: a resume compares what it did before
    advised = runner.invoke(app, ["recommend", str(out), "--json"])
    assert advised.exit_code == 0, advised.output
    said = " ".join(advised.stderr.split())
    assert "No --budget: advising for the 250 epochs (2000 steps) the probes were sized for." in said
