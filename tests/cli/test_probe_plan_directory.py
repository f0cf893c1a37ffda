"""`probe --plan` reads the run directory as `probe` would: finished probes are marked and left out
of the price, a directory `probe` would refuse is said, and --force's deletion is counted. (It
priced every probe as if the directory were empty.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.runs.rundir import results_path
from tests.cli.test_cli_probe_budget import budget_args

runner = CliRunner()


@pytest.fixture
def probed(tiny_model: Path, tmp_path: Path) -> Path:
    """A directory holding the 3 finished probes of a 5,000-step plan (window tau = 2, seed 0)."""
    out = tmp_path / "run"
    assert runner.invoke(app, budget_args(tiny_model, out, "5000")).exit_code == 0
    return out


def _plan(model: Path, out: Path, budget: str, *extra: str) -> tuple[dict, str]:
    result = runner.invoke(app, [*budget_args(model, out, budget, *extra), "--plan", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout), " ".join(result.stderr.split())


def test_probes_finished_in_the_directory_are_marked_and_left_out_of_the_price(tiny_model: Path, probed: Path) -> None:
    before = results_path(probed).read_bytes()
    found, said = _plan(tiny_model, probed, "10000")  # the same window, one more rung
    reused = [r for r in found["probes"] if r["reused"]]
    left = [r for r in found["probes"] if not r["reused"]]
    assert len(reused) == 3 and len(left) == 1 and len(found["directory"]["reused"]) == 3
    assert found["probe_steps"] == left[0]["steps"] and found["probe_evaluations"] == left[0]["evaluations"]
    assert "3 of the 4 planned probes have already ended" in said and "the price below is of the 1 probe left" in said
    assert found["directory"]["ended"] == {run_id: "finished" for run_id in found["directory"]["reused"]}
    assert "1 probe, " in said and "1 probes" not in said  # one left, said in the singular
    assert "one probe left to train: nothing to stack it with" in said  # not "--no-batched"
    ratios = found["cost_of_budget_run"]
    assert ratios["one_by_one"] == pytest.approx(found["probes_one_by_one_seconds"] / found["budget_run_seconds"])
    assert found["follow_up_steps"] == sum(r["steps"] for r in found["probes"])  # one seed: a follow-up is all of it
    assert results_path(probed).read_bytes() == before  # read only


def test_a_directory_holding_every_planned_probe_is_priced_at_nothing_without_timing(tiny_model: Path,
                                                                                     probed: Path) -> None:
    found, said = _plan(tiny_model, probed, "5000")
    assert all(r["reused"] for r in found["probes"]) and found["probe_steps"] == 0
    assert found["stacked"] is None and found["cost_of_budget_run"] is None and found["step_seconds"] is None
    assert "All 3 planned probes have already ended" in said and "Timing" not in said
    table = runner.invoke(app, [*budget_args(tiny_model, probed, "5000"), "--plan"])
    assert table.exit_code == 0 and "in the directory" in table.stdout and "finished" in table.stdout


def test_a_directory_probe_would_refuse_is_said_and_the_plan_priced_as_new(tiny_model: Path, probed: Path) -> None:
    found, said = _plan(tiny_model, probed, "2000", "--horizon", "1")  # another window: other runs (the last --horizon)
    assert found["directory"]["refused"].startswith(f"{results_path(probed)} holds results made with other settings")
    assert "Without --plan, probe would stop here" in said
    assert not any(r["reused"] for r in found["probes"]) and found["probe_steps"] == sum(r["steps"] for r in found["probes"])
    assert found["directory"]["deleted_by_force"] == 3 and "--force would delete 3 probes that ended there" in said
    refused = runner.invoke(app, budget_args(tiny_model, probed, "2000", "--horizon", "1"))
    assert refused.exit_code == 2  # what the plan said probe would do


def test_force_counts_the_finished_probes_it_would_delete(tiny_model: Path, probed: Path) -> None:
    found, said = _plan(tiny_model, probed, "5000", "--force")
    assert found["directory"]["deleted_by_force"] == 3 and found["directory"]["refused"] is None
    assert not any(r["reused"] for r in found["probes"]) and found["probe_steps"] > 0
    assert "--force would delete 3 probes that ended in" in said
    assert len(results_path(probed).read_text().splitlines()) > 1  # the plan deleted nothing


def test_a_new_directory_says_nothing_of_it(tiny_model: Path, tmp_path: Path) -> None:
    found, said = _plan(tiny_model, tmp_path / "new", "5000")
    assert found["directory"] == {"run_dir": str(tmp_path / "new"), "reused": [], "ended": {}, "refused": None,
                                  "deleted_by_force": 0, "retried": []}
    assert "already finished" not in said and "would stop here" not in said and not (tmp_path / "new").exists()


def test_a_corrupt_results_file_is_refused_as_probe_refuses_it_but_not_under_force(tiny_model: Path,
                                                                                   probed: Path) -> None:
    path = results_path(probed)
    path.write_text(path.read_text().replace('"type": "start"', '"type": "start', 1))  # a broken line, not the last
    refused = runner.invoke(app, [*budget_args(tiny_model, probed, "5000"), "--plan"])
    told = " ".join(refused.stderr.split())
    assert refused.exit_code == 2 and "is not a valid results record" in told
    assert "run again with --force, starts it over without its runs; or give another --out" in told  # a remedy
    forced, said = _plan(tiny_model, probed, "5000", "--force")  # --force deletes it unread
    assert forced["probe_steps"] > 0 and forced["directory"]["deleted_by_force"] == 0


def test_a_failed_probe_is_shown_as_it_ended_not_as_finished(tiny_model: Path, probed: Path) -> None:
    """probe runs a failed probe again (a transient error) and keeps a diverged one: the plan says so."""
    import json as json_

    path = results_path(probed)
    lines = path.read_text().splitlines()
    first_end = next(i for i, line in enumerate(lines) if json_.loads(line)["type"] == "end")
    record = json_.loads(lines[first_end])
    record["status"], record["message"] = "failed", "RuntimeError: out of memory"
    lines[first_end] = json_.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    found, said = _plan(tiny_model, probed, "5000")
    assert sorted(found["directory"]["ended"].values()) == ["finished", "finished"]
    assert found["directory"]["retried"] == [record["run"]]
    assert ("2 of the 3 planned probes have already ended in" in said and "would be reused: the price below is of "
            "the 1 probe left (1 probe among them failed before, which probe runs again)." in said)
    table = runner.invoke(app, [*budget_args(tiny_model, probed, "5000"), "--plan"])
    assert table.stdout.count("finished") == 2
    record["status"] = "diverged"  # an outcome: kept as it ended
    lines[first_end] = json_.dumps(record)
    path.write_text("\n".join(lines) + "\n")
    found, said = _plan(tiny_model, probed, "5000")
    assert sorted(found["directory"]["ended"].values()) == ["diverged", "finished", "finished"]
    assert "(1 of them diverged: probe keeps them as they ended" in said and "run again" not in said


def test_one_seed_is_not_promised_a_follow_up(tiny_model: Path, tmp_path: Path) -> None:
    _, said = _plan(tiny_model, tmp_path / "one", "5000")  # budget_args probes seed 0 only
    assert "cannot decide the verdict" not in said
    two = runner.invoke(app, ["probe", str(tiny_model), "--out", str(tmp_path / "two"), "--budget", "5000",
                              "--horizon", "2", "--seeds", "0,1,2", "--device", "cpu", "--plan", "--json"])
    assert two.exit_code == 0 and json.loads(two.stdout)["seeds"] == 3
    assert "When 3 seeds cannot decide the verdict" in " ".join(two.stderr.split())
