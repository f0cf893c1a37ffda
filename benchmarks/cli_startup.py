"""CLI start-up: wall time of `python -m l2advisor [COMMAND] --help`, median of N runs, and of
one real command that loads torch (`train` of the bundled default for one step), whose wall
time is mostly torch's import and the interpreter's exit.

Each run is a fresh interpreter (what a user waits for), stdout discarded. Also prints which
heavy modules (torch, optuna, matplotlib, scipy, numpy) the `--help` path imported, and the
load average, since the machine may be shared.

    python benchmarks/cli_startup.py                 # this checkout, 7 runs per command
    python benchmarks/cli_startup.py --quick         # 3 runs per command
    python benchmarks/cli_startup.py --before /tmp/old   # also an older checkout (`git archive
                                                         # OLD | tar -x -C /tmp/old`), timed in
                                                         # turn with this one: before/after
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = ("", "probe", "train", "recommend", "report", "tune", "compare")
HEAVY = ("torch", "optuna", "matplotlib", "scipy", "numpy", "pydantic")
PROBE = """import sys
from l2advisor.cli.app import app
try:
    app(args=sys.argv[1:], prog_name="l2advisor")
except SystemExit:
    pass
sys.stderr.write(" ".join(m for m in {heavy!r} if m in sys.modules))
"""


def time_help(repo: Path, command: str, runs: int) -> float:
    """Median seconds of `python -m l2advisor COMMAND --help` run from `repo`."""
    return time_cli(repo, [*([command] if command else []), "--help"], runs)


def time_one_step(repo: Path, runs: int) -> float:
    """Median seconds of `l2advisor train` of the bundled default for one step (torch loaded)."""
    with tempfile.TemporaryDirectory() as tmp:
        args = ["train", str(ROOT / "examples" / "mnist_cnn.py"), "--budget", "1", "--weight-decay", "0",
                "--out", str(Path(tmp) / "run")]
        return time_cli(repo, args, runs, fresh=Path(tmp) / "run")


def time_cli(repo: Path, cli_args: list[str], runs: int, fresh: Path | None = None) -> float:
    """Median seconds of `python -m l2advisor CLI_ARGS` from `repo`; `fresh`: removed before each run."""
    args = [sys.executable, "-m", "l2advisor", *cli_args]
    env = {**os.environ, "PYTHONPATH": str(repo), "COLUMNS": "100", "OMP_NUM_THREADS": "1"}
    seconds = []
    for run in range(runs + 1):  # the first warms the .pyc files
        if fresh is not None:
            shutil.rmtree(fresh, ignore_errors=True)
        start = time.perf_counter()
        subprocess.run(args, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if run:
            seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)


def heavy_imports(repo: Path, command: str) -> str:
    """Which of HEAVY the --help path imported (one extra run)."""
    args = [sys.executable, "-c", PROBE.format(heavy=HEAVY), *([command] if command else []), "--help"]
    env = {**os.environ, "PYTHONPATH": str(repo), "COLUMNS": "100"}
    done = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="an older checkout, timed in turn with this one")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="3 runs per command")
    args = parser.parse_args()
    runs = 3 if args.quick else args.runs
    repos = {"before": args.before, "after": ROOT} if args.before else {"now": ROOT}
    print(f"{runs} runs per command, load average before "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())} (1, 5, 15 min), {os.cpu_count()} CPUs")
    print(f"{'median s of':<28}" + "".join(f"{name:>8}" for name in repos) + "  heavy modules imported")
    for command in COMMANDS:
        label = f"l2advisor {command} --help".replace("  ", " ")
        medians = [time_help(repo, command, runs) for repo in repos.values()]
        heavy = " | ".join(heavy_imports(repo, command) for repo in repos.values())
        print(f"{label:<28}" + "".join(f"{m:>8.2f}" for m in medians) + f"  {heavy}")
    medians = [time_one_step(repo, runs) for repo in repos.values()]
    print(f"{'l2advisor train, one step':<28}" + "".join(f"{m:>8.2f}" for m in medians) + "  (torch loaded)")
    print(f"load average after {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
