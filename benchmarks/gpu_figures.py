"""Probe figures on a GPU: stacked against one by one, and against a budget run, as a user runs them.

For the bundled default and the suite's models, each a separate `l2advisor` command on
`--device` (default cuda), timed by wall clock, start-up and CUDA's initialisation included:

- `probe MODEL --budget N` (stacked, the default) and the same with `--no-batched` (one probe
  after another): wall seconds, training seconds, replica-steps per second of training;
- `recommend` on the stacked probes, then `train MODEL --weight-decay <advice> --budget N`:
  the budget run's wall seconds and steps per second of its loop.

Printed per model (stdout, a markdown table): probe steps, stacked and one-by-one wall and
training seconds, the stacking speed-up (training), replica-steps/s stacked, the budget run's
wall seconds and steps/s, and the probe's cost in budget runs (wall). Progress goes to stderr;
`--json` writes the rows. Made to run once on a lent GPU machine inside its time limit:

    python benchmarks/gpu_figures.py --json $OUT/gpu_figures.json   # 8 models, about 6 min on an H200
    python benchmarks/gpu_figures.py --device cpu --quick            # checks the script anywhere (2 models)
    python benchmarks/gpu_figures.py --one-command --json F           # advice in one command instead

`--one-command` measures, per model, `train MODEL --budget N --advise` (probes, advice and the run in
one process: start-up and CUDA's initialisation paid once) against `train --weight-decay <its advice>`
alone, run right after: the advice's cost on top of the run, (one - alone) / alone.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "bundled default (mnist_cnn)": ROOT / "examples" / "mnist_cnn.py",
    **{name: ROOT / "benchmarks" / "suite" / f"{name}.py" for name in (
        "cnn_bn_digits", "cnn_plain_mnist14", "mixer_adamw_digits", "mlp_bn_mnist14", "mlp_tiny_data",
        "mlp_momentum_digits", "null_weightnorm")},
}
QUICK = ("bundled default (mnist_cnn)", "mlp_tiny_data")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


COMMAND_LIMIT_S = 180  # one command that runs longer is recorded as a failure and the next model runs


def cli(args: list[str]) -> tuple[dict[str, Any], float]:
    """`python -m l2advisor ARGS --json` from this checkout: its JSON and wall seconds."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "l2advisor", *args, "--json"], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=COMMAND_LIMIT_S)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"l2advisor {' '.join(args[:2])} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout), wall


def probe(model: Path, out: Path, budget: int, device: str, batched: bool) -> dict[str, Any]:
    args = ["probe", str(model), "--out", str(out), "--budget", str(budget), "--device", device, "--force"]
    summary, wall = cli(args + ([] if batched else ["--no-batched"]))
    steps = sum(int(row.get("steps") or 0) for row in summary["probes"])
    return {"wall_s": wall, "training_s": summary["training_seconds"], "steps": steps}


def measure(name: str, model: Path, budget: int, device: str, work: Path) -> dict[str, Any]:
    stacked = probe(model, work / "stacked", budget, device, batched=True)
    log(f"  stacked probes: {stacked['steps']:,} steps, {stacked['wall_s']:.1f} s ({stacked['training_s']:.1f} s training)")
    single = probe(model, work / "single", budget, device, batched=False)
    log(f"  one by one: {single['wall_s']:.1f} s ({single['training_s']:.1f} s training)")
    advice, _ = cli(["recommend", str(work / "stacked"), "--budget", str(budget)])
    lam = advice.get("weight_decay")
    if lam is None:
        raise RuntimeError(f"{name}: recommend gave no weight decay: {advice}")
    run, wall = cli(["train", str(model), "--weight-decay", f"{lam:.6g}", "--budget", str(budget), "--out",
                     str(work / "train"), "--device", device, "--force"])
    log(f"  budget run at lam {lam:.3g}: {wall:.1f} s ({run['seconds']:.1f} s loop)")
    return {"model": name, "budget": budget, "device": device, "probe_steps": stacked["steps"],
            "stacked_wall_s": stacked["wall_s"], "stacked_training_s": stacked["training_s"],
            "single_wall_s": single["wall_s"], "single_training_s": single["training_s"],
            "stacking_speedup": single["training_s"] / stacked["training_s"],
            "replica_steps_per_s": stacked["steps"] / stacked["training_s"], "advised_lam": lam,
            "verdict": advice.get("verdict"),
            "budget_run_wall_s": wall, "budget_run_steps_per_s": budget / run["seconds"],
            "cost_budget_runs": stacked["wall_s"] / wall}


