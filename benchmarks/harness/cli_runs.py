"""The user's path: `l2advisor` commands as subprocesses, timed by wall clock (start-up and data
loading included, as a user waits for them). One torch thread everywhere (OMP_NUM_THREADS=1), the
probe and the budget run alike, so their times compare. The CLI found on PATH is measured; set
PYTHONPATH (with the cwd outside the repository) to measure another copy of the code.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

THREADS_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class CommandFailed(RuntimeError):
    """An l2advisor command exited non-zero: its exit code and the tail of its stderr."""


def _env() -> dict[str, str]:
    return {**os.environ, **THREADS_ENV}


def run_cli(args: list[str], cwd: Path) -> tuple[str, float]:
    """Run `l2advisor ARGS` in cwd; stdout and wall seconds. Non-zero exit: CommandFailed."""
    start = time.perf_counter()
    done = subprocess.run(["l2advisor", *args], capture_output=True, text=True, env=_env(), cwd=cwd)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise CommandFailed(f"l2advisor {' '.join(args[:3])} ... exited {done.returncode}: "
                            f"{done.stderr.strip()[-600:]}")
    return done.stdout, wall


def probe_supports_budget(cwd: Path) -> bool:
    """Whether this CLI's `probe` takes `--budget N` (plans the probes for that budget)."""
    help_text, _ = run_cli(["probe", "--help"], cwd)
    plain = re.sub(r"\x1b\[[0-9;]*m", "", help_text)
    return re.search(r"(?<![\w-])--budget\b", plain) is not None


def code_origin(cwd: Path) -> dict[str, str]:
    """Which l2advisor the subprocesses import (file and version)."""
    code = "import l2advisor, l2advisor._version as v; print(l2advisor.__file__); print(v.__version__)"
    done = subprocess.run(["python", "-c", code], capture_output=True, text=True, env=_env(), cwd=cwd)
    lines = done.stdout.split()
    return {"file": lines[0] if lines else "?", "version": lines[1] if len(lines) > 1 else "?"}


def probe(model: Path, out: Path, seeds: tuple[int, ...], budget: int | None, cwd: Path) -> dict[str, Any]:
    """`l2advisor probe MODEL --out OUT --seeds .. [--budget N] --json`: the summary rows, the total
    steps, the wall seconds of this call and its training seconds (start-up left out; a finished
    directory is reused: seconds of the reuse)."""
    args = ["probe", str(model), "--out", str(out), "--seeds", ",".join(map(str, seeds)), "--json"]
    if budget is not None:
        args += ["--budget", str(budget)]
    stdout, wall = run_cli(args, cwd)
    summary = json.loads(stdout)
    rows = summary["probes"]
    return {"rows": rows, "steps": int(sum(int(r.get("steps") or 0) for r in rows)),
            "probe_seconds": float(sum(float(r.get("seconds") or 0) for r in rows)), "wall": wall,
            "training_seconds": summary.get("training_seconds")}


def recommend(run_dir: Path, budget: int, cwd: Path, lr_schedule: str = "constant") -> dict[str, Any]:
    extra = ["--lr-schedule", lr_schedule] if lr_schedule != "constant" else []
    stdout, _ = run_cli(["recommend", str(run_dir), "--budget", str(budget), "--json", *extra], cwd)
    return json.loads(stdout)


def train(model: Path, weight_decay: float, budget: int, seed: int, out: Path, cwd: Path,
          steps: int | None = None) -> dict[str, Any]:
    """One run at a constant weight decay: `l2advisor train` (evaluating every budget/100 steps);
    `steps` < budget trains only that far (a timing run scaled up by the caller)."""
    length = steps or budget
    args = ["train", str(model), "--weight-decay", f"{weight_decay:.6g}", "--budget", str(length),
            "--seed", str(seed), "--out", str(out), "--eval-every", str(max(1, budget // 100)),
            "--force", "--json"]
    stdout, wall = run_cli(args, cwd)
    return {**json.loads(stdout), "wall": wall, "trained_steps": length}


def tune(model: Path, budget: int, trials: int, lam_low: float, lam_high: float, out: Path,
         cwd: Path, seed: int = 0, eval_every: int | None = None) -> list[dict[str, Any]]:
    """A real Optuna study (`l2advisor tune --json`): its trials (lam, state, value, steps)."""
    args = ["tune", str(model), "--budget", str(budget), "--trials", str(trials), "--lam-low",
            f"{lam_low:.6g}", "--lam-high", f"{lam_high:.6g}", "--seed", str(seed), "--out", str(out),
            "--json"] + (["--eval-every", str(eval_every)] if eval_every else [])
    stdout, _ = run_cli(args, cwd)
    data = json.loads(stdout)
    return data["trials"] if isinstance(data, dict) else data
