"""Parallel probes: joblib worker processes (loky) and a Dask cluster give the sequential results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.cli.lists import parse_devices
from l2advisor.errors import InputError
from l2advisor.probing.parallel import ProbeJob, probe_job
from l2advisor.probing.plan import ProbeSettings, plan_probes
from l2advisor.runs.rundir import results_path
from l2advisor.runs.store import read_results
from l2advisor.training.train import TrainConfig
from tests.conftest import TINY_MODEL, write_model

runner = CliRunner()
ARGS = ["--lambdas", "0.4,0.2,0.1", "--horizon", "1", "--seeds", "0,1", "--device", "cpu", "--no-early-stop"]


def curves(out: Path) -> dict[str, Any]:
    runs = read_results(results_path(out)).runs
    return {rid: ([(e["step"], e["val_loss"], e["train_loss"]) for e in s.evals], s.status) for rid, s in runs.items()}


def probe(model: Path, out: Path, *extra: str) -> Any:
    result = runner.invoke(app, ["probe", str(model), "--out", str(out), *ARGS, *extra])
    assert result.exit_code == 0, result.output
    return result


def assert_same_up_to_rounding(got: dict[str, Any], expected: dict[str, Any]) -> None:
    """Jobs stack each seed apart, one process stacks every seed together: the same numbers up to
    float rounding, at the same evaluation steps, with the same statuses."""
    assert set(got) == set(expected)
    for run_id, (evals, status) in expected.items():
        assert got[run_id][1] == status and [e[0] for e in got[run_id][0]] == [e[0] for e in evals]
        assert [e[1] for e in got[run_id][0]] == pytest.approx([e[1] for e in evals], rel=1e-5)


@pytest.fixture
def reference(tmp_path: Path) -> tuple[Path, dict[str, Any]]:
    model = write_model(tmp_path, TINY_MODEL)
    probe(model, tmp_path / "one")
    return model, curves(tmp_path / "one")


def test_jobs_in_worker_processes_write_the_sequential_results(tmp_path: Path, reference: tuple) -> None:
    model, expected = reference
    result = probe(model, tmp_path / "two", "--jobs", "2")
    assert_same_up_to_rounding(curves(tmp_path / "two"), expected)
    assert "Probe summary" in result.stdout
    # each probe's line says its last tau and metric, as a serial probe's does (a reviewer's had neither)
    ended = [line for line in result.stderr.splitlines() if ": finished at step" in line]
    assert ended and all(", tau " in line and " val " in line for line in ended), result.stderr
    text = (results_path(tmp_path / "two")).read_text()
    assert text.endswith("\n") and text.count('"type": "header"') == 1


def test_jobs_with_batched_groups_and_devices(tmp_path: Path, reference: tuple) -> None:
    model, expected = reference
    probe(model, tmp_path / "two", "--jobs", "2", "--batched", "--devices", "cpu,cpu")
    assert_same_up_to_rounding(curves(tmp_path / "two"), expected)


def test_a_worker_that_cannot_see_the_results_directory_sends_its_records_back(tmp_path: Path) -> None:
    model = write_model(tmp_path, TINY_MODEL)
    settings = ProbeSettings(lrs=(0.1,), seeds=(0,), horizon=1.0, probe_budget=100, lambdas=(0.4,))
    job = ProbeJob(str(model), (), tuple(plan_probes(settings)), TrainConfig(0.1, 32, 1, 1), settings,
                   str(tmp_path / "elsewhere" / "probes.jsonl"), 1, 1)
    outcome = probe_job(job)
    assert [r.status for r in outcome.results] == ["finished"]
    assert [r["type"] for r in outcome.records][::len(outcome.records) - 1] == ["start", "end"]


@pytest.mark.parametrize("flags,message", [
    (["--devices", "tpu:0"], "--devices takes cpu, cuda or cuda:N"),
    (["--backend", "dask"], "--backend dask needs --scheduler ADDRESS"),
    (["--backend", "spark", "--jobs", "2"], "--backend must be one of loky, dask"),
    (["--batch-replicas", "0"], "--batch-replicas must be at least 1"),
])
def test_bad_parallel_options_are_one_sentence(tmp_path: Path, flags: list[str], message: str) -> None:
    model = write_model(tmp_path, TINY_MODEL)
    result = runner.invoke(app, ["probe", str(model), "--out", str(tmp_path / "x"), *ARGS, *flags])
    assert result.exit_code == 2 and message in " ".join(result.stderr.split()), result.output
    if "--backend" in flags:  # refused before anything ran: no run directory, no progress bar
        assert not (tmp_path / "x").exists() and "probes (steps)" not in result.stderr


def test_parse_devices() -> None:
    assert parse_devices("cuda:0, cuda:1") == ["cuda:0", "cuda:1"] and parse_devices(None) is None
    with pytest.raises(InputError):
        parse_devices("cuda:x")
    with pytest.raises(InputError, match="--devices has an empty item"):  # a slip, not two devices
        parse_devices("cpu,,cpu")


@pytest.mark.slow
def test_dask_cluster_on_loopback_writes_the_sequential_results(tmp_path: Path, reference: tuple) -> None:
    distributed = pytest.importorskip("distributed")
    model, expected = reference
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        result = probe(model, tmp_path / "dask", "--backend", "dask", "--scheduler", cluster.scheduler_address)
    assert_same_up_to_rounding(curves(tmp_path / "dask"), expected)
    assert "Probe summary" in result.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_devices_that_are_not_here_are_refused_before_anything_runs(tmp_path: Path) -> None:
    model = write_model(tmp_path, TINY_MODEL)
    result = runner.invoke(app, ["probe", str(model), "--out", str(tmp_path / "x"), *ARGS, "--devices",
                                 "cuda:0,cuda:1"])
    assert result.exit_code == 2 and "no CUDA GPU is available" in " ".join(result.stderr.split())
    assert not (tmp_path / "x").exists() and "probes (steps)" not in result.stderr


def test_an_early_exit_does_not_leak_joblibs_cancellation_warning(monkeypatch) -> None:
    """Ctrl-C with --jobs 2 printed joblib's raw "1 tasks which were still being processed by the
    workers have been cancelled" under the interrupt's own note; any other warning still shows."""
    import warnings

    import joblib

    from l2advisor.probing import parallel

    class Outcomes:
        def __init__(self, message: str) -> None:
            self.message, self.items = message, iter([1, 2])

        def __iter__(self):
            return self

        def __next__(self):
            return next(self.items)

        def close(self) -> None:
            warnings.warn(self.message, UserWarning, stacklevel=1)

    for message, leaks in (("1 tasks which were still being processed by the workers have been cancelled.", False),
                           ("something else", True)):
        monkeypatch.setattr(joblib, "Parallel", lambda m=message, **kw: (lambda jobs: Outcomes(m)))
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            for _ in parallel._outcomes([], 2):
                break  # an interrupt: the generator closes with jobs in flight
        assert any(message in str(w.message) for w in seen) == leaks


