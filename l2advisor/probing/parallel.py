"""Probes in parallel: joblib worker processes (loky) on this machine, or a Dask cluster.

A job is a group of probes (one probe, or a batch of lams sharing lr and seed). Workers get
the model file's path and the overrides, not the model: each process loads the task once
(cached) and appends its records to the run's results file itself, one flushed line per
write in append mode, so the file keeps growing while probes run and a crash loses at most
the probes in flight. Torch threads are divided among the workers of a machine (2 jobs on
8 cores: 4 threads each); `devices` spreads jobs over GPUs round robin. On a Dask cluster
the workers need the same paths (a shared filesystem); a worker that cannot see the results
directory sends its records back and this process writes them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from l2advisor.errors import InputError
from l2advisor.probing.notices import once
from l2advisor.probing.plan import ProbeRun, ProbeSettings
from l2advisor.probing.probe import Progress, group_runs, run_probes
from l2advisor.training.train import TrainConfig, TrainResult

BACKENDS = ("loky", "dask")


@dataclass(frozen=True)
class ProbeJob:
    """What a worker needs to run one group of probes (small and picklable)."""

    model_file: str
    overrides: tuple[tuple[str, Any], ...]
    runs: tuple[ProbeRun, ...]
    base: TrainConfig
    settings: ProbeSettings
    results_file: str
    replicas: int  # > 1: train the group as stacked replicas
    threads: int | dict[str, int]  # torch threads, or {host: job slots on it} (Dask)
    stop_file: str = ""  # once it exists, the job's probes end at their next evaluation (Ctrl-C)


@dataclass
class JobOutcome:
    """A finished job: a result per run (records left out), notices, and records to write here."""

    runs: tuple[ProbeRun, ...]
    results: list[TrainResult]
    notices: list[str] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)



def check_backend(backend: str, scheduler: str | None) -> None:
    """--backend and --scheduler, before anything runs (a run directory, a progress bar)."""
    if backend not in BACKENDS:
        raise InputError(f"--backend must be one of {', '.join(BACKENDS)}, got {backend!r}.")
    if backend == "dask" and not scheduler:
        raise InputError("--backend dask needs --scheduler ADDRESS (the Dask scheduler, e.g. tcp://host:8786).")
    if scheduler and backend != "dask":
        raise InputError(f"--scheduler is for --backend dask; with --backend {backend} it would be ignored.")


def check_scheduler(backend: str, scheduler: str | None) -> None:
    """A Dask scheduler that cannot be reached now, said before anything is written (its run
    directory was left with a header and no probe); connecting later says it again if it went."""
    if backend == "dask" and (why := unreachable(scheduler)) is not None:
        raise InputError(f"Cannot reach the Dask scheduler at {scheduler}: {why}.")


def worker_jobs(jobs: int, devices: Sequence[str] | None, backend: str) -> int:
    """How many probe jobs run at once in worker processes (`jobs` 0: one per device, else 1);
    0 when the probes run in this process (one job, loky, no devices)."""
    jobs = jobs or (len(devices) if devices else 1)
    return 0 if jobs == 1 and backend == "loky" and not devices else jobs


def cores_per_job(jobs: int) -> int:
    """The torch threads each of `jobs` local workers may use without oversubscribing the cores."""
    import joblib

    return max(1, joblib.cpu_count() // jobs)


def run_parallel(model_file: Path, overrides: dict[str, Any], runs: Sequence[ProbeRun], base: TrainConfig,
                 settings: ProbeSettings, results_file: Path, *, jobs: int, replicas: int = 1,
                 devices: Sequence[str] | None = None, backend: str = "loky", scheduler: str | None = None,
                 write: Callable[[dict[str, Any]], None] | None = None, progress: Progress | None = None,
                 interrupted: Callable[[], bool] = lambda: False,
                 notice: Callable[[str], None] | None = None, threads: int | None = None) -> list[TrainResult]:
    """Run the probes as jobs on `jobs` workers; results (without records) as jobs finish.
    `threads`: torch threads per worker (None: the cores divided among the jobs, per host on Dask).

    `write` receives records that a worker could not append itself. Once `interrupted()`, the
    workers' probes end at their next evaluation, as one process's do (a stop file beside the
    results, which every worker that appends there can see: the workers ignore Ctrl-C, and this
    process waits on them); the jobs in flight are taken as they end, and those not begun end
    at once, untrained. An interrupted probe restarts on resume.
    """
    check_backend(backend, scheduler)
    if jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {jobs}.")
    if not runs:  # nothing to run: no workers started, no scheduler contacted
        return []
    groups = group_runs(runs, replicas) if replicas > 1 else [[run] for run in runs]
    kept = tuple(sorted((k, v) for k, v in overrides.items() if v is not None))
    results: list[TrainResult] = []
    tell = once(notice) if notice is not None else None
    stop = Path(results_file).resolve().parent / STOP_FILE
    stop.unlink(missing_ok=True)  # one an earlier interrupted run left
    with _backend(backend, scheduler, jobs, threads) as (n_jobs, per_job), _stop_when(interrupted, stop):
        made = [ProbeJob(str(Path(model_file).resolve()), kept, tuple(group),
                         replace(base, device=devices[i % len(devices)]) if devices else base,
                         settings, str(Path(results_file).resolve()), replicas, per_job, str(stop))
                for i, group in enumerate(groups)]
        # after an interrupt every outcome is still taken: the jobs in flight end at an evaluation,
        # the others at once, untrained; none is killed mid-write
        for outcome in _outcomes(made, n_jobs):
            for record in outcome.records:
                if write is not None:
                    write(record)
            for text in outcome.notices if tell is not None else ():
                tell(text)
            for run, sent in zip(outcome.runs, outcome.results, strict=False):
                result = replace(sent, records=[])  # the worker sent its last record only, for the line below
                if progress is not None:
                    progress.begin(run, reused=False)
                    for last in sent.records:  # its tau and metric, as a serial probe's line says them
                        progress.update(run, last)
                    progress.finish(run, result)
                results.append(result)
    return results


STOP_FILE = ".stop-probes"  # in the run directory while an interrupted run's workers wind down


@contextmanager
def _stop_when(interrupted: Callable[[], bool], stop: Path, every_s: float = 0.2) -> Iterator[None]:
    """Create `stop` once `interrupted()` (checked every `every_s` seconds by a daemon thread: the
    main one waits on the workers); removed again on the way out."""
    import threading

    done = threading.Event()

    def watch() -> None:
        while not done.wait(every_s):
            if interrupted():
                stop.touch()
                return

    watcher = threading.Thread(target=watch, name="l2advisor-stop-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join()
        stop.unlink(missing_ok=True)


def _outcomes(made: list[ProbeJob], n_jobs: int) -> Iterator[JobOutcome]:
    from joblib import Parallel, delayed

    parallel = Parallel(n_jobs=n_jobs, return_as="generator_unordered")
    outcomes = parallel(delayed(probe_job)(job) for job in made)
    try:
        for outcome in outcomes:  # noqa: UP028 - `yield from` would close outcomes itself, outside the filter below
            yield outcome
    finally:
        with warnings.catch_warnings():  # joblib's advice on cancelled tasks: the interrupt's note says what restarts
            warnings.filterwarnings("ignore", message=r".*tasks which were still being processed", category=UserWarning)
            outcomes.close()  # on an early exit joblib ends the jobs still running


def unreachable(address: str | None, seconds: float = 5.0) -> str | None:
    """Why a tcp:// scheduler address cannot be reached now (nothing listens, no such host), found
    within `seconds`; None where a connection opens, or for another scheme (Dask's own client
    then says). A reviewer's refused port took Dask's whole 30 s timeout to be said."""
    import re
    import socket

    found = re.fullmatch(r"tcp://\[?([^\]/]+?)\]?:(\d+)", address or "")
    if found is None:
        return None
    try:
        socket.create_connection((found.group(1), int(found.group(2))), timeout=seconds).close()
    except OSError as err:
        return str(err) or type(err).__name__
    return None


@contextmanager
def _backend(backend: str, scheduler: str | None, jobs: int,
             threads: int | None) -> Iterator[tuple[int, int | dict[str, int]]]:
    """joblib's backend for the run: (number of jobs at once, torch threads per job)."""
    import joblib

    if backend == "loky":
        threads = threads or cores_per_job(jobs)  # by default workers share the cores, no oversubscription
        with joblib.parallel_config(backend="loky", inner_max_num_threads=threads):
            yield jobs, threads
        return
    check_backend(backend, scheduler)
    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError("--backend dask needs Dask: pip install 'l2advisor[dask]'.") from None
    check_scheduler(backend, scheduler)  # a refused port: at once, not after Dask's 30 s
    try:
        client = Client(scheduler, timeout=30)
    except (OSError, TimeoutError) as err:
        raise InputError(f"Cannot reach the Dask scheduler at {scheduler}: {err}.") from None
    try:
        slots: dict[str, int] = {}  # job slots (worker threads) per host: torch threads divide its cores
        for address, info in client.scheduler_info().get("workers", {}).items():
            host = _host(address)
            slots[host] = slots.get(host, 0) + int(info.get("nthreads", 1))
        with joblib.parallel_config(backend="dask"):
            yield (jobs if jobs > 1 else max(1, sum(slots.values()))), (slots if threads is None else threads)
    finally:
        client.close()


