"""Parallel probes: wall time of a probe plan with --jobs 2 (joblib/loky workers) vs --jobs 1.

The plan: the bundled default CNN at a few fixed lams, 2 seeds, early stopping off (so both
sides do the same steps). `--jobs 1` runs in this process with torch's threads; `--jobs 2`
runs 2 worker processes with the threads divided between them (what `l2advisor probe --jobs
2` does), appending to the same results file. Rounds alternate; the first parallel round
includes starting the workers (reported apart), later rounds reuse them, as a long probe
command would. Also shown: both combined with batched replicas.

    python benchmarks/parallel_probes.py            # full: ~10 min on 2 idle cores
    python benchmarks/parallel_probes.py --quick    # ~5 min
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from l2advisor.modelfile.spec import load_spec  # noqa: E402
from l2advisor.modelfile.task import build_task  # noqa: E402
from l2advisor.probing.parallel import run_parallel  # noqa: E402
from l2advisor.probing.plan import ProbeSettings, plan_probes  # noqa: E402
from l2advisor.probing.probe import run_probes  # noqa: E402
from l2advisor.runs.rundir import PROBES_FILE  # noqa: E402
from l2advisor.runs.store import make_header, open_results, read_results  # noqa: E402
from l2advisor.training.train import TrainConfig  # noqa: E402

MODEL = ROOT / "examples" / "mnist_cnn.py"


def run_plan(task, settings: ProbeSettings, base: TrainConfig, out: Path, jobs: int, replicas: int) -> float:
    """Seconds to run the whole plan into a fresh results file; checks every probe ended."""
    runs = plan_probes(settings, task.spec.momentum)
    path = out / PROBES_FILE
    header = make_header("probe", {**task.spec.settings(), "probe": settings.to_dict()}, base.device)
    start = time.perf_counter()
    with open_results(path, header, force=True) as writer:
        if jobs == 1:
            run_probes(task, runs, base, settings, writer.write, replicas=replicas)
        else:
            run_parallel(MODEL, {}, runs, base, settings, path, jobs=jobs, replicas=replicas, write=writer.write)
    seconds = time.perf_counter() - start
    states = read_results(path).runs
    assert len(states) == len(runs) and all(s.status == "finished" for s in states.values()), "a probe failed"
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter probes, fewer rounds")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    task = build_task(load_spec(MODEL))
    lams, horizon, rounds = ((0.2, 0.1), 1.0, 2) if args.quick else ((0.2, 0.1), 2.0, 3)
    settings = ProbeSettings(lrs=(task.spec.lr,), seeds=(0, 1), horizon=horizon, probe_budget=10**6, lambdas=lams,
                             early_stop=False)
    runs = plan_probes(settings, task.spec.momentum)
    base = TrainConfig(lr=task.spec.lr, batch_size=task.spec.batch_size, max_steps=1, eval_every=1,
                       device=args.device)
    print(f"parallel probes: {len(runs)} probes of {MODEL.name} ({sum(r.max_steps for r in runs)} steps), "
          f"{torch.get_num_threads()} torch threads here, {rounds} alternating rounds, device {args.device}")
    cases = {"jobs 1": (1, 1), "jobs 2": (2, 1), "jobs 1 + batched": (1, 8), "jobs 2 + batched": (2, 8)}
    times: dict[str, list[float]] = {name: [] for name in cases}
    with tempfile.TemporaryDirectory() as work:
        cold = run_plan(task, settings, base, Path(work) / "cold", 2, 1)  # starts the loky workers
        for i in range(rounds):
            names = list(cases) if i % 2 == 0 else list(reversed(cases))
            for name in names:
                jobs, replicas = cases[name]
                times[name].append(run_plan(task, settings, base, Path(work) / name.replace(" ", "_"), jobs, replicas))
    one = statistics.median(times["jobs 1"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name}: {median:.1f} s (rounds {min(values):.1f}-{max(values):.1f}), "
              f"speedup over jobs 1: {one / median:.2f}x")
    print(f"  first jobs 2 run, starting the workers: {cold:.1f} s")


if __name__ == "__main__":
    main()