def test_a_rerun_with_every_probe_done_never_contacts_the_dask_scheduler(tmp_path: Path, monkeypatch) -> None:
    """A rerun whose probes had all finished still reached for the scheduler: an unreachable one
    failed the command (after 30 s) though there was nothing to run."""
    pytest.importorskip("distributed")
    model = write_model(tmp_path, TINY_MODEL)
    probe(model, tmp_path / "run")
    asked: list[str] = []

    def unreachable(address: str, **kwargs: Any) -> None:
        asked.append(address)
        raise OSError("connection refused")

    monkeypatch.setattr("dask.distributed.Client", unreachable)
    monkeypatch.setattr("l2advisor.probing.parallel.unreachable", lambda address, seconds=5.0: None)  # Client says
    dask = ["--backend", "dask", "--scheduler", "tcp://127.0.0.1:9"]
    result = probe(model, tmp_path / "run", *dask)
    said = " ".join(result.stderr.split())
    assert asked == [], said
    assert "All 6 planned probes had already finished" in said and "reused, none to train" in said
    assert "tcp://127.0.0.1:9 was not contacted" in said and "Probe summary" in result.stdout
    fresh = runner.invoke(app, ["probe", str(model), "--out", str(tmp_path / "new"), *ARGS, *dask])  # the control
    assert fresh.exit_code == 2 and asked == ["tcp://127.0.0.1:9"], fresh.output
    assert "Cannot reach the Dask scheduler" in fresh.stderr and "already finished" not in fresh.stderr


THREADS_SEEN = TINY_MODEL + '''
import os
from pathlib import Path

_build = build_model

def build_model():  # records the torch threads of the process that builds it
    with open(Path(__file__).with_name("threads.txt"), "a") as seen:
        seen.write(f"{os.getpid()} {torch.get_num_threads()}\\n")
    return _build()
'''


@pytest.mark.parametrize("extra", [["--threads", "3"], []])
def test_the_threads_line_says_what_each_worker_uses(tmp_path: Path, extra: list[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The line spoke of this process ("in this process; --jobs workers share the cores") while
    each worker used the cores divided among the jobs, whatever --threads or the model asked."""
    import os
    import re

    for name in ("OMP_NUM_THREADS", "L2ADVISOR_THREADS"):  # the rule's own choice (a shell's setting words it otherwise)
        monkeypatch.delenv(name, raising=False)
    model = write_model(tmp_path, THREADS_SEEN)
    said = " ".join(probe(model, tmp_path / "run", "--jobs", "2", *extra).stderr.split())
    line = re.search(r"Threads: (\d+) thread\(s\)[^:]*(: [^)]*\))?, in each of 2 worker processes", said)
    assert line is not None and "in this process" not in said, said
    seen = [row.split() for row in (tmp_path / "threads.txt").read_text().splitlines()]
    workers = {int(threads) for pid, threads in seen if int(pid) != os.getpid()}
    assert workers == {int(line.group(1))} == {3 if extra else 1}, (workers, said)


def test_a_refused_scheduler_port_is_said_before_dasks_timeout() -> None:
    """A reviewer's tcp://127.0.0.1:1 took Dask's whole 30 s to be refused."""
    import socket

    from l2advisor.probing.parallel import unreachable

    with socket.socket() as listening:  # the control: a port something listens on
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        assert unreachable(f"tcp://127.0.0.1:{listening.getsockname()[1]}") is None
    with socket.socket() as closed:  # a port bound and closed again: nothing listens there
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    assert unreachable(f"tcp://127.0.0.1:{port}") is not None
    assert unreachable("tls://127.0.0.1:1") is None and unreachable(None) is None  # other schemes: Dask says
