"""A probe that failed (a transient error: an out-of-memory, a lost device) runs again when the
command is run again; resuming kept it failed, and only --force, which discards every finished
probe, retried it. A diverged probe is an outcome and stays."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.runs.rundir import results_path
from l2advisor.runs.store import read_results
from tests.conftest import TINY_MODEL, write_model

FLAKY = TINY_MODEL + '''
import os

_build = build_model

class _Flaky(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = _build()
        self.calls = 0
    def forward(self, x):
        self.calls += 1
        if os.environ.get("L2A_TEST_FAIL") and self.calls > 3 and x.shape[0] == 32:
            raise RuntimeError("transient failure (simulated)")
        return self.net(x)

def build_model():
    return _Flaky()
'''
ARGS = ["--lambdas", "0.4,0.2,0.1", "--horizon", "1", "--seeds", "0", "--device", "cpu", "--no-early-stop",
        "--no-batched"]


def test_a_failed_probe_is_retried_on_resume(tmp_path: Path, monkeypatch) -> None:
    model, out = write_model(tmp_path, FLAKY), tmp_path / "run"
    monkeypatch.setenv("L2A_TEST_FAIL", "1")
    first = CliRunner().invoke(app, ["probe", str(model), "--out", str(out), *ARGS])
    assert first.exit_code == 1, first.output  # all three failed
    statuses = {rid: st.status for rid, st in read_results(results_path(out)).runs.items()}
    assert set(statuses.values()) == {"failed"}
    monkeypatch.delenv("L2A_TEST_FAIL")
    again = CliRunner().invoke(app, ["probe", str(model), "--out", str(out), *ARGS])
    assert again.exit_code == 0, again.output
    said = " ".join(again.stderr.split())
    assert "Retrying 3 probe(s) that failed before" in said
    assert "it ended on RuntimeError: transient failure (simulated)" in said and "fix what fails" in said
    assert {st.status for st in read_results(results_path(out)).runs.values()} == {"finished"}
    third = CliRunner().invoke(app, ["probe", str(model), "--out", str(out), *ARGS])  # the control: nothing to retry
    assert third.exit_code == 0 and "Retrying" not in third.stderr
    assert "(3 reused)" in " ".join(third.stderr.split())


def test_a_failed_probes_row_reads_no_t_star_or_peak(tmp_path: Path, monkeypatch) -> None:
    """A failed probe's row showed t*, tau*, a peak and "peaked": true, read from the curve the error cut."""
    import json

    model, out = write_model(tmp_path, FLAKY), tmp_path / "run"
    monkeypatch.setenv("L2A_TEST_FAIL", "1")
    result = CliRunner().invoke(app, ["probe", str(model), "--out", str(out), *ARGS, "--json"])
    rows = [row for row in json.loads(result.stdout)["probes"] if row["status"] == "failed"]
    assert rows and all(row["t_star"] is None and row["peak"] is None and row["peaked"] is False for row in rows)
