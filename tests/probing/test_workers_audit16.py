"""How many worker processes probe starts, the torch threads each gets (the thread rule on its
share of the cores, or --threads / L2ADVISOR_THREADS), and the Threads line that says so; a
Dask run with nothing to do reaches no scheduler."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import joblib
import pytest
from typer.testing import CliRunner

from l2advisor.cli.app import app
from l2advisor.errors import InputError
from l2advisor.probing.parallel import cores_per_job, run_parallel, worker_jobs
from l2advisor.probing.plan import ProbeSettings
from l2advisor.training.train import TrainConfig
from tests.conftest import TINY_MODEL, write_model

runner = CliRunner()
ARGS = ["--lambdas", "0.4,0.2,0.1", "--horizon", "1", "--seeds", "0", "--device", "cpu", "--no-early-stop"]

# a step of about 7 MFLOP: above the rule's 3 MFLOP, so it takes every thread its share allows
LARGE_MODEL = TINY_MODEL.replace("nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 4)",
                                 "nn.Linear(8, 4096), nn.ReLU(), nn.Linear(4096, 4)") + '''
import os
from pathlib import Path

_build = build_model

def build_model():  # records the torch threads of the process that builds it
    with open(Path(__file__).with_name("threads.txt"), "a") as seen:
        seen.write(f"{os.getpid()} {torch.get_num_threads()}\\n")
    return _build()
'''


def test_worker_jobs_counts_the_processes_probe_starts() -> None:
    assert worker_jobs(0, None, "loky") == 0  # one job here: this process
    assert worker_jobs(0, ["cpu", "cpu"], "loky") == 2  # one job per device
    assert worker_jobs(1, ["cuda:1"], "loky") == 1  # one device: still a worker on it
    assert worker_jobs(0, None, "dask") == 1 and worker_jobs(3, None, "loky") == 3


@pytest.mark.parametrize("cores", [1, 2, 8, 12])
def test_cores_per_job_divides_the_cores_never_to_no_thread(monkeypatch, cores: int) -> None:
    """Each of `jobs` workers gets the largest whole share of the cores that does not oversubscribe
    them (so none is left idle that a share could take), and one thread when there are more jobs
    than cores. On the machine's own count this said little: on 1 or 2 cores a rounding up
    (8 cores, 3 jobs: 3 threads each, 9 > 8) or a share that ignores the jobs passed it."""
    monkeypatch.setattr(joblib, "cpu_count", lambda *args, **kwargs: cores)
    for jobs in range(1, 3 * cores + 2):
        share = cores_per_job(jobs)
        if jobs > cores:
            assert share == 1, (cores, jobs, share)
        else:  # the whole cores used as far as a whole share allows, and never more
            assert jobs * share <= cores < jobs * (share + 1), (cores, jobs, share)
    if cores == 8:  # the same, as numbers
        assert [cores_per_job(jobs) for jobs in (1, 2, 3, 4, 5, 8, 9)] == [8, 4, 2, 2, 1, 1, 1]


def _workers_threads(tmp_path: Path, *extra: str) -> tuple[str, set[int]]:
    model = write_model(tmp_path, LARGE_MODEL)
    result = runner.invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), *ARGS, *extra])
    assert result.exit_code == 0, result.output
    seen = [row.split() for row in (tmp_path / "threads.txt").read_text().splitlines()]
    return " ".join(result.stderr.split()), {int(t) for pid, t in seen if int(pid) != os.getpid()}


def test_a_large_step_takes_its_share_of_the_cores_in_each_worker(tmp_path: Path, monkeypatch) -> None:
    for name in ("L2ADVISOR_THREADS", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    said, workers = _workers_threads(tmp_path, "--jobs", "2")
    share = cores_per_job(2)
    assert workers == {share}, (workers, said)
    assert re.search(rf"Threads: {share} thread\(s\): a large step .*, in each of 2 worker processes", said), said


def test_devices_alone_start_a_worker_each_with_the_threads_asked(tmp_path: Path) -> None:
    said, workers = _workers_threads(tmp_path, "--devices", "cpu,cpu", "--threads", "3")
    assert workers == {3}, (workers, said)
    assert "Threads: 3 thread(s), as asked (--threads), in each of 2 worker processes" in said, said


def _unreachable(monkeypatch) -> list[str]:
    pytest.importorskip("distributed")
    asked: list[str] = []

    def client(address: str, **kwargs: Any) -> None:
        asked.append(address)
        raise OSError("connection refused")

    monkeypatch.setattr("dask.distributed.Client", client)
    monkeypatch.setattr("l2advisor.probing.parallel.unreachable", lambda address, seconds=5.0: None)  # Client says
    return asked


@pytest.mark.parametrize(("extra", "env", "line"), [
    (["--threads", "3"], {}, "Threads: 3 thread(s), as asked (--threads), in each of 1 worker process"),
    ([], {"L2ADVISOR_THREADS": "2"}, "Threads: 2 thread(s), from L2ADVISOR_THREADS, in each of 1 worker process"),
    ([], {}, "Threads: on each Dask worker, its host's cores divided among the jobs running there"),
])
def test_on_dask_a_thread_count_given_is_each_workers(tmp_path: Path, monkeypatch, extra: list[str],
                                                      env: dict[str, str], line: str) -> None:
    """Said before the scheduler is reached (here it cannot be)."""
    asked = _unreachable(monkeypatch)
    monkeypatch.delenv("L2ADVISOR_THREADS", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    model = write_model(tmp_path, TINY_MODEL)
    result = runner.invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), *ARGS, "--backend", "dask",
                                 "--scheduler", "tcp://127.0.0.1:9", *extra])
    said = " ".join(result.stderr.split())
    assert result.exit_code == 2 and asked == ["tcp://127.0.0.1:9"], said
    assert line in said, said


def test_run_parallel_with_no_probes_reaches_no_scheduler(tmp_path: Path, monkeypatch) -> None:
    asked = _unreachable(monkeypatch)
    settings = ProbeSettings(lrs=(0.1,), seeds=(0,), horizon=1.0, probe_budget=100, lambdas=(0.4,))
    got = run_parallel(tmp_path / "model.py", {}, [], TrainConfig(0.1, 32, 1, 1), settings, tmp_path / "p.jsonl",
                       jobs=1, backend="dask", scheduler="tcp://127.0.0.1:9")
    assert got == [] and asked == []


RECORDS_THREADS = TINY_MODEL + '''
from pathlib import Path

_build = build_model

def build_model():  # records the torch threads of whoever builds it, last: the probe jobs
    with open(Path(__file__).with_name("threads.txt"), "a") as seen:
        seen.write(f"{torch.get_num_threads()}\\n")
    return _build()
'''


def test_on_a_dask_cluster_each_job_uses_the_threads_asked(tmp_path: Path) -> None:
    """--threads is each job's count on Dask too (by default each host's cores are divided among
    its job slots); an in-process cluster, so the jobs' threads are this process's."""
    import torch

    distributed = pytest.importorskip("distributed")
    model = write_model(tmp_path, RECORDS_THREADS)
    before = torch.get_num_threads()
    try:
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                      dashboard_address=None) as cluster:
            result = runner.invoke(app, ["probe", str(model), "--out", str(tmp_path / "run"), *ARGS, "--backend",
                                         "dask", "--scheduler", cluster.scheduler_address, "--threads", "3"])
    finally:
        torch.set_num_threads(before)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "threads.txt").read_text().split()[-1] == "3"


def test_omp_num_threads_sets_each_local_workers_threads(tmp_path: Path, monkeypatch) -> None:
    """With OMP_NUM_THREADS=1 one worker process got "2 thread(s), the cores divided among 1 jobs": the
    variable a single process honours was ignored (and raised the small-model rule's count)."""
    monkeypatch.delenv("L2ADVISOR_THREADS", raising=False)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    model = write_model(tmp_path, TINY_MODEL)
    args = ["probe", str(model), "--out", str(tmp_path / "run"), *ARGS, "--devices", "cpu", "--plan"]
    said = " ".join(runner.invoke(app, args).stderr.split())
    assert "Threads: 1 thread(s), from OMP_NUM_THREADS, in each of 1 worker process" in said, said
    monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the control: the variable's own count, not the rule's
    said = " ".join(runner.invoke(app, args).stderr.split())
    assert "Threads: 2 thread(s), from OMP_NUM_THREADS" in said and "1 jobs" not in said, said


def test_an_unreachable_scheduler_writes_nothing(tmp_path: Path) -> None:
    """A refused port was said after the run directory got a header and no probe (probes.jsonl
    with settings in it, for a rerun to hold against); now before anything is written."""
    model = write_model(tmp_path, TINY_MODEL)
    out = tmp_path / "run"
    result = runner.invoke(app, ["probe", str(model), "--out", str(out), *ARGS, "--backend", "dask",
                                 "--scheduler", "tcp://127.0.0.1:1"])  # port 1: nothing listens
    said = " ".join(result.stderr.split())
    assert result.exit_code == 2 and "Cannot reach the Dask scheduler at tcp://127.0.0.1:1" in said, said
    assert not out.exists() and "Threads:" not in said  # before the model file ran


def test_a_reachable_scheduler_passes_the_early_check(monkeypatch) -> None:
    """The control: where a connection opens, nothing is said before Dask's client is asked."""
    import l2advisor.probing.parallel as parallel

    monkeypatch.setattr(parallel, "unreachable", lambda address, seconds=5.0: None)
    parallel.check_scheduler("dask", "tcp://127.0.0.1:1")  # no error
    monkeypatch.setattr(parallel, "unreachable", lambda address, seconds=5.0: "refused")
    parallel.check_scheduler("loky", None)  # not Dask: nothing to reach
    with pytest.raises(InputError, match="Cannot reach the Dask scheduler at tcp://h:1: refused"):
        parallel.check_scheduler("dask", "tcp://h:1")