def _host(address: str) -> str:
    return address.split("://")[-1].rsplit(":", 1)[0]


def probe_job(job: ProbeJob) -> JobOutcome:
    """In a worker: run one group of probes, appending records to the results file. What the model
    file prints goes to stderr: a worker's stdout is the parent's, where `--json` writes its data."""
    with contextlib.redirect_stdout(sys.stderr):
        return _probe_job(job)


def _probe_job(job: ProbeJob) -> JobOutcome:
    import torch

    if _is_main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    stopped = (lambda: os.path.exists(job.stop_file)) if job.stop_file else (lambda: False)  # a stat per evaluation
    if stopped():  # interrupted before this job began: nothing to load or train
        return JobOutcome(job.runs, [])
    torch.set_num_threads(_threads(job.threads))
    task = _cached_task(job.model_file, job.overrides)
    outcome = JobOutcome(job.runs, [])
    path = Path(job.results_file)
    writer = None
    if path.parent.is_dir():
        from l2advisor.runs.store import ResultsWriter

        writer = ResultsWriter(path)
    write = writer.write if writer is not None else outcome.records.append
    try:
        results = run_probes(task, job.runs, job.base, job.settings, write, None, stopped,
                             replicas=job.replicas, notice=outcome.notices.append)
    finally:
        if writer is not None:
            writer.close()
    outcome.results = [TrainResult(r.status, r.records[-1:], r.steps, r.seconds, r.message) for r in results]
    return outcome


def _is_main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _threads(threads: int | dict[str, int]) -> int:
    if isinstance(threads, int):
        return threads
    import joblib

    try:
        from distributed import get_worker

        host = get_worker().address
        slots = threads.get(_host(host), 1)
    except (ImportError, ValueError):
        slots = 1
    return max(1, joblib.cpu_count() // max(1, slots))


@functools.lru_cache(maxsize=4)
def _cached_task(model_file: str, overrides: tuple[tuple[str, Any], ...]) -> Any:
    """Load and check the model file once per worker process."""
    from l2advisor.modelfile.spec import load_spec
    from l2advisor.modelfile.task import build_task

    return build_task(load_spec(model_file, dict(overrides)))


