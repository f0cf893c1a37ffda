"""Ctrl-C under --jobs: the workers' probes end at their next evaluation, as one process's do, and
the jobs not begun are not trained. (The workers ignore Ctrl-C and the command waited for the next
job to finish, which then ran to its end; the other jobs in flight were cancelled mid-run.)"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from l2advisor.probing.parallel import STOP_FILE
from l2advisor.runs.rundir import results_path
from tests.conftest import write_model
from tests.test_faults import SLOW

# 20 ms a training step (L2A_TEST_SLEEP): the probes at lr 0.1 and tau = 2 last 50, 100, 200 and
# 400 steps, so about 1, 2, 4 and 8 s; two jobs at a time, one probe each


def _records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines[:-1] + ([lines[-1]] if lines and lines[-1].endswith("}") else [])]


def test_ctrl_c_under_jobs_stops_the_workers_probes_at_their_next_evaluation(tmp_path: Path) -> None:
    model, out = write_model(tmp_path, SLOW), tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "L2A_TEST_SLEEP": "0.02"}
    command = [sys.executable, "-m", "l2advisor", "probe", str(model), "--out", str(out), "--lambdas", "0.4,0.2,0.1,0.05",
               "--horizon", "2", "--seeds", "0", "--no-early-stop", "--no-batched", "--jobs", "2", "--device", "cpu"]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    path, waited = results_path(out), time.monotonic()
    while not any(r["type"] == "end" for r in _records(path)):  # the first probe (lam 0.4, about 1 s) ended
        assert child.poll() is None and time.monotonic() - waited < 120, child.communicate()
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, stderr = child.communicate(timeout=120)
    said = " ".join(stderr.split())
    assert child.returncode == 130, said
    assert "Ctrl-C: stopping at the next evaluation point" in said
    assert "interrupted at step" in said  # lam 0.2 was in flight: it ended at an evaluation, and said so
    records = _records(path)
    ended = {r["run"] for r in records if r["type"] == "end"}
    started = {r["run"] for r in records if r["type"] == "start"}
    assert "lr=0.1/lam=0.05/seed=0" not in ended  # 8 s of training: never run to its end
    assert len(ended) < 4 and started <= {f"lr=0.1/lam={lam}/seed=0" for lam in ("0.4", "0.2", "0.1", "0.05")}
    assert not (out / STOP_FILE).exists()  # removed on the way out: a rerun's workers are not stopped by it
    assert "run the same command again to resume" in said
