"""Faults a probe run must survive (issue 7): NaN, a model raising, SIGKILL, Ctrl-C, a lock.

In-process runs use typer's CliRunner; kills and interrupts use real `python -m l2advisor`
processes (started in their own session and signalled by their pid only) on a tiny
generated-data model that sleeps in each training step, so a kill lands mid-probe.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.errors import InputError
from l2advisor.runs.lock import LOCK_NAME, RunLock
from l2advisor.runs.rundir import load_probe_curves, results_path
from l2advisor.runs.store import read_results
from l2advisor.science.fit import fit_relations
from tests.conftest import TINY_MODEL, write_model

runner = CliRunner()
pytestmark = pytest.mark.fault

# Seed 1's model goes wrong at its 8th training step; seed 0's never does. The seed is read
# from torch's generator, which l2advisor seeds before each build_model().
FAULTY = TINY_MODEL + '''
class Faulty(nn.Module):
    def __init__(self):
        super().__init__()
        self.seed = torch.initial_seed()
        self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
        self.steps = 0
    def forward(self, x):
        out = self.body(x)
        if self.training:
            self.steps += 1
            if self.seed == 1 and self.steps >= 8:
                FAULT
        return out

def build_model():
    return Faulty()
'''
SLOW = TINY_MODEL + '''
import os, time

class Slow(nn.Module):
    """Sleeps L2A_TEST_SLEEP seconds per training step (the numbers do not depend on it)."""
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4))
    def forward(self, x):
        if self.training:
            time.sleep(float(os.environ.get("L2A_TEST_SLEEP", "0")))
        return self.body(x)

def build_model():
    return Slow()
'''
ARGS = ("--lambdas", "0.5,0.25", "--horizon", "2", "--seeds", "0", "--no-early-stop", "--device", "cpu")
FIRST, SECOND = "lr=0.1/lam=0.5/seed=0", "lr=0.1/lam=0.25/seed=0"  # 40 and 80 steps, in this order


def squash(text: str) -> str:
    return "".join(text.split())


# ---- faults inside training, in-process ----

@pytest.mark.parametrize("poison", ["float('nan')", "float('inf')"])
def test_nan_or_inf_probe_is_diverged_and_the_rest_go_on(tmp_path: Path, poison: str) -> None:
    model = write_model(tmp_path, FAULTY.replace("FAULT", f"out = out * {poison}"))
    out = tmp_path / "run"
    result = runner.invoke(app, ["probe", str(model), "--out", str(out), "--lambdas", "0.4,0.2,0.1",
                                 "--horizon", "2", "--seeds", "0,1", "--device", "cpu", "--no-early-stop"])
    assert result.exit_code == 0, result.output
    assert "3 of 6 probes failed or diverged" in " ".join(result.stderr.split())
    runs = read_results(results_path(out)).runs
    for state in runs.values():
        if state.meta["seed"] == 1:
            # poisoned from step 8; seen at the first evaluation after it (log schedule: 0, 10, 13, ...)
            assert state.status == "diverged" and state.end["steps"] == 10
            assert "NaN or infinite by step 10" in state.end["message"]
        else:
            assert state.status == "finished" and state.end["steps"] == state.meta["max_steps"]
    fit = fit_relations(load_probe_curves(out)[1], n_bootstrap=20)  # the fit leaves them out, and says so
    assert sorted((e.lam, e.seed) for e in fit.excluded) == [(0.1, 1), (0.2, 1), (0.4, 1)]
    assert all("diverged" in e.reason for e in fit.excluded) and fit.n_usable == 3
    assert any("3 probe(s) excluded" in reason and "seed=1: diverged" in reason for reason in fit.reasons)


def test_model_raising_mid_training_fails_that_probe_only(tmp_path: Path) -> None:
    model = write_model(tmp_path, FAULTY.replace("FAULT", "raise RuntimeError('lost the batch')"))
    out = tmp_path / "run"
    args = ["probe", str(model), "--out", str(out), "--lambdas", "0.4,0.2", "--horizon", "2",
            "--seeds", "0,1", "--device", "cpu"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output  # some probes failed: a warning, not a failure
    text = " ".join(result.stderr.split())
    assert "RuntimeError: lost the batch" in text and "2 of 4 probes failed or diverged" in text
    runs = read_results(results_path(out)).runs
    failed = [s for s in runs.values() if s.status == "failed"]
    assert sorted(s.meta["lam"] for s in failed) == [0.2, 0.4] and all(s.meta["seed"] == 1 for s in failed)
    assert all("lost the batch" in s.end["message"] and "model.py" in s.end["message"] for s in failed)
    assert all(s.done for s in runs.values())
    again = runner.invoke(app, args)  # a failed probe is no measurement: run again (here it fails again)
    said = " ".join(again.stderr.split())
    assert again.exit_code == 0 and "2 reused" in said and "Retrying 2 probe(s) that failed before" in said
    assert "2 of 4 probes failed or diverged" in said


# ---- real processes: SIGKILL, SIGINT, the lock ----

def start(model: Path, out: Path, sleep: float, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "L2A_TEST_SLEEP": str(sleep)}
    return subprocess.Popen([sys.executable, "-m", "l2advisor", "probe", str(model), "--out", str(out), *ARGS, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            cwd=model.parent, start_new_session=True)


def finish(process: subprocess.Popen) -> tuple[int, str]:
    _, stderr = process.communicate(timeout=60)
    return process.returncode, " ".join(stderr.split())


def complete_records(path: Path) -> list[dict[str, Any]]:
    """The whole lines of a results file being written (a partial last one is skipped)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    return [json.loads(line) for line in data[: data.rfind(b"\n") + 1].decode().splitlines()]