def measure_one(name: str, model: Path, budget: int, device: str, work: Path) -> dict[str, Any]:
    """`train --advise` against the run alone at its advice, both on `device`."""
    one, one_wall = cli(["train", str(model), "--budget", str(budget), "--advise", "--out", str(work / "one"),
                         "--device", device, "--force"])
    lam = one["advice"]["weight_decay"]
    log(f"  train --advise: {one_wall:.1f} s, advised {lam:.3g}")
    alone, alone_wall = cli(["train", str(model), "--weight-decay", f"{lam:.6g}", "--budget", str(budget), "--out",
                             str(work / "alone"), "--device", device, "--force"])
    log(f"  the run alone: {alone_wall:.1f} s ({alone['seconds']:.1f} s loop)")
    return {"model": name, "budget": budget, "device": device, "advised_lam": lam, "one_command_wall_s": one_wall,
            "alone_wall_s": alone_wall, "one_command_cost": (one_wall - alone_wall) / alone_wall}


def one_command_table(rows: list[dict[str, Any]]) -> str:
    return markdown(["model", "train --advise wall s", "the run alone wall s", "advice's cost (budget runs)",
                     "advised lam"], rows,
                    lambda r: [f"{r['one_command_wall_s']:.1f}", f"{r['alone_wall_s']:.1f}",
                               f"{r['one_command_cost']:.2f}", f"{r['advised_lam']:.3g}"])


def markdown(columns: list[str], rows: list[dict[str, Any]], cells: Any) -> str:
    """A markdown table: the model, then `cells(row)`; a failed model's row says why."""
    lines = ["| " + " | ".join(columns) + " |", "|---|" + "---:|" * (len(columns) - 1)]
    for r in rows:
        shown = [f"failed: {r['error'][:200]}"] + [""] * (len(columns) - 2) if "error" in r else cells(r)
        lines.append("| " + " | ".join([r["model"], *shown]) + " |")
    return "\n".join(lines)


def device_name(device: str) -> str:
    code = ("import torch, sys; d = torch.device(sys.argv[1]); "
            "print(torch.__version__, torch.cuda.get_device_name(d) if d.type == 'cuda' else 'cpu')")
    done = subprocess.run([sys.executable, "-c", code, device], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"torch cannot use {device}: {done.stderr.strip()[-400:]}")
    return done.stdout.strip()


def table(rows: list[dict[str, Any]]) -> str:
    return markdown(["model", "probe steps", "stacked wall s (training)", "one by one wall s (training)",
                     "stacking speed-up", "replica-steps/s stacked", "budget run wall s", "budget run steps/s",
                     "probe cost (budget runs)"], rows,
                    lambda r: [f"{r['probe_steps']:,}", f"{r['stacked_wall_s']:.1f} ({r['stacked_training_s']:.1f})",
                               f"{r['single_wall_s']:.1f} ({r['single_training_s']:.1f})",
                               f"{r['stacking_speedup']:.2f}x", f"{r['replica_steps_per_s']:,.0f}",
                               f"{r['budget_run_wall_s']:.1f}", f"{r['budget_run_steps_per_s']:,.0f}",
                               f"{r['cost_budget_runs']:.2f}"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="torch device for every command [cuda]")
    parser.add_argument("--budget", type=int, default=6400, help="budget in steps [6400; --quick 1600]")
    parser.add_argument("--models", default=None, help=f"comma-separated, from: {', '.join(MODELS)}")
    parser.add_argument("--quick", action="store_true", help="two models, budget 1600")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--one-command", action="store_true", help="train --advise against the run alone")
    args = parser.parse_args()
    names = args.models.split(",") if args.models else list(QUICK if args.quick else MODELS)
    unknown = [n for n in names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s): {', '.join(unknown)}")
    budget = 1600 if args.quick and args.budget == 6400 else args.budget
    what = device_name(args.device)
    log(f"torch {what}; budget {budget:,} steps")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(names):
            log(f"{name}:")
            try:
                how = measure_one if args.one_command else measure
                rows.append(how(name, MODELS[name], budget, args.device, Path(tmp) / str(i)))
            except (RuntimeError, subprocess.TimeoutExpired, json.JSONDecodeError) as error:  # one model's
                log(f"  failed: {error}")  # failure is a figure to report; the other models still run
                rows.append({"model": name, "error": str(error)})
            if args.json:  # after each model: a run stopped at its time limit keeps what it measured
                args.json.write_text(json.dumps({"torch_device": what, "rows": rows}, indent=1))
    print(f"On {what} ({args.device}), budget {budget:,} steps, each a separate command:")
    print(one_command_table(rows) if args.one_command else table(rows))


if __name__ == "__main__":
    main()