def wait_for_evals(process: subprocess.Popen, path: Path, run: str, count: int, ended: str | None = None) -> None:
    """Poll until `run` has `count` eval records after its (last) start (and `ended` has ended)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        seen, done = 0, ended is None
        for record in complete_records(path):
            if record.get("run") == run:
                seen = 0 if record["type"] == "start" else seen + (record["type"] == "eval")
            done = done or (record["type"] == "end" and record["run"] == ended)
        if seen >= count and done:
            return
        assert process.poll() is None, f"the run ended before {run} had {count} evaluations"
        time.sleep(0.005)
    raise AssertionError(f"{run} never reached {count} evaluations")


def evals_without_seconds(path: Path) -> dict[str, list[dict[str, Any]]]:
    runs = read_results(path).runs
    return {rid: [{k: v for k, v in r.items() if k != "seconds"} for r in s.evals] + [s.status]
            for rid, s in runs.items()}


def starts(path: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in complete_records(path):
        if record["type"] == "start":
            counts[record["run"]] = counts.get(record["run"], 0) + 1
    return counts


@pytest.fixture(scope="module")
def slow_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model(tmp_path_factory.mktemp("slow"), SLOW, "slow.py")


@pytest.fixture(scope="module")
def reference(slow_model: Path) -> dict[str, dict[str, list[Any]]]:
    """The same probes, uninterrupted (in-process: same seeds, same CPU arithmetic), stacked
    as replicas (the default) and one at a time."""
    found = {}
    for name, extra in (("batched", ()), ("one at a time", ("--no-batched",))):
        out = slow_model.parent / f"reference {name}"
        result = runner.invoke(app, ["probe", str(slow_model), "--out", str(out), *ARGS, *extra])
        assert result.exit_code == 0, result.output
        found[name] = evals_without_seconds(results_path(out))
    return found


def assert_same(got: dict[str, list[Any]], want: dict[str, list[Any]], exact: bool) -> None:
    """Equal records; with `exact` False, floats may differ by float32 round-off."""
    if exact:
        assert got == want
        return
    assert got.keys() == want.keys()
    for run in want:
        assert len(got[run]) == len(want[run]) and got[run][-1] == want[run][-1]  # same length, same status
        for mine, theirs in zip(got[run][:-1], want[run][:-1], strict=True):
            assert mine.keys() == theirs.keys()
            for k, v in theirs.items():
                if isinstance(v, float) and isinstance(mine[k], float):
                    assert math.isclose(mine[k], v, rel_tol=1e-5, abs_tol=1e-6), (run, mine["step"], k)
                else:
                    assert mine[k] == v, (run, mine["step"], k)


def test_sigkill_mid_probe_loses_nothing(slow_model: Path, reference: dict, tmp_path: Path) -> None:
    out = tmp_path / "run"
    path = results_path(out)
    process = start(slow_model, out, sleep=0.01)
    wait_for_evals(process, path, SECOND, 5, ended=FIRST)
    os.kill(process.pid, signal.SIGKILL)  # this child only
    assert finish(process)[0] == -signal.SIGKILL
    before = path.read_bytes()
    before = before[: before.rfind(b"\n") + 1]  # a half-written last line may be lost, nothing else
    killed = read_results(path).runs
    assert killed[FIRST].status == "finished" and killed[SECOND].status == "running"
    assert len(killed[SECOND].evals) >= 5

    rerun = runner.invoke(app, ["probe", str(slow_model), "--out", str(out), *ARGS])  # the same command
    assert rerun.exit_code == 0, rerun.output
    stderr = " ".join(rerun.stderr.split())
    assert f"Took over a stale lock left by process {process.pid}" in stderr and "(1 reused)" in stderr
    assert path.read_bytes().startswith(before)  # every evaluation written before the kill is still there
    assert starts(path) == {FIRST: 1, SECOND: 2}  # the finished probe was not rerun; the cut one restarted
    # and the result is that of an uninterrupted run: to float32 round-off, since the cut probe
    # was stacked with the finished one before the kill and trains alone after it
    assert_same(evals_without_seconds(path), reference["batched"], exact=False)
    assert not (out / LOCK_NAME).exists()


def test_sigint_stops_at_an_evaluation_and_resumes(slow_model: Path, reference: dict, tmp_path: Path) -> None:
    out = tmp_path / "run"
    path = results_path(out)
    process = start(slow_model, out, 0.01, "--no-batched")
    wait_for_evals(process, path, SECOND, 3, ended=FIRST)
    os.kill(process.pid, signal.SIGINT)
    code, stderr = finish(process)
    assert code == 130, stderr
    assert "stopping at the next evaluation point" in stderr and "run the same command again to resume" in stderr
    assert squash("the 1 finished probe of 2 is reused, the others restart") in squash(stderr)
    assert path.read_bytes().endswith(b"\n")  # stopped between records, not in the middle of one
    interrupted = read_results(path).runs
    assert interrupted[FIRST].status == "finished" and interrupted[SECOND].end is None
    assert not (out / LOCK_NAME).exists()  # released on the way out

    resumed = runner.invoke(app, ["probe", str(slow_model), "--out", str(out), *ARGS, "--no-batched"])
    assert resumed.exit_code == 0, resumed.output
    assert "(1 reused)" in resumed.stderr
    assert starts(path) == {FIRST: 1, SECOND: 2}
    assert_same(evals_without_seconds(path), reference["one at a time"], exact=True)  # bit for bit


def test_second_process_refused_then_stale_lock_taken_over(slow_model: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = start(slow_model, out, sleep=0.05)
    wait_for_evals(first, results_path(out), FIRST, 1)
    second = runner.invoke(app, ["probe", str(slow_model), "--out", str(out), *ARGS])
    assert second.exit_code == 2, second.output
    assert squash(f"is in use by another l2advisor process (pid {first.pid})") in squash(second.stderr)
    os.kill(first.pid, signal.SIGKILL)
    finish(first)
    assert (out / LOCK_NAME).read_text().strip() == str(first.pid)  # left behind by the dead process
    third = runner.invoke(app, ["probe", str(slow_model), "--out", str(out), *ARGS])
    assert third.exit_code == 0, third.output
    assert f"Took over a stale lock left by process {first.pid}" in " ".join(third.stderr.split())


def test_stale_lock_of_a_dead_pid(tiny_model: Path, tmp_path: Path) -> None:
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    out = tmp_path / "run"
    out.mkdir()
    (out / LOCK_NAME).write_text(dead.stdout.strip())
    result = runner.invoke(app, ["probe", str(tiny_model), "--out", str(out), "--lambdas", "0.4",
                                 "--horizon", "2", "--seeds", "0", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert f"Took over a stale lock left by process {dead.stdout.strip()}" in " ".join(result.stderr.split())


def test_lock_is_not_kept_alive_by_a_forked_child(tmp_path: Path) -> None:
    """A DataLoader worker forked by a killed run must not hold its directory hostage."""
    script = (f"import os, time\nfrom l2advisor.runs.lock import RunLock\nlock = RunLock({str(tmp_path)!r})\n"
              "lock.acquire()\nchild = os.fork()\nif child == 0:\n    print(os.getpid(), flush=True)\n"
              "    time.sleep(30)\n    os._exit(0)\ntime.sleep(30)\n")
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    child = None
    try:
        child = int(holder.stdout.readline())  # printed once the child runs (past the fork hooks)
        with pytest.raises(InputError, match="in use by another l2advisor process"):
            RunLock(tmp_path).acquire()
        os.kill(holder.pid, signal.SIGKILL)  # the parent dies; its forked child lives on
        holder.wait(timeout=10)
        lock = RunLock(tmp_path)
        lock.acquire()
        assert lock.stale_taken_over == holder.pid
        lock.release()
    finally:
        for pid in (child, holder.pid):
            if pid is None:
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        holder.wait(timeout=10)


def test_sigint_during_train_says_the_run_does_not_resume(slow_model: Path, tmp_path: Path) -> None:
    """A user who knew that `probe` resumes expected `train` to; the rerun started over from step 0."""
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "L2A_TEST_SLEEP": "0.01"}
    process = subprocess.Popen([sys.executable, "-m", "l2advisor", "train", str(slow_model), "--out", str(out),
                                "--budget", "400", "--weight-decay", "0.01", "--eval-every", "10", "--device", "cpu"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                               cwd=slow_model.parent, start_new_session=True)
    path = results_path(out, "train.jsonl")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sum(r["type"] == "eval" for r in complete_records(path)) < 3:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGINT)
    code, stderr = finish(process)
    assert code == 130, stderr
    assert squash("A run does not resume: the same command trains it again from step 0.") in squash(stderr)
